//! `/admin/webhooks` — notifications (SPEC 13): webhook endpoints (register one, edit,
//! disable, rotate its secret, send it a test event, remove it), the recent deliveries
//! with their status, and the recent emails' status; a failed message can be resent.
//! `account.settings`, with `access_tokens.view` or `users.manage` (the messages carry
//! the audit log's data: `notifications::require_webhooks`).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::auth::guard::{AccountSettings, Require};
use crate::domain::now;
use crate::error::AppError;
use crate::models::WebhookEndpoint;
use crate::models::notification::{EMAIL, WEBHOOK};
use crate::routes::{issued, read_form, render, render_with, see_other};
use crate::services;
use crate::services::notifications::{self, EndpointInput, Registered};
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::notifications::{EndpointRow, MessageRow, event_choices};
use crate::views::page::PageCtx;
use crate::views::tokens::SecretView;

/// The page, where a new signing secret waits to be shown.
const PAGE: &str = "/admin/webhooks";
/// How many recent messages of each channel the page lists.
const RECENT: i64 = 50;

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage {
    ctx: PageCtx,
    endpoints: Vec<EndpointRow>,
    deliveries: Vec<MessageRow>,
    emails: Vec<MessageRow>,
    secret: Option<SecretView>,
    /// Where email goes: the SMTP server's host, or `None` when emails are logged.
    smtp_host: Option<String>,
}

/// The form, as last submitted (or as the endpoint is).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EndpointForm {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub enabled: Option<String>,
}

impl EndpointForm {
    fn of(e: &WebhookEndpoint) -> EndpointForm {
        EndpointForm {
            url: e.url.clone(),
            description: e.description.clone(),
            events: e.events.split_whitespace().map(str::to_owned).collect(),
            enabled: e.enabled.then(|| "on".to_owned()),
        }
    }

    fn input(&self) -> EndpointInput {
        EndpointInput {
            url: self.url.clone(),
            description: self.description.clone(),
            events: self.events.clone(),
            enabled: self.enabled.is_some(),
        }
    }

    pub fn enabled_checked(&self) -> bool {
        self.enabled.is_some()
    }
}

#[derive(Template)]
#[template(path = "admin/webhook_form.html")]
struct FormPage {
    ctx: PageCtx,
    /// `None` for a new endpoint.
    id: Option<i64>,
    form: EndpointForm,
    events: Vec<(&'static str, &'static str, bool)>,
    errors: FieldErrors,
    /// Under the URL field: where deliveries may go, on this server.
    url_help: String,
}

impl FormPage {
    fn new(
        ctx: PageCtx,
        state: &AppState,
        id: Option<i64>,
        form: EndpointForm,
        errors: FieldErrors,
    ) -> FormPage {
        let allowed = &state.settings.serve.notify.webhook_allow_networks;
        let reach = if allowed.is_empty() {
            "A public address only: this server does not post to itself (localhost) or into private \
             networks."
                .to_owned()
        } else {
            let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
            format!("A public address, or one in {} (allowed on this server).", list.join(", "))
        };
        let url_help = format!(
            "Where deliveries are posted, https:// (or http://). {reach} No user name or password \
             in it: the receiver checks the signature."
        );
        FormPage { ctx, id, events: event_choices(&form.events), form, errors, url_help }
    }
}

/// The SMTP server's host and port, never its user or password.
fn smtp_host(state: &AppState) -> Option<String> {
    let url = url::Url::parse(state.settings.serve.notify.smtp_url.as_deref()?).ok()?;
    Some(match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    })
}

/// `GET /admin/webhooks` — endpoints, recent deliveries and emails, and once a new secret.
#[get("/admin/webhooks")]
pub async fn index(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<AccountSettings>,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let who = state.actor(&req, &me);
    let (endpoints, deliveries, emails) = crate::db::run(&state.pool, move |conn| {
        Ok::<_, services::Error>((
            notifications::endpoints(conn, &who)?,
            notifications::recent(conn, &who, WEBHOOK, RECENT)?,
            notifications::recent(conn, &who, EMAIL, RECENT)?,
        ))
    })
    .await?;
    let secret = issued::take(&req, &state, &me, &session, PAGE).await?;
    let at = now();
    render(&WebhooksPage {
        ctx,
        endpoints: {
            let reach = state.settings.serve.notify.outbound_reach();
            endpoints.into_iter().map(|e| EndpointRow::of(e, &reach)).collect()
        },
        deliveries: deliveries.into_iter().map(|(n, url)| MessageRow::of(n, url, at)).collect(),
        emails: emails.into_iter().map(|(n, _)| MessageRow::of(n, None, at)).collect(),
        secret,
        smtp_host: smtp_host(&state),
    })
}

/// `GET /admin/webhooks/new`
#[get("/admin/webhooks/new")]
pub async fn new(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<AccountSettings>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    // No form for what would be refused when sent.
    notifications::require_webhooks(&state.actor(&req, &me))?;
    let form = EndpointForm { enabled: Some("on".into()), ..EndpointForm::default() };
    render(&FormPage::new(ctx, &state, None, form, FieldErrors::new()))
}

/// The signing secret, shown once on the list after the redirect.
async fn show_secret_once(
    state: &AppState,
    me: &CurrentUser,
    session: &Session,
    registered: &Registered,
    rotated: bool,
) -> Result<(), AppError> {
    let view = SecretView {
        value: registered.secret.expose(),
        purpose: registered.endpoint.url.clone(),
        regenerated: rotated,
        token_id: None,
    };
    issued::stash(state, me, session, PAGE, view).await
}

