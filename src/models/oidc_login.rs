use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{oidc_logins, users};
use crate::db::{DbConnection, on_backend};
use crate::models::User;

/// A sign-in with the identity provider under way (see `services::sso`): the state's
/// digest and what the callback needs, sealed.
pub struct OidcLogin;

impl OidcLogin {
    pub fn put(
        conn: &mut DbConnection,
        state_digest: &str,
        sealed: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::insert_into(oidc_logins::table)
            .values((
                oidc_logins::state_digest.eq(state_digest),
                oidc_logins::sealed.eq(sealed),
                oidc_logins::created_at.eq(now),
            ))
            .execute(conn)
    }

    /// Takes (deletes and returns) the sign-in with this state if it began after `since`:
    /// one statement, so two callbacks with the same state cannot both have it.
    pub fn take(
        conn: &mut DbConnection,
        state_digest: &str,
        since: NaiveDateTime,
    ) -> QueryResult<Option<String>> {
        let taken = diesel::delete(oidc_logins::table.filter(oidc_logins::state_digest.eq(state_digest)))
            .returning((oidc_logins::sealed, oidc_logins::created_at));
        let row: Option<(String, NaiveDateTime)> = on_backend!(conn, |c| taken.get_result(c).optional())?;
        Ok(row.filter(|(_, at)| *at >= since).map(|(sealed, _)| sealed))
    }

    /// Forgets sign-ins that never came back.
    pub fn purge_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(oidc_logins::table.filter(oidc_logins::created_at.lt(before))).execute(conn)
    }
}

impl User {
    /// The user the identity provider knows as `subject` (`issuer|sub`).
    pub fn find_by_oidc_subject(conn: &mut DbConnection, subject: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(users::oidc_subject.eq(subject))
            .select(User::as_select())
            .get_result(conn)
            .optional()
    }

    /// Ties a user to the identity provider's account `subject`.
    pub fn link_oidc_subject(conn: &mut DbConnection, user_id: i64, subject: &str) -> QueryResult<usize> {
        diesel::update(users::table.find(user_id))
            .set((users::oidc_subject.eq(subject), users::updated_at.eq(crate::domain::now())))
            .execute(conn)
    }

    /// Sets the name and email the institution's systems give.
    pub fn set_name_and_email(
        conn: &mut DbConnection,
        user_id: i64,
        name: &str,
        email: &str,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(user_id))
            .set((users::name.eq(name), users::email.eq(email), users::updated_at.eq(crate::domain::now())))
            .execute(conn)
    }
}
