//! A confirmation (`views::confirm`) as an answer: a table row for htmx to put in place of
//! the token's row, or a page of its own.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use crate::error::AppError;
use crate::routes::{render, render_with};
use crate::views::confirm::{Confirmation, ListSwap};
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

/// What a request for a question was answered with: the question, or, its token gone
/// meanwhile, a note instead (which a refused answer must not dress up as its question).
pub enum Asked {
    Question(HttpResponse),
    Gone(HttpResponse),
}

impl Asked {
    pub fn into_response(self) -> HttpResponse {
        match self {
            Asked::Question(res) | Asked::Gone(res) => res,
        }
    }
}

/// What an administrator is told of a token that is no longer in the list they acted from.
pub const GONE: &str = "That token is no longer in this list: it was revoked or deleted while the page was open \
                        (by its owner, another administrator, or in another tab). Nothing was changed.";

#[derive(Template)]
#[template(path = "confirm/gone_row.html")]
struct GoneRow<'a> {
    id: i64,
    list: ListSwap,
    note: &'static str,
    back_url: &'a str,
}

#[derive(Template)]
#[template(path = "confirm/gone_page.html")]
struct GonePage<'a> {
    ctx: PageCtx,
    nav: Nav,
    note: &'static str,
    back_url: &'a str,
    back_label: &'a str,
}

/// A question about a token that is gone, instead of the bare "not found": in its row (htmx:
/// the note in place of the row, with a link to the list as it is now), or a 404 page that
/// leads back to the list.
pub fn gone(
    ctx: PageCtx,
    (id, inline): (i64, bool),
    (list, nav): (ListSwap, Nav),
    (back_url, back_label): (&str, &str),
) -> Result<HttpResponse, AppError> {
    if inline {
        return render(&GoneRow { id, list, note: GONE, back_url });
    }
    render_with(StatusCode::NOT_FOUND, &GonePage { ctx, nav, note: GONE, back_url, back_label })
}
