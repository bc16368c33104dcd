//! Token operations under the rules of SPEC 2–4, shared by the pages, the API and the CLI:
//! each loads what the rules need, asks `domain` whether the change is allowed — the
//! account settings, the actor's permissions, and through a token that token's reach —
//! writes, and records an audit event, in one transaction.

use chrono::NaiveDateTime;

use super::notifications::{self, Mail, OnBehalf, TokenFacts};
use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::domain::notification::Event;
use crate::domain::token::{
    Catalogue, CreationLimits, ExpiryChoice, ExpiryRule, Purpose, Scopes, TokenAccess, TokenChange, widens,
};
use crate::domain::token_secret::TokenSecret;
use crate::domain::{ValidationError, now};
use crate::models::access_token::{ACTIVE, PENDING};
use crate::models::{
    AccessToken, AccountSettings, AuditAction, NewAccessToken, NewAuditEvent, User, UserCard, UserRoles,
};

/// What a form or an API request asks for. `None` leaves a field as it is (update,
/// regenerate); on create, a missing purpose is refused and missing scopes mean none.
/// `expiry: None` keeps the current expiry (update, regenerate of a token that has not
/// expired) and means "no expiry" on create.
#[derive(Debug, Clone, Default)]
pub struct TokenDraft {
    pub purpose: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub expiry: Option<Result<ExpiryChoice, ValidationError>>,
}

/// A token addressed by id or by hint (SPEC 4.12).
#[derive(Debug, Clone)]
pub enum TokenRef {
    Id(i64),
    Hint(String),
}

impl TokenRef {
    /// A numeric id, else a hint (`tw_…AbCd`, also typed as `tw_AbCd`).
    pub fn parse(s: &str) -> TokenRef {
        s.parse::<i64>()
            .map(TokenRef::Id)
            .unwrap_or_else(|_| TokenRef::Hint(crate::domain::token_secret::normalize_hint(s)))
    }
}

/// A token with its secret, as created or regenerated: the only time the secret is known.
#[derive(Debug)]
pub struct Issued {
    pub token: AccessToken,
    pub secret: TokenSecret,
}

/// A token after an update, and whether the update changed anything.
#[derive(Debug)]
pub struct Updated {
    pub token: AccessToken,
    pub changed: bool,
}

/// What the rules say about one owner, for one actor: loaded once, used by forms too.
#[derive(Debug, Clone)]
pub struct Context {
    pub owner: UserCard,
    pub owner_roles: UserRoles,
    pub access: TokenAccess,
    /// Every scope a token may be given now (the API's and the services').
    pub catalogue: Catalogue,
    pub limits: CreationLimits,
    pub expiry: ExpiryRule,
    pub default_lifetime_days: i64,
}

impl Context {
    /// [`Context::load`] for a change that the owner's roles decide (its expiry, its
    /// state): inside the change's transaction, with the roles held still until it commits
    /// (see [`User::lock`]).
    fn for_change(conn: &mut DbConnection, actor: &Actor, owner_id: i64) -> Result<Context, Error> {
        User::lock(conn, owner_id)?;
        Self::load(conn, actor, owner_id)
    }

    pub fn load(conn: &mut DbConnection, actor: &Actor, owner_id: i64) -> Result<Context, Error> {
        let actor_id = actor.require_user()?;
        let owner = UserCard::find(conn, owner_id)?;
        let owner_roles = User::roles(conn, owner_id)?;
        let owner_student_only = owner_roles.is_student_only();
        let settings = AccountSettings::load(conn)?;
        Ok(Context {
            owner,
            owner_roles,
            catalogue: super::registry::catalogue(conn)?,
            access: TokenAccess {
                actor_id,
                actor_permissions: actor.permissions,
                actor_student_only: actor.student_only,
                owner_id,
            },
            limits: CreationLimits {
                limit_personal_creation: settings.limit_personal_creation,
                block_students: settings.block_students,
            },
            expiry: ExpiryRule { owner_student_only, student_max_days: settings.student_max_days },
            default_lifetime_days: i64::from(settings.default_lifetime_days),
        })
    }

    /// Whether this actor may make this change here (for forms: what to offer).
    pub fn may(&self, change: TokenChange) -> Result<(), String> {
        self.access.may_change(change, self.limits).map_err(|r| r.0)
    }

