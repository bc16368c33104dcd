use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::password_setups;

/// A one-time link to set a password, as stored: the digest of its secret, never the secret.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = password_setups)]
pub struct PasswordSetup {
    pub digest: String,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// When it was used to set a password.
    pub used_at: Option<NaiveDateTime>,
    /// When a newer link for the same person, or a password set with another link, ended it.
    pub replaced_at: Option<NaiveDateTime>,
    /// The account permissions the person held when it was made (bits of a
    /// `PermissionSet`; none recorded for links made before this was kept).
    pub permissions: Option<i64>,
}

impl PasswordSetup {
    /// Whether it may still be used at `now`.
    pub fn is_open(&self, now: NaiveDateTime) -> bool {
        self.used_at.is_none() && self.replaced_at.is_none() && now < self.expires_at
    }

    /// Stores a new link for `user_id`; every older link of theirs that was still open is
    /// replaced by it. Returns how many were.
    pub fn issue(
        conn: &mut DbConnection,
        digest: &str,
        user_id: i64,
        permissions: i64,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> QueryResult<usize> {
        let replaced = PasswordSetup::replace_open(conn, user_id, now)?;
        diesel::insert_into(password_setups::table)
            .values((
                password_setups::digest.eq(digest),
                password_setups::user_id.eq(user_id),
                password_setups::created_at.eq(now),
                password_setups::expires_at.eq(expires_at),
                password_setups::permissions.eq(Some(permissions)),
            ))
            .execute(conn)?;
        Ok(replaced)
    }

    /// Ends every link of `user_id` that is still open (not used, not replaced, not expired).
    pub fn replace_open(conn: &mut DbConnection, user_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            password_setups::table
                .filter(password_setups::user_id.eq(user_id))
                .filter(password_setups::used_at.is_null())
                .filter(password_setups::replaced_at.is_null())
                .filter(password_setups::expires_at.gt(now)),
        )
        .set(password_setups::replaced_at.eq(Some(now)))
        .execute(conn)
    }

    pub fn find(conn: &mut DbConnection, digest: &str) -> QueryResult<Option<PasswordSetup>> {
        password_setups::table
            .filter(password_setups::digest.eq(digest))
            .select(PasswordSetup::as_select())
            .get_result(conn)
            .optional()
    }

    /// Uses the link: one statement that succeeds for one caller only, and only while the
    /// link is open. Whether it was.
    pub fn use_once(conn: &mut DbConnection, digest: &str, now: NaiveDateTime) -> QueryResult<bool> {
        diesel::update(
            password_setups::table
                .filter(password_setups::digest.eq(digest))
                .filter(password_setups::used_at.is_null())
                .filter(password_setups::replaced_at.is_null())
                .filter(password_setups::expires_at.gt(now)),
        )
        .set(password_setups::used_at.eq(Some(now)))
        .execute(conn)
        .map(|n| n == 1)
    }

    /// The newest link of `user_id` that is still open, for their profile page.
    pub fn open_for_user(
        conn: &mut DbConnection,
        user_id: i64,
        now: NaiveDateTime,
    ) -> QueryResult<Option<PasswordSetup>> {
        password_setups::table
            .filter(password_setups::user_id.eq(user_id))
            .filter(password_setups::used_at.is_null())
            .filter(password_setups::replaced_at.is_null())
            .filter(password_setups::expires_at.gt(now))
            .order(password_setups::created_at.desc())
            .limit(1)
            .select(PasswordSetup::as_select())
            .load(conn)
            .map(|mut v| v.pop())
    }

    /// Forgets links that expired before `cutoff`.
    pub fn purge_expired_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(password_setups::table.filter(password_setups::expires_at.lt(cutoff))).execute(conn)
    }
}
