//! `/admin` — the administrator's dashboard (SPEC 5): the account's tokens at a glance,
//! each figure a link to the list it counts. Read from the tallies the database keeps, so
//! it costs the same at a thousand tokens as at a million.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::auth::guard::{Require, ViewTokens};
use crate::domain::now;
use crate::error::AppError;
use crate::models::TokenFigures;
use crate::routes::render;
use crate::state::AppState;
use crate::views::dashboard::{ACTIVITY_HEIGHT, CHART_WIDTH, Dashboard, PLOT_BOTTOM, PLOT_LEFT_EDGE};
use crate::views::page::PageCtx;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    ctx: PageCtx,
    d: Dashboard,
    as_of: String,
}

impl DashboardPage {
    fn chart_width(&self) -> i64 {
        CHART_WIDTH
    }
    fn plot_bottom(&self) -> i64 {
        PLOT_BOTTOM
    }
    fn plot_left(&self) -> i64 {
        PLOT_LEFT_EDGE
    }
    fn activity_height(&self) -> i64 {
        ACTIVITY_HEIGHT
    }
}

/// `GET /admin`
#[get("/admin")]
pub async fn show(
    ctx: PageCtx,
    _me: Require<ViewTokens>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let now = now();
    let figures = crate::db::run_within(
        &state.pool,
        crate::db::ACCOUNT_VIEW_WITHIN,
        move |conn| -> Result<_, AppError> { Ok(TokenFigures::load(conn, now)?) },
    )
    .await?;
    render(&DashboardPage {
        ctx,
        d: Dashboard::new(&figures),
        as_of: now.format("%-d %B %Y, %H:%M UTC").to_string(),
    })
}
