//! `GET`/`POST /password/set/{secret}` — where a person opens the one-time link an
//! administrator handed them and chooses their password (SPEC 12). The link is the only
//! credential: good once, for a limited time, refused with the reason after that. Then
//! they sign in with the password they chose.
//!
//! The path carries a secret: no handler here records it, and the request log writes
//! `/password/set/…` (`telemetry::loggable_path`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use super::{read_form, render_with, see_other};
use crate::domain::{Password, ValidationError};
use crate::error::AppError;
use crate::services::password_links::{self, LinkState};
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;
use crate::views::tokens::date_time;

/// The person a link is for.
pub struct Holder {
    pub name: String,
    pub login: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "password/set.html")]
struct SetPasswordPage {
    ctx: PageCtx,
    /// The link's own path, for the form to post back to.
    action: String,
    /// Whom the link is for, while it is open.
    holder: Option<Holder>,
    /// Why it is refused: a title and a sentence.
    refusal: Option<(&'static str, String)>,
    errors: FieldErrors,
}

/// The page for a link in `state`, and its status.
fn page(ctx: PageCtx, secret: &str, state: LinkState, errors: FieldErrors) -> (StatusCode, SetPasswordPage) {
    let ask = "Ask your administrator for a new link.";
    let (status, holder, refusal) = match state {
        LinkState::Open { user, expires_at } => (
            if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY },
            Some(Holder { name: user.name, login: user.login, expires: date_time(expires_at) }),
            None,
        ),
        LinkState::Used(at) => (
            StatusCode::GONE,
            None,
            Some((
                "This link was used already",
                format!(
                    "A password was set with it on {}. A link works once: sign in with that password, \
                     or, if that was not you, tell your administrator at once.",
                    date_time(at)
                ),
            )),
        ),
        LinkState::Replaced(at) => (
            StatusCode::GONE,
            None,
            Some((
                "This link was replaced",
                format!(
                    "A newer link was made for you on {}, and this one no longer works. {ask}",
                    date_time(at)
                ),
            )),
        ),
        LinkState::Expired(at) => (
            StatusCode::GONE,
            None,
            Some(("This link has expired", format!("It worked until {}. {ask}", date_time(at)))),
        ),
        LinkState::NotAllowed(why) => (StatusCode::FORBIDDEN, None, Some(("This link cannot be used", why))),
        LinkState::Unknown => (
            StatusCode::NOT_FOUND,
            None,
            Some((
                "This link does not work",
                format!(
                    "Check that you copied all of it. It may also be so old that it was forgotten. {ask}"
                ),
            )),
        ),
    };
    let action = format!("/password/set/{secret}");
    (status, SetPasswordPage { ctx, action, holder, refusal, errors })
}

async fn link_state(state: &AppState, secret: String) -> Result<LinkState, AppError> {
    let rule = state.password_rule();
    Ok(crate::db::run(&state.pool, move |conn| password_links::state(conn, &secret, &rule)).await?)
}

/// `GET /password/set/{secret}` — the form to choose a password, or why the link is refused.
#[get("/password/set/{secret}")]
pub async fn show(
    ctx: PageCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let secret = path.into_inner();
    let link = link_state(&state, secret.clone()).await?;
    let (status, page) = page(ctx, &secret, link, FieldErrors::new());
    render_with(status, &page)
}

#[derive(Deserialize)]
pub struct SetPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// `POST /password/set/{secret}` — sets the password and uses the link up, then to the
/// sign-in page. The same rules as a change of password; the hash is made off the executor.
#[post("/password/set/{secret}")]
#[tracing::instrument(skip_all)]
pub async fn set(
    req: HttpRequest,
    ctx: PageCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: SetPasswordForm = read_form(&body)?;
    let secret = path.into_inner();
    let link = link_state(&state, secret.clone()).await?;
    if !matches!(link, LinkState::Open { .. }) {
        let (status, page) = page(ctx, &secret, link, FieldErrors::new());
        return render_with(status, &page);
    }
    let mut errors = FieldErrors::new();
    let password =
        errors.take(Password::parse(&form.password).map_err(|e| ValidationError::new("password", e.message)));
    if password.is_some() && form.password != form.password_confirm {
        errors.add("password_confirm", "The two passwords differ.");
    }
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        let (status, page) = page(ctx, &secret, link, errors);
        return render_with(status, &page);
    };
    let hash = state.passwords.hash(password.expose().to_owned()).await?;
    let (rule, ip, key) = (state.password_rule(), state.client_ip(&req), secret.clone());
    let done =
        crate::db::run(&state.pool, move |conn| password_links::set_password(conn, &key, &hash, &rule, ip))
            .await?;
    match done {
        Ok(user) => {
            FlashMessage::success(format!(
                "Your password is set, {}. Sign in as “{}” with it.",
                user.name, user.login
            ))
            .send();
            Ok(see_other(&format!("/login?login={}", crate::middleware::urlencode(&user.login))))
        }
        Err(now) => {
            let (status, page) = page(ctx, &secret, now, FieldErrors::new());
            render_with(status, &page)
        }
    }
}
