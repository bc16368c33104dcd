//! `/api/v1/...`: one module per resource, and the OpenAPI document generated from them.

pub mod openapi;
pub mod pagination;
pub mod tokens;
pub mod users;

use actix_web::web;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::auth::bearer::ApiUser;
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // One scope: the router compares its prefix once, so an API request is not tried
    // against every page route (each dynamic one a regex), nor a page against the API's.
    // The handlers' paths are relative to it; their OpenAPI paths name it (`context_path`).
    // `/users/self` before `/users/{id}`: the first route that matches wins.
    cfg.service(
        web::scope("/api/v1")
            .service(openapi::document)
            .service(users::show_self)
            .service(users::show)
            .service(users::profile)
            .service(tokens::list)
            .service(tokens::create)
            .service(tokens::show)
            .service(tokens::update)
            .service(tokens::delete),
    );
}

/// `:user_id` in a URL: `self` (the token's owner) or a numeric id. Anything else names no
/// user. A user id grants nothing by itself: each handler checks what the owner may do.
pub fn user_id(segment: &str, auth: &ApiUser) -> Result<i64, ApiError> {
    match segment {
        "self" => Ok(auth.owner.id),
        other => other.parse::<i64>().map_err(|_| ApiError::NotFound),
    }
}

/// A stored UTC time as the API writes it: ISO 8601 with `Z`.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