    fn require(&self, change: TokenChange) -> Result<(), Error> {
        self.may(change).map_err(Error::Forbidden)
    }

    fn require_view(&self) -> Result<(), Error> {
        if self.access.may_view() {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "You need the access_tokens.view permission to see another user's tokens.".into(),
            ))
        }
    }

    fn require_delete(&self) -> Result<(), Error> {
        if self.access.may_delete() {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "You need the access_tokens.delete permission to delete another user's tokens.".into(),
            ))
        }
    }

    /// "This token of this user" (SPEC 4.12). A hint that two of the owner's tokens share
    /// names neither: it is refused rather than resolved to one of them.
    fn find(&self, conn: &mut DbConnection, token: &TokenRef) -> Result<AccessToken, Error> {
        match token {
            TokenRef::Id(id) => Ok(AccessToken::find_for_user(conn, self.owner.id, *id)?),
            TokenRef::Hint(hint) => {
                let mut found = AccessToken::find_for_user_by_hint(conn, self.owner.id, hint)?;
                match found.len() {
                    0 => Err(Error::NotFound),
                    1 => Ok(found.remove(0)),
                    _ => Err(Error::Conflict(format!(
                        "More than one token of this user has the hint {hint}: address the token by its id."
                    ))),
                }
            }
        }
    }
}

