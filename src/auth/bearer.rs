//! Bearer-token authentication for the JSON API (SPEC 4.5, 4.9–4.11, 6).
//!
//! A token comes in `Authorization: Bearer <token>` or, as Canvas also accepts, in the
//! `access_token` query parameter. Its shape and CRC32 checksum are checked first, so a
//! mistyped or invented token costs no database lookup; then one indexed lookup of its
//! SHA-256 digest, joined with its owner. Whatever is wrong with it — missing, malformed,
//! unknown, expired, pending, deleted, owner suspended — the answer is the same 401.
//!
//! Handlers take [`Scoped<S>`]: the route's Canvas scope is in its type, so a handler
//! cannot forget to check it.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{Duration, NaiveDateTime};

use crate::client::client_ip;
use crate::domain::authority::TokenReach;
use crate::domain::token::Scopes;
use crate::domain::token::TokenStatus;
use crate::domain::token_secret::verify_presented;
use crate::domain::{Permission, PermissionSet, now};
use crate::error::ApiError;
use crate::models::{AccessToken, PresentedToken, UserCard, UserRoles};
use crate::services::{Actor, Via};
use crate::state::AppState;

/// The owner of the presented token: the API acts as this user, never as more.
#[derive(Debug, Clone)]
pub struct ApiOwner {
    pub id: i64,
    /// The owner as read with the token: `users/self` needs no second query.
    pub user: UserCard,
    /// From the owner's roles, as they are now (not as they were when the token was made).
    pub permissions: PermissionSet,
    pub student_only: bool,
}

/// The presented token (never its secret).
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub scopes: Scopes,
    pub expires_at: Option<NaiveDateTime>,
}

/// An authenticated API request.
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub owner: ApiOwner,
    pub token: ApiToken,
    /// The client's address, for the audit log (written out only when something is logged).
    pub ip: Option<std::net::IpAddr>,
}

impl ApiUser {
    /// The owner as the actor, through this token: a token never exceeds its owner, and
    /// gives the tokens it creates or changes no more than its own reach (SPEC 4.13).
    pub fn actor(&self) -> Actor {
        let reach = TokenReach {
            token_id: self.token.id,
            scopes: self.token.scopes.clone(),
            expires_at: self.token.expires_at,
        };
        Actor::user(
            self.owner.id,
            self.owner.permissions,
            self.owner.student_only,
            Via::Token(reach),
            self.ip.map(|ip| ip.to_string()),
        )
    }

    pub fn can(&self, p: Permission) -> bool {
        self.owner.permissions.contains(p)
    }

    /// Whether the token's scopes let it call the route named by `scope` (SPEC 4.9).
    pub fn require_scope(&self, scope: &'static str) -> Result<(), ApiError> {
        if self.token.scopes.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "This access token is limited to other scopes: it lacks the scope {scope} that this \
                 endpoint requires."
            )))
        }
    }
}

/// An API route's Canvas scope, as written in [`SCOPE_CATALOGUE`](crate::domain::token::SCOPE_CATALOGUE).
pub trait RouteScope {
    const SCOPE: &'static str;
}

/// The route scopes, one marker type per scope of the catalogue.
pub mod scope {
    use super::RouteScope;

    macro_rules! route_scope {
        ($name:ident, $scope:literal) => {
            #[derive(Debug)]
            pub struct $name;
            impl RouteScope for $name {
                const SCOPE: &'static str = $scope;
            }
        };
    }

    route_scope!(ShowUser, "url:GET|/api/v1/users/:id");
    route_scope!(ShowProfile, "url:GET|/api/v1/users/:user_id/profile");
    route_scope!(ListTokens, "url:GET|/api/v1/users/:user_id/user_generated_tokens");
    route_scope!(ShowToken, "url:GET|/api/v1/users/:user_id/tokens/:id");
    route_scope!(CreateToken, "url:POST|/api/v1/users/:user_id/tokens");
    route_scope!(UpdateToken, "url:PUT|/api/v1/users/:user_id/tokens/:id");
    route_scope!(DeleteToken, "url:DELETE|/api/v1/users/:user_id/tokens/:id");
}

