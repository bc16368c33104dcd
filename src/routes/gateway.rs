//! The doors the institution's gateways and services knock on (SPEC 11):
//!
//! - `/auth/verify?service=SLUG` — forward auth for nginx `auth_request`, Traefik
//!   ForwardAuth and Caddy `forward_auth`: the original method and URI come in
//!   `X-Original-Method`/`X-Original-URI` (nginx) or `X-Forwarded-Method`/`X-Forwarded-Uri`
//!   (Traefik, Caddy);
//! - `/auth/verify/SLUG/…` — the same for Envoy's `ext_authz` in HTTP mode, which sends the
//!   original method and path (behind a prefix) as its own;
//! - `POST /oauth/introspect` — RFC 7662 token introspection, with the service's credential.
//!
//! No cookie authenticates these, so no CSRF token guards them; their errors are JSON.

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::auth::basic::{self, ClientCredentials};
use crate::auth::bearer::Refusal;
use crate::auth::gateway::{Refused, Verified};
use crate::domain::service::{Denied, RequestLine, Slug};
use crate::domain::token_secret::verify_presented;
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/verify").to(verify))
        .service(web::resource("/auth/verify/{slug}/{path:.*}").to(verify_envoy))
        .service(web::resource("/oauth/introspect").route(web::post().to(introspect)));
}

#[derive(Deserialize)]
pub struct VerifyQuery {
    service: Option<String>,
}

/// The bearer token of the request, if it carries one.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The two ways gateways name the request they ask about: nginx's (as the README's
/// configuration sets them), and Traefik's and Caddy's.
const CONVENTIONS: [(&str, &str); 2] =
    [("X-Original-Method", "X-Original-URI"), ("X-Forwarded-Method", "X-Forwarded-Uri")];

/// Why the headers naming the original request cannot be believed.
const TWO_REQUESTS: &str = "The request names its original method and URI twice, in X-Original-* and \
     X-Forwarded-* headers that do not agree: one of them came from the client, and nothing \
     tells which. Make the gateway remove the convention it does not use (see the README).";

/// The request the gateway asks about, from whichever convention's headers it sent
/// (`None`: neither, or only half of one).
///
/// A gateway sets its own convention's headers, replacing whatever the client sent under
/// those names, but it passes the client's other headers on: behind Traefik or Caddy a
/// client can add `X-Original-Method`, behind nginx `X-Forwarded-Method`. Neither is known
/// to be the gateway's, so a request that carries both conventions is believed only when
/// both are complete and say the same; a header sent twice is never believed.
fn original(req: &HttpRequest) -> Result<Option<(&str, &str)>, &'static str> {
    let mut found = [None, None];
    let mut present = 0;
    for ((method, uri), found) in CONVENTIONS.into_iter().zip(&mut found) {
        let mut pair = [None, None];
        for (value, name) in pair.iter_mut().zip([method, uri]) {
            let mut values = req.headers().get_all(name);
            let Some(first) = values.next() else { continue };
            if values.next().is_some() {
                return Err("The request carries a header naming its original method or URI twice.");
            }
            let text =
                first.to_str().map_err(|_| "A header naming the original request does not read as text.")?;
            *value = Some(text);
        }
        if pair.iter().any(Option::is_some) {
            present += 1;
        }
        let [m, u] = pair;
        *found = m.zip(u).filter(|(m, u)| !m.is_empty() && !u.is_empty());
    }
    match (present, found) {
        (2, [Some(a), Some(b)]) if a == b => Ok(Some(a)),
        (2, _) => Err(TWO_REQUESTS),
        (_, [a, b]) => Ok(a.or(b)),
    }
}

/// `/auth/verify?service=SLUG`, any method — forward auth for nginx, Traefik and Caddy.
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<VerifyQuery>,
) -> HttpResponse {
    let Some(slug) = query.service.as_deref().filter(|s| !s.is_empty()) else {
        return problem(StatusCode::BAD_REQUEST, "Name the service: /auth/verify?service=SLUG.");
    };
    let Some(slug) = slug_of(slug) else { return no_such_name() };
    let request = match original(&req) {
        Ok(request) => request,
        Err(why) => {
            // 403, not 400: nginx's auth_request passes on only 401 and 403 (else a 500).
            tracing::warn!(
                service = slug.as_str(),
                reason = why,
                "refused a forward-auth request whose original request cannot be believed"
            );
            return problem(StatusCode::FORBIDDEN, why);
        }
    };
    let line = request.map(|(method, uri)| RequestLine::new(method, uri));
    answer(&req, &state, &slug, line).await
}

