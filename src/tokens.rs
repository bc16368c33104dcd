//! Token operations under the rules of SPEC 2–4, shared by the pages, the API and the CLI:
//! each loads what the rules need, asks `domain` whether the change is allowed, writes,
//! and records an audit event, in one transaction.

use chrono::NaiveDateTime;

use crate::db::{DbConnection, write_transaction};
use crate::domain::token::{
    CreationLimits, ExpiryChoice, ExpiryRule, Purpose, Scopes, TokenAccess, TokenChange,
};
use crate::domain::token_secret::TokenSecret;
use crate::domain::{PermissionSet, ValidationError, now};
use crate::models::access_token::{ACTIVE, PENDING};
use crate::models::{AccessToken, AccountSettings, AuditAction, NewAccessToken, NewAuditEvent, User};

/// Who is acting, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: i64,
    pub permissions: PermissionSet,
    pub student_only: bool,
    pub ip: Option<String>,
}

impl Actor {
    pub fn of(user: &crate::auth::CurrentUser, ip: Option<String>) -> Actor {
        Actor { id: user.id, permissions: user.permissions, student_only: user.student_only, ip }
    }
}

/// What a form or an API request asks for. `expiry: None` keeps the current one (update,
/// regenerate of a token that has not expired).
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

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid input")]
    Invalid(Vec<ValidationError>),
    #[error("{0}")]
    Refused(String),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for TokenError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => TokenError::NotFound,
            other => TokenError::Database(other),
        }
    }
}

impl TokenError {
    fn invalid(e: ValidationError) -> Self {
        TokenError::Invalid(vec![e])
    }
}

/// A token with its secret, as created or regenerated: the only time the secret is known.
#[derive(Debug)]
pub struct Issued {
    pub token: AccessToken,
    pub secret: TokenSecret,
}

/// What the rules say about one owner, for one actor: loaded once, used by forms too.
#[derive(Debug, Clone)]
pub struct Context {
    pub owner: User,
    pub access: TokenAccess,
    pub limits: CreationLimits,
    pub expiry: ExpiryRule,
    pub default_lifetime_days: i64,
}

