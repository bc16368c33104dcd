//! Signing in and out.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};

use super::{on_this_site, read_form, render, render_with, see_other};
use crate::auth::rate_limit::{MAX_LOGIN_KEY_CHARS, SignInBudget};
use crate::auth::{self, CurrentUser};
use crate::domain::Login;
use crate::domain::Permission;
use crate::domain::people::PasswordLogin;
use crate::error::AppError;
use crate::models::User;
use crate::services::sessions::{self, PasswordCheck, SignIn};
use crate::state::AppState;
use crate::telemetry::Escaped;
use crate::views::page::PageCtx;

#[derive(Template)]
#[template(path = "session/login.html")]
struct LoginPage {
    ctx: PageCtx,
    login: String,
    next: String,
    error: Option<String>,
    /// "Sign in with …", when single sign-on is configured: the provider's name.
    sso: Option<String>,
    passwords: PasswordLogin,
}

impl LoginPage {
    fn new(ctx: PageCtx, state: &AppState, typed: String, next: String, error: Option<String>) -> LoginPage {
        LoginPage {
            ctx,
            login: typed,
            next,
            error,
            sso: state.sso.as_ref().map(|s| s.config.name.clone()),
            passwords: state.settings.serve.password_login,
        }
    }

    fn password_form_shown(&self) -> bool {
        self.passwords != PasswordLogin::Off || self.sso.is_none()
    }

    fn break_glass(&self) -> bool {
        self.passwords == PasswordLogin::BreakGlass
    }

    /// The link that starts single sign-on, coming back to `next`.
    fn sso_href(&self) -> String {
        if self.next == "/" {
            "/login/oidc".to_owned()
        } else {
            format!("/login/oidc?next={}", crate::middleware::urlencode(&self.next))
        }
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// The login to fill in (after a password was set with a link), when it is one.
    login: Option<String>,
}

/// Where a sign-in lands: where it was going; or, going nowhere in particular, for those
/// who oversee the account's tokens, the dashboard.
pub(super) async fn landing(state: &AppState, user_id: i64, next: String) -> Result<String, AppError> {
    if next != "/" {
        return Ok(next);
    }
    let roles =
        crate::db::run(&state.pool, move |conn| Ok::<_, AppError>(User::roles(conn, user_id)?)).await?;
    Ok(if roles.permissions().contains(Permission::ViewTokens) { "/admin".to_owned() } else { next })
}

/// Where to go after signing in: a path on this site, else the start page.
pub(super) fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| !n.is_empty()).and_then(on_this_site).unwrap_or_else(|| "/".to_owned())
}

/// Whether someone who is not signed in is sent to the setup page: while there is nobody to
/// sign in, the first administrator comes from there — unless the identity provider's
/// people can sign in (and the role map makes someone an administrator).
pub(super) async fn needs_setup(state: &AppState) -> Result<bool, AppError> {
    Ok(state.sso.is_none()
        && crate::db::run(&state.pool, |conn| Ok::<_, AppError>(User::count(conn)?)).await? == 0)
}

/// `GET /login`
#[get("/login")]
pub async fn login_form(
    ctx: PageCtx,
    user: Option<CurrentUser>,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if user.is_some() {
        return Ok(see_other(&safe_next(query.next.as_deref())));
    }
    if needs_setup(&state).await? {
        return Ok(see_other("/setup"));
    }
    let typed = query
        .login
        .as_deref()
        .and_then(|l| crate::domain::Login::parse(l).ok())
        .map(|l| l.as_str().to_owned())
        .unwrap_or_default();
    render(&LoginPage::new(ctx, &state, typed, safe_next(query.next.as_deref()), None))
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    next: Option<String>,
}

/// The cookie that tells a browser this login has signed in from apart from strangers.
const DEVICE_COOKIE: &str = "tw_device";

/// The device cookie's id, when the browser carries one for `login` (encrypted and signed
/// with the server's key: it cannot be made up, only copied).
fn device_of(req: &HttpRequest, key: &Key, typed: &str) -> Option<String> {
    let mut jar = CookieJar::new();
    jar.add_original(req.cookie(DEVICE_COOKIE)?);
    let value = jar.private(key).get(DEVICE_COOKIE)?.value().to_owned();
    let (for_login, id) = value.split_once('\n')?;
    (for_login == typed.trim().to_lowercase()).then(|| id.to_owned())
}

/// A device cookie for `login`, kept a year.
fn device_cookie(key: &Key, typed: &str, secure: bool) -> Cookie<'static> {
    let id = crate::domain::token_secret::random_base62(22);
    let mut jar = CookieJar::new();
    jar.private_mut(key).add(
        Cookie::build(DEVICE_COOKIE, format!("{}\n{id}", typed.trim().to_lowercase()))
            .path("/login")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish(),
    );
    jar.delta().next().cloned().expect("the cookie just added")
}