/// The slug a client named, if it can be one (exactly as written).
fn slug_of(named: &str) -> Option<Slug> {
    Slug::parse(named).ok().filter(|slug| slug.as_str() == named)
}

/// 404 for a name that cannot be a service's (not repeated: it is anything a client sent).
fn no_such_name() -> HttpResponse {
    problem(
        StatusCode::NOT_FOUND,
        "There is no service by that name: a slug has 2 to 40 lower-case letters, digits and dashes.",
    )
}

/// `/auth/verify/SLUG/PATH`, any method — Envoy's `ext_authz` in HTTP mode, with
/// `path_prefix: /auth/verify/SLUG`: the original method and path are the request's own,
/// and they alone count (headers naming another request are ignored). The path is taken
/// as it came, escapes and all, not as the router decoded it.
pub async fn verify_envoy(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let Some(slug) = slug_of(&path.0) else { return no_such_name() };
    let prefix = format!("/auth/verify/{}/", slug.as_str());
    let Some(rest) = req.uri().path().strip_prefix(prefix.as_str()) else {
        return problem(StatusCode::BAD_REQUEST, "Name the service as it is: /auth/verify/SLUG/PATH.");
    };
    let uri = format!("/{rest}");
    let line = RequestLine::new(req.method().as_str(), &uri);
    answer(&req, &state, &slug, Some(line)).await
}

async fn answer(
    req: &HttpRequest,
    state: &AppState,
    slug: &Slug,
    request: Option<RequestLine<'_>>,
) -> HttpResponse {
    // The token's shape and checksum first: without a token that could be one, no look-up.
    let Some(digest) = bearer(req).and_then(verify_presented) else {
        return refusal(slug, Refused::Invalid(Refusal { reason: "missing or malformed", token_id: None }));
    };
    let gateway = state.gateway();
    let service = match gateway.service(slug).await {
        Ok(s) => s,
        Err(e) => return refusal(slug, e),
    };
    if request.is_none() && !service.rules.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "The service has route rules, and the gateway sent no original method and URI \
             (X-Original-Method and X-Original-URI, or X-Forwarded-Method and X-Forwarded-Uri).",
        );
    }
    match gateway.verify(service, digest, request.as_ref()).await {
        Ok(v) => identity(&v),
        Err(e) => refusal(slug, e),
    }
}

/// 2xx with who the token belongs to, for the gateway to pass on: each value written
/// straight into its header (this answers every request a gateway lets through).
fn identity(v: &Verified) -> HttpResponse {
    let mut res = HttpResponse::Ok().finish();
    let headers = res.headers_mut();
    let mut set = |name: &'static str, value: Option<HeaderValue>| {
        // Names may be UTF-8 (obs-text): passed as the bytes they are.
        if let Some(value) = value {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    let text = |text: &str| HeaderValue::from_bytes(text.as_bytes()).ok();
    set("x-tokenwarden-user-id", Some(v.user.id.into()));
    set("x-tokenwarden-login", text(&v.user.login));
    set("x-tokenwarden-name", text(&v.user.name));
    set("x-tokenwarden-email", text(&v.user.email));
    set("x-tokenwarden-roles", text(&v.roles().collect::<Vec<_>>().join(",")));
    let student_only = if v.student_only { "true" } else { "false" };
    set("x-tokenwarden-student-only", Some(HeaderValue::from_static(student_only)));
    set("x-tokenwarden-token-id", Some(v.token_id.into()));
    set("x-tokenwarden-scopes", text(&v.scopes.join(" ")));
    res
}

fn problem(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("X-Tokenwarden-Error", message))
        .json(crate::error::api::ErrorList::one(message))
}

