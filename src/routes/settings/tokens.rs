//! `/settings/tokens` — the user's Access Tokens page (SPEC 5): list, create, edit,
//! regenerate, delete, activate. htmx swaps the workspace in place; without JavaScript
//! every action is a plain post followed by a redirect.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::{FlashMessage, Level};
use askama::Template;

use crate::auth::CurrentUser;
use crate::domain::now;
use crate::domain::token::TokenChange;
use crate::error::AppError;
use crate::models::{AccessToken, AuditAction, AuditEvent, User};
use crate::routes::confirm::{self, Asked, Nav};
use crate::routes::{is_htmx, issued, read_form, render, render_with, see_other};
use crate::services::tokens::{self, Context, TokenRef};
use crate::services::{self, Actor};
use crate::state::AppState;
use crate::views::confirm::{Confirmation, ListSwap, RefusedExpiry};
use crate::views::forms::FieldErrors;
use crate::views::page::{FlashView, PageCtx};
use crate::views::tokens::{ExpiryOptions, ScopeGroup, SecretView, TokenForm, TokenRow, scope_groups};

/// This page, where its secrets wait after a plain form post.
const PAGE: &str = "/settings/tokens";

/// The create form as last submitted.
#[derive(Debug, Clone, Default)]
pub struct CreateForm {
    pub form: TokenForm,
    pub errors: FieldErrors,
}

/// Everything inside `#token-workspace`.
pub struct Workspace {
    pub csrf: String,
    /// The user's tokens revoked as leaked in the last 30 days: what, when, from where.
    pub leaks: Vec<String>,
    pub flash: Option<FlashView>,
    pub secret: Option<SecretView>,
    pub create_refusal: Option<String>,
    pub update_allowed: bool,
    pub regenerate_allowed: bool,
    pub create: CreateForm,
    pub expiry: ExpiryOptions,
    pub groups: Vec<ScopeGroup>,
    pub rows: Vec<TokenRow>,
}

#[derive(Template)]
#[template(path = "settings/tokens/index.html")]
struct TokensPage {
    ctx: PageCtx,
    ws: Workspace,
}

#[derive(Template)]
#[template(path = "settings/tokens/workspace_partial.html")]
struct WorkspacePartial {
    ws: Workspace,
}

#[derive(Template)]
#[template(path = "settings/tokens/edit.html")]
struct EditPage {
    ctx: PageCtx,
    edit: EditForm,
}

#[derive(Template)]
#[template(path = "settings/tokens/edit_row.html")]
struct EditRow {
    edit: EditForm,
}

pub struct EditForm {
    pub csrf: String,
    pub id: i64,
    /// Where the form posts, where "Cancel" leads, and whether htmx edits it in place.
    pub action: String,
    pub cancel_url: String,
    pub inline: bool,
    pub current_expiry: String,
    /// The token's purpose as it is (the form's may be being changed).
    pub title: String,
    pub form: TokenForm,
    pub errors: FieldErrors,
    pub expiry: ExpiryOptions,
    pub groups: Vec<ScopeGroup>,
}

/// Which change a confirmation asks about.
enum Ask {
    /// With the expiry a refused regeneration chose, when it is asked again.
    Regenerate(Option<RefusedExpiry>),
    Delete,
}

