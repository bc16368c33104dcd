//! The signed-in user's own account.

use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::models::{AuditAction, User, UserSession};

/// Stores the actor's new password hash (the caller checked the current password) and
/// ends every other session of theirs; `keep` is the digest of the session that asked.
pub fn change_password(conn: &mut DbConnection, actor: &Actor, hash: &str, keep: &str) -> Result<(), Error> {
    let me = actor.require_user()?;
    write_transaction(conn, |conn| {
        User::set_password_hash(conn, me, hash)?;
        let ended = UserSession::end_all_but(conn, me, keep)?;
        actor
            .audit(AuditAction::PasswordChanged)
            .subject(me)
            .details(format!("other sessions ended ({ended})"))
            .record(conn)?;
        Ok(())
    })
}
