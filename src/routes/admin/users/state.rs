//! `POST /admin/users/{id}/suspend`, `…/reactivate`, `…/sessions/end` — a user's access.

use actix_web::{HttpRequest, HttpResponse, post, web};
use actix_web_flash_messages::FlashMessage;

use crate::auth::guard::{ManageUsers, Require};
use crate::error::AppError;
use crate::models::UserState;
use crate::routes::see_other;
use crate::services::users;
use crate::state::AppState;

async fn set_state(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    id: i64,
    new_state: UserState,
) -> Result<HttpResponse, AppError> {
    let who = state.actor(&req, &me);
    let user = crate::db::run(&state.pool, move |conn| users::set_state(conn, &who, id, new_state)).await?;
    if user.state == new_state.key() {
        let already = match new_state {
            UserState::Suspended => "suspended",
            UserState::Active => "active",
        };
        FlashMessage::info(format!("{} is {already} already: nothing changed.", user.name)).send();
        return Ok(see_other(&super::profile::page_of(id)));
    }
    FlashMessage::success(match new_state {
        UserState::Suspended => {
            format!("{} is suspended and signed out everywhere. Their tokens stop working.", user.name)
        }
        UserState::Active => format!("{} is active again.", user.name),
    })
    .send();
    Ok(see_other(&super::profile::page_of(id)))
}

/// `POST /admin/users/{id}/suspend` — suspends a user and ends their sessions.
#[post("/admin/users/{id}/suspend")]
pub async fn suspend(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_state(req, me, state, path.into_inner(), UserState::Suspended).await
}

/// `POST /admin/users/{id}/reactivate`
#[post("/admin/users/{id}/reactivate")]
pub async fn reactivate(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_state(req, me, state, path.into_inner(), UserState::Active).await
}

/// `POST /admin/users/{id}/sessions/end` — signs a user out everywhere.
#[post("/admin/users/{id}/sessions/end")]
pub async fn end_sessions(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let who = state.actor(&req, &me);
    let (user, n) = crate::db::run(&state.pool, move |conn| users::end_sessions(conn, &who, id)).await?;
    if id == me.id {
        // This browser's session was among them: the profile would only send it to sign in,
        // and the message with it would be lost on the way.
        FlashMessage::success("You ended all your sessions, this one too: sign in again.").send();
        return Ok(see_other("/login"));
    }
    FlashMessage::success(format!(
        "Ended {} of {}.",
        crate::domain::count(n, "session", "sessions"),
        user.name
    ))
    .send();
    Ok(see_other(&super::profile::page_of(id)))
}
