use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;

use super::user::join_roles;
use super::{AccountRole, User, UserCard, UserRoles};
use crate::db::MultiBackend;
use crate::db::schema::{access_tokens, user_roles, users};
use crate::db::{AtMostDsl, DbConnection, PlannedEachTimeDsl, on_backend};
use crate::domain::owner_roles::{OwnerFilter, OwnerRoles};
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
    #[diesel(deserialize_as = crate::db::Time)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::Time)]
    pub updated_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::MaybeTime)]
    pub expires_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = crate::db::MaybeTime)]
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
    /// The owner's roles as the views filter by them (`UserRoles::owner_roles`); the
    /// database corrects a wrong value, but a right one saves it a write.
    pub owner_roles: i32,
}

/// A token as one of the machines' doors (the API, forward auth, introspection) reads it
/// to admit a request: its state, dates and scopes. Not its purpose, digest or hint, which
/// no request needs: every column read is read on every request.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = access_tokens)]
pub struct PresentedToken {
    pub id: i64,
    pub scopes: String,
    pub workflow_state: String,
    #[diesel(deserialize_as = crate::db::Time)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::MaybeTime)]
    pub expires_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = crate::db::MaybeTime)]
    pub last_used_at: Option<NaiveDateTime>,
}

impl PresentedToken {
    pub fn scope_set(&self) -> Scopes {
        Scopes::from_stored(&self.scopes)
    }

    pub fn status(&self, now: NaiveDateTime) -> TokenStatus {
        TokenStatus::of(self.workflow_state == PENDING, self.expires_at, now)
    }

    /// The token whose secret has this digest, with its owner as the doors show them and
    /// the owner's roles as they are now: one statement on the digest's unique index (one row
    /// per pair of roles the owner holds), run on every request.
    pub fn find_with_owner(
        conn: &mut DbConnection,
        digest: &TokenDigest,
    ) -> QueryResult<Option<(PresentedToken, UserCard, UserRoles)>> {
        let rows: Vec<(PresentedToken, UserCard, Option<String>, Option<AccountRole>)> =
            on_backend!(conn, |c| {
                join_roles!(access_tokens::table.inner_join(users::table))
                    .filter(access_tokens::digest.eq(digest.as_str()))
                    .select((
                        PresentedToken::as_select(),
                        UserCard::as_select(),
                        user_roles::role.nullable(),
                        Option::<AccountRole>::as_select(),
                    ))
                    .load(c)
            })?;
        Ok(UserRoles::fold_rows(rows))
    }
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
        // A client chooses the API's page size: asked for at most the next power of two,
        // the surplus dropped here, so any page size makes one of eight statements (AtMost
        // keeps one per number), not one of a hundred.
        let limit = u32::try_from(limit.max(0)).unwrap_or(u32::MAX);
        let mut rows = query
            .select(AccessToken::as_select())
            .at_most(limit.checked_next_power_of_two().unwrap_or(limit))
            .after(offset)
            .load(conn)?;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(rows)
    }

    pub fn count_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
        access_tokens::table.filter(access_tokens::user_id.eq(user_id)).count().get_result(conn)
    }

    /// How many of the user's tokens wait, pending, for them to activate them.
    pub fn count_pending_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
        access_tokens::table
            .filter(access_tokens::user_id.eq(user_id))
            .filter(access_tokens::workflow_state.eq(PENDING))
            .count()
            .get_result(conn)
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
            .select(AccessToken::as_select())
            .at_most(2)
            .load(conn)
    }

    /// The token behind a secret, whole (a leak report names its purpose and hint, which a
    /// request does not need), and its owner's card.
    pub fn find_by_digest_with_owner(
        conn: &mut DbConnection,
        digest: &TokenDigest,
    ) -> QueryResult<Option<(AccessToken, UserCard)>> {
        access_tokens::table
            .inner_join(users::table)
            .filter(access_tokens::digest.eq(digest.as_str()))
            .select((AccessToken::as_select(), UserCard::as_select()))
            .get_result(conn)
            .optional()
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

    /// Back to pending (widened by someone other than its owner), the secret kept.
    pub fn suspend_until_activated(
        conn: &mut DbConnection,
        id: i64,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(access_tokens::table.find(id))
            .set((access_tokens::workflow_state.eq(PENDING), access_tokens::updated_at.eq(now)))
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

diesel::define_sql_function! {
    /// SQL `coalesce()` of a token's last use and its creation: when it was last active.
    /// Indexed as this very expression (migration 2026-12-03-000010).
    fn coalesce(x: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>, y: diesel::sql_types::Timestamp) -> diesel::sql_types::Timestamp;
}

/// A page of the account-wide list: tokens with their owners, and where the next page starts.
pub type AdminTokenPage = (Vec<(AccessToken, User)>, Option<Cursor>);

/// Which tokens the account-wide list shows (SPEC 5, `/admin/tokens`). Each is listed in
/// the order that answers its question: soonest to expire first, longest unused first…
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFilter {
    #[default]
    All,
    /// Tokens that work: active (not pending) and not expired.
    Active,
    /// Tokens without an expiry.
    NoExpiry,
    /// Unexpired tokens expiring after `from_days` and within `to_days` days from now.
    Expiring { from_days: i64, to_days: i64 },
    /// Unexpired tokens not used (never-used ones: not created) since before the day
    /// that many days ago.
    UnusedFor(i64),
    /// Tokens never used at all.
    NeverUsed,
    /// Unexpired tokens created on someone's behalf and not yet activated.
    Pending,
    /// Tokens already expired.
    Expired,
}

/// The order of a list, and so what its pages are keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    NewestFirst,
    SoonestToExpire,
    LatestExpired,
    LongestUnused,
}

impl TokenFilter {
    fn order(self) -> Order {
        match self {
            TokenFilter::Expiring { .. } => Order::SoonestToExpire,
            TokenFilter::Expired => Order::LatestExpired,
            TokenFilter::UnusedFor(_) => Order::LongestUnused,
            TokenFilter::All
            | TokenFilter::Active
            | TokenFilter::NoExpiry
            | TokenFilter::NeverUsed
            | TokenFilter::Pending => Order::NewestFirst,
        }
    }
}

/// Where the next page of a list starts: after this row (a token, an audit event), in the
/// list's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The token's expiry or last activity, or the event's time, for the lists in that
    /// order.
    pub at: Option<NaiveDateTime>,
    pub id: i64,
}

