//! The once-only secret after a plain form post (post → redirect → get): one way, for every
//! page that issues secrets. The secret waits server-side (`services::stash`); the session
//! cookie carries only which page it waits for, so that other page views cost nothing.

use actix_session::Session;
use actix_web::{HttpMessage, HttpRequest};

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::middleware::HeadRequest;
use crate::services::stash;
use crate::state::AppState;

/// The session key naming the page a secret waits for (no secret in it).
const WAITING_ON: &str = "secret_waits_on";

/// Leaves `secret` (a token's secret, a credential, a one-time link) for the next view of
/// `page` by this session.
pub async fn stash<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    me: &CurrentUser,
    session: &Session,
    page: &str,
    secret: T,
) -> Result<(), AppError> {
    let (key, at) = (me.stash.clone(), page.to_owned());
    crate::db::run(&state.pool, move |conn| Ok::<_, AppError>(stash::put(conn, &key, &at, &secret)?)).await?;
    session
        .insert(WAITING_ON, page)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("could not write the session: {e}")))
}

/// The secret waiting for `page`, taken as it is shown: once, on this page only, never by
/// a `HEAD`.
pub async fn take<T: serde::de::DeserializeOwned + Send + 'static>(
    req: &HttpRequest,
    state: &AppState,
    me: &CurrentUser,
    session: &Session,
    page: &str,
) -> Result<Option<T>, AppError> {
    if req.extensions().contains::<HeadRequest>()
        || session.get::<String>(WAITING_ON).ok().flatten().as_deref() != Some(page)
    {
        return Ok(None);
    }
    session.remove(WAITING_ON);
    let (key, at) = (me.stash.clone(), page.to_owned());
    crate::db::run(&state.pool, move |conn| Ok::<_, AppError>(stash::take(conn, &key, &at)?)).await
}
