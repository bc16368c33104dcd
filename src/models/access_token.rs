use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::user::join_roles;
use super::{AccountRole, User, UserRoles};
use crate::db::schema::{access_tokens, user_roles, users};
use crate::db::{DbConnection, on_backend};
use crate::domain::token::{Scopes, TokenStatus};
use crate::domain::token_secret::TokenDigest;

pub const ACTIVE: &str = "active";
pub const PENDING: &str = "pending";

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Associations, PartialEq, Eq)]
#[diesel(table_name = access_tokens, belongs_to(User))]
pub struct AccessToken {
    pub id: i64,
    pub user_id: i64,
    pub real_user_id: Option<i64>,
    pub purpose: String,
    pub scopes: String,
    pub digest: String,
    pub hint: String,
    pub workflow_state: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = access_tokens)]
pub struct NewAccessToken<'a> {
    pub user_id: i64,
    pub real_user_id: Option<i64>,
    pub purpose: &'a str,
    pub scopes: String,
    pub digest: &'a str,
    pub hint: &'a str,
    pub workflow_state: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

impl AccessToken {
    pub fn scope_set(&self) -> Scopes {
        Scopes::from_stored(&self.scopes)
    }

    pub fn is_pending(&self) -> bool {
        self.workflow_state == PENDING
    }

    pub fn is_expired(&self, now: NaiveDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    pub fn status(&self, now: NaiveDateTime) -> TokenStatus {
        TokenStatus::of(self.is_pending(), self.expires_at, now)
    }

    /// Inserts a token and reads it back by its (unique) digest.
    pub fn insert(conn: &mut DbConnection, new: &NewAccessToken<'_>) -> QueryResult<AccessToken> {
        diesel::insert_into(access_tokens::table).values(new).execute(conn)?;
        access_tokens::table
            .filter(access_tokens::digest.eq(new.digest))
            .select(AccessToken::as_select())
            .get_result(conn)
    }

    /// A user's tokens, newest first.
    pub fn list_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<AccessToken>> {
        on_backend!(conn, |c| access_tokens::table
            .filter(access_tokens::user_id.eq(user_id))
            .order(access_tokens::id.desc())
            .select(AccessToken::as_select())
            .load(c))
    }

    /// One page of a user's tokens in id order: oldest first (the API's list), or newest
    /// first (the profile page).
    pub fn page_for_user(
        conn: &mut DbConnection,
        user_id: i64,
        newest_first: bool,
        offset: i64,
        limit: i64,
    ) -> QueryResult<Vec<AccessToken>> {
        let query = access_tokens::table.filter(access_tokens::user_id.eq(user_id)).into_boxed();
        let query = if newest_first {
            query.order(access_tokens::id.desc())
        } else {
            query.order(access_tokens::id.asc())
        };
        query.offset(offset).limit(limit).select(AccessToken::as_select()).load(conn)
    }

    pub fn count_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
        access_tokens::table.filter(access_tokens::user_id.eq(user_id)).count().get_result(conn)
    }

    /// "This token of this user": someone else's token id is not found.
    pub fn find_for_user(conn: &mut DbConnection, user_id: i64, id: i64) -> QueryResult<AccessToken> {
        access_tokens::table
            .filter(access_tokens::user_id.eq(user_id))
            .find(id)
            .select(AccessToken::as_select())
            .get_result(conn)
    }

    /// A user's tokens with this hint (Canvas lets clients address tokens so): two at most,
    /// enough to tell a hint that names one token from one that two tokens share.
    pub fn find_for_user_by_hint(
        conn: &mut DbConnection,
        user_id: i64,
        hint: &str,
    ) -> QueryResult<Vec<AccessToken>> {
        access_tokens::table
            .filter(access_tokens::user_id.eq(user_id))
            .filter(access_tokens::hint.eq(hint))
            .order(access_tokens::id.desc())
            .limit(2)
            .select(AccessToken::as_select())
            .load(conn)
    }

    /// The token behind a presented secret, with its owner and the owner's roles: one
    /// statement on the digest's unique index (one row per pair of roles the owner holds).
    pub fn find_by_digest_with_owner(
        conn: &mut DbConnection,
        digest: &TokenDigest,
    ) -> QueryResult<Option<(AccessToken, User, UserRoles)>> {
        let rows: Vec<(AccessToken, User, Option<String>, Option<AccountRole>)> = on_backend!(conn, |c| {
            join_roles!(access_tokens::table.inner_join(users::table))
                .filter(access_tokens::digest.eq(digest.as_str()))
                .select((
                    AccessToken::as_select(),
                    User::as_select(),
                    user_roles::role.nullable(),
                    Option::<AccountRole>::as_select(),
                ))
                .load(c)
        })?;
        Ok(UserRoles::fold_rows(rows))
    }

