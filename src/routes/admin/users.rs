//! `/admin/users` (search) and `/admin/users/{id}` — the user-profile page where an
//! administrator sees a user's tokens with their purposes and revokes them (SPEC 5).

use std::collections::HashMap;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::auth::guard::{AnyAdmin, CreateUpdateTokens, DeleteTokens, ManageUsers, Require};
use crate::domain::{EnrollmentRole, Permission, now};
use crate::error::AppError;
use crate::models::{
    AccessToken, AccountRole, AuditAction, AuditEvent, NewAuditEvent, User, UserRoles, UserSession, UserState,
};
use crate::routes::admin::audit::{AuditRow, audit_rows};
use crate::routes::forms::FieldErrors;
use crate::routes::page::PageCtx;
use crate::routes::settings::tokens::SecretView;
use crate::routes::token_view::{ExpiryOptions, ScopeGroup, TokenForm, TokenRow, scope_groups};
use crate::routes::{render, render_with, see_other};
use crate::startup::AppState;
use crate::tokens::{self, Actor, Context, TokenDraft, TokenError, TokenRef};

const PER_PAGE: i64 = 25;
/// Tokens per page on a profile page: a user with a thousand tokens gets twenty pages, not a
/// three-megabyte page.
const TOKENS_PER_PAGE: i64 = 50;
/// The secret of a token just created or regenerated on someone's behalf, shown once to
/// its creator after the redirect.
const STASH_KEY: &str = "issued_secret_admin";

/// A user as a list shows them.
pub struct UserRow {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    pub suspended: bool,
}

fn role_labels(roles: &UserRoles) -> Vec<String> {
    roles
        .enrollment
        .iter()
        .map(|r| r.label().to_owned())
        .chain(roles.account.iter().map(|r| r.name.clone()))
        .collect()
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: PageCtx,
    q: String,
    rows: Vec<UserRow>,
    next: Option<String>,
    first_page: bool,
}

#[derive(Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: i64,
}

