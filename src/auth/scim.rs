//! The provisioning client behind a SCIM request: its credential in
//! `Authorization: Bearer twscim_…`, found by its digest in one indexed look-up. No cookie
//! counts here, and whatever is wrong with the credential, the answer is the same 401.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};

use crate::domain::scim::ScimError;
use crate::error::scim::ScimFailure;
use crate::services::{Actor, provisioning};
use crate::state::AppState;

/// A request of a provisioning client: the directory, acting through its credential with
/// the permissions the role map gives it.
#[derive(Debug, Clone)]
pub struct Provisioner(pub Actor);

/// The bearer credential of the request, if it carries one.
fn presented(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credential.trim().to_owned())
}

impl FromRequest for Provisioner {
    type Error = ScimFailure;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some(credential) = presented(&req) else {
                tracing::debug!(reason = "missing", "refused a provisioning request");
                return Err(ScimError::unauthorized().into());
            };
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| {
                    crate::services::Error::Unexpected(anyhow::anyhow!("AppState is not registered"))
                })?
                .clone();
            let map = state.settings.serve.oidc_role_map.clone();
            let interval = state.settings.serve.token_last_used_interval_secs;
            let ip = state.client_ip(&req);
            let actor = crate::db::run(&state.pool, move |conn| {
                provisioning::authenticate(conn, &credential, &map, ip, interval)
            })
            .await?;
            match actor {
                Some(actor) => Ok(Provisioner(actor)),
                None => {
                    tracing::debug!(reason = "unknown or malformed", "refused a provisioning request");
                    Err(ScimError::unauthorized().into())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_header_presents_a_credential() {
        let req = actix_web::test::TestRequest::default()
            .insert_header((AUTHORIZATION, "bearer  twscim_x "))
            .to_http_request();
        assert_eq!(presented(&req).as_deref(), Some("twscim_x"));
        let req = actix_web::test::TestRequest::default()
            .insert_header((AUTHORIZATION, "Basic dXNlcjpwdw=="))
            .to_http_request();
        assert_eq!(presented(&req), None);
        let req =
            actix_web::test::TestRequest::default().uri("/scim/v2/Users?access_token=x").to_http_request();
        assert_eq!(presented(&req), None);
    }
}