/// `POST /admin/webhooks` — register an endpoint.
#[post("/admin/webhooks")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn create(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<AccountSettings>,
    session: Session,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: EndpointForm = read_form(&body)?;
    let (who, input, key) = (state.actor(&req, &me), form.input(), state.settings.session_key.clone());
    let reach = state.settings.serve.notify.outbound_reach();
    match crate::db::run(&state.pool, move |conn| {
        notifications::create_endpoint(conn, &who, &reach, &key, &input)
    })
    .await
    {
        Ok(registered) => {
            show_secret_once(&state, &me, &session, &registered, false).await?;
            FlashMessage::success(format!(
                "Endpoint {} registered. Copy its signing secret now.",
                registered.endpoint.url
            ))
            .send();
            Ok(see_other(PAGE))
        }
        Err(services::Error::Invalid(errors)) => render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FormPage::new(ctx, &state, None, form, errors.into()),
        ),
        Err(e) => Err(e.into()),
    }
}

/// `GET /admin/webhooks/{id}/edit`
#[get("/admin/webhooks/{id}/edit")]
pub async fn edit(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<AccountSettings>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let endpoint = crate::db::run(&state.pool, move |conn| notifications::endpoint(conn, &who, id)).await?;
    render(&FormPage::new(ctx, &state, Some(id), EndpointForm::of(&endpoint), FieldErrors::new()))
}

/// `POST /admin/webhooks/{id}` — change an endpoint (URL, description, events, enabled).
#[post("/admin/webhooks/{id}")]
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
    let form: EndpointForm = read_form(&body)?;
    let (who, input) = (state.actor(&req, &me), form.input());
    let reach = state.settings.serve.notify.outbound_reach();
    match crate::db::run(&state.pool, move |conn| {
        notifications::update_endpoint(conn, &who, &reach, id, &input)
    })
    .await
    {
        Ok(notifications::SavedEndpoint { endpoint, changed: false }) => {
            FlashMessage::info(format!("Nothing to save: endpoint {} is as it was.", endpoint.url)).send();
            Ok(see_other(PAGE))
        }
        Ok(notifications::SavedEndpoint { endpoint, .. }) => {
            FlashMessage::success(if endpoint.enabled {
                format!("Endpoint {} saved.", endpoint.url)
            } else {
                format!(
                    "Endpoint {} saved, disabled: it gets no new events, and what waits for it is held until it is enabled again.",
                    endpoint.url
                )
            })
            .send();
            Ok(see_other(PAGE))
        }
        Err(services::Error::Invalid(errors)) => render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FormPage::new(ctx, &state, Some(id), form, errors.into()),
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/webhooks/{id}/rotate` — a new signing secret, shown once.
#[post("/admin/webhooks/{id}/rotate")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn rotate(
    req: HttpRequest,
    me: Require<AccountSettings>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id, key) = (state.actor(&req, &me), path.into_inner(), state.settings.session_key.clone());
    let registered =
        crate::db::run(&state.pool, move |conn| notifications::rotate_secret(conn, &who, &key, id)).await?;
    show_secret_once(&state, &me, &session, &registered, true).await?;
    FlashMessage::success(format!(
        "New signing secret for {}: deliveries are signed with it from now on. Copy it now.",
        registered.endpoint.url
    ))
    .send();
    Ok(see_other(PAGE))
}

/// `POST /admin/webhooks/{id}/test` — send the endpoint a `webhook.test` event.
#[post("/admin/webhooks/{id}/test")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn test(
    req: HttpRequest,
    me: Require<AccountSettings>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let sent = crate::db::run(&state.pool, move |conn| notifications::send_test(conn, &who, id)).await;
    flash_after(sent, |endpoint| {
        format!("A test event is on its way to {}: its delivery shows below within seconds.", endpoint.url)
    })
}

/// Back to the list after an action the rules may refuse as a conflict (a disabled
/// endpoint, a message already on its way): a flash says which it was.
fn flash_after<T>(
    result: Result<T, services::Error>,
    done: impl FnOnce(T) -> String,
) -> Result<HttpResponse, AppError> {
    match result {
        Ok(value) => FlashMessage::success(done(value)).send(),
        Err(services::Error::Conflict(why)) => FlashMessage::error(why).send(),
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(PAGE))
}

/// `POST /admin/webhooks/{id}/delete`
#[post("/admin/webhooks/{id}/delete")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn delete(
    req: HttpRequest,
    me: Require<AccountSettings>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let endpoint =
        crate::db::run(&state.pool, move |conn| notifications::delete_endpoint(conn, &who, id)).await?;
    FlashMessage::success(format!(
        "Endpoint {} removed, with the deliveries that were waiting for it.",
        endpoint.url
    ))
    .send();
    Ok(see_other(PAGE))
}

/// `POST /admin/webhooks/deliveries/{id}/resend` — send a message again (same id).
#[post("/admin/webhooks/deliveries/{id}/resend")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn resend(
    req: HttpRequest,
    me: Require<AccountSettings>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let queued = crate::db::run(&state.pool, move |conn| notifications::resend(conn, &who, id)).await;
    flash_after(queued, |message| {
        format!(
            "{} will be sent again within seconds, with the same id ({}).",
            notifications::describe_event(&message.event),
            message.message_id
        )
    })
}
