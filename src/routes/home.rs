use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::{render, see_other};
use crate::auth::CurrentUser;
use crate::domain::token::TokenChange;
use crate::error::AppError;
use crate::models::AccessToken;
use crate::services::tokens::Context;
use crate::state::AppState;
use crate::views::page::PageCtx;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: PageCtx,
    name: String,
    student_only: bool,
    /// Tokens made for them that wait for them to activate them.
    pending: i64,
    /// Why they cannot create tokens (the account's settings), if they cannot.
    create_refusal: Option<String>,
}

/// `GET /` — the start page; sends people who are not signed in to sign in (or to set up).
#[get("/")]
pub async fn index(
    req: HttpRequest,
    ctx: PageCtx,
    user: Option<CurrentUser>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = user else {
        let setup = super::session::needs_setup(&state).await?;
        return Ok(see_other(if setup { "/setup" } else { "/login" }));
    };
    let (actor, me) = (state.actor(&req, &user), user.id);
    let (pending, create_refusal) = crate::db::run(&state.pool, move |conn| -> Result<_, AppError> {
        let rules = Context::load(conn, &actor, me)?;
        Ok((AccessToken::count_pending_for_user(conn, me)?, rules.may(TokenChange::Create).err()))
    })
    .await?;
    render(&HomePage { ctx, name: user.name, student_only: user.student_only, pending, create_refusal })
}
