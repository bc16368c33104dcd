//! The API's errors, shaped as Canvas shapes them:
//!
//! - `{"errors":[{"message":"…"}]}` for 401, 403, 404, 405, 409, 413, 415, for a 400 whose
//!   request could not be read at all (not JSON, not a token object, a query parameter
//!   given twice), and for 5xx;
//! - `{"errors":{"FIELD":[{"message":"…"}]}}` for a rule broken by a field (400).
//!
//! A 400 can so have either shape, and the OpenAPI document says so ([`BadRequest`]).
//!
//! The rest (database down, unexpected failures) is an [`AppError`], which the error
//! middleware renders as the first shape for any `/api/` path.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{ACCEPT, ALLOW, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppError;
use crate::domain::ValidationError;
use crate::services;

/// The one answer to every token that does not authenticate, whatever the reason, so that
/// a caller learns nothing about which tokens exist.
pub const INVALID_ACCESS_TOKEN: &str = "Invalid access token.";

/// Canvas's answer for something that does not exist or may not be seen.
pub const NOT_FOUND: &str = "The specified resource does not exist.";

/// One error message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorMessage {
    pub message: String,
}

/// `{"errors":[{"message":"…"}]}`: what went wrong, in a sentence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorList {
    #[schema(min_items = 1)]
    pub errors: Vec<ErrorMessage>,
}

impl ErrorList {
    pub fn one(message: impl Into<String>) -> ErrorList {
        ErrorList { errors: vec![ErrorMessage { message: message.into() }] }
    }
}

/// `{"errors":{"FIELD":[{"message":"…"}]}}`: each broken rule under the field it concerns
/// (`purpose`, `expires_at`, `scopes`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldErrors {
    pub errors: BTreeMap<String, Vec<ErrorMessage>>,
}

/// A 400: a rule broken by a field (`FieldErrors`), or a request that could not be read at
/// all (`ErrorList`). The two tell apart by `errors`: an object of fields, or an array of
/// messages.
// Only the OpenAPI document uses it: it describes what `ApiError` renders.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BadRequest {
    Fields(FieldErrors),
    Unreadable(ErrorList),
}

impl FieldErrors {
    pub fn of(errors: &[ValidationError]) -> FieldErrors {
        let mut map: BTreeMap<String, Vec<ErrorMessage>> = BTreeMap::new();
        for e in errors {
            map.entry(e.field.to_owned()).or_default().push(ErrorMessage { message: e.message.clone() });
        }
        FieldErrors { errors: map }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, unknown, expired, pending or deleted token; suspended owner.
    #[error("invalid access token")]
    InvalidToken,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("invalid fields")]
    Invalid(Vec<ValidationError>),
    /// The request collides with what exists (a hint two tokens share).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The resource exists but has no such method; `Allow` names the methods it has.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// Over a per-address budget: come back after `retry_after` seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after: u32 },
    /// A request body larger than the API reads.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// A request body in a media type the API does not read; `Accept` names those it reads.
    #[error("unsupported media type")]
    UnsupportedMediaType { accept: &'static str },
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<services::Error> for ApiError {
    fn from(e: services::Error) -> Self {
        match e {
            services::Error::Invalid(errors) => ApiError::Invalid(errors),
            services::Error::Forbidden(why) => ApiError::Forbidden(why),
            services::Error::NotFound => ApiError::NotFound,
            services::Error::Conflict(why) => ApiError::Conflict(why),
            other => ApiError::App(other.into()),
        }
    }
}

impl From<crate::db::RunError> for ApiError {
    fn from(e: crate::db::RunError) -> Self {
        ApiError::App(e.into())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => ApiError::NotFound,
            other => ApiError::App(other.into()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BadRequest(_) | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::App(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::InvalidToken => HttpResponse::build(status)
                .insert_header((WWW_AUTHENTICATE, "Bearer"))
                .json(ErrorList::one(INVALID_ACCESS_TOKEN)),
            ApiError::Forbidden(why)
            | ApiError::BadRequest(why)
            | ApiError::Conflict(why)
            | ApiError::PayloadTooLarge(why) => {
                HttpResponse::build(status).json(ErrorList::one(why.as_str()))
            }
            ApiError::TooManyRequests { retry_after } => HttpResponse::build(status)
                .insert_header((actix_web::http::header::RETRY_AFTER, retry_after.to_string()))
                .json(ErrorList::one("Too many requests from this address: wait, then try again.")),
            ApiError::MethodNotAllowed { allow } => HttpResponse::build(status)
                .insert_header((ALLOW, allow.as_str()))
                .json(ErrorList::one(format!("This resource answers only {allow}."))),
            ApiError::UnsupportedMediaType { accept } => HttpResponse::build(status)
                .insert_header((ACCEPT, *accept))
                .json(ErrorList::one(format!("Send the request body as one of {accept}."))),
            ApiError::NotFound => HttpResponse::build(status).json(ErrorList::one(NOT_FOUND)),
            ApiError::Invalid(errors) => HttpResponse::build(status).json(FieldErrors::of(errors)),
            // Rendered (and logged) by the error middleware, in the same JSON shape.
            ApiError::App(e) => e.error_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_are_grouped_under_their_field() {
        let errors = [
            ValidationError::new("purpose", "Enter a purpose."),
            ValidationError::new("expires_at", "Too long."),
            ValidationError::new("purpose", "Again."),
        ];
        let json = serde_json::to_value(FieldErrors::of(&errors)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"errors": {
                "expires_at": [{"message": "Too long."}],
                "purpose": [{"message": "Enter a purpose."}, {"message": "Again."}],
            }})
        );
    }

    #[test]
    fn an_invalid_token_is_a_401_with_the_bearer_challenge() {
        let res = ApiError::InvalidToken.error_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers().get(WWW_AUTHENTICATE).unwrap(), "Bearer");
    }
}
