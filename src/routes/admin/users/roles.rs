//! `POST /admin/users/{id}/roles` — a user's enrollment and account roles.

use actix_web::{HttpRequest, HttpResponse, post, web};
use actix_web_flash_messages::FlashMessage;
use serde::Deserialize;

use crate::auth::guard::{ManageUsers, Require};
use crate::domain::EnrollmentRole;
use crate::error::AppError;
use crate::routes::{read_form, see_other};
use crate::services::users::{self, RolesChanged};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct RolesForm {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    account_roles: Vec<String>,
}

/// `POST /admin/users/{id}/roles` — replaces the user's roles, under the grant rule. When
/// that makes them student-only, their long-lived tokens are capped at once (SPEC 4.3).
#[post("/admin/users/{id}/roles")]
#[tracing::instrument(skip_all, fields(viewer = me.id, user_id = *path))]
pub async fn update(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form: RolesForm = read_form(&body)?;
    let enrollment = form
        .roles
        .iter()
        .map(|r| EnrollmentRole::parse(r).ok_or_else(|| AppError::BadRequest(format!("Unknown role: {r}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let account_ids = form
        .account_roles
        .iter()
        .map(|r| r.parse::<i64>().map_err(|_| AppError::BadRequest(format!("Unknown account role: {r}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let who = state.actor(&req, &me);
    let RolesChanged { name, capped, student_only, changed } =
        crate::db::run(&state.pool, move |conn| users::set_roles(conn, &who, id, &enrollment, &account_ids))
            .await?;
    if !changed {
        FlashMessage::info(format!("Nothing to save: {name} has these roles already.")).send();
        return Ok(see_other(&super::profile::page_of(id)));
    }
    let mut message = format!("Roles of {name} saved.");
    if student_only {
        message.push_str(&format!(
            " {name} is now student-only: {} capped to the student maximum lifetime.",
            crate::domain::count(capped, "token", "tokens")
        ));
    }
    FlashMessage::success(message).send();
    Ok(see_other(&super::profile::page_of(id)))
}
