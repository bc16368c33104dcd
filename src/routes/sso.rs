//! Signing in with the institution's identity provider (SPEC 12): `GET /login/oidc` sends
//! the browser there, `GET /login/oidc/callback` brings it back signed in.
//!
//! The state goes with the browser twice: in this site's encrypted session cookie and in the
//! provider's redirect. A callback is accepted only when both agree — a state made up or
//! carried to another browser is refused — and only once: the sign-in it began is taken
//! from the database as it completes.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::session::{landing, safe_next};
use super::{render_with, see_other};
use crate::auth::oidc::SsoError;
use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::services::sso::{self, Outcome, Policy};
use crate::state::AppState;
use crate::views::page::PageCtx;

/// The session key of the sign-in under way.
const STATE_KEY: &str = "oidc_state";

#[derive(Template)]
#[template(path = "session/sso_problem.html")]
struct ProblemPage {
    ctx: PageCtx,
    title: &'static str,
    message: String,
    provider: String,
    /// Whether starting again could help (not while the provider is configured wrong).
    retry: bool,
}

fn problem(
    ctx: PageCtx,
    state: &AppState,
    status: StatusCode,
    title: &'static str,
    message: String,
) -> Result<HttpResponse, AppError> {
    let provider = state.sso.as_ref().map(|s| s.config.name.clone()).unwrap_or_default();
    render_with(status, &ProblemPage { ctx, title, message, provider, retry: true })
}

fn sso_failed(ctx: PageCtx, state: &AppState, e: SsoError) -> Result<HttpResponse, AppError> {
    match e {
        SsoError::Unreachable(why) => {
            problem(ctx, state, StatusCode::SERVICE_UNAVAILABLE, "Sign-in is unavailable", why)
        }
        SsoError::Rejected(why) => problem(ctx, state, StatusCode::BAD_REQUEST, "Sign-in failed", why),
    }
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /login/oidc` — off to the identity provider.
#[get("/login/oidc")]
pub async fn start(
    ctx: PageCtx,
    user: Option<CurrentUser>,
    session: Session,
    query: web::Query<StartQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(sso) = &state.sso else { return Err(AppError::NotFound) };
    let next = safe_next(query.next.as_deref());
    if user.is_some() {
        return Ok(see_other(&next));
    }
    let started = match sso.start(next).await {
        Ok(started) => started,
        Err(e) => return sso_failed(ctx, &state, e),
    };
    let key = state.settings.session_key.clone();
    let (st, pending) = (started.state.clone(), started.pending);
    crate::db::run(&state.pool, move |conn| sso::remember(conn, &key, &st, &pending)).await?;
    session
        .insert(STATE_KEY, &started.state)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("session: {e}")))?;
    Ok(see_other(started.authorize_url.as_str()))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// RFC 9207: the issuer that answers, where the provider says.
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /login/oidc/callback` — back from the identity provider.
#[get("/login/oidc/callback")]
pub async fn callback(
    req: HttpRequest,
    ctx: PageCtx,
    session: Session,
    query: web::Query<CallbackQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(sso) = &state.sso else { return Err(AppError::NotFound) };
    let query = query.into_inner();
    let expected: Option<String> = session.remove_as(STATE_KEY).and_then(Result::ok);
    let (Some(returned), Some(expected)) = (query.state.as_deref(), expected) else {
        return problem(
            ctx,
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in was not started in this browser, or it was completed already. Start again.".into(),
        );
    };
    if !bool::from(returned.as_bytes().ct_eq(expected.as_bytes())) {
        tracing::warn!("a single sign-on callback came back with another state than its browser's");
        return problem(
            ctx,
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "This sign-in answer does not belong to the sign-in this browser started. Start again.".into(),
        );
    }
    // Taken at once, whatever the answer: a state is good once.
    let key = state.settings.session_key.clone();
    let st = expected.clone();
    let pending = crate::db::run(&state.pool, move |conn| sso::recall(conn, &key, &st)).await?;
    let Some(pending) = pending else {
        return problem(
            ctx,
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in took too long or was completed already. Start again.".into(),
        );
    };
    if let Some(error) = &query.error {
        let said = query.error_description.as_deref().unwrap_or(error);
        let message = format!("{} did not sign you in: {}", sso.config.name, clip(said));
        return problem(ctx, &state, StatusCode::FORBIDDEN, "Sign-in cancelled", message);
    }
    if query.iss.as_deref().is_some_and(|iss| iss != sso.config.issuer.as_str()) {
        tracing::warn!("a single sign-on callback named another issuer (RFC 9207)");
        return problem(
            ctx,
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "The answer came from another identity provider than this site's.".into(),
        );
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return problem(
            ctx,
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The identity provider sent no authorization code. Start again.".into(),
        );
    };
    let identity = match sso.finish(code, &pending).await {
        Ok(identity) => identity,
        Err(e) => return sso_failed(ctx, &state, e),
    };

    let ip = state.client_ip(&req);
    let user_agent = req.headers().get("User-Agent").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let settings = state.clone();
    let outcome = crate::db::run(&state.pool, move |conn| {
        let serve = &settings.settings.serve;
        let policy = Policy { role_map: &serve.oidc_role_map, break_glass: &serve.break_glass_logins };
        sso::sign_in(conn, &identity, &policy, ip, user_agent)
    })
    .await?;
    match outcome {
        Outcome::SignedIn { session_id, user_id, login, created } => {
            tracing::info!(login = %crate::telemetry::Escaped(&login), created, "signed in with single sign-on");
            auth::session::begin(&session, session_id)?;
            Ok(see_other(&landing(&state, user_id, pending.next).await?))
        }
        Outcome::Refused(why) => {
            let mut message = why;
            if let Some(first) = message.get(..1) {
                message = first.to_uppercase() + &message[1..];
            }
            message.push('.');
            problem(ctx, &state, StatusCode::FORBIDDEN, "Sign-in refused", message)
        }
    }
}

/// At most 200 characters of what the provider said.
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}