impl Cursor {
    /// From the `after` parameter (`<id>` or `<microseconds>~<id>`); `None` if it is not one,
    /// or if its time is outside years 1 to 9999 (no row is there, and PostgreSQL refuses
    /// a timestamp before 4714 BC).
    pub fn parse(s: &str) -> Option<Cursor> {
        match s.split_once('~') {
            None => Some(Cursor { at: None, id: s.parse().ok()? }),
            Some((micros, id)) => {
                let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
                (1..=9999).contains(&at.year()).then_some(Cursor { at: Some(at), id: id.parse().ok()? })
            }
        }
    }

    pub fn param(&self) -> String {
        match self.at {
            Some(at) => format!("{}~{}", at.and_utc().timestamp_micros(), self.id),
            None => self.id.to_string(),
        }
    }

    fn of(token: &AccessToken, order: Order) -> Cursor {
        let at = match order {
            Order::NewestFirst => None,
            Order::SoonestToExpire | Order::LatestExpired => token.expires_at,
            Order::LongestUnused => Some(token.last_used_at.unwrap_or(token.created_at)),
        };
        Cursor { at, id: token.id }
    }

    /// The list's order as a sort key (ascending).
    fn key(&self, order: Order) -> (bool, Option<NaiveDateTime>, i64) {
        match order {
            Order::NewestFirst => (false, None, -self.id),
            Order::SoonestToExpire | Order::LongestUnused => (false, self.at, self.id),
            // Descending: the negated time is not expressible, so compare reversed below.
            Order::LatestExpired => (true, self.at, self.id),
        }
    }
}

fn cmp_in(order: Order, a: &Cursor, b: &Cursor) -> std::cmp::Ordering {
    let (desc, ..) = a.key(order);
    let ordering = a.key(order).cmp(&b.key(order));
    if desc { ordering.reverse() } else { ordering }
}

type Listed = diesel::dsl::IntoBoxed<'static, access_tokens::table, MultiBackend>;

