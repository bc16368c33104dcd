//! `/admin/settings` — the account settings of SPEC 3.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::auth::guard::{AccountSettings as SettingsPermission, Require};
use crate::domain::token::{PRESET_DAYS, STUDENT_MAX_DAYS_CEILING};
use crate::error::AppError;
use crate::models::{AccountSettings, SettingsChange};
use crate::routes::{read_form, render, render_with, see_other};
use crate::services::settings;
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    ctx: PageCtx,
    form: SettingsForm,
    errors: FieldErrors,
    presets: Vec<i64>,
    ceiling: i32,
    /// A lowered student maximum that would shorten tokens now: asked before it is saved.
    confirm: Option<settings::CapPreview>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    limit_personal_creation: Option<String>,
    #[serde(default)]
    block_students: Option<String>,
    #[serde(default)]
    student_max_days: String,
    #[serde(default)]
    default_lifetime_days: String,
    /// Set by the question's button: the tokens it shortens were named and accepted.
    #[serde(default)]
    confirmed: Option<String>,
}

impl SettingsForm {
    fn of(s: &AccountSettings) -> Self {
        SettingsForm {
            limit_personal_creation: s.limit_personal_creation.then(|| "on".into()),
            block_students: s.block_students.then(|| "on".into()),
            student_max_days: s.student_max_days.to_string(),
            default_lifetime_days: s.default_lifetime_days.to_string(),
            confirmed: None,
        }
    }

    fn parse(&self, errors: &mut FieldErrors) -> Option<SettingsChange> {
        let max = match self.student_max_days.trim().parse::<i32>() {
            Ok(d) if (1..=STUDENT_MAX_DAYS_CEILING).contains(&d) => Some(d),
            _ => {
                errors.add(
                    "student_max_days",
                    format!("Enter a whole number of days from 1 to {STUDENT_MAX_DAYS_CEILING}."),
                );
                None
            }
        };
        let default = match self.default_lifetime_days.trim().parse::<i64>() {
            Ok(d) if PRESET_DAYS.contains(&d) => Some(d as i32),
            _ => {
                errors.add("default_lifetime_days", "Choose one of the offered lifetimes.");
                None
            }
        };
        Some(SettingsChange {
            limit_personal_creation: self.limit_personal_creation.is_some(),
            block_students: self.block_students.is_some(),
            student_max_days: max?,
            default_lifetime_days: default?,
        })
    }

    pub fn limit_checked(&self) -> bool {
        self.limit_personal_creation.is_some()
    }

    pub fn block_checked(&self) -> bool {
        self.block_students.is_some()
    }
}

fn page(ctx: PageCtx, form: SettingsForm, errors: FieldErrors) -> SettingsPage {
    SettingsPage {
        ctx,
        form,
        errors,
        presets: PRESET_DAYS.to_vec(),
        ceiling: STUDENT_MAX_DAYS_CEILING,
        confirm: None,
    }
}

/// `GET /admin/settings`
#[get("/admin/settings")]
pub async fn show(
    ctx: PageCtx,
    _me: Require<SettingsPermission>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let current = crate::db::run(&state.pool, |conn| Ok::<_, AppError>(AccountSettings::load(conn)?)).await?;
    render(&page(ctx, SettingsForm::of(&current), FieldErrors::new()))
}

/// `POST /admin/settings`
#[post("/admin/settings")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn save(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<SettingsPermission>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: SettingsForm = read_form(&body)?;
    let mut errors = FieldErrors::new();
    let Some(change) = form.parse(&mut errors) else {
        return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page(ctx, form, errors));
    };
    let who = state.actor(&req, &me);
    if form.confirmed.is_none() {
        // Shortening students' tokens cannot be undone: say how many first.
        let asking = who.clone();
        let preview =
            crate::db::run(&state.pool, move |conn| settings::preview_cap(conn, &asking, &change)).await?;
        if let Some(preview) = preview {
            return render(&SettingsPage { confirm: Some(preview), ..page(ctx, form, errors) });
        }
    }
    let saved = crate::db::run(&state.pool, move |conn| settings::save(conn, &who, &change)).await?;
    FlashMessage::success(match saved {
        None => "Nothing to save: the settings are unchanged.".to_owned(),
        Some(0) => "Account settings saved.".to_owned(),
        Some(capped) => format!(
            "Account settings saved. {} of student-only users now {} within the new student maximum.",
            crate::domain::count(capped, "token", "tokens"),
            if capped == 1 { "expires" } else { "expire" }
        ),
    })
    .send();
    Ok(see_other("/admin/settings"))
}
