use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::user::join_roles;
use super::{AccountRole, UserCard, UserRoles};
use crate::db::schema::{user_roles, user_sessions};
use crate::db::{DbConnection, on_backend};

/// A signed-in session, kept on the server so that it can be ended from the server.
/// The browser's (encrypted) cookie carries a random id; the table keeps only its SHA-256.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = user_sessions, primary_key(id_digest))]
pub struct UserSession {
    pub id_digest: String,
    pub user_id: i64,
    #[diesel(deserialize_as = crate::db::Time)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::Time)]
    pub last_seen_at: NaiveDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What a signed-in request reads of its session: when it began and when it was last
/// seen, for its timeouts (not the address or browser it began with, which its list shows).
#[derive(Debug, Clone, Copy, Queryable, Selectable)]
#[diesel(table_name = user_sessions)]
pub struct SessionTimes {
    #[diesel(deserialize_as = crate::db::Time)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::Time)]
    pub last_seen_at: NaiveDateTime,
}

/// The digest under which a session id is stored.
pub fn session_digest(session_id: &str) -> String {
    hex::encode(Sha256::digest(session_id.as_bytes()))
}

impl UserSession {
    /// Starts a session for a user; returns the id for the cookie (never stored).
    pub fn start(
        conn: &mut DbConnection,
        user_id: i64,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> QueryResult<String> {
        let id = crate::domain::token_secret::random_base62(43);
        let now = crate::domain::now();
        diesel::insert_into(user_sessions::table)
            .values((
                user_sessions::id_digest.eq(session_digest(&id)),
                user_sessions::user_id.eq(user_id),
                user_sessions::created_at.eq(now),
                user_sessions::last_seen_at.eq(now),
                user_sessions::ip.eq(ip),
                user_sessions::user_agent.eq(user_agent.map(|ua| ua.chars().take(255).collect::<String>())),
            ))
            .execute(conn)?;
        Ok(id)
    }

    /// The session's times, its user and the user's roles, if the session still exists:
    /// one statement, run on every signed-in request.
    pub fn find_with_user(
        conn: &mut DbConnection,
        digest: &str,
    ) -> QueryResult<Option<(SessionTimes, UserCard, UserRoles)>> {
        let rows: Vec<(SessionTimes, UserCard, Option<String>, Option<AccountRole>)> =
            on_backend!(conn, |c| {
                join_roles!(user_sessions::table.inner_join(users::table))
                    .filter(user_sessions::id_digest.eq(digest))
                    .select((
                        SessionTimes::as_select(),
                        UserCard::as_select(),
                        user_roles::role.nullable(),
                        Option::<AccountRole>::as_select(),
                    ))
                    .load(c)
            })?;
        Ok(UserRoles::fold_rows(rows))
    }

    pub fn touch(conn: &mut DbConnection, digest: &str, at: NaiveDateTime) -> QueryResult<()> {
        diesel::update(user_sessions::table.find(digest))
            .set(user_sessions::last_seen_at.eq(at))
            .execute(conn)
            .map(|_| ())
    }

    pub fn end(conn: &mut DbConnection, digest: &str) -> QueryResult<()> {
        diesel::delete(user_sessions::table.find(digest)).execute(conn).map(|_| ())
    }

    pub fn count_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
        user_sessions::table.filter(user_sessions::user_id.eq(user_id)).count().get_result(conn)
    }

    /// Ends every session of a user but the one with digest `keep`; returns how many ended.
    pub fn end_all_but(conn: &mut DbConnection, user_id: i64, keep: &str) -> QueryResult<usize> {
        diesel::delete(
            user_sessions::table
                .filter(user_sessions::user_id.eq(user_id))
                .filter(user_sessions::id_digest.ne(keep)),
        )
        .execute(conn)
    }

    /// Ends every session of a user; returns how many there were.
    pub fn end_all_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<usize> {
        diesel::delete(user_sessions::table.filter(user_sessions::user_id.eq(user_id))).execute(conn)
    }

    /// Removes sessions idle since before `idle_cutoff` or started before `absolute_cutoff`.
    pub fn purge_expired(
        conn: &mut DbConnection,
        idle_cutoff: NaiveDateTime,
        absolute_cutoff: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::delete(user_sessions::table.filter(
            user_sessions::last_seen_at.lt(idle_cutoff).or(user_sessions::created_at.lt(absolute_cutoff)),
        ))
        .execute(conn)
    }
}