/// `POST /login`
#[post("/login")]
#[tracing::instrument(skip_all, fields(login))]
pub async fn login(
    req: HttpRequest,
    ctx: PageCtx,
    session: Session,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let mut form: LoginForm = read_form(&body)?;
    // No login is longer than 64 characters: no more of it is kept, counted or logged.
    form.login = form.login.chars().take(MAX_LOGIN_KEY_CHARS + 1).collect();
    tracing::Span::current().record("login", tracing::field::display(Escaped(&form.login)));
    let next = safe_next(form.next.as_deref());
    let ip = crate::client::client_ip(&req, &state.settings.serve);
    let page = |ctx, error: &str| {
        LoginPage::new(ctx, &state, form.login.clone(), next.clone(), Some(error.to_owned()))
    };
    let passwords = state.settings.serve.password_login;
    if passwords == PasswordLogin::Off {
        let provider = state.sso.as_ref().map_or("single sign-on", |s| s.config.name.as_str());
        return render_with(
            StatusCode::FORBIDDEN,
            &page(ctx, &format!("Passwords are turned off here: sign in with {provider}.")),
        );
    }
    // Break-glass: a login not on the list is refused as a wrong password would be, after
    // the same work, so that the page does not tell which logins are on it.
    let may_use_password = passwords.allows(&form.login, &state.settings.serve.break_glass_logins);

    // The address's budget was checked before the request got here (`throttle_sign_in`).
    let device = device_of(&req, &state.cookie_key, &form.login);
    let budget = device.clone().map_or(SignInBudget::Strangers, SignInBudget::Device);
    if let Err(wait) = state.login_limiter.check_login(&form.login, &budget) {
        if ip.is_some_and(|ip| state.login_limiter.should_warn(ip)) {
            tracing::warn!(ip = ?ip, "sign-in attempts throttled for a login (logged once a minute)");
        }
        let (secs, message) = crate::auth::rate_limit::refusal(wait);
        let mut res = render_with(StatusCode::TOO_MANY_REQUESTS, &page(ctx, &message))?;
        res.headers_mut().insert(actix_web::http::header::RETRY_AFTER, secs.into());
        return Ok(res);
    }

    let user_agent = req.headers().get("User-Agent").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let login = form.login.clone();
    let user = crate::db::run(&state.pool, move |conn| -> Result<_, AppError> {
        match Login::parse(&login) {
            Ok(l) => Ok(User::find_by_login(conn, &l)?),
            Err(_) => Ok(None),
        }
    })
    .await?;
    // Verified even when the login is unknown or has no password (a user of single
    // sign-on), so timing does not tell which logins exist.
    let stored = user.as_ref().map(|u| u.password_hash.clone()).filter(|h| !h.is_empty() && may_use_password);
    let check = match state.passwords.verify(form.password.clone(), stored).await? {
        _ if !may_use_password => PasswordCheck::NotAllowed,
        true => PasswordCheck::Matches,
        false => PasswordCheck::Wrong,
    };
    let ip_text = ip.map(|i| i.to_string());
    let user_id = user.as_ref().map(|u| u.id);
    let typed = form.login.clone();
    let outcome = crate::db::run(&state.pool, move |conn| {
        sessions::complete(conn, user, check, &typed, ip_text, user_agent)
    })
    .await?;

    match outcome {
        SignIn::SignedIn(sid) => {
            auth::session::begin(&session, sid)?;
            let to = match user_id {
                Some(id) => landing(&state, id, next).await?,
                None => next,
            };
            // A new device cookie at every sign-in (as OWASP's device cookies have it): its
            // budget is full again, so signing in and out does not spend it — only guesses do.
            let mut res = see_other(&to);
            let cookie = device_cookie(&state.cookie_key, &form.login, state.settings.serve.secure_cookies);
            res.add_cookie(&cookie).map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
            Ok(res)
        }
        SignIn::Refused => render_with(
            StatusCode::UNAUTHORIZED,
            &page(ctx, "That login and password do not match an active account."),
        ),
    }
}

/// `POST /logout` — ends this session.
#[post("/logout")]
pub async fn logout(
    req: HttpRequest,
    user: Option<CurrentUser>,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if let Some(user) = user {
        let who = state.actor(&req, &user);
        let digest = user.session_digest.clone();
        crate::db::run(&state.pool, move |conn| sessions::sign_out(conn, &who, &digest)).await?;
    }
    session.purge();
    FlashMessage::info("You have signed out.").send();
    Ok(see_other("/login"))
}

/// `POST /logout/everywhere` — ends every session of the signed-in user, on every device.
#[post("/logout/everywhere")]
pub async fn logout_everywhere(
    req: HttpRequest,
    user: CurrentUser,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let who = state.actor(&req, &user);
    let ended = crate::db::run(&state.pool, move |conn| sessions::sign_out_everywhere(conn, &who)).await?;
    session.purge();
    FlashMessage::info(format!(
        "You have signed out everywhere ({} ended).",
        crate::domain::count(ended, "session", "sessions")
    ))
    .send();
    Ok(see_other("/login"))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_allows_local_paths() {
        assert_eq!(safe_next(Some("/settings/tokens")), "/settings/tokens");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