    pub fn update_details(
        conn: &mut DbConnection,
        id: i64,
        purpose: &str,
        scopes: &Scopes,
        expires_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(access_tokens::table.find(id))
            .set((
                access_tokens::purpose.eq(purpose),
                access_tokens::scopes.eq(scopes.to_stored()),
                access_tokens::expires_at.eq(expires_at),
                access_tokens::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Replaces the secret (digest and hint) and sets the state (`pending` when someone
    /// other than the owner regenerated it).
    pub fn replace_secret(
        conn: &mut DbConnection,
        id: i64,
        digest: &TokenDigest,
        hint: &str,
        workflow_state: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(access_tokens::table.find(id))
            .set((
                access_tokens::digest.eq(digest.as_str()),
                access_tokens::hint.eq(hint),
                access_tokens::workflow_state.eq(workflow_state),
                access_tokens::updated_at.eq(now),
            ))
            .execute(conn)
    }

    pub fn activate(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(access_tokens::table.find(id).filter(access_tokens::workflow_state.eq(PENDING)))
            .set((access_tokens::workflow_state.eq(ACTIVE), access_tokens::updated_at.eq(now)))
            .execute(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(access_tokens::table.find(id)).execute(conn)
    }

    pub fn delete_all_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<usize> {
        diesel::delete(access_tokens::table.filter(access_tokens::user_id.eq(user_id))).execute(conn)
    }

    /// Records a use, unless one was recorded since `stale_before` (so busy tokens do not
    /// turn every read into a write).
    pub fn touch_last_used(
        conn: &mut DbConnection,
        id: i64,
        now: NaiveDateTime,
        stale_before: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            access_tokens::table.find(id).filter(
                access_tokens::last_used_at.is_null().or(access_tokens::last_used_at.lt(stale_before)),
            ),
        )
        .set(access_tokens::last_used_at.eq(now))
        .execute(conn)
    }
}

/// A page of the account-wide list: tokens with their owners, and where the next page starts.
pub type AdminTokenPage = (Vec<(AccessToken, User)>, Option<i64>);

/// Which tokens the account-wide list shows (SPEC 5, `/admin/tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFilter {
    #[default]
    All,
    /// Tokens without an expiry.
    NoExpiry,
    /// Tokens expiring within the given days (not yet expired).
    ExpiringWithin(i64),
    /// Tokens not used for the given days (never-used tokens older than that included).
    UnusedFor(i64),
    /// Tokens never used at all.
    NeverUsed,
    /// Tokens already expired.
    Expired,
}

/// Whose tokens: by the owner's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerFilter {
    #[default]
    Anyone,
    StudentOnly,
    Enrollment(crate::domain::EnrollmentRole),
    /// Holders of any account role.
    AccountRole,
}

impl AccessToken {
    /// One page of every token in the account, newest first, with its owner; keyset on id.
    pub fn admin_page(
        conn: &mut DbConnection,
        filter: TokenFilter,
        owner: OwnerFilter,
        before: Option<i64>,
        now: NaiveDateTime,
        per_page: i64,
    ) -> QueryResult<AdminTokenPage> {
        use crate::db::schema::{user_account_roles, user_roles};
        use chrono::Duration;
        use diesel::dsl::{exists, not};

        let mut q = access_tokens::table.inner_join(users::table).into_boxed();
        if let Some(before) = before {
            q = q.filter(access_tokens::id.lt(before));
        }
        q = match filter {
            TokenFilter::All => q,
            TokenFilter::NoExpiry => q.filter(access_tokens::expires_at.is_null()),
            TokenFilter::ExpiringWithin(days) => q
                .filter(access_tokens::expires_at.gt(now))
                .filter(access_tokens::expires_at.le(now + Duration::days(days))),
            TokenFilter::UnusedFor(days) => {
                let cutoff = now - Duration::days(days);
                q.filter(
                    access_tokens::last_used_at
                        .lt(cutoff)
                        .or(access_tokens::last_used_at.is_null().and(access_tokens::created_at.lt(cutoff))),
                )
            }
            TokenFilter::NeverUsed => q.filter(access_tokens::last_used_at.is_null()),
            TokenFilter::Expired => q.filter(access_tokens::expires_at.le(now)),
        };
        let roles_of_owner = || user_roles::table.filter(user_roles::user_id.eq(access_tokens::user_id));
        let account_roles_of_owner =
            || user_account_roles::table.filter(user_account_roles::user_id.eq(access_tokens::user_id));
        q = match owner {
            OwnerFilter::Anyone => q,
            OwnerFilter::StudentOnly => q
                .filter(exists(roles_of_owner().filter(user_roles::role.eq("student"))))
                .filter(not(exists(roles_of_owner().filter(user_roles::role.ne("student")))))
                .filter(not(exists(account_roles_of_owner()))),
            OwnerFilter::Enrollment(role) => {
                q.filter(exists(roles_of_owner().filter(user_roles::role.eq(role.key()))))
            }
            OwnerFilter::AccountRole => q.filter(exists(account_roles_of_owner())),
        };
        let mut rows: Vec<(AccessToken, User)> = q
            .order(access_tokens::id.desc())
            .limit(per_page + 1)
            .select((AccessToken::as_select(), User::as_select()))
            .load(conn)?;
        let next_before = if rows.len() as i64 > per_page {
            rows.truncate(per_page as usize);
            rows.last().map(|(t, _)| t.id)
        } else {
            None
        };
        Ok((rows, next_before))
    }

    /// The retroactive cap (SPEC 4.3) for these users: every token without an expiry or
    /// expiring after `limit` now expires at `limit`. Returns the owner of each changed
    /// token. One statement per 500 users, whatever their number: the upgrade applies it
    /// to every student-only user at once.
    pub fn cap_expiry(
        conn: &mut DbConnection,
        user_ids: &[i64],
        limit: NaiveDateTime,
    ) -> QueryResult<Vec<i64>> {
        let now = crate::domain::now();
        let mut owners = Vec::new();
        for chunk in user_ids.chunks(500) {
            let capped = diesel::update(
                access_tokens::table
                    .filter(access_tokens::user_id.eq_any(chunk))
                    .filter(access_tokens::expires_at.is_null().or(access_tokens::expires_at.gt(limit))),
            )
            .set((access_tokens::expires_at.eq(limit), access_tokens::updated_at.eq(now)))
            .returning(access_tokens::user_id);
            owners.extend(on_backend!(conn, |c| capped.get_results::<i64>(c))?);
        }
        Ok(owners)
    }
}
