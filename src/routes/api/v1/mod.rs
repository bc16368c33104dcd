//! `/api/v1/...`: one module per resource, and the OpenAPI document generated from them.

pub mod credentials;
pub mod openapi;
pub mod pagination;
pub mod tokens;
pub mod users;

use actix_web::{HttpRequest, Resource, web};
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::auth::bearer::ApiUser;
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // One scope: the router compares its prefix once, so an API request is not tried
    // against every page route (each dynamic one a regex), nor a page against the API's.
    // One resource per path, with a route per method: a method the path does not have is a
    // 405 that names those it has, not a 404 (and not the next resource whose pattern also
    // matches: `/users/self` comes before `/users/{id}` and answers for itself).
    cfg.service(
        web::scope("/api/v1")
            .service(resource("/openapi.json").route(web::get().to(openapi::document)))
            .service(resource("/credentials/revoke").route(web::post().to(credentials::revoke)))
            .service(resource("/users/self").route(web::get().to(users::show_self)))
            .service(resource("/users/{id}").route(web::get().to(users::show)))
            .service(resource("/users/{user_id}/profile").route(web::get().to(users::profile)))
            .service(resource("/users/{user_id}/user_generated_tokens").route(web::get().to(tokens::list)))
            .service(resource("/users/{user_id}/tokens").route(web::post().to(tokens::create)))
            .service(
                resource("/users/{user_id}/tokens/{id}")
                    .route(web::get().to(tokens::show))
                    .route(web::put().to(tokens::update))
                    .route(web::delete().to(tokens::delete)),
            ),
    );
}

/// A resource of the API whose other methods answer 405, `Allow` naming the methods the
/// OpenAPI document lists for its path (and `HEAD` with `GET`: HEAD is answered as GET).
fn resource(path: &'static str) -> Resource {
    web::resource(path).default_service(web::to(|req: HttpRequest| async move {
        let pattern = req.match_pattern().unwrap_or_default();
        Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed { allow: openapi::allow(&pattern) })
    }))
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