impl Context {
    pub fn load(conn: &mut DbConnection, actor: &Actor, owner_id: i64) -> Result<Context, TokenError> {
        let owner = User::find(conn, owner_id)?;
        let owner_student_only = if owner_id == actor.id {
            actor.student_only
        } else {
            User::roles(conn, owner_id)?.is_student_only()
        };
        let settings = AccountSettings::load(conn)?;
        Ok(Context {
            owner,
            access: TokenAccess {
                actor_id: actor.id,
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

    fn require(&self, change: TokenChange) -> Result<(), TokenError> {
        self.may(change).map_err(TokenError::Refused)
    }

    fn require_view(&self) -> Result<(), TokenError> {
        if self.access.may_view() {
            Ok(())
        } else {
            Err(TokenError::Refused(
                "You need the access_tokens.view permission to see another user's tokens.".into(),
            ))
        }
    }

    fn find(&self, conn: &mut DbConnection, token: &TokenRef) -> Result<AccessToken, TokenError> {
        Ok(match token {
            TokenRef::Id(id) => AccessToken::find_for_user(conn, self.owner.id, *id)?,
            TokenRef::Hint(hint) => AccessToken::find_for_user_by_hint(conn, self.owner.id, hint)?,
        })
    }
}

fn describe_expiry(at: Option<NaiveDateTime>) -> String {
    at.map_or_else(|| "never".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn audit(actor: &Actor, owner_id: i64, token_id: i64, action: AuditAction, details: String) -> NewAuditEvent {
    NewAuditEvent::new(action)
        .actor(actor.id)
        .subject(owner_id)
        .token(token_id)
        .details(details)
        .ip(actor.ip.clone())
}

/// Parses the purpose and scopes of a draft, collecting every error.
fn parse_fields(
    draft: &TokenDraft,
    current: Option<&AccessToken>,
    errors: &mut Vec<ValidationError>,
) -> (Option<Purpose>, Option<Scopes>) {
    let purpose = match (&draft.purpose, current) {
        (Some(p), _) => Purpose::parse(p).map_err(|e| errors.push(e)).ok(),
        (None, Some(t)) => Purpose::parse(&t.purpose).ok(),
        (None, None) => Purpose::parse("").map_err(|e| errors.push(e)).ok(),
    };
    let scopes = match (&draft.scopes, current) {
        (Some(s), _) => Scopes::parse(s).map_err(|e| errors.push(e)).ok(),
        (None, Some(t)) => Some(t.scope_set()),
        (None, None) => Some(Scopes::default()),
    };
    (purpose, scopes)
}

/// The tokens of `owner_id`, newest first.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
) -> Result<(Context, Vec<AccessToken>), TokenError> {
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
) -> Result<(Context, Vec<AccessToken>, i64), TokenError> {
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
) -> Result<AccessToken, TokenError> {
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
) -> Result<Issued, TokenError> {
    write_transaction(conn, |conn| {
        let ctx = Context::load(conn, actor, owner_id)?;
        ctx.require(TokenChange::Create)?;
        let now = now();
        let mut errors = Vec::new();
        let (purpose, scopes) = parse_fields(draft, None, &mut errors);
        let expiry = match &draft.expiry {
            Some(Ok(choice)) => ctx.expiry.apply(*choice, now).map_err(|e| errors.push(e)).ok(),
            Some(Err(e)) => {
                errors.push(e.clone());
                None
            }
            None => ctx.expiry.apply(ExpiryChoice::Never, now).map_err(|e| errors.push(e)).ok(),
        };
        let (Some(purpose), Some(scopes), Some(expires_at), true) =
            (purpose, scopes, expiry, errors.is_empty())
        else {
            return Err(TokenError::Invalid(errors));
        };
        let secret = TokenSecret::generate();
        let on_behalf = ctx.access.on_behalf();
        let token = AccessToken::insert(
            conn,
            &NewAccessToken {
                user_id: owner_id,
                real_user_id: on_behalf.then_some(actor.id),
                purpose: purpose.as_str(),
                scopes: scopes.to_stored(),
                digest: secret.digest().as_str(),
                hint: &secret.hint(),
                workflow_state: if on_behalf { PENDING } else { ACTIVE },
                created_at: now,
                updated_at: now,
                expires_at,
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
        Ok(Issued { token, secret })
    })
}

/// Updates purpose, scopes and expiry; the secret stays (SPEC 4.6).
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    token: &TokenRef,
    draft: &TokenDraft,
) -> Result<AccessToken, TokenError> {
    write_transaction(conn, |conn| {
        let ctx = Context::load(conn, actor, owner_id)?;
        ctx.require(TokenChange::Update)?;
        let current = ctx.find(conn, token)?;
        let now = now();
        let mut errors = Vec::new();
        let (purpose, scopes) = parse_fields(draft, Some(&current), &mut errors);
        let expiry = match &draft.expiry {
            Some(Ok(choice)) => ctx.expiry.apply(*choice, now).map_err(|e| errors.push(e)).ok(),
            Some(Err(e)) => {
                errors.push(e.clone());
                None
            }
            None => Some(current.expires_at),
        };
        let (Some(purpose), Some(scopes), Some(expires_at), true) =
            (purpose, scopes, expiry, errors.is_empty())
        else {
            return Err(TokenError::Invalid(errors));
        };
        AccessToken::update_details(conn, current.id, purpose.as_str(), &scopes, expires_at, now)?;
        let mut changed = Vec::new();
        if purpose.as_str() != current.purpose {
            changed.push(format!("purpose \"{}\" → \"{}\"", current.purpose, purpose.as_str()));
        }
        if scopes != current.scope_set() {
            changed.push(format!("scopes {} → {}", current.scope_set().summary(), scopes.summary()));
        }
        if expires_at != current.expires_at {
            changed.push(format!(
                "expires {} → {}",
                describe_expiry(current.expires_at),
                describe_expiry(expires_at)
            ));
        }
        let details = if changed.is_empty() { "no change".to_owned() } else { changed.join("; ") };
        audit(actor, owner_id, current.id, AuditAction::TokenUpdated, details).record(conn)?;
        Ok(AccessToken::find_for_user(conn, owner_id, current.id)?)
    })
}

/// Issues a new secret (the old one stops working at once) and a new expiry (SPEC 4.7).
/// An expired token needs a new expiry; otherwise `None` keeps the current one.
pub fn regenerate(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    token: &TokenRef,
    expiry: Option<Result<ExpiryChoice, ValidationError>>,
) -> Result<Issued, TokenError> {
    write_transaction(conn, |conn| {
        let ctx = Context::load(conn, actor, owner_id)?;
        ctx.require(TokenChange::Regenerate)?;
        let current = ctx.find(conn, token)?;
        let now = now();
        let expires_at = match expiry {
            Some(Ok(choice)) => ctx.expiry.apply(choice, now).map_err(TokenError::invalid)?,
            Some(Err(e)) => return Err(TokenError::invalid(e)),
            None if current.is_expired(now) => {
                return Err(TokenError::invalid(ValidationError::new(
                    ExpiryChoice::FIELD,
                    "This token has expired: choose a new expiry to regenerate it.",
                )));
            }
            // Still valid: the current expiry satisfies the rule from now on too.
            None => ctx.expiry.cap(current.expires_at, now).or(current.expires_at),
        };
        let secret = TokenSecret::generate();
        AccessToken::replace_secret(conn, current.id, &secret.digest(), &secret.hint(), expires_at, now)?;
        let details = format!("new secret {}; expires {}", secret.hint(), describe_expiry(expires_at));
        audit(actor, owner_id, current.id, AuditAction::TokenRegenerated, details).record(conn)?;
        let token = AccessToken::find_for_user(conn, owner_id, current.id)?;
        Ok(Issued { token, secret })
    })
}

/// Deletes (revokes) a token: it stops working at once (SPEC 4.8).
pub fn delete(
    conn: &mut DbConnection,
    actor: &Actor,
    owner_id: i64,
    token: &TokenRef,
) -> Result<AccessToken, TokenError> {
    write_transaction(conn, |conn| {
        let ctx = Context::load(conn, actor, owner_id)?;
        if !ctx.access.may_delete() {
            return Err(TokenError::Refused(
                "You need the access_tokens.delete permission to delete another user's tokens.".into(),
            ));
        }
        let current = ctx.find(conn, token)?;
        AccessToken::delete(conn, current.id)?;
        let details = format!("purpose \"{}\"; hint {}", current.purpose, current.hint);
        audit(actor, owner_id, current.id, AuditAction::TokenDeleted, details).record(conn)?;
        Ok(current)
    })
}

/// The owner activates a token created on their behalf (SPEC 4.11).
pub fn activate(conn: &mut DbConnection, actor: &Actor, token_id: i64) -> Result<AccessToken, TokenError> {
    write_transaction(conn, |conn| {
        let current = AccessToken::find_for_user(conn, actor.id, token_id)?;
        if !current.is_pending() {
            return Err(TokenError::Refused("This token is already active.".into()));
        }
        let now = now();
        AccessToken::activate(conn, current.id, now)?;
        audit(
            actor,
            actor.id,
            current.id,
            AuditAction::TokenActivated,
            format!("purpose \"{}\"", current.purpose),
        )
        .record(conn)?;
        Ok(AccessToken::find_for_user(conn, actor.id, current.id)?)
    })
}

/// Revokes every token of `owner_id`; returns how many there were.
pub fn revoke_all(conn: &mut DbConnection, actor: &Actor, owner_id: i64) -> Result<usize, TokenError> {
    write_transaction(conn, |conn| {
        let ctx = Context::load(conn, actor, owner_id)?;
        if !ctx.access.may_delete() {
            return Err(TokenError::Refused(
                "You need the access_tokens.delete permission to delete another user's tokens.".into(),
            ));
        }
        let n = AccessToken::delete_all_for_user(conn, owner_id)?;
        NewAuditEvent::new(AuditAction::TokensRevokedAll)
            .actor(actor.id)
            .subject(owner_id)
            .details(format!("{n} token(s) revoked"))
            .ip(actor.ip.clone())
            .record(conn)?;
        Ok(n)
    })
}

/// The retroactive cap (SPEC 4.3) for users who are student-only now: call inside the
/// transaction that made them so. Records one audit event per user whose tokens changed.
pub fn cap_student_tokens(
    conn: &mut DbConnection,
    actor: Option<&Actor>,
    user_ids: &[i64],
    why: &str,
) -> Result<usize, TokenError> {
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
        let mut event = NewAuditEvent::new(AuditAction::TokensCapped)
            .subject(id)
            .details(format!("{n} token(s) now expire {} ({why})", describe_expiry(Some(limit))));
        if let Some(actor) = actor {
            event = event.actor(actor.id).ip(actor.ip.clone());
        }
        event.record(conn)?;
    }
    Ok(owners.len())
}

/// Applies the retroactive cap once to the data that existed when the rule arrived
/// (run by `tokenwarden migrate` and at start). Returns how many tokens changed, or
/// `None` when it had already been applied.
pub fn apply_upgrade_cap(conn: &mut DbConnection) -> Result<Option<usize>, TokenError> {
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