fn describe_expiry(at: Option<NaiveDateTime>) -> String {
    at.map_or_else(|| "never".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn audit(actor: &Actor, owner_id: i64, token_id: i64, action: AuditAction, details: String) -> NewAuditEvent {
    actor.audit(action).subject(owner_id).token(token_id).details(details)
}

/// The fields a draft sets, parsed, with every error collected; unset fields are those of
/// `current` (or, on create, the defaults). Through a token, what the draft sets must stay
/// within that token's reach (SPEC 4.13).
struct Parsed {
    purpose: Purpose,
    scopes: Scopes,
    expires_at: Option<NaiveDateTime>,
}

/// How a draft's expiry is read.
#[derive(Debug, Clone, Copy)]
enum ExpiryMode {
    /// Create: left out means no expiry.
    Create,
    /// Update: left out keeps the current one.
    Keep,
    /// Regenerate: left out keeps the current one, unless it has passed.
    Regenerate,
}

fn parse_draft(
    ctx: &Context,
    actor: &Actor,
    draft: &TokenDraft,
    current: Option<&AccessToken>,
    mode: ExpiryMode,
    now: NaiveDateTime,
) -> Result<Parsed, Error> {
    let mut errors = Vec::new();
    let purpose = match (&draft.purpose, current) {
        (Some(p), _) => Purpose::parse(p).map_err(|e| errors.push(e)).ok(),
        (None, Some(t)) => Purpose::parse(&t.purpose).ok(),
        (None, None) => Purpose::parse("").map_err(|e| errors.push(e)).ok(),
    };
    let scopes = match (&draft.scopes, current) {
        (Some(s), _) => Scopes::parse(s, &ctx.catalogue)
            .and_then(|scopes| {
                // A token never beyond its owner: a service may keep a scope from some roles.
                let roles = &ctx.owner_roles;
                ctx.catalogue.may_hold(&scopes, &roles.enrollment, !roles.account.is_empty()).map(|()| scopes)
            })
            .map_err(|e| errors.push(e))
            .ok(),
        (None, Some(t)) => Some(t.scope_set()),
        (None, None) => Some(Scopes::default()),
    };
    let expires_at = match (&draft.expiry, mode) {
        (Some(Ok(choice)), _) => ctx.expiry.apply(*choice, now).map_err(|e| errors.push(e)).ok(),
        (Some(Err(e)), _) => {
            errors.push(e.clone());
            None
        }
        (None, ExpiryMode::Create) => {
            ctx.expiry.apply(ExpiryChoice::Never, now).map_err(|e| errors.push(e)).ok()
        }
        (None, ExpiryMode::Keep) => current.map(|t| t.expires_at),
        (None, ExpiryMode::Regenerate) => match current {
            Some(t) if t.is_expired(now) => {
                errors.push(ValidationError::new(
                    ExpiryChoice::FIELD,
                    "This token has expired: choose a new expiry to regenerate it.",
                ));
                None
            }
            // Still valid: the current expiry satisfies the rule from now on too.
            Some(t) => Some(ctx.expiry.cap(t.expires_at, now).or(t.expires_at)),
            None => None,
        },
    };
    // Through a token: a new secret (create, regenerate) carries every field, so all are
    // bounded; so does an update that widens the token (what it keeps would otherwise pass
    // on more than the acting token has); an update that only narrows bounds what it sets.
    if let Some(reach) = actor.reach() {
        let widened = match (current, &scopes, expires_at) {
            (Some(t), Some(scopes), Some(at)) => widens((&t.scope_set(), t.expires_at), (scopes, at)),
            _ => false,
        };
        let bounds_all = !matches!(mode, ExpiryMode::Keep) || widened;
        // What the token keeps without a new secret: the acting token learns no secret of
        // it, so giving those scopes back gives it nothing.
        let kept = match (current, mode) {
            (Some(t), ExpiryMode::Keep) => t.scope_set(),
            _ => Scopes::default(),
        };
        if let Some(scopes) = &scopes
            && (bounds_all || draft.scopes.is_some())
            && let Err(e) = reach.bound_scopes(scopes, &kept, &ctx.catalogue)
        {
            errors.push(e);
        }
        if let Some(at) = expires_at
            && (bounds_all || draft.expiry.is_some())
            && let Err(e) = reach.bound_expiry(at)
        {
            errors.push(e);
        }
    }
    match (purpose, scopes, expires_at, errors.is_empty()) {
        (Some(purpose), Some(scopes), Some(expires_at), true) => Ok(Parsed { purpose, scopes, expires_at }),
        _ => Err(Error::Invalid(errors)),
    }
}

/// The tokens of `owner_id`, newest first.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
) -> Result<(Context, Vec<AccessToken>), Error> {
    let ctx = Context::load(conn, actor, owner_id)?;
    ctx.require_view()?;
    let tokens = AccessToken::list_for_user(conn, owner_id)?;
    Ok((ctx, tokens))
}

/// One page of the tokens of `owner_id`, oldest first, and how many there are in all.
pub fn page(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    offset: i64,
    limit: i64,
) -> Result<(Context, Vec<AccessToken>, i64), Error> {
    let ctx = Context::load(conn, actor, owner_id)?;
    ctx.require_view()?;
    let total = AccessToken::count_for_user(conn, owner_id)?;
    let tokens = AccessToken::page_for_user(conn, owner_id, false, offset, limit)?;
    Ok((ctx, tokens, total))
}

/// One token of `owner_id`.
pub fn get(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    token: &TokenRef,
) -> Result<AccessToken, Error> {
    let ctx = Context::load(conn, actor, owner_id)?;
    ctx.require_view()?;
    ctx.find(conn, token)
}

/// Creates a token for `owner_id`. On someone's behalf it starts pending (SPEC 4.11).
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    draft: &TokenDraft,
) -> Result<Issued, Error> {
    write_transaction(conn, |conn| {
        let ctx = Context::for_change(conn, actor, owner_id)?;
        ctx.require(TokenChange::Create)?;
        let now = now();
        let Parsed { purpose, scopes, expires_at } =
            parse_draft(&ctx, actor, draft, None, ExpiryMode::Create, now)?;
        let secret = TokenSecret::generate();
        let on_behalf = ctx.access.on_behalf();
        let token = AccessToken::insert(
            conn,
            &NewAccessToken {
                user_id: owner_id,
                real_user_id: on_behalf.then_some(ctx.access.actor_id),
                purpose: purpose.as_str(),
                scopes: scopes.to_stored(),
                digest: secret.digest().as_str(),
                hint: &secret.hint(),
                workflow_state: if on_behalf { PENDING } else { ACTIVE },
                created_at: now,
                updated_at: now,
                expires_at,
                owner_roles: ctx.owner_roles.owner_roles().0,
            },
        )?;
        let details = format!(
            "purpose \"{}\"; expires {}; scopes: {}{}",
            token.purpose,
            describe_expiry(expires_at),
            scopes.summary(),
            if on_behalf { "; created on the user's behalf (pending)" } else { "" }
        );
        audit(actor, owner_id, token.id, AuditAction::TokenCreated, details).record(conn)?;
        notifications::token_event(conn, Some(actor), Event::TokenCreated, &ctx.owner, &token)?;
        if on_behalf {
            tell_pending(conn, actor, &ctx.owner, &token, OnBehalf::Created)?;
        }
        Ok(Issued { token, secret })
    })
}

