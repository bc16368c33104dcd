//! `GET /admin/users/new`, `POST /admin/users` — an administrator creates a user (SPEC 12).
//! When the new user may have a password here, the profile page then shows, once, a link
//! with which they choose it; otherwise they sign in with the identity provider.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use super::profile::{RoleChoice, link_page_of, page_of};
use crate::auth::CurrentUser;
use crate::auth::guard::{ManageUsers, Require};
use crate::domain::authority::may_grant;
use crate::domain::people::{PasswordLogin, PasswordRule};
use crate::domain::{DisplayName, Email, EnrollmentRole, Login};
use crate::error::AppError;
use crate::models::{AccountRole, NewUserData};
use crate::routes::{issued, read_form, render, render_with, see_other};
use crate::services::users::{self, facts};
use crate::services::{self, password_links};
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;
use crate::views::people::LinkView;
use crate::views::tokens::date_time;

/// The form, as last submitted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub account_roles: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewUserPage {
    ctx: PageCtx,
    form: NewUserForm,
    errors: FieldErrors,
    enrollment_choices: Vec<RoleChoice>,
    account_choices: Vec<RoleChoice>,
    /// How the new user will sign in, in a sentence.
    sign_in_note: String,
}

/// How people created here sign in, under `--password-login`.
fn sign_in_note(rule: &PasswordRule, provider: Option<&str>) -> String {
    let provider = provider.unwrap_or("the institution's identity provider");
    let days = password_links::VALID_DAYS;
    match rule.mode {
        PasswordLogin::On => format!(
            "Once created, you get a one-time link to hand over: with it they choose their own password. \
             It works once, for {days} days, and is shown only once."
        ),
        PasswordLogin::Off => format!("Passwords are turned off: they sign in with {provider}."),
        PasswordLogin::BreakGlass => format!(
            "Only the break-glass administrators ({}) have a password: they get a one-time link to choose \
             it (once, for {days} days). Everyone else signs in with {provider}.",
            rule.break_glass.join(", ")
        ),
    }
}

async fn page(
    state: &AppState,
    me: &CurrentUser,
    ctx: PageCtx,
    form: NewUserForm,
    errors: FieldErrors,
) -> Result<NewUserPage, AppError> {
    let roles = crate::db::run(&state.pool, |conn| Ok::<_, AppError>(AccountRole::all(conn)?)).await?;
    let has = |list: &[String], key: &str| list.iter().any(|k| k == key);
    Ok(NewUserPage {
        enrollment_choices: EnrollmentRole::ALL
            .iter()
            .map(|r| RoleChoice {
                key: r.key().to_owned(),
                label: r.label().to_owned(),
                checked: has(&form.roles, r.key()),
                grantable: true,
            })
            .collect(),
        account_choices: roles
            .iter()
            .map(|r| RoleChoice {
                key: r.id.to_string(),
                label: r.name.clone(),
                checked: has(&form.account_roles, &r.id.to_string()),
                grantable: may_grant(me.permissions, &facts(r)).is_ok(),
            })
            .collect(),
        sign_in_note: sign_in_note(
            &state.password_rule(),
            state.sso.as_ref().map(|s| s.config.name.as_str()),
        ),
        ctx,
        form,
        errors,
    })
}

/// `GET /admin/users/new` — the form.
#[get("/admin/users/new")]
pub async fn new(
    ctx: PageCtx,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    render(&page(&state, &me, ctx, NewUserForm::default(), FieldErrors::new()).await?)
}

/// `POST /admin/users` — creates the user; bad input is shown next to its field, with the
/// rest of the input kept, and nothing is created.
#[post("/admin/users")]
#[tracing::instrument(skip_all, fields(viewer = me.id))]
pub async fn create(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<ManageUsers>,
    session: Session,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: NewUserForm = read_form(&body)?;
    let mut errors = FieldErrors::new();
    let login = errors.take(Login::parse(&form.login));
    let name = errors.take(DisplayName::parse(&form.name));
    let email = errors.take(Email::parse(&form.email));
    let mut roles = Vec::new();
    for r in &form.roles {
        match EnrollmentRole::parse(r) {
            Some(role) => roles.push(role),
            None => errors.add("roles", format!("There is no enrollment role “{r}”.")),
        }
    }
    let mut account_role_ids = Vec::new();
    for r in &form.account_roles {
        match r.parse::<i64>() {
            Ok(id) => account_role_ids.push(id),
            Err(_) => errors.add("account_roles", format!("There is no account role “{r}”.")),
        }
    }
    let (Some(login), Some(name), Some(email), true) = (login.clone(), name, email, errors.is_empty()) else {
        // A login somebody has is said at once with the rest, not after they are fixed.
        if let Some(login) = login {
            let who = state.actor(&req, &me);
            let shown = login.as_str().to_owned();
            let taken =
                crate::db::run(&state.pool, move |conn| users::is_login_taken(conn, &who, &login)).await?;
            if taken {
                errors.push(users::login_taken(&shown));
            }
        }
        return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &me, ctx, form, errors).await?);
    };
    let data = NewUserData { login, name, email, password_hash: String::new(), roles, account_role_ids };
    let (who, rule) = (state.actor(&req, &me), state.password_rule());
    let created =
        crate::db::run(&state.pool, move |conn| password_links::create_user(conn, &who, &data, &rule)).await;
    let (user, link) = match created {
        Ok(done) => done,
        Err(services::Error::Invalid(found)) => {
            let errors = FieldErrors::from(found);
            return render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(&state, &me, ctx, form, errors).await?,
            );
        }
        Err(services::Error::Forbidden(why)) => {
            let mut errors = FieldErrors::new();
            errors.add("account_roles", why);
            return render_with(StatusCode::FORBIDDEN, &page(&state, &me, ctx, form, errors).await?);
        }
        Err(e) => return Err(e.into()),
    };
    let message = match &link {
        Some(link) => {
            let view = LinkView {
                url: format!(
                    "{}{}",
                    crate::client::site_address(&req, &state.settings.serve),
                    password_links::path_of(&link.secret)
                ),
                name: user.name.clone(),
                expires: date_time(link.expires_at),
                replaced: link.replaced,
                new_user: true,
            };
            issued::stash(&state, &me, &session, &link_page_of(user.id), view).await?;
            format!(
                "{} was created. Copy their link to set a password now: it is shown only once.",
                user.name
            )
        }
        None => format!("{} was created. They sign in with the institution's identity provider.", user.name),
    };
    FlashMessage::success(message).send();
    Ok(see_other(&page_of(user.id)))
}

/// `POST /admin/users/{id}/password-link` — a fresh one-time link to set a password; older
/// links of theirs stop working.
#[post("/admin/users/{id}/password-link")]
#[tracing::instrument(skip_all, fields(viewer = me.id, user_id = *path))]
pub async fn password_link(
    req: HttpRequest,
    me: Require<ManageUsers>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (who, rule) = (state.actor(&req, &me), state.password_rule());
    let (user, link) =
        crate::db::run(&state.pool, move |conn| password_links::issue(conn, &who, id, &rule)).await?;
    let view = LinkView {
        url: format!(
            "{}{}",
            crate::client::site_address(&req, &state.settings.serve),
            password_links::path_of(&link.secret)
        ),
        name: user.name.clone(),
        expires: date_time(link.expires_at),
        replaced: link.replaced,
        new_user: false,
    };
    issued::stash(&state, &me, &session, &link_page_of(id), view).await?;
    FlashMessage::success(format!(
        "A new link to set a password for {}. Copy it now: it is shown only once.",
        user.name
    ))
    .send();
    Ok(see_other(&page_of(id)))
}
