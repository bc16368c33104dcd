//! `/admin/provisioning` — the credentials of provisioning clients (SCIM, SPEC 12): create
//! one (shown once), see when each was last used, revoke one; and what the role map gives
//! the groups they push. `users.manage`: a provisioning client creates, changes and
//! suspends users, as a holder of that permission does — and nobody issues a credential
//! that could give roles beyond their own permissions (the service checks the role map).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::auth::guard::{ManageUsers, Require};
use crate::domain::people::RoleMap;
use crate::error::AppError;
use crate::models::ProvisioningCredential;
use crate::routes::{issued, read_form, render, render_with, see_other};
use crate::services::{self, provisioning};
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;
use crate::views::tokens::{SecretView, date_time, iso};

/// The page, where a new credential waits to be shown.
const PAGE: &str = "/admin/provisioning";

/// A credential as the list shows it.
pub struct CredentialView {
    pub id: i64,
    pub purpose: String,
    pub hint: String,
    pub created: String,
    pub created_iso: String,
    pub last_used: String,
}

impl CredentialView {
    fn of(c: ProvisioningCredential) -> CredentialView {
        CredentialView {
            id: c.id,
            created: date_time(c.created_at),
            created_iso: iso(c.created_at),
            last_used: c.last_used_at.map_or_else(|| "Never".to_owned(), date_time),
            purpose: c.purpose,
            hint: c.hint,
        }
    }
}

/// A group and the roles the role map gives its members.
pub struct GroupRow {
    pub name: String,
    pub members: usize,
    pub gives: String,
}

/// A line of the role map: a group and the roles it gives.
pub struct MapRow {
    pub group: String,
    pub roles: String,
}

fn gives(map: &RoleMap, group: &str) -> String {
    let roles: Vec<String> = map.roles_of(group).iter().map(|r| r.to_string()).collect();
    roles.join(", ")
}

#[derive(Template)]
#[template(path = "admin/provisioning.html")]
struct ProvisioningPage {
    ctx: PageCtx,
    credentials: Vec<CredentialView>,
    secret: Option<SecretView>,
    base_url: String,
    map: Vec<MapRow>,
    groups: Vec<GroupRow>,
    purpose: String,
    errors: FieldErrors,
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    ctx: PageCtx,
    me: &Require<ManageUsers>,
    secret: Option<SecretView>,
    purpose: String,
    errors: FieldErrors,
) -> Result<ProvisioningPage, AppError> {
    let who = state.actor(req, me);
    let (credentials, groups) = crate::db::run(&state.pool, move |conn| -> Result<_, services::Error> {
        Ok((provisioning::list_credentials(conn, &who)?, provisioning::groups_overview(conn, &who)?))
    })
    .await?;
    let map = &state.settings.serve.oidc_role_map;
    Ok(ProvisioningPage {
        ctx,
        credentials: credentials.into_iter().map(CredentialView::of).collect(),
        secret,
        base_url: crate::routes::scim::base(req, state),
        map: map.groups().into_iter().map(|g| MapRow { group: g.to_owned(), roles: gives(map, g) }).collect(),
        groups: groups
            .into_iter()
            .map(|(g, members)| GroupRow {
                gives: gives(map, &g.display_name),
                name: g.display_name,
                members,
            })
            .collect(),
        purpose,
        errors,
    })
}

/// `GET /admin/provisioning` — the credentials, the role map, the pushed groups; once, a
/// new credential.
#[get("/admin/provisioning")]
pub async fn index(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<ManageUsers>,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let secret = issued::take(&req, &state, &me, &session, PAGE).await?;
    render(&page(&req, &state, ctx, &me, secret, String::new(), FieldErrors::new()).await?)
}

#[derive(Debug, Default, Deserialize)]
pub struct CredentialForm {
    #[serde(default)]
    purpose: String,
}

/// `POST /admin/provisioning` — create a credential; it is shown once, after the redirect.
#[post("/admin/provisioning")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn create(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<ManageUsers>,
    session: Session,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: CredentialForm = read_form(&body)?;
    let (who, map, purpose) =
        (state.actor(&req, &me), state.settings.serve.oidc_role_map.clone(), form.purpose.clone());
    match crate::db::run(&state.pool, move |conn| provisioning::create_credential(conn, &who, &map, &purpose))
        .await
    {
        Ok(issued) => {
            let view = SecretView {
                value: issued.secret.expose().to_owned(),
                purpose: issued.credential.purpose.clone(),
                regenerated: false,
                token_id: None,
            };
            issued::stash(&state, &me, &session, PAGE, view).await?;
            FlashMessage::success(format!(
                "Provisioning credential “{}” created. Copy it now: it is shown only this once.",
                issued.credential.purpose
            ))
            .send();
            Ok(see_other(PAGE))
        }
        Err(services::Error::Invalid(errors)) => {
            let page = page(&req, &state, ctx, &me, None, form.purpose, errors.into()).await?;
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/provisioning/{id}/revoke` — the credential's next request is refused.
#[post("/admin/provisioning/{id}/revoke")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn revoke(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let credential =
        crate::db::run(&state.pool, move |conn| provisioning::revoke_credential(conn, &who, id)).await?;
    FlashMessage::success(format!(
        "Provisioning credential “{}” revoked: the client that uses it is refused from now on.",
        credential.purpose
    ))
    .send();
    Ok(see_other(PAGE))
}