/// `GET /settings/tokens/{id}/regenerate` and `…/delete`: the confirmation, as a row for
/// htmx or as a page. Showing it changes nothing; the post that follows is checked again.
async fn confirmation(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    state: web::Data<AppState>,
    id: i64,
    ask: Ask,
) -> Result<Asked, AppError> {
    let who = state.actor(&req, &me);
    let owner = me.id;
    let found = crate::db::run(&state.pool, move |conn| -> Result<_, AppError> {
        let rules = Context::load(conn, &who, owner)?;
        let token = tokens::get(conn, &who, owner, &TokenRef::Id(id))?;
        Ok((rules, token))
    })
    .await;
    let (rules, token) = match found {
        Err(AppError::NotFound) => return gone(&req, ctx, &me, &state).await.map(Asked::Gone),
        found => found?,
    };
    let c = Confirmation {
        back_url: PAGE.to_owned(),
        back_label: "Back to your access tokens".to_owned(),
        ..Confirmation::about(id, ctx.csrf.clone(), is_htmx(&req), ListSwap::OWN_TOKENS)
    };
    let c = match ask {
        Ask::Regenerate(refused) => {
            rules.may(TokenChange::Regenerate).map_err(AppError::Forbidden)?;
            Confirmation {
                title: "Regenerate token".to_owned(),
                question: format!(
                    "Issue a new secret for “{}”? The current secret stops working at once.",
                    token.purpose
                ),
                action: format!("{PAGE}/{id}/regenerate"),
                button: "Regenerate token",
                expiry: Some(ExpiryOptions::new(&rules.expiry, rules.default_lifetime_days, now())),
                keep_expiry: Confirmation::keep_expiry_of(&token, now()),
                refused,
                ..c
            }
        }
        Ask::Delete => Confirmation {
            title: "Delete token".to_owned(),
            question: format!(
                "Delete “{}”? Anything using it stops working at once. This cannot be undone.",
                token.purpose
            ),
            action: format!("{PAGE}/{id}/delete"),
            button: "Yes, delete token",
            danger: true,
            ..c
        },
    };
    confirm::respond(ctx, c, Nav::OwnTokens).map(Asked::Question)
}

/// `GET /settings/tokens/{id}/regenerate` — asks before a new secret replaces the old.
#[get("/settings/tokens/{id}/regenerate")]
pub async fn confirm_regenerate(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    confirmation(req, ctx, me, state, path.into_inner(), Ask::Regenerate(None))
        .await
        .map(Asked::into_response)
}

/// `GET /settings/tokens/{id}/delete` — asks before the token is deleted.
#[get("/settings/tokens/{id}/delete")]
pub async fn confirm_delete(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    confirmation(req, ctx, me, state, path.into_inner(), Ask::Delete).await.map(Asked::into_response)
}

/// Loads the rules and the list for the signed-in user.
async fn workspace(
    state: &AppState,
    actor: Actor,
    csrf: String,
    create: CreateForm,
) -> Result<Workspace, AppError> {
    let owner = actor.require_user()?;
    let (ctx, tokens, names, usage, leaks) =
        crate::db::run(&state.pool, move |conn| -> Result<_, AppError> {
            crate::db::read_together(conn, |conn| {
                let (ctx, tokens) = tokens::list(conn, &actor, owner)?;
                let mut creators: Vec<i64> = tokens.iter().filter_map(|t| t.real_user_id).collect();
                creators.sort_unstable();
                creators.dedup();
                let names: HashMap<i64, String> = User::names(conn, &creators)?.into_iter().collect();
                let ids: Vec<i64> = tokens.iter().map(|t| t.id).collect();
                let usage = crate::views::tokens::usage_of(conn, owner, &ids, now().date())?;
                let since = now() - chrono::Duration::days(30);
                let leaks = AuditEvent::recent_of_kind::<5>(conn, owner, AuditAction::TokenLeaked, since)?
                    .into_iter()
                    .map(|e| format!("{}: {}", crate::views::tokens::date_time(e.occurred_at), e.details))
                    .collect();
                Ok((ctx, tokens, names, usage, leaks))
            })
        })
        .await?;
    let mut ws = build_workspace(&ctx, &tokens, &names, &usage, csrf, create);
    ws.leaks = leaks;
    Ok(ws)
}

fn build_workspace(
    ctx: &Context,
    tokens: &[AccessToken],
    names: &HashMap<i64, String>,
    usage: &HashMap<i64, Vec<crate::views::tokens::ServiceUse>>,
    csrf: String,
    mut create: CreateForm,
) -> Workspace {
    let now = now();
    let expiry = ExpiryOptions::new(&ctx.expiry, ctx.default_lifetime_days, now);
    if create.form.expires_in.is_empty() {
        create.form.expires_in = expiry.default.clone();
    }
    Workspace {
        csrf,
        leaks: Vec::new(),
        flash: None,
        secret: None,
        create_refusal: ctx.may(TokenChange::Create).err(),
        update_allowed: ctx.may(TokenChange::Update).is_ok(),
        regenerate_allowed: ctx.may(TokenChange::Regenerate).is_ok(),
        create,
        expiry,
        groups: scope_groups(&ctx.catalogue, &ctx.owner_roles),
        rows: tokens.iter().map(|t| TokenRow::new(t, names, now).with_usage(usage)).collect(),
    }
}

