//! A confirmation (`views::confirm`) as an answer: a table row for htmx to put in place of
//! the token's row, or a page of its own.

use actix_web::HttpResponse;
use askama::Template;

use crate::error::AppError;
use crate::routes::render;
use crate::views::confirm::Confirmation;
use crate::views::page::PageCtx;

/// Which entry of the navigation a confirmation page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    OwnTokens,
    AllTokens,
    /// A profile page (reached from Users or All tokens: neither is marked).
    Profile,
}

#[derive(Template)]
#[template(path = "confirm/page.html")]
struct ConfirmPage {
    ctx: PageCtx,
    c: Confirmation,
    nav: Nav,
}

#[derive(Template)]
#[template(path = "confirm/row.html")]
struct ConfirmRow {
    c: Confirmation,
}

/// The question, in the token's row when htmx asked for it, else on a page of its own.
pub fn respond(ctx: PageCtx, c: Confirmation, nav: Nav) -> Result<HttpResponse, AppError> {
    if c.inline {
        return render(&ConfirmRow { c });
    }
    render(&ConfirmPage { ctx, c, nav })
}
