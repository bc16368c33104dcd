//! `/admin/services` — the institution's services that tokens guard (SPEC 11): register
//! one, edit its scopes and rules, rotate its credential, remove it. `account.settings`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::auth::guard::{AccountSettings, Require};
use crate::domain::service::{Holders, SLUG_STAND_IN, Slug};
use crate::error::AppError;
use crate::models::ServiceDefinition;
use crate::routes::{issued, read_form, render, render_with, see_other};
use crate::services;
use crate::services::registry::{self, Registered, ServiceInput};
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;
use crate::views::tokens::SecretView;

/// The list, where a new credential waits to be shown.
const PAGE: &str = "/admin/services";

/// A scope as the page shows it.
pub struct ScopeView {
    pub scope: String,
    pub label: String,
    pub holders: String,
}

/// A service as the list shows it.
pub struct ServiceView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub accept_unscoped: bool,
    pub credential_hint: String,
    pub scopes: Vec<ScopeView>,
    pub rules: Vec<String>,
}

impl ServiceView {
    fn of(def: ServiceDefinition) -> ServiceView {
        ServiceView {
            id: def.service.id,
            scopes: def
                .scopes
                .into_iter()
                .map(|s| ScopeView {
                    holders: Holders::from_stored(&s.holders).describe(),
                    scope: s.scope,
                    label: s.label,
                })
                .collect(),
            rules: def
                .rules
                .into_iter()
                .map(|r| format!("{} {} needs {}", r.method, r.path, r.scope))
                .collect(),
            slug: def.service.slug,
            name: def.service.name,
            description: def.service.description,
            accept_unscoped: def.service.accept_unscoped,
            credential_hint: def.service.credential_hint,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/services.html")]
struct ServicesPage {
    ctx: PageCtx,
    services: Vec<ServiceView>,
    secret: Option<SecretView>,
}

/// The form, as last submitted (or as the service is).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ServiceForm {
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub accept_unscoped: Option<String>,
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub label: Vec<String>,
    #[serde(default)]
    pub holders: Vec<String>,
    #[serde(default)]
    pub rules: String,
}

/// Blank scope rows offered after the service's own: enough to add a few at a time.
const BLANK_SCOPE_ROWS: usize = 3;

impl ServiceForm {
    fn of(def: &ServiceDefinition) -> ServiceForm {
        ServiceForm {
            slug: def.service.slug.clone(),
            name: def.service.name.clone(),
            description: def.service.description.clone(),
            accept_unscoped: def.service.accept_unscoped.then(|| "on".to_owned()),
            scope: def.scopes.iter().map(|s| s.scope.clone()).collect(),
            label: def.scopes.iter().map(|s| s.label.clone()).collect(),
            holders: def.scopes.iter().map(|s| s.holders.clone()).collect(),
            rules: def
                .rules
                .iter()
                .map(|r| format!("{} {}={}", r.method, r.path, r.scope))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn input(&self) -> ServiceInput {
        let at = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
        ServiceInput {
            slug: self.slug.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            accept_unscoped: self.accept_unscoped.is_some(),
            scopes: (0..self.scope.len())
                .map(|i| (at(&self.scope, i), at(&self.label, i), at(&self.holders, i)))
                .collect(),
            rules: self.rules.lines().map(str::to_owned).collect(),
        }
    }

    /// The scope rows to show: the service's, then blank ones.
    pub fn scope_rows(&self) -> Vec<(usize, String, String, String)> {
        let at = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
        let filled =
            (0..self.scope.len()).filter(|i| !at(&self.scope, *i).trim().is_empty()).collect::<Vec<_>>();
        let mut rows: Vec<_> = filled
            .iter()
            .map(|i| (at(&self.scope, *i), at(&self.label, *i), at(&self.holders, *i)))
            .collect();
        rows.extend(std::iter::repeat_n((String::new(), String::new(), String::new()), BLANK_SCOPE_ROWS));
        rows.into_iter().enumerate().map(|(i, (s, l, h))| (i, s, l, h)).collect()
    }

    pub fn unscoped_checked(&self) -> bool {
        self.accept_unscoped.is_some()
    }
}

#[derive(Template)]
#[template(path = "admin/service_form.html")]
struct FormPage {
    ctx: PageCtx,
    /// `None` for a new service.
    id: Option<i64>,
    form: ServiceForm,
    errors: FieldErrors,
    /// Why each row of scopes was refused, beside the row (by its place in `scope_rows`).
    row_errors: Vec<Option<String>>,
}

impl FormPage {
    fn new(ctx: PageCtx, id: Option<i64>, form: ServiceForm, errors: FieldErrors) -> FormPage {
        // A row's own refusal is said beside it; the scopes' other refusals (none given, one
        // listed twice, too many) under them all.
        let slug = Slug::parse(&form.slug).ok();
        let service = slug.as_ref().map_or(SLUG_STAND_IN, Slug::as_str);
        let row_errors: Vec<Option<String>> = if errors.is_empty() {
            Vec::new()
        } else {
            form.scope_rows()
                .iter()
                .map(|(_, scope, label, holders)| {
                    (!scope.trim().is_empty())
                        .then(|| registry::scope_row(service, scope, label, holders).err().map(|e| e.message))
                        .flatten()
                })
                .collect()
        };
        FormPage { ctx, id, form, errors, row_errors }
    }

    fn row_error(&self, i: &usize) -> Option<&str> {
        self.row_errors.get(*i).and_then(|e| e.as_deref())
    }

    /// The scopes' refusal that is no row's own, if any.
    fn scopes_error(&self) -> Option<&str> {
        self.errors
            .iter()
            .filter(|e| e.field == "scopes" || e.field == "holders")
            .map(|e| e.message.as_str())
            .find(|m| !self.row_errors.iter().flatten().any(|r| r == m))
    }
}

/// `GET /admin/services` — every service, and once a new credential.
#[get("/admin/services")]
pub async fn index(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<AccountSettings>,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let who = state.actor(&req, &me);
    let list = crate::db::run(&state.pool, move |conn| registry::list(conn, &who)).await?;
    let secret = issued::take(&req, &state, &me, &session, PAGE).await?;
    render(&ServicesPage { ctx, services: list.into_iter().map(ServiceView::of).collect(), secret })
}

/// `GET /admin/services/new`
#[get("/admin/services/new")]
pub async fn new(ctx: PageCtx, _me: Require<AccountSettings>) -> Result<HttpResponse, AppError> {
    render(&FormPage::new(ctx, None, ServiceForm::default(), FieldErrors::new()))
}

/// The credential, shown once on the list after the redirect.
async fn show_credential_once(
    state: &AppState,
    me: &CurrentUser,
    session: &Session,
    registered: &Registered,
    rotated: bool,
) -> Result<(), AppError> {
    let view = SecretView {
        value: registered.credential.expose().to_owned(),
        purpose: registered.service.name.clone(),
        regenerated: rotated,
        token_id: None,
    };
    issued::stash(state, me, session, PAGE, view).await
}

/// `POST /admin/services` — register a service.
#[post("/admin/services")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn create(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<AccountSettings>,
    session: Session,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: ServiceForm = read_form(&body)?;
    let (who, input) = (state.actor(&req, &me), form.input());
    match crate::db::run(&state.pool, move |conn| registry::create(conn, &who, &input)).await {
        Ok(registered) => {
            show_credential_once(&state, &me, &session, &registered, false).await?;
            FlashMessage::success(format!(
                "Service “{}” registered. Copy its credential now.",
                registered.service.name
            ))
            .send();
            Ok(see_other(PAGE))
        }
        Err(services::Error::Invalid(errors)) => {
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &FormPage::new(ctx, None, form, errors.into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /admin/services/{id}/edit`
#[get("/admin/services/{id}/edit")]
pub async fn edit(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<AccountSettings>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let def = crate::db::run(&state.pool, move |conn| registry::get(conn, &who, id)).await?;
    render(&FormPage::new(ctx, Some(id), ServiceForm::of(&def), FieldErrors::new()))
}

/// `POST /admin/services/{id}` — change a service (its slug stays).
#[post("/admin/services/{id}")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn update(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<AccountSettings>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form: ServiceForm = read_form(&body)?;
    let (who, input) = (state.actor(&req, &me), form.input());
    match crate::db::run(&state.pool, move |conn| registry::update(conn, &who, id, &input)).await {
        Ok(service) => {
            FlashMessage::success(format!(
                "Service “{}” saved. Gateways see the change within a second.",
                service.name
            ))
            .send();
            Ok(see_other(PAGE))
        }
        Err(services::Error::Invalid(errors)) => {
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &FormPage::new(ctx, Some(id), form, errors.into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/services/{id}/rotate` — a new credential; the old one stops at once.
#[post("/admin/services/{id}/rotate")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn rotate(
    req: HttpRequest,
    me: Require<AccountSettings>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let registered = crate::db::run(&state.pool, move |conn| registry::rotate(conn, &who, id)).await?;
    show_credential_once(&state, &me, &session, &registered, true).await?;
    FlashMessage::success(format!(
        "New credential for “{}”: the old one no longer works. Copy the new one now.",
        registered.service.name
    ))
    .send();
    Ok(see_other(PAGE))
}

/// `POST /admin/services/{id}/delete`
#[post("/admin/services/{id}/delete")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn delete(
    req: HttpRequest,
    me: Require<AccountSettings>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let service = crate::db::run(&state.pool, move |conn| registry::delete(conn, &who, id)).await?;
    FlashMessage::success(format!(
        "Service “{}” removed: its gateways' requests are refused, and its scopes open nothing.",
        service.name
    ))
    .send();
    Ok(see_other(PAGE))
}
