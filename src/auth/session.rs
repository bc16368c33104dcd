//! The signed-in user: loaded from the server-side session on every request.
//!
//! The cookie (encrypted by actix-session) holds a random session id; `user_sessions`
//! holds its digest. Ending a session on the server (log out everywhere, suspension,
//! password change, an admin's "end all sessions") deletes the row, and the next request
//! with the old cookie is anonymous. Idle and absolute timeouts are checked here too.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::domain::session_policy::SessionTimeouts;
use crate::domain::{Permission, PermissionSet};
use crate::error::AppError;
use crate::models::UserSession;
use crate::models::session::session_digest;
use crate::services::stash::StashKey;
use crate::services::{Actor, Via};
use crate::state::AppState;

/// Session keys.
pub const SESSION_ID_KEY: &str = "sid";

/// The user behind this request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub permissions: PermissionSet,
    pub student_only: bool,
    /// Digest of the session id, so the session can end itself or be spared.
    pub session_digest: String,
    /// Where this session's once-only secrets wait for the page that shows them.
    pub stash: StashKey,
}

impl CurrentUser {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    /// This user, signed in through this session, as the actor of a service operation.
    pub fn actor(&self, ip: Option<String>) -> Actor {
        Actor::user(self.id, self.permissions, self.student_only, Via::Session, ip)
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<CurrentUser>().cloned().ok_or(AppError::LoginRequired))
    }
}

enum Lookup {
    SignedIn(CurrentUser),
    Ended,
}

/// Middleware: resolves the session cookie into a [`CurrentUser`] in request extensions.
pub async fn load_user(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let session = req.get_session();
    if let Some(sid) = session.get::<String>(SESSION_ID_KEY).unwrap_or(None) {
        let state = req.app_data::<web::Data<AppState>>().expect("AppState is registered").clone();
        let digest = session_digest(&sid);
        let stash = StashKey::derive(&state.settings.session_key, &sid, digest.clone());
        let serve = &state.settings.serve;
        let timeouts = SessionTimeouts::new(serve.idle_timeout_minutes, serve.absolute_timeout_hours);
        let lookup = crate::db::run(&state.pool, move |conn| -> Result<Lookup, AppError> {
            let Some((row, user, roles)) = UserSession::find_with_user(conn, &digest)? else {
                return Ok(Lookup::Ended);
            };
            let now = crate::domain::now();
            if !user.is_active() || timeouts.has_expired(now, row.created_at, row.last_seen_at) {
                UserSession::end(conn, &digest)?;
                return Ok(Lookup::Ended);
            }
            if timeouts.is_due_for_a_touch(now, row.last_seen_at) {
                UserSession::touch(conn, &digest, now)?;
            }
            Ok(Lookup::SignedIn(CurrentUser {
                id: user.id,
                login: user.login,
                name: user.name,
                permissions: roles.permissions(),
                student_only: roles.is_student_only(),
                session_digest: digest,
                stash,
            }))
        })
        .await?;
        match lookup {
            Lookup::SignedIn(user) => {
                req.extensions_mut().insert(user);
            }
            Lookup::Ended => session.purge(),
        }
    }
    next.call(req).await
}

/// Starts a signed-in session: a fresh cookie (new id, so a planted one is useless).
pub fn begin(session: &Session, session_id: String) -> Result<(), AppError> {
    session.renew();
    session.clear();
    session
        .insert(SESSION_ID_KEY, session_id)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("could not write the session: {e}")))?;
    // A new CSRF token for the new session, in this response's cookie: the pages that
    // follow read it and leave the cookie as it is.
    crate::auth::csrf::token(session);
    Ok(())
}
