//! The app's own middleware, outermost first as `startup` wraps them: HEAD answered as GET,
//! the sign-in throttle, and the error renderer that gives each client its shape of error.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue, RETRY_AFTER};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use futures_util::StreamExt;

use crate::auth::rate_limit;
use crate::error::ErrorInfo;
use crate::state::AppState;
use crate::views::error_page;
use crate::views::page::PageCtx;

/// Marks a request that came as `HEAD`: it is answered as a `GET`, but nothing that a view
/// uses up (a once-only secret) may be taken by it.
#[derive(Debug, Clone, Copy)]
pub struct HeadRequest;

/// Middleware: a `HEAD` request is answered as the `GET` of the same URL would be, without
/// the body (actix's HTTP/1 codec drops a HEAD response's body; the headers, the length
/// included, stay). Uptime monitors and `curl -I` use HEAD; the routes name GET only.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(HeadRequest);
    }
    next.call(req).await
}

/// The target of the request log's lines (`TOKENWARDEN_LOG=tokenwarden::request=off,info`
/// leaves them out).
pub const REQUEST_LOG: &str = "tokenwarden::request";

/// Middleware: one line per request, its parts as fields (for a log pipeline, with
/// `--log-format json`): the client as the proxy settings name it (not the proxy), the
/// method, the path — never the query, which may carry an `access_token`, and never a
/// one-time link's secret — the status, the body's size and the milliseconds taken.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = crate::telemetry::loggable_path(req.path()).into_owned();
    let client = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.client_ip(req.request()))
        .unwrap_or_else(|| "-".to_owned());
    let res = next.call(req).await?;
    let bytes = match res.response().body().size() {
        actix_web::body::BodySize::Sized(n) => n,
        _ => 0,
    };
    let ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    tracing::info!(
        target: REQUEST_LOG,
        %client,
        %method,
        %path,
        status = res.status().as_u16(),
        bytes,
        ms,
    );
    Ok(res)
}

/// Clients that are programs, not people: the API, gateways, services, provisioning
/// clients. They get JSON.
fn is_api(req: &actix_web::HttpRequest) -> bool {
    ["/api/", "/auth/", "/oauth/", "/scim/"].iter().any(|p| req.path().starts_with(p))
}

/// A provisioning client (SCIM): its errors are SCIM's.
fn is_scim(req: &actix_web::HttpRequest) -> bool {
    req.path().starts_with("/scim/")
}

/// Middleware: turns an [`AppError`](crate::error::AppError) response into what the client can use.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let Some(info) = res.response().extensions().get::<ErrorInfo>().cloned() else {
        return Ok(res.map_into_left_body());
    };
    let status = res.status();
    let (req, old) = res.into_parts();
    let htmx = req.headers().contains_key("HX-Request");

    let mut new = if status == StatusCode::UNAUTHORIZED && !is_api(&req) {
        // A person who is not signed in goes to the login page, then back here.
        let next_url = if req.method() == actix_web::http::Method::GET {
            req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default()
        } else {
            String::new()
        };
        let target = if next_url.is_empty() || next_url == "/" {
            "/login".to_owned()
        } else {
            format!("/login?next={}", urlencode(&next_url))
        };
        if htmx {
            HttpResponse::Ok().insert_header(("HX-Redirect", target)).finish()
        } else {
            HttpResponse::SeeOther().insert_header((header::LOCATION, target)).finish()
        }
    } else if is_scim(&req) {
        let detail = if status == StatusCode::NOT_FOUND {
            "There is no such SCIM endpoint or resource here: the base URL is /scim/v2.".to_owned()
        } else {
            info.message
        };
        crate::error::scim::respond(&crate::domain::scim::ScimError::new(status.as_u16(), None, detail))
    } else if is_api(&req) {
        HttpResponse::build(status).json(serde_json::json!({ "errors": [{ "message": info.message }] }))
    } else if htmx {
        let body = error_page::fragment(info.title, &info.message);
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("HX-Retarget", "#flash-area"))
            .insert_header(("HX-Reswap", "innerHTML"))
            .body(body)
    } else {
        error_page::page(PageCtx::for_error(&req), status, info.title, info.message)
    };
    // Keep headers set by the handler that still apply (e.g. Retry-After, WWW-Authenticate).
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = old.headers().get(&name) {
            new.headers_mut().insert(name, v.clone());
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE && !new.headers().contains_key(header::RETRY_AFTER) {
        new.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    Ok(ServiceResponse::new(req, new).map_into_right_body())
}

pub(crate) fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|q| q[1..].to_owned()).unwrap_or_default()
}

/// A sign-in form is a login, a password, a `next` and a CSRF token: a few hundred bytes.
/// Anything larger is refused before it is parsed, logged or counted.
pub const SIGN_IN_FORM_LIMIT: usize = 8 * 1024;

/// Whether the router will take this request to the sign-in handler: the path compared as
/// the router compares it (percent-escapes of safe characters decoded: `/%6Cogin` is
/// `/login`), not as the client spelled it.
fn is_sign_in(req: &ServiceRequest) -> bool {
    req.method() == Method::POST && req.match_info().as_str() == "/login"
}

/// Middleware: a sign-in attempt from an address that has used up its budget is refused
/// here, before the session, the CSRF token and the form are read, with a small 429 page
/// sent after [`TARPIT`](rate_limit::TARPIT). A flood of guesses then costs the server little
/// more than reading the request, and the API and the pages keep their share of the machine.
/// A sign-in form larger than [`SIGN_IN_FORM_LIMIT`] is refused here too.
pub async fn throttle_sign_in(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !is_sign_in(&req) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let state = req.app_data::<web::Data<AppState>>().expect("AppState is registered").clone();
    let ip =
        crate::client::client_ip(req.request(), &state.settings.serve).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    // Read the (small) form whatever happens next: a request whose body is left unread ends
    // its connection, and a client that reconnects for every attempt costs the server far
    // more than the attempt itself.
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    let mut too_large = false;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > SIGN_IN_FORM_LIMIT {
            too_large = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    if let Err(wait) = state.login_limiter.check_ip(ip) {
        if state.login_limiter.should_warn(ip) {
            tracing::warn!(%ip, "sign-in attempts throttled for this address (logged once a minute)");
        }
        if let Some(_slot) = state.login_limiter.hold() {
            actix_web::rt::time::sleep(rate_limit::TARPIT.min(wait)).await;
        }
        let res = too_many_attempts(wait);
        return Ok(req.into_response(res).map_into_right_body());
    }
    if too_large {
        let res = error_page::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Sign-in form too large",
            "The sign-in form was larger than any login and password can be. Go back and try again.".into(),
        );
        return Ok(req.into_response(res).map_into_right_body());
    }
    req.set_payload(actix_web::dev::Payload::from(body.freeze()));
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// 429 with `Retry-After`, as a page a person can read.
fn too_many_attempts(wait: Duration) -> HttpResponse {
    let (secs, message) = crate::auth::rate_limit::refusal(wait);
    let mut res = error_page::plain(StatusCode::TOO_MANY_REQUESTS, "Too many sign-in attempts", message);
    res.headers_mut().insert(RETRY_AFTER, secs.into());
    res
}
