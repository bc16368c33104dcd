//! `/scim/v2/...` — SCIM 2.0 (RFC 7643, RFC 7644, SPEC 12) for the institution's
//! provisioning client (Microsoft Entra ID, Okta, …): Users, Groups, and the discovery
//! documents. Authenticated by a provisioning credential (`auth::scim`), never a cookie,
//! so no CSRF token guards these; every answer, errors included, is `application/scim+json`.
//!
//! Handlers read the request (JSON, query, path), call `services::provisioning`, and write
//! SCIM's JSON; the rules are below.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::scim::Provisioner;
use crate::domain::scim::filter::{self, AttrPath, Filter};
use crate::domain::scim::resource::{self, parse_group, parse_user, render_group, render_user};
use crate::domain::scim::{
    GROUP_SCHEMA, MEDIA_TYPE, Paging, ScimError, ScimType, USER_SCHEMA, discovery, list_response,
    patch as scim_patch,
};
use crate::error::scim::ScimFailure;
use crate::services::provisioning;
use crate::state::AppState;

/// The largest request body read (a group's members can be many).
const MAX_BODY: usize = 1024 * 1024;

type Answer = Result<HttpResponse, ScimFailure>;

/// SCIM's base URL as clients reach it: `--public-url` if set, else as this request
/// reached the site ([`crate::client::site_address`]).
pub fn base(req: &HttpRequest, state: &AppState) -> String {
    format!("{}/scim/v2", crate::client::site_address(req, &state.settings.serve))
}

/// A SCIM answer.
fn json(status: StatusCode, body: &Value) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((CONTENT_TYPE, MEDIA_TYPE));
    if let Some(location) = body.pointer("/meta/location").and_then(Value::as_str)
        && (status == StatusCode::CREATED || body.get("id").is_some())
    {
        res.insert_header((LOCATION, location));
    }
    res.body(body.to_string())
}

/// The request body as JSON (at most [`MAX_BODY`] bytes).
async fn body(payload: web::Payload) -> Result<Value, ScimFailure> {
    let bytes = payload.to_bytes_limited(MAX_BODY).await.map_err(|_| {
        ScimError::new(413, None, format!("The request body is larger than {} KiB.", MAX_BODY / 1024))
    })?;
    let bytes = bytes.map_err(|e| ScimError::invalid_syntax(format!("The body could not be read: {e}.")))?;
    Ok(provisioning::read_json(&bytes)?)
}

/// What a list or a read may ask for in its query.
#[derive(Debug, Default, Deserialize)]
struct Query {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

/// The query, the filter parsed, the attributes to return.
struct Asked {
    filter: Option<Filter>,
    paging: Paging,
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

fn asked(req: &HttpRequest) -> Result<Asked, ScimError> {
    let q: Query = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ScimError::invalid_value(format!("The query does not read: {e}.")))?;
    let filter = match q.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => Some(filter::parse_filter(f).map_err(|e| {
            ScimError::bad(ScimType::InvalidFilter, format!("The filter does not read: {e}."))
        })?),
        None => None,
    };
    let list = |name: &str, raw: &Option<String>| -> Result<Vec<AttrPath>, ScimError> {
        raw.as_deref()
            .map(|a| {
                filter::parse_attr_list(a)
                    .map_err(|e| ScimError::invalid_value(format!("{name} does not read: {e}.")))
            })
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(Asked {
        filter,
        paging: Paging::parse(q.start_index.as_deref(), q.count.as_deref())?,
        attributes: list("attributes", &q.attributes)?,
        excluded: list("excludedAttributes", &q.excluded_attributes)?,
    })
}

fn shaped(mut v: Value, asked: &Asked, urn: &str) -> Value {
    resource::project(&mut v, &asked.attributes, &asked.excluded, urn);
    v
}

/// Runs a provisioning operation on a pooled connection.
async fn run<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut crate::db::DbConnection) -> Result<T, provisioning::Failure> + Send + 'static,
) -> Result<T, ScimFailure> {
    Ok(crate::db::run(&state.pool, f).await?)
}

// ---------------------------------------------------------------------------------------
// Discovery

/// `GET /scim/v2/ServiceProviderConfig`
#[get("/scim/v2/ServiceProviderConfig")]
pub async fn service_provider_config(
    req: HttpRequest,
    _who: Provisioner,
    state: web::Data<AppState>,
) -> Answer {
    Ok(json(StatusCode::OK, &discovery::service_provider_config(&base(&req, &state))))
}