/// `GET /admin/users` — search by login, name or email; keyset-paginated.
#[get("/admin/users")]
pub async fn index(
    ctx: PageCtx,
    _me: Require<ManageUsers>,
    state: web::Data<AppState>,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AppError> {
    let UsersQuery { q, after } = query.into_inner();
    let needle = q.clone();
    let (page, roles) = crate::db::run(&state.pool, move |conn| {
        let page = User::search(conn, &needle, after, PER_PAGE)?;
        let ids: Vec<i64> = page.users.iter().map(|u| u.id).collect();
        let roles = User::roles_of_many(conn, &ids)?;
        Ok((page, roles))
    })
    .await?;
    let rows = page
        .users
        .iter()
        .map(|u| UserRow {
            id: u.id,
            login: u.login.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            roles: roles.get(&u.id).map(role_labels).unwrap_or_default(),
            suspended: !u.is_active(),
        })
        .collect();
    let next = page.next_after.map(|after| {
        serde_urlencoded::to_string([("q", q.as_str()), ("after", &after.to_string())]).unwrap_or_default()
    });
    render(&UsersPage { ctx, q, rows, next, first_page: after == 0 })
}

/// What the viewer may do on a profile page.
pub struct Abilities {
    pub manage_users: bool,
    pub view_tokens: bool,
    pub delete_tokens: bool,
    pub change_tokens: bool,
}

pub struct RoleChoice {
    pub key: String,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct ProfilePage {
    ctx: PageCtx,
    user: User,
    roles: Vec<String>,
    student_only: bool,
    can: Abilities,
    enrollment_choices: Vec<RoleChoice>,
    account_choices: Vec<RoleChoice>,
    rows: Vec<TokenRow>,
    tokens: TokenPager,
    secret: Option<SecretView>,
    create: TokenForm,
    create_errors: FieldErrors,
    expiry: ExpiryOptions,
    groups: Vec<ScopeGroup>,
    /// The user's recent audit events, for viewers who may see them.
    audit: Option<Vec<AuditRow>>,
    sessions: i64,
}

/// Where the token list of a profile page is: "51–100 of 1,000", and the pages around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub first: i64,
    pub last: i64,
}

impl TokenPager {
    /// Page `asked` (from 1) of `total` tokens, moved into range.
    fn new(asked: i64, total: i64) -> TokenPager {
        let pages = ((total + TOKENS_PER_PAGE - 1) / TOKENS_PER_PAGE).max(1);
        let page = asked.clamp(1, pages);
        let first = if total == 0 { 0 } else { (page - 1) * TOKENS_PER_PAGE + 1 };
        TokenPager { page, pages, total, first, last: (page * TOKENS_PER_PAGE).min(total) }
    }

    fn offset(&self) -> i64 {
        (self.page - 1) * TOKENS_PER_PAGE
    }
}

struct ProfileData {
    user: User,
    roles: UserRoles,
    all_roles: Vec<AccountRole>,
    token_ctx: Context,
    tokens: Vec<AccessToken>,
    pager: TokenPager,
    names: HashMap<i64, String>,
    audit: Vec<AuditRow>,
    sessions: i64,
}

async fn load_profile(
    state: &AppState,
    who: Actor,
    id: i64,
    with_tokens: bool,
    tokens_page: i64,
) -> Result<ProfileData, AppError> {
    crate::db::run(&state.pool, move |conn| {
        let user = User::find(conn, id)?;
        let roles = User::roles(conn, id)?;
        let all_roles = AccountRole::all(conn)?;
        let token_ctx = Context::load(conn, &who, id)?;
        let (tokens, pager) = if with_tokens {
            let pager = TokenPager::new(tokens_page, AccessToken::count_for_user(conn, id)?);
            (AccessToken::page_for_user(conn, id, true, pager.offset(), TOKENS_PER_PAGE)?, pager)
        } else {
            (Vec::new(), TokenPager::new(1, 0))
        };
        let mut creators: Vec<i64> = tokens.iter().filter_map(|t| t.real_user_id).collect();
        creators.sort_unstable();
        creators.dedup();
        let names = User::names(conn, &creators)?.into_iter().collect();
        let events = AuditEvent::recent_for_user(conn, id, 15)?;
        let audit = audit_rows(conn, events)?;
        let sessions = UserSession::count_for_user(conn, id)?;
        Ok(ProfileData { user, roles, all_roles, token_ctx, tokens, pager, names, audit, sessions })
    })
    .await
}

fn abilities(me: &CurrentUser) -> Abilities {
    Abilities {
        manage_users: me.can(Permission::ManageUsers),
        view_tokens: me.can(Permission::ViewTokens),
        delete_tokens: me.can(Permission::DeleteTokens),
        change_tokens: me.can(Permission::CreateUpdateTokens),
    }
}

fn profile_page(
    ctx: PageCtx,
    me: &CurrentUser,
    data: ProfileData,
    secret: Option<SecretView>,
    create: TokenForm,
    create_errors: FieldErrors,
) -> ProfilePage {
    let now = now();
    let can = abilities(me);
    let expiry = ExpiryOptions::new(&data.token_ctx.expiry, data.token_ctx.default_lifetime_days, now)
        .for_owner(&data.user.name);
    let mut create = create;
    if create.expires_in.is_empty() {
        create.expires_in = expiry.default.clone();
    }
    ProfilePage {
        ctx,
        roles: role_labels(&data.roles),
        student_only: data.roles.is_student_only(),
        enrollment_choices: EnrollmentRole::ALL
            .iter()
            .map(|r| RoleChoice {
                key: r.key().to_owned(),
                label: r.label().to_owned(),
                checked: data.roles.enrollment.contains(r),
            })
            .collect(),
        account_choices: data
            .all_roles
            .iter()
            .map(|r| RoleChoice {
                key: r.id.to_string(),
                label: r.name.clone(),
                checked: data.roles.account.iter().any(|a| a.id == r.id),
            })
            .collect(),
        rows: if can.view_tokens {
            data.tokens.iter().map(|t| TokenRow::new(t, &data.names, now)).collect()
        } else {
            Vec::new()
        },
        tokens: data.pager,
        can,
        secret,
        create,
        create_errors,
        expiry,
        groups: scope_groups(),
        audit: (me.can(Permission::ViewTokens) || me.can(Permission::ManageUsers)).then_some(data.audit),
        sessions: data.sessions,
        user: data.user,
    }
}

#[derive(Deserialize)]
pub struct ProfileQuery {
    #[serde(default = "first_page")]
    tokens_page: i64,
}

fn first_page() -> i64 {
    1
}

/// `GET /admin/users/{id}` — the user-profile page (`?tokens_page=N` pages its tokens).
#[get("/admin/users/{id}")]
#[tracing::instrument(skip_all, fields(viewer = me.id, user_id = *path))]
pub async fn show(
    req: HttpRequest,
    ctx: PageCtx,
    me: AnyAdmin,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<ProfileQuery>,
) -> Result<HttpResponse, AppError> {
    let who = state.actor(&req, &me);
    let data = load_profile(&state, who, *path, me.can(Permission::ViewTokens), query.tokens_page).await?;
    let secret = SecretView::take(&session, STASH_KEY);
    render(&profile_page(ctx, &me, data, secret, TokenForm::default(), FieldErrors::new()))
}

#[derive(Deserialize)]
pub struct RolesForm {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    account_roles: Vec<String>,
}

/// `POST /admin/users/{id}/roles` — replaces the user's roles. When that makes them
/// student-only, their long-lived tokens are capped in the same transaction (SPEC 4.3).
#[post("/admin/users/{id}/roles")]
#[tracing::instrument(skip_all, fields(viewer = me.id, user_id = *path))]
pub async fn update_roles(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form: RolesForm = serde_html_form::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
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
    if id == me.id && account_ids.is_empty() {
        return Err(AppError::Forbidden(
            "You cannot remove every account role from yourself: another administrator must do it.".into(),
        ));
    }
    let who = state.actor(&req, &me);
    let (name, capped, student_only) = crate::db::run(&state.pool, move |conn| {
        crate::db::write_transaction(conn, |conn| {
            let user = User::find(conn, id)?;
            let before = User::roles(conn, id)?;
            let known = AccountRole::all(conn)?;
            if let Some(bad) = account_ids.iter().find(|a| !known.iter().any(|k| k.id == **a)) {
                return Err(AppError::BadRequest(format!("Unknown account role: {bad}")));
            }
            User::replace_roles(conn, id, &enrollment, &account_ids)?;
            let after = User::roles(conn, id)?;
            NewAuditEvent::new(AuditAction::RolesChanged)
                .actor(who.id)
                .subject(id)
                .details(format!("{} → {}", describe_roles(&before), describe_roles(&after)))
                .ip(who.ip.clone())
                .record(conn)?;
            let capped = if after.is_student_only() {
                tokens::cap_student_tokens(conn, Some(&who), &[id], "the user became student-only")?
            } else {
                0
            };
            Ok((user.name, capped, after.is_student_only()))
        })
    })
    .await?;
    let mut message = format!("Roles of {name} saved.");
    if student_only {
        message.push_str(&format!(
            " {name} is now student-only: {capped} token(s) were capped to the student maximum lifetime."
        ));
    }
    FlashMessage::success(message).send();
    Ok(see_other(&format!("/admin/users/{id}")))
}

fn describe_roles(r: &UserRoles) -> String {
    let labels = role_labels(r);
    if labels.is_empty() { "no roles".to_owned() } else { labels.join(", ") }
}

/// `POST /admin/users/{id}/tokens/{token_id}/revoke` — deletes one token at once and goes
/// back to the list it came from, with a message. htmx follows that redirect and swaps in the
/// list as it now is (its count, the next page's first row, the empty state) without a
/// page load; without JavaScript the page reloads.
#[post("/admin/users/{id}/tokens/{token_id}/revoke")]
#[tracing::instrument(skip_all, fields(viewer = me.id))]
pub async fn revoke(
    req: HttpRequest,
    me: Require<DeleteTokens>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, token_id) = path.into_inner();
    let who = state.actor(&req, &me);
    let token =
        crate::db::run(&state.pool, move |conn| Ok(tokens::delete(conn, &who, id, &TokenRef::Id(token_id))?))
            .await?;
    FlashMessage::success(format!("Token “{}” revoked. It no longer works.", token.purpose)).send();
    Ok(see_other(&redirect_back(&req, id)))
}