/// Emails the owner of a token someone else created, regenerated or widened for them: it
/// waits, pending, for them to activate it.
fn tell_pending(
    conn: &mut DbConnection,
    actor: &Actor,
    owner: &UserCard,
    token: &AccessToken,
    what: OnBehalf,
) -> Result<(), Error> {
    let mail = Mail::CreatedOnBehalf {
        name: owner.name.clone(),
        by: notifications::actor_name(conn, actor)?,
        token: TokenFacts::of(token),
        regenerated: what == OnBehalf::Regenerated,
        widened: what == OnBehalf::Widened,
    };
    notifications::email(conn, owner, &mail, Some(token.id))
}

/// Emails the owner of tokens someone else revoked: who, when, which.
fn tell_revoked(
    conn: &mut DbConnection,
    actor: &Actor,
    owner: &UserCard,
    tokens: &[AccessToken],
    all: bool,
) -> Result<(), Error> {
    let mail = Mail::RevokedByAdmin {
        name: owner.name.clone(),
        by: notifications::actor_name(conn, actor)?,
        at: now(),
        tokens: tokens.iter().map(TokenFacts::of).collect(),
        all,
    };
    notifications::email(conn, owner, &mail, None)
}

/// What changed between a token and its new fields, in words for the audit log.
fn describe_changes(current: &AccessToken, new: &Parsed) -> Vec<String> {
    let mut changed = Vec::new();
    if new.purpose.as_str() != current.purpose {
        changed.push(format!("purpose \"{}\" → \"{}\"", current.purpose, new.purpose.as_str()));
    }
    if new.scopes != current.scope_set() {
        changed.push(format!("scopes {} → {}", current.scope_set().summary(), new.scopes.summary()));
    }
    if new.expires_at != current.expires_at {
        changed.push(format!(
            "expires {} → {}",
            describe_expiry(current.expires_at),
            describe_expiry(new.expires_at)
        ));
    }
    changed
}

/// The part an update and a regeneration share: may the actor make `kind` of change to
/// this token, and what do its fields become — neither written nor audited yet.
fn change(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    token: &TokenRef,
    draft: &TokenDraft,
    kind: TokenChange,
) -> Result<(Context, AccessToken, Parsed, NaiveDateTime), Error> {
    let ctx = Context::for_change(conn, actor, owner_id)?;
    ctx.require(kind)?;
    let current = ctx.find(conn, token)?;
    let now = now();
    let mode = if kind == TokenChange::Regenerate { ExpiryMode::Regenerate } else { ExpiryMode::Keep };
    let new = parse_draft(&ctx, actor, draft, Some(&current), mode, now)?;
    Ok((ctx, current, new, now))
}

fn write_details(conn: &mut DbConnection, id: i64, new: &Parsed, now: NaiveDateTime) -> Result<(), Error> {
    AccessToken::update_details(conn, id, new.purpose.as_str(), &new.scopes, new.expires_at, now)?;
    Ok(())
}

/// Updates purpose, scopes and expiry; the secret stays (SPEC 4.6). Widened by someone other
/// than its owner (a scope added, a later expiry), an active token goes back to pending,
/// as a regenerated one does: whoever has seen its secret — the administrator who created
/// it on the owner's behalf — cannot give a working token more than its owner accepted.
/// A draft that changes nothing writes, audits and announces nothing.
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    token: &TokenRef,
    draft: &TokenDraft,
) -> Result<Updated, Error> {
    write_transaction(conn, |conn| {
        let (ctx, current, new, now) = change(conn, actor, owner_id, token, draft, TokenChange::Update)?;
        let mut changed = describe_changes(&current, &new);
        if changed.is_empty() {
            return Ok(Updated { token: current, changed: false });
        }
        write_details(conn, current.id, &new, now)?;
        let suspended = ctx.access.on_behalf()
            && !current.is_pending()
            && widens((&current.scope_set(), current.expires_at), (&new.scopes, new.expires_at));
        if suspended {
            AccessToken::suspend_until_activated(conn, current.id, now)?;
            changed.push("widened on the user's behalf: pending until they activate it again".into());
        }
        audit(actor, owner_id, current.id, AuditAction::TokenUpdated, changed.join("; ")).record(conn)?;
        let updated = AccessToken::find_for_user(conn, owner_id, current.id)?;
        notifications::token_event(conn, Some(actor), Event::TokenUpdated, &ctx.owner, &updated)?;
        if suspended {
            tell_pending(conn, actor, &ctx.owner, &updated, OnBehalf::Widened)?;
        }
        Ok(Updated { token: updated, changed: true })
    })
}

