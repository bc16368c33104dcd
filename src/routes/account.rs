//! The signed-in user's own account: profile, password, sessions, notifications.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use super::{read_form, render, render_with, see_other};
use crate::auth::CurrentUser;
use crate::domain::{Password, Permission, ValidationError};
use crate::error::AppError;
use crate::models::{Preferences, User, UserRoles};
use crate::services::{account, notifications};
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;

#[derive(Template)]
#[template(path = "account/show.html")]
struct AccountPage {
    ctx: PageCtx,
    user: User,
    roles: UserRoles,
    prefs: Preferences,
    /// Whether the weekly digest is offered (to those who oversee tokens).
    may_digest: bool,
    errors: FieldErrors,
}

async fn load(state: &AppState, id: i64) -> Result<(User, UserRoles, Preferences), AppError> {
    crate::db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((User::find(conn, id)?, User::roles(conn, id)?, Preferences::load(conn, id)?))
    })
    .await
}

/// `GET /settings/account`
#[get("/settings/account")]
pub async fn show(
    ctx: PageCtx,
    me: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (user, roles, prefs) = load(&state, me.id).await?;
    let may_digest = me.can(Permission::ViewTokens);
    render(&AccountPage { ctx, user, roles, prefs, may_digest, errors: FieldErrors::new() })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

/// `POST /settings/account/password` — changes the password and ends every other session.
#[post("/settings/account/password")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn change_password(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: PasswordForm = read_form(&body)?;
    let mut errors = FieldErrors::new();
    let new = errors.take(
        Password::parse(&form.new_password).map_err(|e| ValidationError::new("new_password", e.message)),
    );
    if new.is_some() && form.new_password != form.new_password_confirm {
        errors.add("new_password_confirm", "The two passwords differ.");
    }
    let (id, keep) = (me.id, me.session_digest.clone());
    let stored =
        crate::db::run(&state.pool, move |conn| Ok::<_, AppError>(User::find(conn, id)?.password_hash))
            .await?;
    if let Err(wait) = state.login_limiter.check_current_password(me.id) {
        errors.add(
            "current_password",
            format!("Too many tries: wait {} seconds, then try again.", wait.as_secs().max(1)),
        );
        let (user, roles, prefs) = load(&state, me.id).await?;
        let may_digest = me.can(Permission::ViewTokens);
        return render_with(
            StatusCode::TOO_MANY_REQUESTS,
            &AccountPage { ctx, user, roles, prefs, may_digest, errors },
        );
    }
    if !state.passwords.verify(form.current_password, Some(stored)).await? {
        errors.add("current_password", "That is not your current password.");
    }
    if let (Some(new), true) = (new, errors.is_empty()) {
        let hash = state.passwords.hash(new.expose().to_owned()).await?;
        let who = state.actor(&req, &me);
        crate::db::run(&state.pool, move |conn| account::change_password(conn, &who, &hash, &keep)).await?;
    }
    if errors.is_empty() {
        FlashMessage::success("Your password has been changed. Every other session has been signed out.")
            .send();
        return Ok(see_other("/settings/account"));
    }
    let (user, roles, prefs) = load(&state, me.id).await?;
    let may_digest = me.can(Permission::ViewTokens);
    render_with(
        StatusCode::UNPROCESSABLE_ENTITY,
        &AccountPage { ctx, user, roles, prefs, may_digest, errors },
    )
}

#[derive(Deserialize)]
pub struct NotificationsForm {
    #[serde(default)]
    expiry_reminders: Option<String>,
    #[serde(default)]
    weekly_digest: Option<String>,
}

/// `POST /settings/account/notifications` — whether to get expiry reminders (and, for
/// those who oversee tokens, the weekly digest). Security notices are always sent.
#[post("/settings/account/notifications")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn save_notifications(
    req: HttpRequest,
    me: CurrentUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: NotificationsForm = read_form(&body)?;
    let wanted = Preferences {
        expiry_reminders: form.expiry_reminders.is_some(),
        weekly_digest: form.weekly_digest.is_some(),
    };
    let who = state.actor(&req, &me);
    let changed =
        crate::db::run(&state.pool, move |conn| notifications::save_preferences(conn, &who, wanted)).await?;
    FlashMessage::success(if changed {
        "Your notification settings are saved."
    } else {
        "Your notification settings are as they were."
    })
    .send();
    Ok(see_other("/settings/account"))
}
