//! Single sign-on (SPEC 12): what a sign-in with the institution's identity provider does
//! once the provider's ID token is verified (`auth::oidc`). The user is found by the
//! provider's subject, else by login, else created; their name, email and the roles the
//! role map gives their groups follow the provider at every sign-in; then a session.
//!
//! Also the sign-in under way: its nonce, PKCE verifier and destination wait on the
//! server under the state's digest, sealed with a key the state is part of, and the
//! callback takes them — each state is good once.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::stash::StashKey;
use super::{Actor, Error, Via};
use crate::db::{DbConnection, write_transaction};
use crate::domain::people::RoleMap;
use crate::domain::text::same_name;
use crate::domain::{DisplayName, Email, Login};
use crate::models::{AccountRole, AuditAction, NewAuditEvent, NewUserData, OidcLogin, RoleSource, User};

/// How long a sign-in may stay at the identity provider.
pub const PENDING_MINUTES: i64 = 10;

/// What the callback needs of the sign-in it completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where to go once signed in (a path on this site).
    pub next: String,
}

fn state_digest(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

fn sealing_key(server_key: &[u8], state: &str) -> StashKey {
    StashKey::derive(server_key, state, state_digest(state))
}

const SEALED_FOR: &str = "oidc";

/// Keeps `pending` for the callback that brings `state` back.
pub fn remember(
    conn: &mut DbConnection,
    server_key: &[u8],
    state: &str,
    pending: &Pending,
) -> Result<(), Error> {
    let plain = serde_json::to_vec(pending).map_err(|e| Error::Unexpected(e.into()))?;
    let sealed = sealing_key(server_key, state).seal(SEALED_FOR, &plain)?;
    OidcLogin::put(conn, &state_digest(state), &sealed, crate::domain::now())?;
    Ok(())
}

/// Takes the sign-in that `state` began, if it began here in the last minutes and was not
/// taken before.
pub fn recall(conn: &mut DbConnection, server_key: &[u8], state: &str) -> Result<Option<Pending>, Error> {
    let since = crate::domain::now() - chrono::Duration::minutes(PENDING_MINUTES);
    let Some(sealed) = OidcLogin::take(conn, &state_digest(state), since)? else {
        return Ok(None);
    };
    Ok(sealing_key(server_key, state)
        .open(SEALED_FOR, &sealed)
        .and_then(|plain| serde_json::from_slice(&plain).ok()))
}

/// Forgets sign-ins that never came back.
pub fn purge(conn: &mut DbConnection) -> Result<usize, Error> {
    Ok(OidcLogin::purge_before(conn, crate::domain::now() - chrono::Duration::minutes(PENDING_MINUTES))?)
}

/// Who the identity provider says signed in (from its verified ID token and user info).
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `issuer|sub`: the provider's own name for the person, which never changes.
    pub subject: String,
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    /// `email_verified`, when the provider says (Microsoft Entra ID does not: its addresses
    /// are the tenant's own).
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    /// The groups in the roles claim.
    pub groups: Vec<String>,
}

/// What the institution's single sign-on may and may not do here.
pub struct Policy<'a> {
    pub role_map: &'a RoleMap,
    /// Logins that sign in with their password only; never tied to the provider's accounts.
    pub break_glass: &'a [String],
}

/// How a sign-in with the identity provider ended.
#[derive(Debug)]
pub enum Outcome {
    /// The new session's id, for the cookie.
    SignedIn { session_id: String, user_id: i64, login: String, created: bool },
    /// Refused; the sentence says why, for the page.
    Refused(String),
}