/// Back to the page the action came from — the account-wide token list, or the page of
/// the profile's token list — else the profile. Only those paths of this site are taken.
///
/// htmx names the page in `HX-Current-URL` on every request; a plain form has only the
/// `Referer`, which a browser may leave out. htmx swaps the list from where this leads, so
/// it must not depend on a header that can go missing.
fn redirect_back(req: &HttpRequest, user_id: i64) -> String {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let referer = header("HX-Current-URL").or_else(|| header("Referer")).unwrap_or_default();
    let profile = format!("/admin/users/{user_id}");
    let path = referer.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]));
    match path {
        Some(p) if p.starts_with("/admin/tokens") => p.to_owned(),
        Some(p) if p.starts_with(&format!("{profile}?")) => {
            format!("{}#tokens", p.split('#').next().unwrap_or(p))
        }
        _ => profile,
    }
}

/// `POST /admin/users/{id}/tokens/revoke-all`
#[post("/admin/users/{id}/tokens/revoke-all")]
#[tracing::instrument(skip_all, fields(viewer = me.id, user_id = *path))]
pub async fn revoke_all(
    req: HttpRequest,
    me: Require<DeleteTokens>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let who = state.actor(&req, &me);
    let n = crate::db::run(&state.pool, move |conn| Ok(tokens::revoke_all(conn, &who, id)?)).await?;
    FlashMessage::success(format!("{n} token(s) revoked.")).send();
    Ok(see_other(&format!("/admin/users/{id}")))
}

