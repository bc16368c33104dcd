use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::{render, see_other};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::page::PageCtx;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: PageCtx,
    name: String,
    student_only: bool,
}

/// `GET /` — the start page; sends people who are not signed in to sign in (or to set up).
#[get("/")]
pub async fn index(
    ctx: PageCtx,
    user: Option<CurrentUser>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = user else {
        let setup = super::session::needs_setup(&state).await?;
        return Ok(see_other(if setup { "/setup" } else { "/login" }));
    };
    render(&HomePage { ctx, name: user.name, student_only: user.student_only })
}