/// The htmx answer: the whole workspace, swapped in place of the old one.
fn workspace_fragment(status: StatusCode, ws: Workspace) -> Result<HttpResponse, AppError> {
    let mut res = render_with(status, &WorkspacePartial { ws })?;
    res.headers_mut()
        .insert("HX-Retarget".parse().expect("header"), "#token-workspace".parse().expect("value"));
    res.headers_mut().insert("HX-Reswap".parse().expect("header"), "outerHTML".parse().expect("value"));
    Ok(res)
}

/// `GET /settings/tokens`
#[get("/settings/tokens")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn index(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut ws = workspace(&state, state.actor(&req, &me), ctx.csrf.clone(), CreateForm::default()).await?;
    // Shown once: taken from where it waits as it is displayed.
    ws.secret = issued::take(&req, &state, &me, &session, PAGE).await?;
    if is_htmx(&req) {
        return workspace_fragment(StatusCode::OK, ws);
    }
    render(&TokensPage { ctx, ws })
}

/// After a successful change: htmx gets the new workspace (with the flash and, once, the
/// secret); a plain post is redirected back to the page.
async fn after_change(
    req: &HttpRequest,
    ctx: PageCtx,
    me: &CurrentUser,
    session: &Session,
    state: &AppState,
    (level, message): (Level, String),
    secret: Option<SecretView>,
) -> Result<HttpResponse, AppError> {
    if is_htmx(req) {
        let mut ws = workspace(state, state.actor(req, me), ctx.csrf, CreateForm::default()).await?;
        ws.flash = Some(FlashView { class: FlashView::class_of(level), text: message });
        ws.secret = secret;
        return workspace_fragment(StatusCode::OK, ws);
    }
    if let Some(secret) = secret {
        issued::stash(state, me, session, PAGE, secret).await?;
    }
    FlashMessage::new(message, level).send();
    Ok(see_other(PAGE))
}

#[derive(Template)]
#[template(path = "settings/tokens/gone.html")]
struct GonePage {
    ctx: PageCtx,
}

/// What a token that is not in the list answers, whichever of its buttons was used: most
/// often it was deleted while this page was open, in another tab or window or by an
/// administrator. With htmx, the list as it is now with a note (the row goes); without, a
/// 404 that says so and leads back. Rather than the bare "not found" either way.
async fn gone(
    req: &HttpRequest,
    ctx: PageCtx,
    me: &CurrentUser,
    state: &AppState,
) -> Result<HttpResponse, AppError> {
    if is_htmx(req) {
        let mut ws = workspace(state, state.actor(req, me), ctx.csrf, CreateForm::default()).await?;
        ws.flash = Some(FlashView {
            class: FlashView::class_of(Level::Warning),
            text: "That token is no longer in your list: it was deleted, perhaps in another tab or by an \
                   administrator. The list below is as it is now."
                .to_owned(),
        });
        return workspace_fragment(StatusCode::OK, ws);
    }
    render_with(StatusCode::NOT_FOUND, &GonePage { ctx })
}

/// A change the rules refused or that named no token of this user.
async fn refused(
    req: &HttpRequest,
    ctx: PageCtx,
    me: &CurrentUser,
    state: &AppState,
    error: services::Error,
) -> Result<HttpResponse, AppError> {
    let text = match error {
        services::Error::Forbidden(_) | services::Error::Invalid(_) => error.sentence(),
        services::Error::NotFound => return gone(req, ctx, me, state).await,
        other => return Err(other.into()),
    };
    if is_htmx(req) {
        let mut ws = workspace(state, state.actor(req, me), ctx.csrf, CreateForm::default()).await?;
        ws.flash = Some(FlashView { class: "flash-error", text });
        return workspace_fragment(StatusCode::UNPROCESSABLE_ENTITY, ws);
    }
    FlashMessage::error(text).send();
    Ok(see_other(PAGE))
}

