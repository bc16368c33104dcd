//! `POST /api/v1/credentials/revoke` — leaked tokens, reported by whoever found them (a
//! secret scanner, a colleague), revoked at once: GitHub's credential-revocation shape.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::token_secret::verify_presented;
use crate::error::ApiError;
use crate::error::api::ErrorList;
use crate::services::tokens;
use crate::state::AppState;

/// At most this many credentials per report.
pub const MAX_CREDENTIALS: usize = 1000;

/// A report of leaked tokens.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// The secrets found (`tw_…`), at most 1,000. Anything that is not a live token of this
    /// server is ignored.
    #[schema(example = json!(["tw_…"]), max_items = 1000)]
    pub credentials: Vec<String>,
}

/// `POST /api/v1/credentials/revoke` — revokes every live token among the reported ones,
/// at once, audited as leaked with the reporter's address, and its owner told. No token is
/// needed (whoever holds a leaked token may report it), and the answer is 202 whatever
/// the tokens were: a reporter learns nothing about which were real.
#[utoipa::path(
    context_path = "/api/v1",
    post,
    path = "/credentials/revoke",
    operation_id = "revoke_leaked_credentials",
    tag = "Access tokens",
    request_body(content = RevokeRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted: every live token among them is revoked."),
        (status = 400, description = "Not a report: the body is not `{\"credentials\": [...]}` with at most 1,000 strings.", body = ErrorList),
        (status = 413, description = "The body is larger than 256 KiB.", body = ErrorList),
        (status = 415, description = "The body is not JSON.", body = ErrorList),
        (status = 429, description = "Too many reports from this address; `Retry-After` says when to come back.", body = ErrorList,
            headers(("Retry-After" = i32, description = "Seconds to wait."))),
        (status = 503, description = "The database cannot be reached; `Retry-After` says when to try again.", body = ErrorList,
            headers(("Retry-After" = i32, description = "Seconds to wait."))),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let ip = crate::client::client_ip(&req, &state.settings.serve);
    if let Some(ip) = ip
        && !state.leak_reports.allow(ip)
    {
        return Err(ApiError::TooManyRequests { retry_after: 60 });
    }
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType { accept: "application/json" });
    }
    // An object only: serde would also read `["tw_…"]` as the struct's fields in order.
    let report: RevokeRequest = serde_json::from_slice::<super::tokens::ObjectOnly<RevokeRequest>>(&body)
        .map(|o| o.0)
        .map_err(|e| ApiError::BadRequest(format!("Send {{\"credentials\": [\"tw_…\", …]}}: {e}")))?;
    if report.credentials.len() > MAX_CREDENTIALS {
        return Err(ApiError::BadRequest(format!("Report at most {MAX_CREDENTIALS} credentials at a time.")));
    }
    // Shape and checksum first: a mistyped or invented token costs no database look-up.
    let mut digests: Vec<_> = report.credentials.iter().filter_map(|c| verify_presented(c.trim())).collect();
    digests.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    digests.dedup();
    let reported = report.credentials.len();
    if !digests.is_empty() {
        let reporter = ip.map(|i| i.to_string());
        let revoked =
            crate::db::run(&state.pool, move |conn| tokens::revoke_leaked(conn, &digests, reporter)).await?;
        tracing::warn!(reported, revoked, "tokens reported as leaked were revoked");
    }
    Ok(HttpResponse::Accepted().finish())
}