/// 401 (any invalid token, with the Bearer challenge), 403 (naming what is missing), 404
/// (no such service), 503.
fn refusal(slug: &Slug, refused: Refused) -> HttpResponse {
    let slug = slug.as_str();
    match refused {
        Refused::UnknownService => problem(StatusCode::NOT_FOUND, &format!("There is no service “{slug}”.")),
        Refused::Invalid(Refusal { reason, token_id }) => {
            tracing::debug!(reason, token_id, service = slug, "refused a token at a gateway");
            let mut res = problem(StatusCode::UNAUTHORIZED, crate::error::api::INVALID_ACCESS_TOKEN);
            let challenge = format!("Bearer realm=\"{slug}\", error=\"invalid_token\"");
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                res.headers_mut().insert(WWW_AUTHENTICATE, v);
            }
            res
        }
        Refused::Denied(denied) => {
            let mut res = problem(StatusCode::FORBIDDEN, &denied.sentence(slug));
            if let Denied::Missing(scope) = &denied {
                let challenge =
                    format!("Bearer realm=\"{slug}\", error=\"insufficient_scope\", scope=\"{scope}\"");
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    res.headers_mut().insert(WWW_AUTHENTICATE, v);
                }
            }
            res
        }
        Refused::Unavailable(e) => actix_web::ResponseError::error_response(&ApiError::from(e)),
    }
}

#[derive(Deserialize)]
pub struct IntrospectForm {
    /// Required (RFC 7662, 2.1): a request without it, a JSON body say, is an
    /// `invalid_request`, not an inactive token.
    token: Option<String>,
    /// RFC 7662 lets the client say what the token is; there is one kind here.
    #[serde(default)]
    #[expect(dead_code, reason = "accepted and ignored: there is one kind of token")]
    token_type_hint: Option<String>,
    /// `client_secret_post`: the credential in the body instead of HTTP Basic.
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The service's credential: HTTP Basic (slug and secret), or `client_id` and
/// `client_secret` in the body; `None` when it is neither, or a Basic one that does not read.
fn client(req: &HttpRequest, form: &IntrospectForm) -> Option<ClientCredentials> {
    if let Some(value) = req.headers().get(AUTHORIZATION)
        && let Some(credentials) = basic::credentials(value.to_str().ok()?).ok()?
    {
        return Some(credentials);
    }
    Some(ClientCredentials { id: form.client_id.clone()?, secret: form.client_secret.clone()? })
}

/// `POST /oauth/introspect` — RFC 7662. With the service's credential, `token=…` answers
/// `{"active": true, …}` with the scopes the token carries at this service, or
/// `{"active": false}` for anything else — never a reason.
pub async fn introspect(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let form: IntrospectForm = match serde_html_form::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    };
    let gateway = state.gateway();
    // A client id that cannot be a slug is no service's: no look-up.
    let Some((slug, secret)) = client(&req, &form).and_then(|c| Some((slug_of(&c.id)?, c.secret))) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    match gateway.service_credential_ok(&slug, &secret).await {
        Ok(true) => {}
        Ok(false) => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client"),
        Err(e) => return refusal(&slug, e),
    }
    let service = match gateway.service(&slug).await {
        Ok(s) => s,
        Err(e) => return refusal(&slug, e),
    };
    let inactive = || HttpResponse::Ok().json(serde_json::json!({ "active": false }));
    let Some(token) = form.token else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Some(digest) = verify_presented(token.trim()) else {
        return inactive();
    };
    match gateway.verify(service, digest, None).await {
        Ok(v) => {
            let roles: Vec<&str> = v.roles().collect();
            let mut answer = serde_json::json!({
                "active": true,
                "scope": v.scopes.join(" "),
                "client_id": "tokenwarden",
                "username": v.user.login,
                "token_type": "Bearer",
                "iat": v.created_at.and_utc().timestamp(),
                "sub": v.user.id.to_string(),
                "aud": v.service.slug,
                "jti": v.token_id.to_string(),
                "name": v.user.name,
                "email": v.user.email,
                "roles": roles,
                "student_only": v.student_only,
            });
            // No `exp` for a token that does not expire (RFC 7662: the member is optional).
            if let Some(exp) = v.expires_at {
                answer["exp"] = exp.and_utc().timestamp().into();
            }
            HttpResponse::Ok().json(answer)
        }
        Err(Refused::Unavailable(e)) => refusal(&slug, Refused::Unavailable(e)),
        Err(Refused::Invalid(Refusal { reason, token_id })) => {
            tracing::debug!(reason, token_id, service = slug.as_str(), "introspection: inactive");
            inactive()
        }
        Err(other) => {
            tracing::debug!(?other, service = slug.as_str(), "introspection: inactive");
            inactive()
        }
    }
}

/// An OAuth error answer (RFC 6749 §5.2), with the Basic challenge for a bad credential.
fn oauth_error(status: StatusCode, error: &str) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header((WWW_AUTHENTICATE, "Basic realm=\"tokenwarden\""));
    }
    res.json(serde_json::json!({ "error": error }))
}
