//! Signing in and out, and the audit events that go with them.

use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::models::{AuditAction, NewAuditEvent, User, UserSession};

/// Starts a session for `user_id` (inside the caller's transaction); returns its id.
pub(super) fn start(
    conn: &mut DbConnection,
    user_id: i64,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<String, Error> {
    Ok(UserSession::start(conn, user_id, ip, user_agent)?)
}

/// How a sign-in attempt ended.
pub enum SignIn {
    /// The new session's id, for the cookie.
    SignedIn(String),
    Refused,
}

/// What the check of a typed password found (off the database connection, by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    Matches,
    Wrong,
    /// The login may not sign in with a password here (`--password-login break-glass`).
    NotAllowed,
}

/// Completes a password sign-in whose password was checked: a session for an active user
/// with the right password, a failed-login event for anything else. `login` is what was
/// typed, shown in the event when nobody has it.
pub fn complete(
    conn: &mut DbConnection,
    user: Option<User>,
    check: PasswordCheck,
    login: &str,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<SignIn, Error> {
    write_transaction(conn, |conn| match user {
        Some(u) if check == PasswordCheck::Matches && u.is_active() => {
            let sid = start(conn, u.id, ip.clone(), user_agent)?;
            NewAuditEvent::new(AuditAction::Login).actor(u.id).subject(u.id).ip(ip).record(conn)?;
            Ok(SignIn::SignedIn(sid))
        }
        Some(u) => {
            let why = match check {
                PasswordCheck::Matches => "account suspended",
                PasswordCheck::Wrong => "wrong password",
                PasswordCheck::NotAllowed => "password sign-in is only for the break-glass administrators",
            };
            NewAuditEvent::new(AuditAction::LoginFailed).subject(u.id).details(why).ip(ip).record(conn)?;
            Ok(SignIn::Refused)
        }
        None => {
            // As the log shows it: control characters escaped (a terminal reading the
            // audit table takes no orders from a client), at most 64 characters.
            let shown = crate::telemetry::Escaped(login.trim());
            NewAuditEvent::new(AuditAction::LoginFailed)
                .details(format!("unknown login \"{shown}\""))
                .ip(ip)
                .record(conn)?;
            Ok(SignIn::Refused)
        }
    })
}

/// Ends the actor's session `digest`.
pub fn sign_out(conn: &mut DbConnection, actor: &Actor, digest: &str) -> Result<(), Error> {
    let me = actor.require_user()?;
    write_transaction(conn, |conn| {
        UserSession::end(conn, digest)?;
        actor.audit(AuditAction::Logout).subject(me).record(conn)?;
        Ok(())
    })
}

/// Ends every session of the actor, on every device; returns how many.
pub fn sign_out_everywhere(conn: &mut DbConnection, actor: &Actor) -> Result<usize, Error> {
    let me = actor.require_user()?;
    write_transaction(conn, |conn| {
        let n = UserSession::end_all_for_user(conn, me)?;
        actor
            .audit(AuditAction::LogoutEverywhere)
            .subject(me)
            .details(format!("{} ended", crate::domain::count(n, "session", "sessions")))
            .record(conn)?;
        Ok(n)
    })
}