/// Signs `who` in: finds or creates their user, brings name, email and roles up to date,
/// and starts a session — one transaction, audited.
pub fn sign_in(
    conn: &mut DbConnection,
    who: &Identity,
    policy: &Policy<'_>,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<Outcome, Error> {
    let actor = Actor::directory(Via::SingleSignOn, ip.clone());
    let refused = |conn: &mut DbConnection, subject: Option<i64>, why: &str| -> Result<Outcome, Error> {
        let mut event = NewAuditEvent::new(AuditAction::LoginFailed)
            .details(format!("single sign-on: {why}"))
            .ip(ip.clone());
        if let Some(id) = subject {
            event = event.subject(id);
        }
        event.record(conn)?;
        Ok(Outcome::Refused(why.to_owned()))
    };
    write_transaction(conn, |conn| {
        let (user, created) = match User::find_by_oidc_subject(conn, &who.subject)? {
            Some(user) => (user, false),
            None => {
                let Some(login) = login_of(who) else {
                    return refused(
                        conn,
                        None,
                        "the identity provider gave neither a username nor an email address usable as a login",
                    );
                };
                match User::find_by_login(conn, &login)? {
                    Some(existing) if existing.oidc_subject.is_some() => {
                        return refused(
                            conn,
                            Some(existing.id),
                            &format!(
                                "the login “{login}” belongs to another account at the identity provider"
                            ),
                        );
                    }
                    Some(existing) if is_break_glass(policy.break_glass, &existing.login) => {
                        return refused(
                            conn,
                            Some(existing.id),
                            &format!(
                                "“{login}” is a break-glass account: it signs in with its password only"
                            ),
                        );
                    }
                    // A provider whose people choose their usernames (and type their own
                    // email) would hand an account made here, with its tokens, to whoever
                    // chose the same login. It is tied only when the provider also gives the
                    // account's email address, and has not said that address is unverified.
                    Some(existing) if !same_person(who, &existing.email) => {
                        return refused(
                            conn,
                            Some(existing.id),
                            &format!(
                                "the login “{login}” exists here with another email address than the identity \
                                 provider's (or one the provider has not verified): it is not tied to the \
                                 provider's account until an administrator corrects the email here (an import does)"
                            ),
                        );
                    }
                    Some(existing) => {
                        User::link_oidc_subject(conn, existing.id, &who.subject)?;
                        actor
                            .audit(AuditAction::UserLinked)
                            .subject(existing.id)
                            .details("tied to the identity provider's account at a sign-in")
                            .record(conn)?;
                        (existing, false)
                    }
                    None => match create(conn, &actor, who, login)? {
                        Ok(user) => (user, true),
                        Err(why) => return refused(conn, None, &why),
                    },
                }
            }
        };
        if !user.is_active() {
            return refused(conn, Some(user.id), "this account is suspended");
        }
        refresh_profile(conn, &user, who)?;
        sync_roles(conn, &actor, &user, &who.groups, policy.role_map)?;
        let session_id = super::sessions::start(conn, user.id, ip.clone(), user_agent)?;
        NewAuditEvent::new(AuditAction::Login)
            .actor(user.id)
            .subject(user.id)
            .details("single sign-on")
            .ip(ip.clone())
            .record(conn)?;
        Ok(Outcome::SignedIn { session_id, user_id: user.id, login: user.login, created })
    })
}

/// Whether the provider's person is the one an account made here with the same login
/// belongs to: the same email address, which the provider has not said is unverified.
fn same_person(who: &Identity, account_email: &str) -> bool {
    who.email_verified != Some(false)
        && who.email.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case(account_email.trim()))
}

fn is_break_glass(break_glass: &[String], login: &str) -> bool {
    break_glass.iter().any(|b| b.trim().eq_ignore_ascii_case(login))
}

/// The login of a new user: `preferred_username`, else `email`, whichever is a login.
fn login_of(who: &Identity) -> Option<Login> {
    [&who.preferred_username, &who.email].into_iter().flatten().find_map(|s| Login::parse(s).ok())
}

/// Creates the user the provider signed in for the first time, with no password (they sign
/// in with the provider) and no roles yet (`sync_roles` gives them). `Err` says why not.
fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    who: &Identity,
    login: Login,
) -> Result<Result<User, String>, Error> {
    let Some(email) = who.email.as_deref().and_then(|e| Email::parse(e).ok()) else {
        return Ok(Err("the identity provider gave no email address, which a new account needs".to_owned()));
    };
    let name = who
        .name
        .as_deref()
        .and_then(|n| DisplayName::parse(n).ok())
        .or_else(|| DisplayName::parse(login.as_str()).ok())
        .ok_or_else(|| Error::Unexpected(anyhow::anyhow!("a login is a name")))?;
    let data = NewUserData {
        login,
        name,
        email,
        password_hash: String::new(),
        roles: Vec::new(),
        account_role_ids: Vec::new(),
    };
    let user = User::create(conn, &data).map_err(|e| match e {
        crate::models::CreateUserError::DuplicateLogin(l) => {
            Error::Conflict(format!("the login “{l}” exists"))
        }
        crate::models::CreateUserError::Database(e) => e.into(),
    })?;
    User::link_oidc_subject(conn, user.id, &who.subject)?;
    actor
        .audit(AuditAction::UserCreated)
        .subject(user.id)
        .details(format!("login \"{}\" at their first sign-in with single sign-on", user.login))
        .record(conn)?;
    Ok(Ok(User::find(conn, user.id)?))
}