/// `GET /scim/v2/ResourceTypes`
#[get("/scim/v2/ResourceTypes")]
pub async fn resource_types(req: HttpRequest, _who: Provisioner, state: web::Data<AppState>) -> Answer {
    Ok(json(StatusCode::OK, &discovery::all(discovery::resource_types(&base(&req, &state)))))
}

/// `GET /scim/v2/ResourceTypes/{id}`
#[get("/scim/v2/ResourceTypes/{id}")]
pub async fn resource_type(
    req: HttpRequest,
    _who: Provisioner,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let found = discovery::find(discovery::resource_types(&base(&req, &state)), &path);
    let found = found.ok_or_else(|| {
        ScimError::not_found(format!(
            "There is no resource type “{}”.",
            path.chars().take(60).collect::<String>()
        ))
    })?;
    Ok(json(StatusCode::OK, &found))
}

/// `GET /scim/v2/Schemas`
#[get("/scim/v2/Schemas")]
pub async fn schemas(req: HttpRequest, _who: Provisioner, state: web::Data<AppState>) -> Answer {
    Ok(json(StatusCode::OK, &discovery::all(discovery::schemas(&base(&req, &state)))))
}

/// `GET /scim/v2/Schemas/{id}`
#[get("/scim/v2/Schemas/{id}")]
pub async fn schema(
    req: HttpRequest,
    _who: Provisioner,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let found = discovery::find(discovery::schemas(&base(&req, &state)), &path);
    let found = found.ok_or_else(|| {
        ScimError::not_found(format!("There is no schema “{}”.", path.chars().take(100).collect::<String>()))
    })?;
    Ok(json(StatusCode::OK, &found))
}

// ---------------------------------------------------------------------------------------
// Users

