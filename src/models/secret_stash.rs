use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::secret_stashes;
use crate::db::{DbConnection, on_backend};

/// A sealed secret waiting for the page view that shows it (see `services::stash`).
pub struct SecretStash;

impl SecretStash {
    pub fn put(
        conn: &mut DbConnection,
        session_digest: &str,
        page: &str,
        sealed: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::insert_into(secret_stashes::table)
            .values((
                secret_stashes::session_digest.eq(session_digest),
                secret_stashes::page.eq(page),
                secret_stashes::sealed.eq(sealed),
                secret_stashes::created_at.eq(now),
            ))
            .execute(conn)
    }

    /// Takes (deletes and returns) what waits for this session on this page, if it was put
    /// there after `since`: one statement, so two page views cannot both take it.
    pub fn take(
        conn: &mut DbConnection,
        session_digest: &str,
        page: &str,
        since: NaiveDateTime,
    ) -> QueryResult<Vec<String>> {
        let taken = diesel::delete(
            secret_stashes::table
                .filter(secret_stashes::session_digest.eq(session_digest))
                .filter(secret_stashes::page.eq(page)),
        )
        .returning((secret_stashes::sealed, secret_stashes::created_at));
        let rows: Vec<(String, NaiveDateTime)> = on_backend!(conn, |c| taken.get_results(c))?;
        Ok(rows.into_iter().filter(|(_, at)| *at >= since).map(|(sealed, _)| sealed).collect())
    }

    /// Forgets what nobody came back for.
    pub fn purge_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(secret_stashes::table.filter(secret_stashes::created_at.lt(before))).execute(conn)
    }
}