/// Issues a new secret (the old one stops working at once) and a new expiry (SPEC 4.7),
/// with any purpose and scopes the draft also changes. An expired token needs a new
/// expiry; otherwise a draft without one keeps the current expiry. Regenerated by someone
/// other than its owner, the token goes back to pending: nobody takes over another
/// person's working token. Regenerated by its owner, it is active.
pub fn regenerate(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    token: &TokenRef,
    draft: &TokenDraft,
) -> Result<Issued, Error> {
    write_transaction(conn, |conn| {
        let (ctx, current, new, now) = change(conn, actor, owner_id, token, draft, TokenChange::Regenerate)?;
        write_details(conn, current.id, &new, now)?;
        let secret = TokenSecret::generate();
        let on_behalf = ctx.access.on_behalf();
        // By its owner, the new secret is one only they know: a pending token so becomes
        // active (activating it would have trusted whoever saw the old one).
        let state = if on_behalf { PENDING } else { ACTIVE };
        AccessToken::replace_secret(conn, current.id, &secret.digest(), &secret.hint(), state, now)?;
        let mut details =
            vec![format!("new secret {}; expires {}", secret.hint(), describe_expiry(new.expires_at))];
        details.extend(describe_changes(&current, &new).into_iter().filter(|c| !c.starts_with("expires")));
        if on_behalf {
            details.push("regenerated on the user's behalf: pending until they activate it".into());
        }
        audit(actor, owner_id, current.id, AuditAction::TokenRegenerated, details.join("; ")).record(conn)?;
        let token = AccessToken::find_for_user(conn, owner_id, current.id)?;
        notifications::token_event(conn, Some(actor), Event::TokenRegenerated, &ctx.owner, &token)?;
        if on_behalf {
            tell_pending(conn, actor, &ctx.owner, &token, OnBehalf::Regenerated)?;
        }
        Ok(Issued { token, secret })
    })
}

/// Deletes (revokes) a token: it stops working at once (SPEC 4.8).
pub fn delete(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    token: &TokenRef,
) -> Result<AccessToken, Error> {
    write_transaction(conn, |conn| {
        let ctx = Context::load(conn, actor, owner_id)?;
        ctx.require_delete()?;
        let current = ctx.find(conn, token)?;
        AccessToken::delete(conn, current.id)?;
        let details = format!("purpose \"{}\"; hint {}", current.purpose, current.hint);
        audit(actor, owner_id, current.id, AuditAction::TokenDeleted, details).record(conn)?;
        notifications::token_event(conn, Some(actor), Event::TokenRevoked, &ctx.owner, &current)?;
        if ctx.access.on_behalf() {
            tell_revoked(conn, actor, &ctx.owner, std::slice::from_ref(&current), false)?;
        }
        Ok(current)
    })
}

/// The owner activates a token created or regenerated on their behalf (SPEC 4.11).
pub fn activate(conn: &mut DbConnection, actor: &Actor, token_id: i64) -> Result<AccessToken, Error> {
    let me = actor.require_user()?;
    write_transaction(conn, |conn| {
        let current = AccessToken::find_for_user(conn, me, token_id)?;
        if !current.is_pending() {
            return Err(Error::Forbidden("This token is already active.".into()));
        }
        let now = now();
        AccessToken::activate(conn, current.id, now)?;
        audit(actor, me, current.id, AuditAction::TokenActivated, format!("purpose \"{}\"", current.purpose))
            .record(conn)?;
        Ok(AccessToken::find_for_user(conn, me, current.id)?)
    })
}

/// Revokes every token of `owner_id`; returns how many there were.
pub fn revoke_all(conn: &mut DbConnection, actor: &Actor, owner_id: i64) -> Result<usize, Error> {
    write_transaction(conn, |conn| {
        let ctx = Context::load(conn, actor, owner_id)?;
        ctx.require_delete()?;
        let revoked = AccessToken::list_for_user(conn, owner_id)?;
        let n = AccessToken::delete_all_for_user(conn, owner_id)?;
        actor
            .audit(AuditAction::TokensRevokedAll)
            .subject(owner_id)
            .details(format!("{} revoked", crate::domain::count(n, "token", "tokens")))
            .record(conn)?;
        for token in &revoked {
            notifications::token_event(conn, Some(actor), Event::TokenRevoked, &ctx.owner, token)?;
        }
        if ctx.access.on_behalf() && !revoked.is_empty() {
            tell_revoked(conn, actor, &ctx.owner, &revoked, true)?;
        }
        Ok(n)
    })
}