/// An API request authenticated by a token whose scopes include `S`'s.
#[derive(Debug)]
pub struct Scoped<S>(ApiUser, PhantomData<S>);

impl<S> Deref for Scoped<S> {
    type Target = ApiUser;
    fn deref(&self) -> &ApiUser {
        &self.0
    }
}

impl<S: RouteScope + 'static> FromRequest for Scoped<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = authenticate(&req).await?;
            user.require_scope(S::SCOPE)?;
            Ok(Scoped(user, PhantomData))
        })
    }
}

#[derive(serde::Deserialize)]
struct AccessTokenParam {
    access_token: Option<String>,
}

/// What the client presented: the `Authorization: Bearer` header, else the `access_token`
/// query parameter. `None` when neither is there or the header is not a bearer token.
fn presented(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned());
    }
    serde_urlencoded::from_str::<AccessTokenParam>(req.query_string()).ok()?.access_token
}

/// A use recorded before this moment is stale: `interval_secs` before `now`, whatever the
/// setting (a huge interval means "once").
fn stale_before(now: NaiveDateTime, interval_secs: u64) -> NaiveDateTime {
    i64::try_from(interval_secs)
        .ok()
        .and_then(Duration::try_seconds)
        .and_then(|interval| now.checked_sub_signed(interval))
        .unwrap_or(NaiveDateTime::MIN)
}

/// Records a token's use: at most one write per interval per token, and the UPDATE's own
/// condition keeps concurrent requests (and other instances) from writing it twice. A
/// failure to record it is logged; the request goes on.
fn touch(conn: &mut crate::db::DbConnection, token: &PresentedToken, now: NaiveDateTime, interval_secs: u64) {
    let stale_before = stale_before(now, interval_secs);
    if token.last_used_at.is_none_or(|at| at < stale_before)
        && let Err(e) = AccessToken::touch_last_used(conn, token.id, now, stale_before)
    {
        tracing::warn!(token_id = token.id, error = %e, "could not record a token's last use");
    }
}

/// A presented token that may act: it exists, has neither expired nor waits for its
/// owner's activation, and its owner is not suspended.
#[derive(Debug)]
pub struct Admitted {
    pub token: PresentedToken,
    pub owner: UserCard,
    pub roles: UserRoles,
}

/// Looks up the token whose secret has `digest` (its shape and checksum already checked
/// by [`verify_presented`]) and admits it, recording its use (see [`touch`]) — or says why
/// not, for the log only: whatever the reason, its client hears the same refusal. Every
/// door that takes a token (the API, forward auth, introspection) admits it here.
pub fn admit(
    conn: &mut crate::db::DbConnection,
    digest: &crate::domain::token_secret::TokenDigest,
    interval_secs: u64,
) -> diesel::QueryResult<Result<Admitted, Refusal>> {
    let Some((token, owner, roles)) = PresentedToken::find_with_owner(conn, digest)? else {
        return Ok(Err(Refusal { reason: "unknown", token_id: None }));
    };
    let now = now();
    let refused = |reason| Ok(Err(Refusal { reason, token_id: Some(token.id) }));
    match token.status(now) {
        TokenStatus::Expired => return refused("expired"),
        TokenStatus::Pending => return refused("pending"),
        TokenStatus::Active | TokenStatus::ExpiringSoon => {}
    }
    if !owner.is_active() {
        return refused("owner suspended");
    }
    touch(conn, &token, now, interval_secs);
    Ok(Ok(Admitted { token, owner, roles }))
}

/// Why a token was not admitted, for the log (never shown to the client, never the secret).
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub reason: &'static str,
    pub token_id: Option<i64>,
}

