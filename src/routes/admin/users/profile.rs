//! `GET /admin/users/{id}` — the user-profile page where an administrator sees a user's
//! tokens with their purposes and revokes them (SPEC 5), and what else the viewer may do
//! for this user.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::auth::guard::{PermissionMarker, ReadAudit, Require, SeeProfiles};
use crate::domain::authority::{may_grant, may_manage};
use crate::domain::{EnrollmentRole, Permission, now};
use crate::error::AppError;
use crate::models::{
    AccessToken, AccountRole, AuditEvent, PasswordSetup, RoleSource, RoleSources, User, UserRoles,
    UserSession,
};
use crate::routes::{issued, render};
use crate::services::Actor;
use crate::services::tokens::Context;
use crate::services::users::facts;
use crate::state::AppState;
use crate::views::audit::{AuditRow, audit_rows};
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;
use crate::views::people::LinkView;
use crate::views::tokens::{
    ExpiryOptions, ScopeGroup, SecretView, TokenForm, TokenRow, date_time, scope_groups,
};

/// Tokens per page on a profile page: a user with a thousand tokens gets twenty pages, not a
/// three-megabyte page.
const TOKENS_PER_PAGE: i64 = 50;

/// The profile page of user `id`: where secrets issued on their behalf wait to be shown.
pub fn page_of(id: i64) -> String {
    format!("/admin/users/{id}")
}

/// Where a one-time link to set the password of user `id` waits to be shown (on their
/// profile page, apart from a token's secret).
pub fn link_page_of(id: i64) -> String {
    format!("/admin/users/{id}#password-link")
}

/// The user's password, as their profile page tells it.
pub struct PasswordPanel {
    /// They may have a password here (`--password-login`), so a link can be sent.
    pub allowed: bool,
    pub has_password: bool,
    /// Until when the newest link that is still open works.
    pub open_link_until: Option<String>,
    /// How long a new link works.
    pub link_days: i64,
}

/// What the viewer may do on a profile page.
pub struct Abilities {
    pub manage_users: bool,
    /// The viewer may change this user's roles and state: every permission the user holds
    /// is among the viewer's own (SPEC 2).
    pub manage_this_user: bool,
    /// This is the viewer's own profile: their own account roles are not theirs to change.
    pub is_self: bool,
    pub view_tokens: bool,
    pub delete_tokens: bool,
    pub change_tokens: bool,
}

pub struct RoleChoice {
    pub key: String,
    pub label: String,
    pub checked: bool,
    /// Whether the viewer may give or take it (a role they cannot is shown, not offered).
    pub grantable: bool,
}

/// A role and the sources that give it ("set by an administrator", "from single sign-on").
pub struct SourcedRole {
    pub label: String,
    pub sources: Vec<&'static str>,
    /// Whether only the institution's systems give it (an administrator did not).
    pub from_directory_only: bool,
}

fn sourced_roles(roles: &UserRoles, sources: &RoleSources) -> Vec<SourcedRole> {
    let entry = |label: String, from: Vec<RoleSource>| SourcedRole {
        label,
        from_directory_only: !from.is_empty() && !from.contains(&RoleSource::Admin),
        sources: from.iter().map(|s| s.describe()).collect(),
    };
    roles
        .enrollment
        .iter()
        .map(|r| entry(r.label().to_owned(), sources.of_enrollment(*r)))
        .chain(roles.account.iter().map(|a| entry(a.name.clone(), sources.of_account(a.id))))
        .collect()
}

#[derive(Template)]
#[template(path = "admin/user.html")]
pub(super) struct ProfilePage {
    ctx: PageCtx,
    user: User,
    student_only: bool,
    can: Abilities,
    /// The roles an administrator set: the form's checkboxes.
    enrollment_choices: Vec<RoleChoice>,
    account_choices: Vec<RoleChoice>,
    /// Every role the user holds with where it came from; the institution's systems set
    /// their own, which no checkbox here changes.
    sourced_roles: Vec<SourcedRole>,
    rows: Vec<TokenRow>,
    tokens: TokenPager,
    secret: Option<SecretView>,
    /// A one-time link to set the password, just issued: shown once.
    link: Option<LinkView>,
    password: PasswordPanel,
    create: TokenForm,
    create_errors: FieldErrors,
    expiry: ExpiryOptions,
    groups: Vec<ScopeGroup>,
    /// The user's recent audit events, for viewers who may see them.
    audit: Option<Vec<AuditRow>>,
    sessions: i64,
}

impl ProfilePage {
    /// Whether some role comes only from the institution's systems.
    fn has_directory_roles(&self) -> bool {
        self.sourced_roles.iter().any(|r| r.from_directory_only)
    }