/// Revokes every token among `reported` (secrets found where they should not be: a public
/// repository, a paste), at once, each audited as leaked with the reporter's address for
/// its owner to see (SPEC 11). Nobody is authenticated: anybody holding a token may
/// report it. Returns how many were revoked — for the log only; the reporter is told
/// nothing about which were real.
pub fn revoke_leaked(
    conn: &mut DbConnection,
    reported: &[crate::domain::token_secret::TokenDigest],
    reporter_ip: Option<String>,
) -> Result<usize, Error> {
    write_transaction(conn, |conn| {
        let mut revoked = 0;
        for digest in reported {
            let Some((token, owner)) = AccessToken::find_by_digest_with_owner(conn, digest)? else {
                continue;
            };
            AccessToken::delete(conn, token.id)?;
            NewAuditEvent::new(AuditAction::TokenLeaked)
                .subject(owner.id)
                .token(token.id)
                .details(format!(
                    "reported as leaked and revoked: purpose \"{}\"; hint {}; reported from {}",
                    token.purpose,
                    token.hint,
                    reporter_ip.as_deref().unwrap_or("an unknown address")
                ))
                .ip(reporter_ip.clone())
                .record(conn)?;
            let from = reporter_ip.as_deref().unwrap_or("an unknown address");
            notifications::leaked(conn, &owner, &token, from)?;
            let mail = Mail::Leaked {
                name: owner.name.clone(),
                token: TokenFacts::of(&token),
                reported_from: from.to_owned(),
                at: now(),
            };
            notifications::email(conn, &owner, &mail, Some(token.id))?;
            revoked += 1;
        }
        Ok(revoked)
    })
}

/// The retroactive cap (SPEC 4.3) for users who are student-only now: call inside the
/// transaction that made them so. Records one audit event per user whose tokens changed.
pub fn cap_student_tokens(
    conn: &mut DbConnection,
    actor: Option<&Actor>,
    user_ids: &[i64],
    why: &str,
) -> Result<usize, Error> {
    let settings = AccountSettings::load(conn)?;
    let rule = ExpiryRule { owner_student_only: true, student_max_days: settings.student_max_days };
    let now = now();
    let limit = rule.cap(None, now).expect("a student-only rule always caps a missing expiry");
    let owners = AccessToken::cap_expiry(conn, user_ids, limit)?;
    let mut capped_per_user = std::collections::BTreeMap::<i64, usize>::new();
    for owner in &owners {
        *capped_per_user.entry(*owner).or_default() += 1;
    }
    for (id, n) in capped_per_user {
        let event = match actor {
            Some(actor) => actor.audit(AuditAction::TokensCapped),
            None => NewAuditEvent::new(AuditAction::TokensCapped),
        };
        event
            .subject(id)
            .details(format!(
                "{} now {} {} ({why})",
                crate::domain::count(n, "token", "tokens"),
                if n == 1 { "expires" } else { "expire" },
                describe_expiry(Some(limit))
            ))
            .record(conn)?;
        let owner = UserCard::find(conn, id)?;
        let mail = Mail::Capped {
            name: owner.name.clone(),
            count: n,
            expires_at: limit,
            max_days: settings.student_max_days,
        };
        notifications::email(conn, &owner, &mail, None)?;
    }
    Ok(owners.len())
}

/// Applies the retroactive cap once to the data that existed when the rule arrived
/// (run by `tokenwarden migrate` and at start). Returns how many tokens changed, or
/// `None` when it had already been applied.
pub fn apply_upgrade_cap(conn: &mut DbConnection) -> Result<Option<usize>, Error> {
    write_transaction(conn, |conn| {
        if AccountSettings::load(conn)?.student_cap_applied_at.is_some() {
            return Ok(None);
        }
        let ids = User::student_only_ids(conn)?;
        let n = cap_student_tokens(conn, None, &ids, "student maximum applied at upgrade")?;
        AccountSettings::mark_student_cap_applied(conn, now())?;
        Ok(Some(n))
    })
}