/// `POST /settings/tokens` — create a token.
#[post("/settings/tokens")]
#[tracing::instrument(skip_all, fields(user_id = me.id))]
pub async fn create_token(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form = read_form::<TokenForm>(&body)?;
    let draft = form.draft(true);
    let who = state.actor(&req, &me);
    let owner = me.id;
    let result = crate::db::run(&state.pool, move |conn| tokens::create(conn, &who, owner, &draft)).await;
    match result {
        Ok(issued) => {
            tracing::info!(token_id = issued.token.id, "token created");
            let message = format!("Token “{}” created. Copy its secret now.", issued.token.purpose);
            after_change(
                &req,
                ctx,
                &me,
                &session,
                &state,
                (Level::Success, message),
                Some(SecretView::of(&issued, false)),
            )
            .await
        }
        Err(services::Error::Invalid(errors)) => {
            let create = CreateForm { form, errors: errors.into() };
            let ws = workspace(&state, state.actor(&req, &me), ctx.csrf.clone(), create).await?;
            if is_htmx(&req) {
                return workspace_fragment(StatusCode::UNPROCESSABLE_ENTITY, ws);
            }
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &TokensPage { ctx, ws })
        }
        Err(e) => refused(&req, ctx, &me, &state, e).await,
    }
}

/// The edit form of token `id` of `owner` (the signed-in user here; any user for admins).
pub async fn edit_form(
    state: &AppState,
    who: Actor,
    owner: i64,
    id: i64,
    csrf: String,
    form: Option<TokenForm>,
    errors: FieldErrors,
) -> Result<EditForm, AppError> {
    let (ctx, token) = crate::db::run(&state.pool, move |conn| -> Result<_, AppError> {
        let ctx = Context::load(conn, &who, owner)?;
        let token = tokens::get(conn, &who, owner, &TokenRef::Id(id))?;
        Ok((ctx, token))
    })
    .await?;
    ctx.may(TokenChange::Update).map_err(AppError::Forbidden)?;
    let now = now();
    let form = form.unwrap_or_else(|| TokenForm {
        purpose: token.purpose.clone(),
        expires_in: if token.is_expired(now) { String::new() } else { "keep".to_owned() },
        expires_on: String::new(),
        scopes: token.scope_set().as_slice().iter().map(|s| s.to_string()).collect(),
    });
    let mut expiry = ExpiryOptions::new(&ctx.expiry, ctx.default_lifetime_days, now);
    if form.expires_in == "keep" {
        expiry.default = "keep".to_owned();
    }
    Ok(EditForm {
        csrf,
        id,
        action: format!("{PAGE}/{id}"),
        cancel_url: PAGE.to_owned(),
        inline: true,
        current_expiry: token.expires_at.map_or_else(|| "never".to_owned(), crate::views::tokens::date),
        title: token.purpose,
        form,
        errors,
        expiry,
        groups: scope_groups(&ctx.catalogue, &ctx.owner_roles),
    })
}

/// `GET /settings/tokens/{id}/edit` — the edit form (a page, or a table row for htmx).
#[get("/settings/tokens/{id}/edit")]
pub async fn edit_token(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let edit =
        edit_form(&state, state.actor(&req, &me), me.id, *path, ctx.csrf.clone(), None, FieldErrors::new())
            .await;
    let edit = match edit {
        Err(AppError::NotFound) => return gone(&req, ctx, &me, &state).await,
        edit => edit?,
    };
    if is_htmx(&req) {
        return render(&EditRow { edit });
    }
    render(&EditPage { ctx, edit })
}

