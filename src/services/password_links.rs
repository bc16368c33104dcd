//! One-time links to set a password (SPEC 12): an administrator creates a user, or asks
//! for a fresh link from a profile page, and hands the link over; the person opens it and
//! chooses their password. The link is a secret: only its digest is stored, it is good
//! once and for [`VALID_DAYS`], and a newer link replaces the older ones. A refused link
//! says why — used, replaced, expired — for as long as its row is kept.

use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::domain::authority;
use crate::domain::people::PasswordRule;
use crate::domain::token_secret::random_base62;
use crate::domain::{Permission, PermissionSet, now};
use crate::models::{AuditAction, NewAuditEvent, PasswordSetup, User, UserSession};

/// How long a link may be used.
pub const VALID_DAYS: i64 = 7;
/// How long a link's row is kept after it expired, so that opening it says "expired".
pub const KEPT_DAYS_AFTER_EXPIRY: i64 = 30;
/// Characters of base62 in a link's secret: about 190 bits.
const SECRET_CHARS: usize = 32;

/// A link's secret, the last part of `/password/set/…`. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkSecret(String);

impl LinkSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(***)")
    }
}

/// A link just issued: the only moment its secret exists outside the person's hands.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    pub secret: LinkSecret,
    pub expires_at: NaiveDateTime,
    /// How many older links it replaced.
    pub replaced: usize,
}

/// The path of a link, to put after the site's address.
pub fn path_of(secret: &LinkSecret) -> String {
    format!("/password/set/{}", secret.expose())
}

fn digest(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tokenwarden password link v1\0");
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// Issues a link for `user` inside the caller's transaction (the caller checked who may).
pub(super) fn issue_for(conn: &mut DbConnection, actor: &Actor, user: &User) -> Result<IssuedLink, Error> {
    let secret = LinkSecret(random_base62(SECRET_CHARS));
    let now = now();
    let expires_at = now + chrono::Duration::days(VALID_DAYS);
    // Whoever may make it may manage the person as they are now, and no more: the link
    // opens the account only while it carries no permission it did not carry then.
    let permissions = User::roles(conn, user.id)?.permissions().bits();
    let replaced =
        PasswordSetup::issue(conn, &digest(secret.expose()), user.id, permissions, now, expires_at)?;
    let mut details = format!("valid until {} UTC", expires_at.format("%Y-%m-%d %H:%M"));
    if replaced > 0 {
        let no_longer = if replaced == 1 { "no longer works" } else { "no longer work" };
        details.push_str(&format!(
            "; {} {no_longer}",
            crate::domain::count(replaced, "older link", "older links")
        ));
    }
    actor.audit(AuditAction::PasswordLinkIssued).subject(user.id).details(details).record(conn)?;
    Ok(IssuedLink { secret, expires_at, replaced })
}

/// Whether `user` may be sent a link: active, and allowed a password here.
fn may_have_link(user: &User, rule: &PasswordRule) -> Result<(), Error> {
    if !user.is_active() {
        return Err(Error::Conflict(format!(
            "{} is suspended: reactivate them before sending a link to set a password.",
            user.name
        )));
    }
    if !rule.allows(&user.login) {
        return Err(Error::Conflict(format!(
            "Passwords are turned off for {} here: they sign in with the institution's identity provider.",
            user.name
        )));
    }
    Ok(())
}

/// A fresh link for user `user_id`, from their profile page: every older link of theirs
/// stops working. The actor needs `users.manage` and must be able to manage the user.
pub fn issue(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: i64,
    rule: &PasswordRule,
) -> Result<(User, IssuedLink), Error> {
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        let user = User::find(conn, user_id)?;
        authority::may_manage(actor.permissions, User::roles(conn, user_id)?.permissions())?;
        may_have_link(&user, rule)?;
        let link = issue_for(conn, actor, &user)?;
        Ok((user, link))
    })
}

/// What a link is, when someone opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Good: the person it was made for, and until when.
    Open {
        user: Box<User>,
        expires_at: NaiveDateTime,
    },
    Used(NaiveDateTime),
    Replaced(NaiveDateTime),
    Expired(NaiveDateTime),
    /// The person may not have a password (any more): suspended, or passwords turned off.
    NotAllowed(String),
    /// No such link (mistyped, or forgotten long after it expired).
    Unknown,
}