impl AccessToken {
    /// One page of every token in the account with its owner, in the filter's order, from
    /// `after`. Owners are filtered by the `owner_roles` the database keeps beside each
    /// token: the list runs once per set of roles that the filter admits and that some
    /// owner holds (a handful: the tally says which), each an index range in the list's
    /// order, and the pages are merged — never a scan of the whole table for the few
    /// tokens of administrators, never a sort of a large one.
    pub fn admin_page(
        conn: &mut DbConnection,
        filter: TokenFilter,
        owner: OwnerFilter,
        after: Option<Cursor>,
        now: NaiveDateTime,
        per_page: u32,
    ) -> QueryResult<AdminTokenPage> {
        let order = filter.order();
        let page = |roles| {
            Self::listed(filter, roles, after, now)
                .select(AccessToken::as_select())
                .at_most(per_page + 1)
                .planned_each_time()
        };
        let mut tokens: Vec<AccessToken> = if owner == OwnerFilter::Anyone {
            page(None).load(conn)?
        } else {
            let mut all = Vec::new();
            for roles in Self::owner_groups(conn, owner)? {
                all.extend(page(Some(roles)).load::<AccessToken>(conn)?);
            }
            all.sort_by(|a, b| cmp_in(order, &Cursor::of(a, order), &Cursor::of(b, order)));
            all
        };
        let next = if tokens.len() > per_page as usize {
            tokens.truncate(per_page as usize);
            tokens.last().map(|t| Cursor::of(t, order))
        } else {
            None
        };
        // The page's owners, by their ids: the list itself reads tokens alone, so that
        // its count reads no owner at all. (A token's owner cannot be missing: deleting a
        // user deletes their tokens.)
        let mut owner_ids: Vec<i64> = tokens.iter().map(|t| t.user_id).collect();
        owner_ids.sort_unstable();
        owner_ids.dedup();
        let owners: std::collections::HashMap<i64, User> = if owner_ids.is_empty() {
            Default::default()
        } else {
            let owners = users::table.filter(users::id.eq_any(&owner_ids)).select(User::as_select());
            owners.load::<User>(conn)?.into_iter().map(|u| (u.id, u)).collect()
        };
        let rows =
            tokens.into_iter().filter_map(|t| owners.get(&t.user_id).cloned().map(|o| (t, o))).collect();
        Ok((rows, next))
    }

    /// How many tokens of the whole list (every page) the filters admit, counted up to
    /// `cap`: `None` when there are more. Each owner group's count walks the list's own
    /// index range, in the list's order, and all of them stop after `cap + 1` tokens in
    /// all, so a count costs at most what that many tokens' index entries do, however
    /// many match. (In no order, PostgreSQL took the unused tokens of student-only users
    /// for spread through the table, and read 270,000 rows to count a thousand.)
    pub fn admin_count(
        conn: &mut DbConnection,
        filter: TokenFilter,
        owner: OwnerFilter,
        now: NaiveDateTime,
        cap: u32,
    ) -> QueryResult<Option<u32>> {
        let groups = match owner {
            OwnerFilter::Anyone => vec![None],
            owner => Self::owner_groups(conn, owner)?.into_iter().map(Some).collect(),
        };
        let mut counted: u32 = 0;
        for roles in groups {
            // What is left to read before the count is past `cap`: 1,001 ids in all.
            let left = cap.saturating_add(1).saturating_sub(counted);
            let ids = Self::listed(filter, roles, None, now).select(access_tokens::id);
            let found = ids.at_most(left).planned_each_time().load::<i64>(conn)?.len();
            counted = counted.saturating_add(u32::try_from(found).unwrap_or(u32::MAX));
            if counted > cap {
                return Ok(None);
            }
        }
        Ok(Some(counted))
    }

    /// The sets of roles that `owner` admits and that some owner of a token holds.
    fn owner_groups(conn: &mut DbConnection, owner: OwnerFilter) -> QueryResult<Vec<OwnerRoles>> {
        let in_use = super::token_tally::owner_roles_in_use(conn)?;
        Ok(in_use.into_iter().filter(|roles| owner.admits(*roles)).collect())
    }

    /// The list's query before its selection: the tokens of owners with these roles that
    /// the filter admits, from `after` on, in the filter's order.
    fn listed(
        filter: TokenFilter,
        roles: Option<OwnerRoles>,
        after: Option<Cursor>,
        now: NaiveDateTime,
    ) -> Listed {
        let mut q: Listed = access_tokens::table.into_boxed();
        if let Some(roles) = roles {
            q = q.filter(access_tokens::owner_roles.eq(roles.0));
        }
        q = Self::matching(q, filter, now);
        let activity = || coalesce(access_tokens::last_used_at, access_tokens::created_at);
        // Keyset: `at >= t AND (at > t OR id > i)` starts the index range at `t`.
        q = match (filter.order(), after) {
            (_, None) => q,
            (Order::NewestFirst, Some(c)) => q.filter(access_tokens::id.lt(c.id)),
            (_, Some(Cursor { at: None, .. })) => q,
            (Order::SoonestToExpire, Some(Cursor { at: Some(t), id })) => q
                .filter(access_tokens::expires_at.ge(t))
                .filter(access_tokens::expires_at.gt(t).or(access_tokens::id.gt(id))),
            (Order::LatestExpired, Some(Cursor { at: Some(t), id })) => q
                .filter(access_tokens::expires_at.le(t))
                .filter(access_tokens::expires_at.lt(t).or(access_tokens::id.lt(id))),
            (Order::LongestUnused, Some(Cursor { at: Some(t), id })) => {
                q.filter(activity().ge(t)).filter(activity().gt(t).or(access_tokens::id.gt(id)))
            }
        };
        match filter.order() {
            Order::NewestFirst => q.order(access_tokens::id.desc()),
            Order::SoonestToExpire => q.order((access_tokens::expires_at.asc(), access_tokens::id.asc())),
            Order::LatestExpired => q.order((access_tokens::expires_at.desc(), access_tokens::id.desc())),
            Order::LongestUnused => q.order((activity().asc(), access_tokens::id.asc())),
        }
    }

