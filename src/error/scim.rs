//! SCIM's errors over HTTP (RFC 7644 §3.12): `{"schemas": [the Error URN], "status":
//! "400", "scimType": "invalidFilter", "detail": "…"}` as `application/scim+json`, for
//! every failure of a `/scim/v2` request — the service layer's mapped here once.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};

use crate::domain::scim::{MEDIA_TYPE, ScimError, ScimType};
use crate::services;
use crate::services::provisioning::Failure;

/// A failed SCIM request, answered in SCIM's shape.
#[derive(Debug, thiserror::Error)]
#[error("{0:?}")]
pub struct ScimFailure(pub Failure);

impl From<Failure> for ScimFailure {
    fn from(f: Failure) -> Self {
        ScimFailure(f)
    }
}

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        ScimFailure(Failure::Scim(e))
    }
}

impl From<services::Error> for ScimFailure {
    fn from(e: services::Error) -> Self {
        ScimFailure(Failure::Service(e))
    }
}

impl From<crate::db::RunError> for ScimFailure {
    fn from(e: crate::db::RunError) -> Self {
        ScimFailure(Failure::Service(e.into()))
    }
}

/// The SCIM error a service error is.
pub fn scim_error(e: &services::Error) -> ScimError {
    match e {
        services::Error::Invalid(errors) => ScimError::invalid_value(
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join(" "),
        ),
        services::Error::Forbidden(why) => ScimError::forbidden(why.clone()),
        services::Error::NotFound => ScimError::not_found("The resource does not exist."),
        services::Error::Conflict(why) => ScimError::new(409, Some(ScimType::Uniqueness), why.clone()),
        services::Error::Unavailable(_) => {
            ScimError::new(503, None, "The database is unavailable right now: try again in a moment.")
        }
        services::Error::Unexpected(_) => {
            ScimError::new(500, None, "An unexpected error occurred. It has been logged; try again.")
        }
    }
}

impl ScimFailure {
    fn error(&self) -> ScimError {
        match &self.0 {
            Failure::Scim(e) => e.clone(),
            Failure::Service(e) => scim_error(e),
        }
    }
}

/// A SCIM error as a response.
pub fn respond(e: &ScimError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    res.insert_header((CONTENT_TYPE, MEDIA_TYPE));
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header((WWW_AUTHENTICATE, "Bearer realm=\"tokenwarden SCIM\""));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.insert_header((RETRY_AFTER, "5"));
    }
    res.body(e.body().to_string())
}

impl ResponseError for ScimFailure {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error().status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        match &self.0 {
            Failure::Service(services::Error::Unexpected(e)) => {
                tracing::error!(error = ?e, "unexpected error")
            }
            Failure::Service(services::Error::Unavailable(e)) => {
                tracing::warn!(error = %format!("{e:#}"), "database unavailable")
            }
            _ => {}
        }
        respond(&self.error())
    }
}