    /// The query that brings a question asked from this page of the token list back to it
    /// (none from the first page, where the profile itself leads).
    fn back(&self) -> String {
        if self.tokens.page == 1 {
            return String::new();
        }
        let here = format!("{}?tokens_page={}", page_of(self.user.id), self.tokens.page);
        format!("?{}", super::tokens::back_query(&here))
    }
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

pub(super) struct ProfileData {
    user: User,
    roles: UserRoles,
    sources: RoleSources,
    all_roles: Vec<AccountRole>,
    token_ctx: Context,
    tokens: Vec<AccessToken>,
    pager: TokenPager,
    names: HashMap<i64, String>,
    usage: HashMap<i64, Vec<crate::views::tokens::ServiceUse>>,
    audit: Vec<AuditRow>,
    sessions: i64,
    open_link: Option<PasswordSetup>,
    passwords_allowed: bool,
    /// Set by the page that shows it (once).
    link: Option<LinkView>,
}

pub(super) async fn load_profile(
    state: &AppState,
    who: Actor,
    id: i64,
    with_tokens: bool,
    tokens_page: i64,
) -> Result<ProfileData, AppError> {
    let rule = state.password_rule();
    crate::db::run_within(&state.pool, crate::db::ACCOUNT_VIEW_WITHIN, move |conn| -> Result<_, AppError> {
        crate::db::read_together(conn, |conn| {
            let user = User::find(conn, id)?;
            let roles = User::roles(conn, id)?;
            let sources = User::role_sources(conn, id)?;
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
            let ids: Vec<i64> = tokens.iter().map(|t| t.id).collect();
            let usage = crate::views::tokens::usage_of(conn, id, &ids, now().date())?;
            let events = AuditEvent::recent_for_user(conn, id, 15)?;
            let audit = audit_rows(conn, events)?;
            let sessions = UserSession::count_for_user(conn, id)?;
            let open_link = PasswordSetup::open_for_user(conn, id, now())?;
            Ok(ProfileData {
                passwords_allowed: rule.allows(&user.login),
                open_link,
                link: None,
                user,
                roles,
                sources,
                all_roles,
                token_ctx,
                tokens,
                pager,
                names,
                usage,
                audit,
                sessions,
            })
        })
    })
    .await
}

fn abilities(me: &CurrentUser, user: &User, roles: &UserRoles) -> Abilities {
    Abilities {
        manage_users: me.can(Permission::ManageUsers),
        manage_this_user: me.can(Permission::ManageUsers)
            && may_manage(me.permissions, roles.permissions()).is_ok(),
        is_self: me.id == user.id,
        view_tokens: me.can(Permission::ViewTokens),
        delete_tokens: me.can(Permission::DeleteTokens),
        change_tokens: me.can(Permission::CreateUpdateTokens),
    }
}

pub(super) fn profile_page(
    ctx: PageCtx,
    me: &CurrentUser,
    data: ProfileData,
    secret: Option<SecretView>,
    create: TokenForm,
    create_errors: FieldErrors,
) -> ProfilePage {
    let now = now();
    let can = abilities(me, &data.user, &data.roles);
    let expiry = ExpiryOptions::new(&data.token_ctx.expiry, data.token_ctx.default_lifetime_days, now)
        .for_owner(&data.user.name);
    let mut create = create;
    if create.expires_in.is_empty() {
        create.expires_in = expiry.default.clone();
    }
    let (admin_enrollment, admin_account) = data.sources.from(RoleSource::Admin);
    ProfilePage {
        ctx,
        student_only: data.roles.is_student_only(),
        sourced_roles: sourced_roles(&data.roles, &data.sources),
        enrollment_choices: EnrollmentRole::ALL
            .iter()
            .map(|r| RoleChoice {
                key: r.key().to_owned(),
                label: r.label().to_owned(),
                checked: admin_enrollment.contains(r),
                grantable: true,
            })
            .collect(),
        account_choices: data
            .all_roles
            .iter()
            .map(|r| RoleChoice {
                key: r.id.to_string(),
                label: r.name.clone(),
                checked: admin_account.contains(&r.id),
                grantable: !can.is_self && may_grant(me.permissions, &facts(r)).is_ok(),
            })
            .collect(),
        rows: if can.view_tokens {
            data.tokens.iter().map(|t| TokenRow::new(t, &data.names, now).with_usage(&data.usage)).collect()
        } else {
            Vec::new()
        },
        tokens: data.pager,
        can,
        secret,
        link: data.link,
        password: PasswordPanel {
            allowed: data.passwords_allowed,
            has_password: !data.user.password_hash.is_empty(),
            open_link_until: data.open_link.map(|l| date_time(l.expires_at)),
            link_days: crate::services::password_links::VALID_DAYS,
        },
        create,
        create_errors,
        expiry,
        groups: scope_groups(&data.token_ctx.catalogue, &data.token_ctx.owner_roles),
        audit: ReadAudit::allows(me.permissions).then_some(data.audit),
        sessions: data.sessions,
        user: data.user,
    }
}

#[derive(Deserialize)]
pub struct ProfileQuery {
    /// As written in the address: anything but a number is the first page, as a number
    /// out of range is the nearest page.
    #[serde(default)]
    tokens_page: String,
}

impl ProfileQuery {
    fn page(&self) -> i64 {
        // A number past 64 bits is out of range as any other: the nearest page.
        crate::domain::text::whole_number(self.tokens_page.trim())
            .map_or(1, |n| n.unwrap_or_else(|nearest| nearest))
    }
}

/// `GET /admin/users/{id}` — the user-profile page (`?tokens_page=N` pages its tokens).
#[get("/admin/users/{id}")]
#[tracing::instrument(skip_all, fields(viewer = me.id, user_id = *path))]
pub async fn show(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<SeeProfiles>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<ProfileQuery>,
) -> Result<HttpResponse, AppError> {
    let who = state.actor(&req, &me);
    let mut data = load_profile(&state, who, *path, me.can(Permission::ViewTokens), query.page()).await?;
    let secret = issued::take(&req, &state, &me, &session, &page_of(data.user.id)).await?;
    data.link = issued::take(&req, &state, &me, &session, &link_page_of(data.user.id)).await?;
    render(&profile_page(ctx, &me, data, secret, TokenForm::default(), FieldErrors::new()))
}