    /// The tokens of `q` that the filter admits.
    fn matching(q: Listed, filter: TokenFilter, now: NaiveDateTime) -> Listed {
        use chrono::Duration;
        let live = || access_tokens::expires_at.is_null().or(access_tokens::expires_at.gt(now));
        match filter {
            TokenFilter::All => q,
            TokenFilter::Active => q.filter(access_tokens::workflow_state.eq(ACTIVE)).filter(live()),
            TokenFilter::NoExpiry => q.filter(access_tokens::expires_at.is_null()),
            TokenFilter::Expiring { from_days, to_days } => q
                .filter(access_tokens::expires_at.gt(now + Duration::days(from_days)))
                .filter(access_tokens::expires_at.le(now + Duration::days(to_days))),
            TokenFilter::UnusedFor(days) => {
                let since = super::token_tally::unused_since(now, days).and_time(chrono::NaiveTime::MIN);
                // `NOT lapsed` names the indexes of live tokens' activity (it is implied by
                // `live()`, which a partial index's planner cannot tell).
                q.filter(diesel::dsl::not(access_tokens::lapsed))
                    .filter(live())
                    .filter(coalesce(access_tokens::last_used_at, access_tokens::created_at).lt(since))
            }
            TokenFilter::NeverUsed => q.filter(access_tokens::last_used_at.is_null()),
            // Written out, not bound: SQLite uses a partial index only for the very term
            // that defines it (migration 2026-12-04-000011), and pending tokens are few.
            TokenFilter::Pending => q
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "access_tokens.workflow_state = 'pending'",
                ))
                .filter(live()),
            TokenFilter::Expired => q.filter(access_tokens::expires_at.le(now)),
        }
    }

    /// How many tokens of `user_ids` [`cap_expiry`](Self::cap_expiry) would shorten to
    /// `limit`, and of how many owners.
    pub fn count_beyond(
        conn: &mut DbConnection,
        user_ids: &[i64],
        limit: NaiveDateTime,
    ) -> QueryResult<(usize, usize)> {
        let mut owners = Vec::new();
        for chunk in user_ids.chunks(500) {
            let beyond = access_tokens::table
                .filter(access_tokens::user_id.eq_any(chunk))
                .filter(access_tokens::expires_at.is_null().or(access_tokens::expires_at.gt(limit)))
                .select(access_tokens::user_id);
            owners.extend(on_backend!(conn, |c| beyond.load::<i64>(c))?);
        }
        let tokens = owners.len();
        owners.sort_unstable();
        owners.dedup();
        Ok((tokens, owners.len()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_read_back_from_its_parameter() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(9, 30, 0).unwrap();
        for cursor in [Cursor { at: None, id: 42 }, Cursor { at: Some(at), id: 7 }] {
            assert_eq!(Cursor::parse(&cursor.param()), Some(cursor));
        }
    }

    /// Found in review: a cursor from before 4714 BC made PostgreSQL refuse the query (a 500);
    /// no row is outside years 1 to 9999, so such a cursor is no cursor.
    #[test]
    fn a_cursor_outside_the_calendars_years_is_none() {
        for hostile in ["-250000000000000000~1", "253402300800000000~1", "1~x", "~", "x", ""] {
            assert_eq!(Cursor::parse(hostile), None, "{hostile}");
        }
        assert!(Cursor::parse("-62135596800000000~1").is_some(), "0001-01-01 is a time");
        assert!(Cursor::parse("253402300799000000~1").is_some(), "9999-12-31 23:59:59 is a time");
    }
}