/// `POST /scim/v2/Users` — 201 with the user, or 409 `uniqueness` for a taken userName.
#[post("/scim/v2/Users")]
pub async fn create_user(
    req: HttpRequest,
    who: Provisioner,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Answer {
    let input = parse_user(&body(payload).await?)?;
    let actor = who.0;
    let view = run(&state, move |conn| provisioning::create_user(conn, &actor, &input)).await?;
    Ok(json(StatusCode::CREATED, &render_user(&view, &base(&req, &state))))
}

/// `GET /scim/v2/Users` — `filter`, `startIndex`, `count`, `attributes`, `excludedAttributes`.
#[get("/scim/v2/Users")]
pub async fn list_users(req: HttpRequest, who: Provisioner, state: web::Data<AppState>) -> Answer {
    let asked = asked(&req)?;
    let (actor, filter, paging) = (who.0, asked.filter.clone(), asked.paging);
    let (page, total) =
        run(&state, move |conn| provisioning::list_users(conn, &actor, filter.as_ref(), paging)).await?;
    let base = base(&req, &state);
    let resources = page.iter().map(|v| shaped(render_user(v, &base), &asked, USER_SCHEMA)).collect();
    Ok(json(StatusCode::OK, &list_response(resources, total, paging)))
}

/// `GET /scim/v2/Users/{id}`
#[get("/scim/v2/Users/{id}")]
pub async fn get_user(
    req: HttpRequest,
    who: Provisioner,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let asked = asked(&req)?;
    let (actor, id) = (who.0, path.into_inner());
    let view = run(&state, move |conn| provisioning::get_user(conn, &actor, &id)).await?;
    Ok(json(StatusCode::OK, &shaped(render_user(&view, &base(&req, &state)), &asked, USER_SCHEMA)))
}

/// `PUT /scim/v2/Users/{id}` — replaces the user's attributes.
#[put("/scim/v2/Users/{id}")]
pub async fn replace_user(
    req: HttpRequest,
    who: Provisioner,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let input = parse_user(&body(payload).await?)?;
    let (actor, id) = (who.0, path.into_inner());
    let view = run(&state, move |conn| provisioning::replace_user(conn, &actor, &id, &input)).await?;
    Ok(json(StatusCode::OK, &render_user(&view, &base(&req, &state))))
}

/// `PATCH /scim/v2/Users/{id}` — `active`, names, emails, userName… in the forms Entra ID
/// and Okta send.
#[patch("/scim/v2/Users/{id}")]
pub async fn patch_user(
    req: HttpRequest,
    who: Provisioner,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let ops = scim_patch::parse_request(&body(payload).await?)?;
    let (actor, id) = (who.0, path.into_inner());
    let view = run(&state, move |conn| provisioning::patch_user(conn, &actor, &id, &ops)).await?;
    Ok(json(StatusCode::OK, &render_user(&view, &base(&req, &state))))
}

/// `DELETE /scim/v2/Users/{id}` — suspends the user and revokes their tokens; 204.
#[delete("/scim/v2/Users/{id}")]
pub async fn delete_user(who: Provisioner, state: web::Data<AppState>, path: web::Path<String>) -> Answer {
    let (actor, id, map) = (who.0, path.into_inner(), state.settings.serve.oidc_role_map.clone());
    run(&state, move |conn| provisioning::delete_user(conn, &actor, &map, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------
// Groups

/// `POST /scim/v2/Groups` — 201 with the group; its members get the roles the role map
/// gives its name.
#[post("/scim/v2/Groups")]
pub async fn create_group(
    req: HttpRequest,
    who: Provisioner,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Answer {
    let input = parse_group(&body(payload).await?)?;
    let (actor, map) = (who.0, state.settings.serve.oidc_role_map.clone());
    let view = run(&state, move |conn| provisioning::create_group(conn, &actor, &map, &input)).await?;
    Ok(json(StatusCode::CREATED, &render_group(&view, &base(&req, &state))))
}

/// `GET /scim/v2/Groups`
#[get("/scim/v2/Groups")]
pub async fn list_groups(req: HttpRequest, who: Provisioner, state: web::Data<AppState>) -> Answer {
    let asked = asked(&req)?;
    let (actor, filter, paging) = (who.0, asked.filter.clone(), asked.paging);
    let (page, total) =
        run(&state, move |conn| provisioning::list_groups(conn, &actor, filter.as_ref(), paging)).await?;
    let base = base(&req, &state);
    let resources = page.iter().map(|g| shaped(render_group(g, &base), &asked, GROUP_SCHEMA)).collect();
    Ok(json(StatusCode::OK, &list_response(resources, total, paging)))
}

/// `GET /scim/v2/Groups/{id}`
#[get("/scim/v2/Groups/{id}")]
pub async fn get_group(
    req: HttpRequest,
    who: Provisioner,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let asked = asked(&req)?;
    let (actor, id) = (who.0, path.into_inner());
    let view = run(&state, move |conn| provisioning::get_group(conn, &actor, &id)).await?;
    Ok(json(StatusCode::OK, &shaped(render_group(&view, &base(&req, &state)), &asked, GROUP_SCHEMA)))
}

/// `PUT /scim/v2/Groups/{id}` — name and members as given.
#[put("/scim/v2/Groups/{id}")]
pub async fn replace_group(
    req: HttpRequest,
    who: Provisioner,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let input = parse_group(&body(payload).await?)?;
    let (actor, id, map) = (who.0, path.into_inner(), state.settings.serve.oidc_role_map.clone());
    let view = run(&state, move |conn| provisioning::replace_group(conn, &actor, &map, &id, &input)).await?;
    Ok(json(StatusCode::OK, &render_group(&view, &base(&req, &state))))
}

/// `PATCH /scim/v2/Groups/{id}` — members added and removed, the name changed.
#[patch("/scim/v2/Groups/{id}")]
pub async fn patch_group(
    req: HttpRequest,
    who: Provisioner,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let ops = scim_patch::parse_request(&body(payload).await?)?;
    let (actor, id, map) = (who.0, path.into_inner(), state.settings.serve.oidc_role_map.clone());
    let view = run(&state, move |conn| provisioning::patch_group(conn, &actor, &map, &id, &ops)).await?;
    Ok(json(StatusCode::OK, &render_group(&view, &base(&req, &state))))
}

/// `DELETE /scim/v2/Groups/{id}` — the group goes, and the roles it gave; 204.
#[delete("/scim/v2/Groups/{id}")]
pub async fn delete_group(who: Provisioner, state: web::Data<AppState>, path: web::Path<String>) -> Answer {
    let (actor, id, map) = (who.0, path.into_inner(), state.settings.serve.oidc_role_map.clone());
    run(&state, move |conn| provisioning::delete_group(conn, &actor, &map, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(service_provider_config)
        .service(resource_types)
        .service(resource_type)
        .service(schemas)
        .service(schema)
        .service(create_user)
        .service(list_users)
        .service(get_user)
        .service(replace_user)
        .service(patch_user)
        .service(delete_user)
        .service(create_group)
        .service(list_groups)
        .service(get_group)
        .service(replace_group)
        .service(patch_group)
        .service(delete_group);
}
