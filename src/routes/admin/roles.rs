//! `/admin/roles` — custom account roles and their permissions (SPEC 1, 2).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::auth::guard::{ManageUsers, Require};
use crate::domain::authority::may_edit_role;
use crate::domain::{Permission, PermissionSet};
use crate::error::AppError;
use crate::models::{AccountRole, User};
use crate::routes::{read_form, render, render_with, see_other};
use crate::services::{self, roles};
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;

/// One permission's checkbox: key, description, checked, and whether the viewer may set
/// it (only permissions they hold themselves).
pub struct PermissionChoice {
    pub key: &'static str,
    pub description: &'static str,
    pub checked: bool,
    pub offered: bool,
}

pub struct RoleView {
    pub id: i64,
    pub name: String,
    pub built_in: bool,
    pub holders: i64,
    /// Whether the viewer may edit or delete it, and if not, why.
    pub locked: Option<String>,
    pub permissions: Vec<PermissionChoice>,
}

#[derive(Template)]
#[template(path = "admin/roles.html")]
struct RolesPage {
    ctx: PageCtx,
    roles: Vec<RoleView>,
    new_name: String,
    new_permissions: Vec<PermissionChoice>,
    errors: FieldErrors,
}

fn permission_choices(set: PermissionSet, held: PermissionSet) -> Vec<PermissionChoice> {
    Permission::ALL
        .iter()
        .map(|p| PermissionChoice {
            key: p.key(),
            description: p.description(),
            checked: set.contains(*p),
            offered: held.contains(*p),
        })
        .collect()
}

async fn page(
    state: &AppState,
    ctx: PageCtx,
    me: &CurrentUser,
    new_name: String,
    new_set: PermissionSet,
    errors: FieldErrors,
) -> Result<RolesPage, AppError> {
    let (held, me_id) = (me.permissions, me.id);
    let roles = crate::db::run(&state.pool, move |conn| -> Result<_, AppError> {
        let mine = User::roles(conn, me_id)?;
        let mut out = Vec::new();
        for r in AccountRole::all(conn)? {
            let holders = AccountRole::holder_count(conn, r.id)?;
            let holds = mine.account.iter().any(|m| m.id == r.id);
            let locked =
                may_edit_role(held, holds, Some(&services::users::facts(&r)), PermissionSet::empty())
                    .err()
                    .map(|why| why.0);
            out.push(RoleView {
                id: r.id,
                holders,
                built_in: r.built_in,
                locked,
                permissions: permission_choices(r.permission_set(), held),
                name: r.name,
            });
        }
        Ok(out)
    })
    .await?;
    Ok(RolesPage { ctx, roles, new_name, new_permissions: permission_choices(new_set, held), errors })
}

/// `GET /admin/roles`
#[get("/admin/roles")]
pub async fn index(
    ctx: PageCtx,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    render(&page(&state, ctx, &me, String::new(), PermissionSet::empty(), FieldErrors::new()).await?)
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    permissions: Vec<String>,
}

fn parse_permissions(keys: &[String]) -> Result<PermissionSet, AppError> {
    keys.iter()
        .map(|k| Permission::parse(k).ok_or_else(|| AppError::BadRequest(format!("Unknown permission: {k}"))))
        .collect()
}

/// `POST /admin/roles` — create a custom role.
#[post("/admin/roles")]
pub async fn create(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: RoleForm = read_form(&body)?;
    let set = parse_permissions(&form.permissions)?;
    let who = state.actor(&req, &me);
    let name = form.name.clone();
    match crate::db::run(&state.pool, move |conn| roles::create(conn, &who, &name, set)).await {
        Ok(role) => {
            FlashMessage::success(format!("Role “{}” created.", role.name)).send();
            Ok(see_other("/admin/roles"))
        }
        Err(services::Error::Invalid(errors)) => render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&state, ctx, &me, form.name.trim().to_owned(), set, errors.into()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/roles/{id}` — change a custom role's permissions.
#[post("/admin/roles/{id}")]
pub async fn update(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form: RoleForm = read_form(&body)?;
    let set = parse_permissions(&form.permissions)?;
    let who = state.actor(&req, &me);
    let name = crate::db::run(&state.pool, move |conn| roles::update(conn, &who, id, set)).await?.name;
    FlashMessage::success(format!("Permissions of “{name}” saved. They apply from the next request.")).send();
    Ok(see_other("/admin/roles"))
}

/// `POST /admin/roles/{id}/delete` — delete a custom role (its holders lose it).
#[post("/admin/roles/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let who = state.actor(&req, &me);
    let name = crate::db::run(&state.pool, move |conn| roles::delete(conn, &who, id)).await?.name;
    FlashMessage::success(format!("Role “{name}” deleted.")).send();
    Ok(see_other("/admin/roles"))
}
