//! CSRF protection for every state-changing request of the pages (synchronizer token).
//!
//! Each session carries a random token; every form has it as `csrf_token`, and htmx sends
//! it as `X-CSRF-Token` (set once on `<body hx-headers>`). The middleware refuses any
//! POST/PUT/PATCH/DELETE outside `/api/` without the right token, before a handler runs.
//! The bearer-token API is exempt: it is not authenticated by a cookie.

use actix_session::{Session, SessionExt};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpMessage, ResponseError};
use futures_util::StreamExt;
use subtle::ConstantTimeEq;

use crate::error::AppError;

pub const SESSION_KEY: &str = "csrf";
pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "X-CSRF-Token";

/// Form bodies larger than this are refused before parsing.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The session's CSRF token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(SESSION_KEY) {
        return t;
    }
    let t = crate::domain::token_secret::random_base62(32);
    // A session that cannot be written yields a token no request can match: fail closed.
    let _ = session.insert(SESSION_KEY, &t);
    t
}

#[derive(serde::Deserialize)]
struct TokenField {
    csrf_token: Option<String>,
}

fn matches(expected: Option<&str>, given: Option<&str>) -> bool {
    match (expected, given) {
        (Some(e), Some(g)) if !e.is_empty() => e.as_bytes().ct_eq(g.as_bytes()).into(),
        _ => false,
    }
}

/// Middleware: refuses unsafe requests to the pages that lack the session's CSRF token.
pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // The API, the gateways', the services' and the provisioning client's doors are not
    // authenticated by a cookie.
    if safe || ["/api/", "/auth/", "/oauth/", "/scim/"].iter().any(|p| req.path().starts_with(p)) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let expected = req.get_session().get::<String>(SESSION_KEY).unwrap_or(None);
    let mut given = req.headers().get(HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let urlencoded = req.content_type() == "application/x-www-form-urlencoded";
    let multipart = crate::multipart::is_multipart(req.headers());
    if given.is_none() && (urlencoded || multipart) {
        // Read the body to find the field, then hand it back for the handler's extractor.
        let limit = if multipart { crate::multipart::MAX_BODY_BYTES } else { MAX_FORM_BYTES };
        let mut payload = req.take_payload();
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk?;
            if body.len() + chunk.len() > limit {
                let res = AppError::BadRequest(format!(
                    "The form is too large: at most {} KiB can be sent.",
                    limit / 1024
                ))
                .error_response();
                return Ok(req.into_response(res).map_into_right_body());
            }
            body.extend_from_slice(&chunk);
        }
        let body: Bytes = body.freeze();
        given = if multipart {
            // The token field is small; a form whose parts do not read has none.
            crate::multipart::parts(req.headers(), body.clone(), crate::multipart::MAX_BODY_BYTES)
                .await
                .ok()
                .and_then(|parts| parts.into_iter().find(|p| p.name == FIELD))
                .and_then(|p| String::from_utf8(p.data.to_vec()).ok())
        } else {
            serde_urlencoded::from_bytes::<TokenField>(&body).ok().and_then(|f| f.csrf_token)
        };
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    if !matches(expected.as_deref(), given.as_deref()) {
        tracing::warn!(
            path = %crate::telemetry::loggable_path(req.path()),
            "refused a state-changing request without a valid CSRF token"
        );
        let res = AppError::CsrfRejected.error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(matches(Some("abc"), Some("abc")));
        assert!(!matches(Some("abc"), Some("abd")));
        assert!(!matches(Some("abc"), None));
        assert!(!matches(None, Some("abc")));
        assert!(!matches(Some(""), Some("")));
    }
}
