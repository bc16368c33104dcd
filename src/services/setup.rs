//! First run: the first administrator, created by whoever holds the one-time setup code.

use super::{Error, sessions};
use crate::db::{DbConnection, write_transaction};
use crate::models::{AccountRole, AuditAction, NewAuditEvent, NewUserData, User};

pub const DONE: &str =
    "Setup is complete: an administrator already exists. The start page takes you to sign in.";

/// Creates the first user as `Account Admin` and signs them in; refused once any user
/// exists (checked inside the transaction: two setup forms may race). Returns the new
/// session's id, for the cookie.
pub fn create_first_admin(
    conn: &mut DbConnection,
    data: NewUserData,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<String, Error> {
    write_transaction(conn, |conn| {
        if User::count(conn)? > 0 {
            return Err(Error::Forbidden(DONE.into()));
        }
        let admin = AccountRole::find_by_name(conn, AccountRole::ACCOUNT_ADMIN)?.ok_or_else(|| {
            Error::Unexpected(anyhow::anyhow!("the built-in Account Admin role is missing"))
        })?;
        let data = NewUserData { account_role_ids: vec![admin.id], roles: Vec::new(), ..data };
        let user = User::create(conn, &data).map_err(|e| Error::Unexpected(e.into()))?;
        NewAuditEvent::new(AuditAction::SetupCompleted)
            .actor(user.id)
            .subject(user.id)
            .details("first administrator created")
            .ip(ip.clone())
            .record(conn)?;
        sessions::start(conn, user.id, ip, user_agent)
    })
}
