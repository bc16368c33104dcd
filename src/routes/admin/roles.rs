//! `/admin/roles` — custom account roles and their permissions (SPEC 1, 2).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::auth::guard::{ManageUsers, Require};
use crate::domain::{Permission, PermissionSet};
use crate::error::AppError;
use crate::models::{AccountRole, AuditAction, NewAuditEvent};
use crate::routes::forms::FieldErrors;
use crate::routes::page::PageCtx;
use crate::routes::{render, render_with, see_other};
use crate::startup::AppState;

pub struct RoleView {
    pub id: i64,
    pub name: String,
    pub built_in: bool,
    pub holders: i64,
    pub permissions: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "admin/roles.html")]
struct RolesPage {
    ctx: PageCtx,
    roles: Vec<RoleView>,
    new_name: String,
    new_permissions: Vec<(&'static str, &'static str, bool)>,
    errors: FieldErrors,
}

fn permission_choices(set: PermissionSet) -> Vec<(&'static str, &'static str, bool)> {
    Permission::ALL.iter().map(|p| (p.key(), p.description(), set.contains(*p))).collect()
}

async fn page(
    state: &AppState,
    ctx: PageCtx,
    new_name: String,
    new_set: PermissionSet,
    errors: FieldErrors,
) -> Result<RolesPage, AppError> {
    let roles = crate::db::run(&state.pool, |conn| {
        let roles = AccountRole::all(conn)?;
        let mut out = Vec::new();
        for r in roles {
            let holders = AccountRole::holder_count(conn, r.id)?;
            out.push(RoleView {
                id: r.id,
                holders,
                built_in: r.built_in,
                permissions: permission_choices(r.permission_set()),
                name: r.name,
            });
        }
        Ok(out)
    })
    .await?;
    Ok(RolesPage { ctx, roles, new_name, new_permissions: permission_choices(new_set), errors })
}

/// `GET /admin/roles`
#[get("/admin/roles")]
pub async fn index(
    ctx: PageCtx,
    _me: Require<ManageUsers>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    render(&page(&state, ctx, String::new(), PermissionSet::empty(), FieldErrors::new()).await?)
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

fn describe(set: PermissionSet) -> String {
    let keys: Vec<&str> = set.iter().map(Permission::key).collect();
    if keys.is_empty() { "no permissions".to_owned() } else { keys.join(", ") }
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
    let form: RoleForm = serde_html_form::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    let set = parse_permissions(&form.permissions)?;
    let name = form.name.trim().to_owned();
    let mut errors = FieldErrors::new();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        errors.add("name", "Enter a role name of 1 to 60 characters.");
    }
    if errors.is_empty() {
        let ip = state.client_ip(&req);
        let (actor, n) = (me.id, name.clone());
        let created = crate::db::run(&state.pool, move |conn| {
            crate::db::write_transaction(conn, |conn| {
                if AccountRole::find_by_name(conn, &n)?.is_some() {
                    return Ok(false);
                }
                AccountRole::create(conn, &n, set)?;
                NewAuditEvent::new(AuditAction::RoleCreated)
                    .actor(actor)
                    .details(format!("role \"{n}\": {}", describe(set)))
                    .ip(ip)
                    .record(conn)?;
                Ok(true)
            })
        })
        .await?;
        if created {
            FlashMessage::success(format!("Role “{name}” created.")).send();
            return Ok(see_other("/admin/roles"));
        }
        errors.add("name", "A role with this name already exists.");
    }
    render_with(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, ctx, name, set, errors).await?)
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
    let form: RoleForm = serde_html_form::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    let set = parse_permissions(&form.permissions)?;
    let ip = state.client_ip(&req);
    let actor = me.id;
    let name = crate::db::run(&state.pool, move |conn| {
        crate::db::write_transaction(conn, |conn| {
            let role = AccountRole::find(conn, id)?;
            if role.built_in {
                return Err(AppError::Forbidden(
                    "The built-in Account Admin role always has every permission.".into(),
                ));
            }
            AccountRole::set_permissions(conn, id, set)?;
            NewAuditEvent::new(AuditAction::RoleUpdated)
                .actor(actor)
                .details(format!(
                    "role \"{}\": {} → {}",
                    role.name,
                    describe(role.permission_set()),
                    describe(set)
                ))
                .ip(ip)
                .record(conn)?;
            Ok(role.name)
        })
    })
    .await?;
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
    let ip = state.client_ip(&req);
    let actor = me.id;
    let name = crate::db::run(&state.pool, move |conn| {
        crate::db::write_transaction(conn, |conn| {
            let role = AccountRole::find(conn, id)?;
            if role.built_in {
                return Err(AppError::Forbidden("The built-in Account Admin role cannot be deleted.".into()));
            }
            AccountRole::delete(conn, id)?;
            NewAuditEvent::new(AuditAction::RoleDeleted)
                .actor(actor)
                .details(format!("role \"{}\"", role.name))
                .ip(ip)
                .record(conn)?;
            Ok(role.name)
        })
    })
    .await?;
    FlashMessage::success(format!("Role “{name}” deleted.")).send();
    Ok(see_other("/admin/roles"))
}
