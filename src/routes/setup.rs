//! First run: create the first administrator, guarded by the one-time setup code that the
//! server printed to its log. Refused as soon as any user exists.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{read_form, render, render_with, see_other};
use crate::domain::{DisplayName, Email, Login, Password};
use crate::error::AppError;
use crate::models::{NewUserData, User};
use crate::services::setup::{self, DONE};
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;

#[derive(Template)]
#[template(path = "setup/setup.html")]
struct SetupPage {
    ctx: PageCtx,
    form: SetupForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct SetupForm {
    #[serde(default)]
    setup_code: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn has_users(state: &AppState) -> Result<bool, AppError> {
    Ok(crate::db::run(&state.pool, |conn| Ok::<_, AppError>(User::count(conn)?)).await? > 0)
}

/// `GET /setup`
#[get("/setup")]
pub async fn show(ctx: PageCtx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if has_users(&state).await? {
        return Err(AppError::Forbidden(DONE.into()));
    }
    render(&SetupPage { ctx, form: SetupForm::default(), errors: FieldErrors::new() })
}

/// `POST /setup`
#[post("/setup")]
#[tracing::instrument(skip_all)]
pub async fn create(
    req: HttpRequest,
    ctx: PageCtx,
    session: Session,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let mut form: SetupForm = read_form(&body)?;
    if has_users(&state).await? {
        return Err(AppError::Forbidden(DONE.into()));
    }
    let mut errors = FieldErrors::new();
    let code_ok: bool = form.setup_code.trim().as_bytes().ct_eq(state.setup_code.as_bytes()).into();
    if !code_ok {
        errors.add("setup_code", "That is not the setup code. Copy it from the server's log.");
    }
    let login = errors.take(Login::parse(&form.login));
    let name = errors.take(DisplayName::parse(&form.name));
    let email = errors.take(Email::parse(&form.email));
    let password = errors.take(Password::parse(&form.password));
    if password.is_some() && form.password != form.password_confirm {
        errors.add("password_confirm", "The two passwords differ.");
    }
    let (Some(login), Some(name), Some(email), Some(password), true) =
        (login, name, email, password, errors.is_empty())
    else {
        form.password.clear();
        form.password_confirm.clear();
        return render_with(StatusCode::UNPROCESSABLE_ENTITY, &SetupPage { ctx, form, errors });
    };

    let ip = state.client_ip(&req);
    let password_hash = state.passwords.hash(password.expose().to_owned()).await?;
    let user_agent = req.headers().get("User-Agent").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let data =
        NewUserData { login, name, email, password_hash, roles: Vec::new(), account_role_ids: Vec::new() };
    let sid = crate::db::run(&state.pool, move |conn| setup::create_first_admin(conn, data, ip, user_agent))
        .await?;
    crate::auth::session::begin(&session, sid)?;
    FlashMessage::success("Welcome! Your administrator account is ready.").send();
    Ok(see_other("/"))
}
