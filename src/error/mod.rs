//! The errors of the HTTP layer: [`AppError`] for the pages (rendered for whoever asked by
//! `middleware::render_errors`: a styled page for people, JSON for `/api`, a fragment for
//! htmx) and [`ApiError`] for the JSON API, each mapped once from the service layer's
//! [`services::Error`](crate::services::Error).

pub mod api;
pub mod scim;

pub use api::ApiError;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::services;

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
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Too much work of one kind at once (password hashing): refused now, not queued.
    #[error("busy: {0}")]
    Busy(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            e if crate::db::unavailable_reason(&e).is_some() => {
                let why = crate::db::unavailable_reason(&e).unwrap_or_default();
                AppError::Unavailable(anyhow::Error::new(e).context(why))
            }
            other => AppError::Unexpected(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

impl From<crate::db::RunError> for AppError {
    fn from(e: crate::db::RunError) -> Self {
        services::Error::from(e).into()
    }
}

impl From<services::Error> for AppError {
    fn from(e: services::Error) -> Self {
        match e {
            services::Error::Invalid(_) => AppError::BadRequest(e.sentence()),
            services::Error::Forbidden(why) => AppError::Forbidden(why),
            services::Error::NotFound => AppError::NotFound,
            services::Error::Conflict(why) => AppError::Conflict(why),
            services::Error::Unavailable(e) => AppError::Unavailable(e),
            services::Error::Unexpected(e) => AppError::Unexpected(e),
        }
    }
}

/// What the error middleware needs to render an error, carried in the response's extensions.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub title: &'static str,
    pub message: String,
}

impl AppError {
    pub fn info(&self) -> ErrorInfo {
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
            AppError::Conflict(why) => ("Conflict", why.clone()),
            AppError::Busy(why) => ("Busy", why.clone()),
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
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unavailable(_) | AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Unexpected(e) => tracing::error!(error = ?e, "unexpected error"),
            AppError::Unavailable(e) => tracing::warn!(error = %format!("{e:#}"), "database unavailable"),
            _ => {}
        }
        let mut res = HttpResponse::new(self.status_code());
        res.extensions_mut().insert(self.info());
        res
    }
}

/// For the routes' extractors: malformed forms, queries and paths are a 400, not a 500.
pub fn bad_input(err: impl std::fmt::Display) -> actix_web::Error {
    AppError::BadRequest(format!("The request could not be read: {}", in_words(&err.to_string()))).into()
}

/// An extractor's error as a client can act on it: without the name of the machinery that
/// read it ("Query deserialize error: "), and a field given twice said so.
fn in_words(err: &str) -> String {
    let err = ["Query deserialize error: ", "Path deserialize error: ", "Parse error: "]
        .iter()
        .find_map(|p| err.strip_prefix(p))
        .unwrap_or(err);
    match err.strip_prefix("duplicate field `").and_then(|r| r.strip_suffix('`')) {
        Some(field) => format!("{field} is given twice; give it once."),
        None => err.to_owned(),
    }
}

#[cfg(test)]
mod words_tests {
    use super::in_words;

    /// Found in review: "Query deserialize error: duplicate field `page`" reached clients.
    #[test]
    fn an_extractors_error_is_said_without_its_machinery() {
        assert_eq!(
            in_words("Query deserialize error: duplicate field `page`"),
            "page is given twice; give it once."
        );
        assert_eq!(in_words("Query deserialize error: invalid digit"), "invalid digit");
        assert_eq!(in_words("something else"), "something else");
    }
}
