//! One error type for the whole app, and the middleware that renders it for whoever asked:
//! a styled page for people, Canvas-style JSON for `/api`, a fragment for htmx.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::routes::page::PageCtx;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("login required")]
    LoginRequired,
    #[error("CSRF token missing or wrong")]
    CsrfRejected,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            e if crate::db::is_connection_lost(&e) => AppError::Unavailable(e.into()),
            other => AppError::Unexpected(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Unexpected(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

/// What the error middleware needs to render an error, carried in the response's extensions.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub title: &'static str,
    pub message: String,
}

impl AppError {
    fn info(&self) -> ErrorInfo {
        let (title, message) = match self {
            AppError::NotFound => {
                ("Page not found", "There is nothing here, or you may not see it.".to_owned())
            }
            AppError::Forbidden(why) => ("Not allowed", why.clone()),
            AppError::LoginRequired => ("Sign in required", "Sign in to continue.".to_owned()),
            AppError::CsrfRejected => (
                "Form expired",
                "This form was not accepted because it was out of date. Reload the page and try again."
                    .to_owned(),
            ),
            AppError::BadRequest(why) => ("Bad request", why.clone()),
            AppError::Unavailable(_) => (
                "Temporarily unavailable",
                "The service cannot reach its database right now. Please try again in a moment.".to_owned(),
            ),
            AppError::Unexpected(_) => (
                "Something went wrong",
                "An unexpected error occurred. It has been logged; please try again.".to_owned(),
            ),
        };
        ErrorInfo { title, message }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::LoginRequired => StatusCode::UNAUTHORIZED,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Unexpected(e) => tracing::error!(error = ?e, "unexpected error"),
            AppError::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            _ => {}
        }
        let mut res = HttpResponse::new(self.status_code());
        res.extensions_mut().insert(self.info());
        res
    }
}

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

fn is_api(req: &actix_web::HttpRequest) -> bool {
    req.path().starts_with("/api/")
}

/// Middleware: turns an [`AppError`] response into what the client can use.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let Some(info) = res.response().extensions().get::<ErrorInfo>().cloned() else {
        return Ok(res.map_into_left_body());
    };
    let status = res.status();
    let (req, old) = res.into_parts();
    let htmx = req.headers().contains_key("HX-Request");

    let mut new = if status == StatusCode::UNAUTHORIZED && !is_api(&req) {
        // A person who is not signed in goes to the login page, then back here.
        let next_url = if req.method() == actix_web::http::Method::GET {
            req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default()
        } else {
            String::new()
        };
        let target = if next_url.is_empty() || next_url == "/" {
            "/login".to_owned()
        } else {
            format!("/login?next={}", urlencode(&next_url))
        };
        if htmx {
            HttpResponse::Ok().insert_header(("HX-Redirect", target)).finish()
        } else {
            HttpResponse::SeeOther().insert_header((header::LOCATION, target)).finish()
        }
    } else if is_api(&req) {
        HttpResponse::build(status).json(serde_json::json!({ "errors": [{ "message": info.message }] }))
    } else if htmx {
        let body = ErrorFragment { title: info.title, message: &info.message }.render().unwrap_or_default();
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("HX-Retarget", "#flash-area"))
            .insert_header(("HX-Reswap", "innerHTML"))
            .body(body)
    } else {
        error_page(PageCtx::for_error(&req), status, info.title, info.message)
    };
    // Keep headers set by the handler that still apply (e.g. Retry-After, WWW-Authenticate).
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = old.headers().get(&name) {
            new.headers_mut().insert(name, v.clone());
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        new.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    Ok(ServiceResponse::new(req, new).map_into_right_body())
}

/// A styled error page rendered outside the error middleware (by middleware that answers
/// before the session exists): no navigation, no form.
pub fn plain_error_page(status: StatusCode, title: &'static str, message: String) -> HttpResponse {
    error_page(PageCtx::anonymous(), status, title, message)
}

fn error_page(ctx: PageCtx, status: StatusCode, title: &'static str, message: String) -> HttpResponse {
    let page = ErrorPage { ctx, code: status.as_u16(), title, message };
    match page.render() {
        Ok(body) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body),
        Err(_) => HttpResponse::build(status).body(page.message),
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|q| q[1..].to_owned()).unwrap_or_default()
}

/// For the routes' extractors: malformed forms, queries and paths are a 400, not a 500.
pub fn bad_input(err: impl std::fmt::Display) -> actix_web::Error {
    AppError::BadRequest(format!("The request could not be read: {err}")).into()
}

impl From<crate::tokens::TokenError> for AppError {
    fn from(e: crate::tokens::TokenError) -> Self {
        use crate::tokens::TokenError;
        match e {
            TokenError::Invalid(errors) => {
                AppError::BadRequest(errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))
            }
            TokenError::Refused(why) => AppError::Forbidden(why),
            TokenError::NotFound => AppError::NotFound,
            TokenError::Database(e) => e.into(),
        }
    }
}
