//! The styled error page and the htmx error fragment.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use super::page::PageCtx;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: PageCtx,
    code: u16,
    title: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "error_partial.html")]
struct ErrorFragment<'a> {
    title: &'a str,
    message: &'a str,
}

/// The full page, with the navigation `ctx` allows.
pub fn page(ctx: PageCtx, status: StatusCode, title: &'static str, message: String) -> HttpResponse {
    let page = ErrorPage { ctx, code: status.as_u16(), title, message };
    match page.render() {
        Ok(body) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body),
        Err(_) => HttpResponse::build(status).body(page.message),
    }
}

/// A page rendered before the session is read: no navigation, no form.
pub fn plain(status: StatusCode, title: &'static str, message: String) -> HttpResponse {
    page(PageCtx::anonymous(), status, title, message)
}

/// The fragment htmx swaps into the flash area.
pub fn fragment(title: &str, message: &str) -> String {
    ErrorFragment { title, message }.render().unwrap_or_default()
}