/// Name and email as the provider gives them now (each only when it is a valid one).
fn refresh_profile(conn: &mut DbConnection, user: &User, who: &Identity) -> Result<(), Error> {
    let name = who.name.as_deref().and_then(|n| DisplayName::parse(n).ok());
    let email = who.email.as_deref().and_then(|e| Email::parse(e).ok());
    let name = name.as_ref().map_or(user.name.as_str(), DisplayName::as_str);
    let email = email.as_ref().map_or(user.email.as_str(), Email::as_str);
    if name != user.name || email != user.email {
        User::set_name_and_email(conn, user.id, name, email)?;
    }
    Ok(())
}

/// The roles the role map gives the user's groups, from single sign-on. The last active
/// Account Admin keeps that role even when the provider no longer gives it (logged).
fn sync_roles(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    groups: &[String],
    map: &RoleMap,
) -> Result<(), Error> {
    let (enrollment, names) = map.roles_for(groups);
    let all = AccountRole::all(conn)?;
    let ids: Vec<i64> =
        names.iter().filter_map(|n| all.iter().find(|r| same_name(&r.name, n)).map(|r| r.id)).collect();
    match super::users::sync_directory_roles(conn, actor, user.id, RoleSource::Sso, &enrollment, &ids) {
        Err(Error::Forbidden(why)) => {
            tracing::warn!(login = %user.login, "single sign-on left the roles as they were: {why}");
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_made_here_is_the_providers_person_only_by_a_verified_or_unsaid_same_email() {
        let existing = "Sam@School.edu";
        let who = |email: Option<&str>, verified: Option<bool>| Identity {
            email: email.map(str::to_owned),
            email_verified: verified,
            ..Identity::default()
        };
        assert!(same_person(&who(Some("sam@school.edu"), Some(true)), existing));
        assert!(same_person(&who(Some("sam@school.edu"), None), existing), "Entra ID says nothing");
        assert!(!same_person(&who(Some("sam@school.edu"), Some(false)), existing), "unverified");
        assert!(!same_person(&who(Some("sam@elsewhere.edu"), Some(true)), existing));
        assert!(!same_person(&who(None, None), existing));
    }

    #[test]
    fn a_new_users_login_is_the_username_else_the_email() {
        let who = |u: Option<&str>, e: Option<&str>| Identity {
            preferred_username: u.map(str::to_owned),
            email: e.map(str::to_owned),
            ..Identity::default()
        };
        assert_eq!(login_of(&who(Some("Sam"), Some("sam@x.edu"))).unwrap().as_str(), "sam");
        assert_eq!(login_of(&who(Some("Sam Student"), Some("sam@x.edu"))).unwrap().as_str(), "sam@x.edu");
        assert_eq!(login_of(&who(None, Some("sam@x.edu"))).unwrap().as_str(), "sam@x.edu");
        assert!(login_of(&who(None, None)).is_none());
        assert!(login_of(&who(Some("has space"), Some("not an email"))).is_none());
    }

    #[test]
    fn the_pending_sign_in_is_sealed_with_the_state() {
        let key = sealing_key(b"server key", "state-1");
        let sealed = key.seal(SEALED_FOR, br#"{"nonce":"n"}"#).unwrap();
        assert!(!sealed.contains("nonce"));
        assert!(sealing_key(b"server key", "state-2").open(SEALED_FOR, &sealed).is_none());
        assert!(sealing_key(b"other key", "state-1").open(SEALED_FOR, &sealed).is_none());
        assert!(key.open(SEALED_FOR, &sealed).is_some());
    }
}