/// `POST /settings/tokens/{id}` — update purpose, scopes and expiry; the secret stays.
#[post("/settings/tokens/{id}")]
#[tracing::instrument(skip_all, fields(user_id = me.id, token_id = *path))]
pub async fn update_token(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = read_form::<TokenForm>(&body)?;
    let draft = form.draft(false);
    let who = state.actor(&req, &me);
    let owner = me.id;
    let result =
        crate::db::run(&state.pool, move |conn| tokens::update(conn, &who, owner, &TokenRef::Id(id), &draft))
            .await;
    match result {
        Ok(tokens::Updated { token, changed: false }) => {
            let message = format!("Nothing to save: “{}” is as it was.", token.purpose);
            after_change(&req, ctx, &me, &session, &state, (Level::Info, message), None).await
        }
        Ok(tokens::Updated { token, .. }) => {
            let message = format!("Token “{}” updated. Its secret is unchanged.", token.purpose);
            after_change(&req, ctx, &me, &session, &state, (Level::Success, message), None).await
        }
        Err(services::Error::Invalid(errors)) => {
            let edit = edit_form(
                &state,
                state.actor(&req, &me),
                me.id,
                id,
                ctx.csrf.clone(),
                Some(form),
                errors.into(),
            )
            .await?;
            if is_htmx(&req) {
                return render_with(StatusCode::UNPROCESSABLE_ENTITY, &EditRow { edit });
            }
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &EditPage { ctx, edit })
        }
        Err(e) => refused(&req, ctx, &me, &state, e).await,
    }
}

/// `POST /settings/tokens/{id}/regenerate` — a new secret and a new expiry.
#[post("/settings/tokens/{id}/regenerate")]
#[tracing::instrument(skip_all, fields(user_id = me.id, token_id = *path))]
pub async fn regenerate_token(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = read_form::<TokenForm>(&body)?;
    let who = state.actor(&req, &me);
    let owner = me.id;
    let draft = form.regenerate_draft();
    let result = crate::db::run(&state.pool, move |conn| {
        tokens::regenerate(conn, &who, owner, &TokenRef::Id(id), &draft)
    })
    .await;
    match result {
        Ok(issued) => {
            let message =
                format!("Token “{}” regenerated: the old secret no longer works.", issued.token.purpose);
            after_change(
                &req,
                ctx,
                &me,
                &session,
                &state,
                (Level::Success, message),
                Some(SecretView::of(&issued, true)),
            )
            .await
        }
        // A refused expiry is asked about again, with the message next to it and the choice
        // kept: in the row with htmx, on the question's page without.
        Err(services::Error::Invalid(errors)) if RefusedExpiry::concerns(&errors) => {
            let again = RefusedExpiry::of(&form, errors);
            let htmx = is_htmx(&req);
            let mut res = match confirmation(req, ctx, me, state, id, Ask::Regenerate(Some(again))).await? {
                Asked::Question(res) => res,
                Asked::Gone(res) => return Ok(res),
            };
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            if htmx {
                let headers = res.headers_mut();
                headers.insert(
                    HeaderName::from_static("hx-retarget"),
                    HeaderValue::from_str(&format!("#token-{id}"))
                        .map_err(|e| AppError::Unexpected(e.into()))?,
                );
                headers.insert(HeaderName::from_static("hx-reswap"), HeaderValue::from_static("outerHTML"));
            }
            Ok(res)
        }
        Err(e) => refused(&req, ctx, &me, &state, e).await,
    }
}

/// `POST /settings/tokens/{id}/delete` — revoke a token at once.
#[post("/settings/tokens/{id}/delete")]
#[tracing::instrument(skip_all, fields(user_id = me.id, token_id = *path))]
pub async fn delete_token(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let who = state.actor(&req, &me);
    let owner = me.id;
    let result =
        crate::db::run(&state.pool, move |conn| tokens::delete(conn, &who, owner, &TokenRef::Id(id))).await;
    match result {
        Ok(token) => {
            let message = format!("Token “{}” deleted. It no longer works.", token.purpose);
            after_change(&req, ctx, &me, &session, &state, (Level::Success, message), None).await
        }
        Err(e) => refused(&req, ctx, &me, &state, e).await,
    }
}

/// `POST /settings/tokens/{id}/activate` — the owner accepts a token created for them.
#[post("/settings/tokens/{id}/activate")]
#[tracing::instrument(skip_all, fields(user_id = me.id, token_id = *path))]
pub async fn activate_token(
    req: HttpRequest,
    ctx: PageCtx,
    me: CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let who = state.actor(&req, &me);
    let result = crate::db::run(&state.pool, move |conn| tokens::activate(conn, &who, id)).await;
    match result {
        Ok(token) => {
            let message = format!("Token “{}” is now active.", token.purpose);
            after_change(&req, ctx, &me, &session, &state, (Level::Success, message), None).await
        }
        Err(e) => refused(&req, ctx, &me, &state, e).await,
    }
}