/// Authenticates the request's token (without any scope check).
pub async fn authenticate(req: &HttpRequest) -> Result<ApiUser, ApiError> {
    let Some(digest) = presented(req).as_deref().and_then(verify_presented) else {
        tracing::debug!(reason = "missing or malformed", "refused an API token");
        return Err(ApiError::InvalidToken);
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| {
            ApiError::App(crate::error::AppError::Unexpected(anyhow::anyhow!("AppState is not registered")))
        })?
        .clone();
    let serve = &state.settings.serve;
    let interval_secs = serve.token_last_used_interval_secs;
    let ip = client_ip(req, serve);
    let admitted =
        crate::db::run(&state.pool, move |conn| Ok::<_, ApiError>(admit(conn, &digest, interval_secs)?))
            .await?;
    match admitted {
        Ok(Admitted { token, owner, roles }) => {
            state.usage.record(token.id, crate::auth::gateway::API, now());
            Ok(ApiUser {
                owner: ApiOwner {
                    id: owner.id,
                    user: owner,
                    permissions: roles.permissions(),
                    student_only: roles.is_student_only(),
                },
                token: ApiToken { id: token.id, scopes: token.scope_set(), expires_at: token.expires_at },
                ip,
            })
        }
        Err(Refusal { reason, token_id }) => {
            tracing::debug!(reason, token_id, "refused an API token");
            Err(ApiError::InvalidToken)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scope::*;
    use super::*;
    use crate::domain::token::SCOPE_CATALOGUE;

    #[test]
    fn every_route_scope_is_in_the_catalogue() {
        for s in [
            ShowUser::SCOPE,
            ShowProfile::SCOPE,
            ListTokens::SCOPE,
            ShowToken::SCOPE,
            CreateToken::SCOPE,
            UpdateToken::SCOPE,
            DeleteToken::SCOPE,
        ] {
            assert!(SCOPE_CATALOGUE.iter().any(|d| d.scope == s), "{s}");
        }
    }

    #[test]
    fn the_header_is_read_before_the_query_and_only_as_a_bearer_token() {
        let req = actix_web::test::TestRequest::default()
            .uri("/api/v1/users/self?access_token=from-query")
            .insert_header((AUTHORIZATION, "bearer  from-header "))
            .to_http_request();
        assert_eq!(presented(&req).as_deref(), Some("from-header"));
        let req = actix_web::test::TestRequest::default()
            .uri("/api/v1/users/self?access_token=from-query")
            .to_http_request();
        assert_eq!(presented(&req).as_deref(), Some("from-query"));
        let req = actix_web::test::TestRequest::default()
            .uri("/api/v1/users/self?access_token=from-query")
            .insert_header((AUTHORIZATION, "Basic dXNlcjpwdw=="))
            .to_http_request();
        assert_eq!(presented(&req), None);
        let req = actix_web::test::TestRequest::default().uri("/api/v1/users/self").to_http_request();
        assert_eq!(presented(&req), None);
    }

    #[test]
    fn a_use_is_stale_after_the_interval_whatever_the_setting() {
        let now = crate::domain::now();
        assert_eq!(stale_before(now, 600), now - Duration::minutes(10));
        assert_eq!(stale_before(now, 0), now);
        assert_eq!(stale_before(now, u64::MAX), NaiveDateTime::MIN);
        assert_eq!(stale_before(now, i64::MAX as u64), NaiveDateTime::MIN);
    }

    #[test]
    fn a_scoped_token_may_call_only_its_routes() {
        let user = |scopes: &[&str]| ApiUser {
            owner: ApiOwner {
                id: 1,
                user: UserCard {
                    id: 1,
                    login: "sam".into(),
                    name: "Sam".into(),
                    email: "sam@example.edu".into(),
                    state: "active".into(),
                    time_zone: "Etc/UTC".into(),
                    locale: "en".into(),
                },
                permissions: PermissionSet::empty(),
                student_only: true,
            },
            token: ApiToken {
                id: 1,
                scopes: Scopes::parse(scopes, &Default::default()).unwrap(),
                expires_at: None,
            },
            ip: None,
        };
        assert!(user(&[]).require_scope(DeleteToken::SCOPE).is_ok());
        let limited = user(&[ShowUser::SCOPE]);
        assert!(limited.require_scope(ShowUser::SCOPE).is_ok());
        let err = limited.require_scope(DeleteToken::SCOPE).unwrap_err();
        assert!(err.to_string().contains(DeleteToken::SCOPE), "{err}");
    }
}
