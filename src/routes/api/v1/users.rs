//! `/api/v1/users/...` — the Canvas User and Profile objects.

use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

use super::user_id;
use crate::auth::bearer::scope::{ShowProfile, ShowUser};
use crate::auth::bearer::{ApiUser, RouteScope, Scoped};
use crate::domain::Permission;
use crate::error::ApiError;
use crate::error::api::ErrorList;
use crate::models::UserCard;
use crate::state::AppState;

/// The Canvas User object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserJson {
    pub id: i64,
    /// The display name.
    #[schema(example = "Sam Student")]
    pub name: String,
    /// "Last, First", for sorting.
    #[schema(example = "Student, Sam")]
    pub sortable_name: String,
    #[schema(example = "Sam Student")]
    pub short_name: String,
    /// The login.
    #[schema(example = "sam")]
    pub login_id: String,
}

impl UserJson {
    pub fn of(user: &UserCard) -> UserJson {
        UserJson {
            id: user.id,
            name: user.name.clone(),
            sortable_name: sortable_name(&user.name),
            short_name: user.name.clone(),
            login_id: user.login.clone(),
        }
    }
}

/// The Canvas Profile object: the User object and how to reach and address the user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileJson {
    #[serde(flatten)]
    pub user: UserJson,
    #[schema(example = "sam@example.edu")]
    pub primary_email: String,
    #[schema(example = "Etc/UTC")]
    pub time_zone: String,
    #[schema(example = "en")]
    pub locale: String,
}

/// "Sam Q. Student" → "Student, Sam Q."; a one-word name stays as it is.
pub fn sortable_name(name: &str) -> String {
    let name = name.trim();
    match name.rsplit_once(char::is_whitespace) {
        Some((first, last)) if !first.trim().is_empty() => format!("{last}, {}", first.trim()),
        _ => name.to_owned(),
    }
}

/// Loads a user the token's owner may see: themself always; anyone else only with
/// `users.manage` or `access_tokens.view`. Otherwise the user does not exist for them.
async fn visible_user(state: &AppState, auth: &ApiUser, segment: &str) -> Result<UserCard, ApiError> {
    let id = user_id(segment, auth)?;
    if id == auth.owner.id {
        // Read with the token a moment ago: no second query.
        return Ok(auth.owner.user.clone());
    }
    if !(auth.can(Permission::ManageUsers) || auth.can(Permission::ViewTokens)) {
        return Err(ApiError::NotFound);
    }
    let user = crate::db::run(&state.pool, move |conn| Ok::<_, ApiError>(UserCard::find(conn, id)?)).await?;
    Ok(user)
}

/// `GET /api/v1/users/self` — the token owner's User object.
#[utoipa::path(
    context_path = "/api/v1",
    get,
    path = "/users/self",
    operation_id = "get_self",
    tag = "Users",
    responses(
        (status = 200, description = "The token owner.", body = UserJson,
            links(
                ("profile" = (operation_id = "get_user_profile", parameters(("user_id" = "$response.body#/id")))),
                ("tokens" = (operation_id = "list_user_generated_tokens", parameters(("user_id" = "$response.body#/id")))),
                ("create_token" = (operation_id = "create_token", parameters(("user_id" = "$response.body#/id")))),
            )),
        (status = 403, description = "The token's scopes do not include this endpoint.", body = ErrorList),
    ),
    security(("bearer" = [ShowUser::SCOPE]))
)]
#[tracing::instrument(skip_all, fields(user_id = auth.owner.id))]
pub async fn show_self(
    auth: Scoped<ShowUser>,
    state: web::Data<AppState>,
) -> Result<web::Json<UserJson>, ApiError> {
    let user = visible_user(&state, &auth, "self").await?;
    Ok(web::Json(UserJson::of(&user)))
}

/// `GET /api/v1/users/{id}` — a user's User object (`self`, or another user with
/// `users.manage` or `access_tokens.view`).
#[utoipa::path(
    context_path = "/api/v1",
    get,
    path = "/users/{id}",
    operation_id = "get_user",
    tag = "Users",
    params(("id" = String, Path, description = "A user id, or `self`.")),
    responses(
        (status = 200, description = "The user.", body = UserJson),
        (status = 403, description = "The token's scopes do not include this endpoint.", body = ErrorList),
        (status = 404, description = "No such user, or not one the token's owner may see.", body = ErrorList),
    ),
    security(("bearer" = [ShowUser::SCOPE]))
)]
#[tracing::instrument(skip_all, fields(user_id = auth.owner.id))]
pub async fn show(
    auth: Scoped<ShowUser>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<UserJson>, ApiError> {
    let user = visible_user(&state, &auth, &path).await?;
    Ok(web::Json(UserJson::of(&user)))
}

/// `GET /api/v1/users/{user_id}/profile` — a user's Profile object (the User object plus
/// email, time zone and locale).
#[utoipa::path(
    context_path = "/api/v1",
    get,
    path = "/users/{user_id}/profile",
    operation_id = "get_user_profile",
    tag = "Users",
    params(("user_id" = String, Path, description = "A user id, or `self`.")),
    responses(
        (status = 200, description = "The user's profile.", body = ProfileJson),
        (status = 403, description = "The token's scopes do not include this endpoint.", body = ErrorList),
        (status = 404, description = "No such user, or not one the token's owner may see.", body = ErrorList),
    ),
    security(("bearer" = [ShowProfile::SCOPE]))
)]
#[tracing::instrument(skip_all, fields(user_id = auth.owner.id))]
pub async fn profile(
    auth: Scoped<ShowProfile>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<ProfileJson>, ApiError> {
    let user = visible_user(&state, &auth, &path).await?;
    Ok(web::Json(ProfileJson {
        user: UserJson::of(&user),
        primary_email: user.email,
        time_zone: user.time_zone,
        locale: user.locale,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sortable_name_puts_the_last_word_first() {
        assert_eq!(sortable_name("Sam Student"), "Student, Sam");
        assert_eq!(sortable_name("Mary Ann  Smith"), "Smith, Mary Ann");
        assert_eq!(sortable_name("Plato"), "Plato");
        assert_eq!(sortable_name("  Ada Lovelace "), "Lovelace, Ada");
    }
}