/// `POST /admin/users/{id}/tokens` — create a token on the user's behalf (it starts
/// pending until the user activates it; the secret is shown once, to the creator).
#[post("/admin/users/{id}/tokens")]
#[tracing::instrument(skip_all, fields(viewer = me.id, user_id = *path))]
pub async fn create_on_behalf(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<CreateUpdateTokens>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = TokenForm::parse(&body)?;
    let draft = TokenDraft {
        purpose: Some(form.purpose.clone()),
        scopes: Some(form.scopes.clone()),
        expiry: Some(form.expiry().unwrap_or(Ok(crate::domain::token::ExpiryChoice::Never))),
    };
    let who = state.actor(&req, &me);
    let result = crate::db::run(&state.pool, move |conn| Ok(tokens::create(conn, &who, id, &draft))).await?;
    match result {
        Ok(issued) => {
            session
                .insert(STASH_KEY, SecretView::of(&issued, false))
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("could not keep the new secret: {e}")))?;
            FlashMessage::success(format!(
                "Token “{}” created on the user's behalf. It stays pending until they activate it.",
                issued.token.purpose
            ))
            .send();
            Ok(see_other(&format!("/admin/users/{id}")))
        }
        Err(TokenError::Invalid(errors)) => {
            let mut field_errors = FieldErrors::new();
            errors.into_iter().for_each(|e| field_errors.push(e));
            let data =
                load_profile(&state, state.actor(&req, &me), id, me.can(Permission::ViewTokens), 1).await?;
            render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &profile_page(ctx, &me, data, None, form, field_errors),
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/users/{id}/tokens/{token_id}/regenerate` — on the user's behalf.
#[post("/admin/users/{id}/tokens/{token_id}/regenerate")]
#[tracing::instrument(skip_all, fields(viewer = me.id))]
pub async fn regenerate_on_behalf(
    req: HttpRequest,
    me: Require<CreateUpdateTokens>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (id, token_id) = path.into_inner();
    let form = TokenForm::parse(&body)?;
    let who = state.actor(&req, &me);
    let expiry = form.expiry();
    let result = crate::db::run(&state.pool, move |conn| {
        Ok(tokens::regenerate(conn, &who, id, &TokenRef::Id(token_id), expiry))
    })
    .await?;
    match result {
        Ok(issued) => {
            session
                .insert(STASH_KEY, SecretView::of(&issued, true))
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("could not keep the new secret: {e}")))?;
            FlashMessage::success(format!(
                "Token “{}” regenerated: the old secret no longer works.",
                issued.token.purpose
            ))
            .send();
        }
        Err(TokenError::Invalid(errors)) => {
            FlashMessage::error(errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join(" ")).send();
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/admin/users/{id}")))
}

#[derive(Template)]
#[template(path = "admin/token_edit.html")]
struct EditOnBehalfPage {
    ctx: PageCtx,
    user: User,
    edit: crate::routes::settings::tokens::EditForm,
}

async fn edit_page(
    req: &HttpRequest,
    ctx: PageCtx,
    me: &CurrentUser,
    state: &AppState,
    (id, token_id): (i64, i64),
    form: Option<TokenForm>,
    errors: FieldErrors,
) -> Result<EditOnBehalfPage, AppError> {
    let who = state.actor(req, me);
    let user = crate::db::run(&state.pool, move |conn| Ok(User::find(conn, id)?)).await?;
    let mut edit =
        crate::routes::settings::tokens::edit_form(state, who, id, token_id, ctx.csrf.clone(), form, errors)
            .await?;
    edit.expiry = edit.expiry.for_owner(&user.name);
    edit.action = format!("/admin/users/{id}/tokens/{token_id}");
    edit.cancel_url = format!("/admin/users/{id}");
    edit.inline = false;
    Ok(EditOnBehalfPage { ctx, user, edit })
}

/// `GET /admin/users/{id}/tokens/{token_id}/edit`
#[get("/admin/users/{id}/tokens/{token_id}/edit")]
pub async fn edit_on_behalf(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<CreateUpdateTokens>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    render(&edit_page(&req, ctx, &me, &state, path.into_inner(), None, FieldErrors::new()).await?)
}

/// `POST /admin/users/{id}/tokens/{token_id}` — update on the user's behalf.
#[post("/admin/users/{id}/tokens/{token_id}")]
#[tracing::instrument(skip_all, fields(viewer = me.id))]
pub async fn update_on_behalf(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<CreateUpdateTokens>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (id, token_id) = path.into_inner();
    let form = TokenForm::parse(&body)?;
    let draft = TokenDraft {
        purpose: Some(form.purpose.clone()),
        scopes: Some(form.scopes.clone()),
        expiry: form.expiry(),
    };
    let who = state.actor(&req, &me);
    let result = crate::db::run(&state.pool, move |conn| {
        Ok(tokens::update(conn, &who, id, &TokenRef::Id(token_id), &draft))
    })
    .await?;
    match result {
        Ok(token) => {
            FlashMessage::success(format!("Token “{}” updated.", token.purpose)).send();
            Ok(see_other(&format!("/admin/users/{id}")))
        }
        Err(TokenError::Invalid(errors)) => {
            let mut field_errors = FieldErrors::new();
            errors.into_iter().for_each(|e| field_errors.push(e));
            let page = edit_page(&req, ctx, &me, &state, (id, token_id), Some(form), field_errors).await?;
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

async fn set_state(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    id: i64,
    new_state: UserState,
) -> Result<HttpResponse, AppError> {
    if id == me.id && new_state == UserState::Suspended {
        return Err(AppError::Forbidden("You cannot suspend yourself.".into()));
    }
    let ip = state.client_ip(&req);
    let actor = me.id;
    let user = crate::db::run(&state.pool, move |conn| {
        let user = User::find(conn, id)?;
        User::set_state(conn, id, new_state)?;
        let action = match new_state {
            UserState::Suspended => AuditAction::UserSuspended,
            UserState::Active => AuditAction::UserReactivated,
        };
        NewAuditEvent::new(action).actor(actor).subject(id).ip(ip).record(conn)?;
        Ok(user)
    })
    .await?;
    FlashMessage::success(match new_state {
        UserState::Suspended => {
            format!("{} is suspended and signed out everywhere. Their tokens stop working.", user.name)
        }
        UserState::Active => format!("{} is active again.", user.name),
    })
    .send();
    Ok(see_other(&format!("/admin/users/{id}")))
}

/// `POST /admin/users/{id}/suspend` — suspends a user and ends their sessions.
#[post("/admin/users/{id}/suspend")]
pub async fn suspend(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_state(req, me, state, path.into_inner(), UserState::Suspended).await
}

/// `POST /admin/users/{id}/reactivate`
#[post("/admin/users/{id}/reactivate")]
pub async fn reactivate(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_state(req, me, state, path.into_inner(), UserState::Active).await
}

/// `POST /admin/users/{id}/sessions/end` — signs a user out everywhere.
#[post("/admin/users/{id}/sessions/end")]
pub async fn end_sessions(
    req: HttpRequest,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let ip = state.client_ip(&req);
    let actor = me.id;
    let (user, n) = crate::db::run(&state.pool, move |conn| {
        let user = User::find(conn, id)?;
        let n = UserSession::end_all_for_user(conn, id)?;
        NewAuditEvent::new(AuditAction::SessionsEnded)
            .actor(actor)
            .subject(id)
            .details(format!("{n} session(s) ended"))
            .ip(ip)
            .record(conn)?;
        Ok((user, n))
    })
    .await?;
    FlashMessage::success(format!("Ended {n} session(s) of {}.", user.name)).send();
    Ok(see_other(&format!("/admin/users/{id}")))
}