/// What the link `secret` is now. Reads only.
pub fn state(conn: &mut DbConnection, secret: &str, rule: &PasswordRule) -> Result<LinkState, Error> {
    let Some(setup) = PasswordSetup::find(conn, &digest(secret))? else {
        return Ok(LinkState::Unknown);
    };
    Ok(match (setup.used_at, setup.replaced_at) {
        (Some(at), _) => LinkState::Used(at),
        (None, Some(at)) => LinkState::Replaced(at),
        (None, None) if now() >= setup.expires_at => LinkState::Expired(setup.expires_at),
        (None, None) => {
            let user = User::find(conn, setup.user_id)?;
            let then = PermissionSet::from_bits(setup.permissions.unwrap_or(0));
            match may_have_link(&user, rule) {
                Err(e) => LinkState::NotAllowed(e.sentence()),
                // Made before links recorded what they may open: not for an administrator.
                Ok(())
                    if setup.permissions.is_none()
                        && !User::roles(conn, user.id)?.permissions().is_empty() =>
                {
                    LinkState::NotAllowed(
                        "This link was made before an upgrade of tokenwarden, and cannot open an account \
                         with administrative permissions. Ask an administrator for a new link."
                            .to_owned(),
                    )
                }
                // Promoted since: the one who made the link may not be able to manage them
                // now, and the link would hand over more than they could.
                Ok(()) if !User::roles(conn, user.id)?.permissions().is_subset(then) => {
                    LinkState::NotAllowed(format!(
                        "{} has been given more permissions since this link was made. Ask an \
                         administrator for a new link.",
                        user.name
                    ))
                }
                Ok(()) => LinkState::Open { user: Box::new(user), expires_at: setup.expires_at },
            }
        }
    })
}

/// Sets the password of the link's person to `hash` (made by the caller from what they
/// chose) and uses the link up; every other link and every session of theirs ends. When
/// the link is not open (any more), nothing changes and its state says why.
pub fn set_password(
    conn: &mut DbConnection,
    secret: &str,
    hash: &str,
    rule: &PasswordRule,
    ip: Option<String>,
) -> Result<Result<User, LinkState>, Error> {
    write_transaction(conn, |conn| {
        let user = match state(conn, secret, rule)? {
            LinkState::Open { user, .. } => *user,
            other => return Ok(Err(other)),
        };
        let now = now();
        if !PasswordSetup::use_once(conn, &digest(secret), now)? {
            // Another request used it a moment ago.
            return Ok(Err(state(conn, secret, rule)?));
        }
        PasswordSetup::replace_open(conn, user.id, now)?;
        User::set_password_hash(conn, user.id, hash)?;
        let ended = UserSession::end_all_for_user(conn, user.id)?;
        NewAuditEvent::new(AuditAction::PasswordSet)
            .actor(user.id)
            .subject(user.id)
            .details(format!(
                "with a one-time link; {} ended",
                crate::domain::count(ended, "session", "sessions")
            ))
            .ip(ip)
            .record(conn)?;
        Ok(Ok(user))
    })
}

/// Forgets links long expired.
pub fn purge(conn: &mut DbConnection) -> Result<usize, Error> {
    let cutoff = now() - chrono::Duration::days(KEPT_DAYS_AFTER_EXPIRY);
    Ok(PasswordSetup::purge_expired_before(conn, cutoff)?)
}

/// Creates a user (as `users::create`) and, when they may have a password here, a link to
/// set it — in one transaction.
pub fn create_user(
    conn: &mut DbConnection,
    actor: &Actor,
    data: &crate::models::NewUserData,
    rule: &PasswordRule,
) -> Result<(User, Option<IssuedLink>), Error> {
    write_transaction(conn, |conn| {
        let user = super::users::create(conn, actor, data)?;
        let link = if rule.allows(&user.login) { Some(issue_for(conn, actor, &user)?) } else { None };
        Ok((user, link))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_long_random_and_never_debug_printed() {
        let a = LinkSecret(random_base62(SECRET_CHARS));
        let b = LinkSecret(random_base62(SECRET_CHARS));
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 32);
        assert_eq!(format!("{a:?}"), "LinkSecret(***)");
        assert!(path_of(&a).starts_with("/password/set/"));
        assert_eq!(digest(a.expose()).len(), 64);
        assert_ne!(digest(a.expose()), digest(b.expose()));
    }
}
