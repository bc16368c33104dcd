//! The dashboard's figures (SPEC 5) at any number of tokens: read from tallies that the
//! database keeps in the same transaction as every change (triggers of migration
//! 2026-12-03-000010; on PostgreSQL once a statement since 2026-12-06-000020), corrected exactly for the part of a day that a tally by day cannot
//! tell. Counting the tokens themselves costs about 80 ns a token on SQLite — half a
//! second at a million; these reads cost a few small queries whatever the count.
//!
//! - `token_tallies`: tokens per expiry day (`9999-12-31`: never), owner's roles, pending.
//! - `token_activity_tallies`: tokens that were unexpired at the last sweep, per day of
//!   their last use (or creation, if never used). [`sweep`] takes out the ones that have
//!   expired since; it runs every minute with the server's housekeeping.
//! - `token_weekly_activity`: tokens created and revoked per week.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    access_tokens, tally_sweep, token_activity_tallies, token_tallies, token_weekly_activity,
};
use crate::domain::owner_roles::{OwnerFilter, OwnerRoles};

use super::access_token::{PENDING, coalesce};

/// The tally's day for tokens that never expire.
pub fn never() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

fn start_of(day: NaiveDate) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN)
}

/// Tokens counted by their owner's roles and whether they are pending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(Vec<(OwnerRoles, bool, i64)>);

impl Counts {
    fn add(&mut self, owner: OwnerRoles, pending: bool, n: i64) {
        match self.0.iter_mut().find(|(o, p, _)| *o == owner && *p == pending) {
            Some(entry) => entry.2 += n,
            None => self.0.push((owner, pending, n)),
        }
    }

    fn merge(mut self, other: &Counts) -> Counts {
        for (o, p, n) in &other.0 {
            self.add(*o, *p, *n);
        }
        self
    }

    /// Tokens not pending (they work), of owners the filter admits.
    pub fn working(&self, owners: OwnerFilter) -> i64 {
        self.0.iter().filter(|(o, p, _)| !p && owners.admits(*o)).map(|(_, _, n)| n).sum()
    }

    /// Every token counted, pending or not.
    pub fn all(&self) -> i64 {
        self.0.iter().map(|(_, _, n)| n).sum()
    }

    /// Pending tokens (waiting for their owner to activate them).
    pub fn pending(&self) -> i64 {
        self.0.iter().filter(|(_, p, _)| *p).map(|(_, _, n)| n).sum()
    }
}

/// The rows of the tally from `from` on (a few thousand at most: days × roles).
struct Tally(Vec<(NaiveDate, i32, bool, i64)>);

impl Tally {
    fn load(conn: &mut DbConnection, from: NaiveDate) -> QueryResult<Tally> {
        let rows = token_tallies::table
            .filter(token_tallies::expires_on.ge(from))
            .filter(token_tallies::n.ne(0))
            .select((
                token_tallies::expires_on,
                token_tallies::owner_roles,
                token_tallies::pending,
                token_tallies::n,
            ))
            .load(conn)?;
        Ok(Tally(rows))
    }

    /// Tokens whose expiry day is in `days`.
    fn days(&self, days: impl std::ops::RangeBounds<NaiveDate>) -> Counts {
        let mut counts = Counts::default();
        for (day, owner, pending, n) in &self.0 {
            if days.contains(day) {
                counts.add(OwnerRoles(*owner), *pending, *n);
            }
        }
        counts
    }
}

/// Tokens expiring in `after < expires_at < before`, counted one by one: a part of one
/// day at most, so a small index range.
fn exact(conn: &mut DbConnection, after: NaiveDateTime, before: NaiveDateTime) -> QueryResult<Counts> {
    let rows: Vec<(i32, String, i64)> = access_tokens::table
        .filter(access_tokens::expires_at.gt(after))
        .filter(access_tokens::expires_at.lt(before))
        .group_by((access_tokens::owner_roles, access_tokens::workflow_state))
        .select((access_tokens::owner_roles, access_tokens::workflow_state, count_star()))
        .load(conn)?;
    Ok(counts_of(rows))
}

fn counts_of(rows: Vec<(i32, String, i64)>) -> Counts {
    let mut counts = Counts::default();
    for (owner, state, n) in rows {
        counts.add(OwnerRoles(owner), state == PENDING, n);
    }
    counts
}

/// What the dashboard shows of the account's tokens, as of `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFigures {
    /// Unexpired tokens, by owner's roles and pending.
    pub live: Counts,
    /// Tokens without expiry.
    pub never_expiring: Counts,
    /// Unexpired tokens expiring within 7, 30, 90 and 365 days.
    pub within: [(i64, Counts); 4],
    /// Expired tokens (still listed until someone deletes them).
    pub expired: Counts,
    /// Unexpired tokens not used (or, if never used, created) since before this day.
    pub unused_since: NaiveDate,
    pub unused: i64,
    /// Tokens created and revoked per week (the Monday), oldest first, the last 12 weeks.
    pub weeks: Vec<(NaiveDate, i64, i64)>,
}

/// The window of the dashboard's "unused" figure: 90 days.
pub const UNUSED_DAYS: i64 = 90;
/// The expiry horizons of the dashboard, in days.
pub const HORIZONS: [i64; 4] = [7, 30, 90, 365];
/// How many weeks the activity chart shows.
pub const WEEKS: i64 = 12;

/// The first day of "unused for `days` days" as the views count it: no use since before
/// the start of the day `days` ago.
pub fn unused_since(now: NaiveDateTime, days: i64) -> NaiveDate {
    (now - Duration::days(days)).date()
}

/// The Monday of `day`'s week.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

impl TokenFigures {
    /// Unexpired tokens (pending ones too) expiring within `days` of the horizons.
    pub fn expiring_within(&self, days: i64) -> i64 {
        self.within.iter().find(|(d, _)| *d == days).map_or(0, |(_, c)| c.all())
    }

    /// A handful of small queries, whatever the number of tokens, all read from one
    /// snapshot: a sweep or a token written between two of them would otherwise be in
    /// some figures and not in others. (SQLite's read transaction is a snapshot already;
    /// PostgreSQL's needs repeatable read.)
    pub fn load(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<TokenFigures> {
        conn.transaction(|conn| {
            if let DbConnection::Pg(pg) = conn {
                diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(pg)?;
            }
            Self::read(conn, now)
        })
    }

    fn read(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<TokenFigures> {
        let today = now.date();
        let tomorrow = today.succ_opt().unwrap_or(today);
        let tally = Tally::load(conn, today)?;
        // The rest of today, exactly: tally days start tomorrow.
        let rest_of_today = exact(conn, now, start_of(tomorrow))?;
        let never_expiring = tally.days(never()..=never());
        let live = tally.days(tomorrow..never()).merge(&rest_of_today).merge(&never_expiring);

        let mut within: [(i64, Counts); 4] = Default::default();
        for (slot, days) in within.iter_mut().zip(HORIZONS) {
            let end = now + Duration::days(days);
            // Today's rest, the whole days between, and the last day up to `end` exactly.
            let last_day = exact_from(conn, start_of(end.date()), end)?;
            *slot = (days, tally.days(tomorrow..end.date()).merge(&rest_of_today).merge(&last_day));
        }

        let expired_today = exact_from(conn, start_of(today), now)?;
        let expired = expired_before(conn, today)?.merge(&expired_today);

        let since = unused_since(now, UNUSED_DAYS);
        let unused = unused_count(conn, now, since)?;
        let first_week = week_of(today) - Duration::weeks(WEEKS - 1);
        let rows: Vec<(NaiveDate, i64, i64)> = token_weekly_activity::table
            .filter(token_weekly_activity::week_of.ge(first_week))
            .select((
                token_weekly_activity::week_of,
                token_weekly_activity::created,
                token_weekly_activity::revoked,
            ))
            .load(conn)?;
        let weeks = (0..WEEKS)
            .map(|i| {
                let week = first_week + Duration::weeks(i);
                let (created, revoked) =
                    rows.iter().find(|(w, _, _)| *w == week).map_or((0, 0), |(_, c, r)| (*c, *r));
                (week, created, revoked)
            })
            .collect();
        Ok(TokenFigures { live, never_expiring, within, expired, unused_since: since, unused, weeks })
    }
}

/// Tokens expiring in `from <= expires_at <= until`.
fn exact_from(conn: &mut DbConnection, from: NaiveDateTime, until: NaiveDateTime) -> QueryResult<Counts> {
    let rows: Vec<(i32, String, i64)> = access_tokens::table
        .filter(access_tokens::expires_at.ge(from))
        .filter(access_tokens::expires_at.le(until))
        .group_by((access_tokens::owner_roles, access_tokens::workflow_state))
        .select((access_tokens::owner_roles, access_tokens::workflow_state, count_star()))
        .load(conn)?;
    Ok(counts_of(rows))
}

/// Tokens whose expiry day is before `day` (all of them expired).
fn expired_before(conn: &mut DbConnection, day: NaiveDate) -> QueryResult<Counts> {
    let rows: Vec<(i32, bool, i64)> = token_tallies::table
        .filter(token_tallies::expires_on.lt(day))
        .filter(token_tallies::n.ne(0))
        .select((token_tallies::owner_roles, token_tallies::pending, token_tallies::n))
        .load(conn)?;
    let mut counts = Counts::default();
    for (owner, pending, n) in rows {
        counts.add(OwnerRoles(owner), pending, n);
    }
    Ok(counts)
}

/// Unexpired tokens with no use (or creation) since before `since`: the activity tally,
/// less the tokens that expired after its last sweep.
fn unused_count(conn: &mut DbConnection, now: NaiveDateTime, since: NaiveDate) -> QueryResult<i64> {
    let tallied: Vec<i64> = token_activity_tallies::table
        .filter(token_activity_tallies::active_on.lt(since))
        .select(token_activity_tallies::n)
        .load(conn)?;
    let mark: NaiveDateTime = tally_sweep::table.find(1).select(tally_sweep::swept_to).get_result(conn)?;
    let expired_since_sweep: i64 = access_tokens::table
        .filter(access_tokens::expires_at.gt(mark))
        .filter(access_tokens::expires_at.le(now))
        .filter(coalesce(access_tokens::last_used_at, access_tokens::created_at).lt(start_of(since)))
        .count()
        .get_result(conn)?;
    Ok(tallied.iter().sum::<i64>() - expired_since_sweep)
}

/// Takes the tokens that expired since the last sweep out of the activity tally, then marks
/// them lapsed (migration 2026-12-04-000011). The tally is one write transaction; on
/// PostgreSQL the sweep's row lock orders it with the triggers. The marking is a transaction
/// of its own, after: a write to a token locks its row and then, in its trigger, the sweep's
/// row, so a sweep that held the sweep's row while it marked tokens could deadlock with a
/// revocation of one of them. Until the marking commits (or if the process stops before it),
/// those tokens stay in the indexes of live tokens, which costs a walk a row and is never wrong.
pub fn sweep(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    let swept = crate::db::write_transaction(conn, |conn| -> QueryResult<Option<(NaiveDateTime, usize)>> {
        let mark: NaiveDateTime = match conn {
            // SQLite: the write transaction holds the database's one write lock already.
            DbConnection::Sqlite(c) => {
                tally_sweep::table.find(1).select(tally_sweep::swept_to).get_result(c)?
            }
            DbConnection::Pg(c) => {
                tally_sweep::table.find(1).select(tally_sweep::swept_to).for_update().get_result(c)?
            }
        };
        if mark >= now {
            return Ok(None);
        }
        let days: Vec<(NaiveDate, i64)> = expired_between(conn, mark, now)?;
        for (day, n) in &days {
            diesel::update(token_activity_tallies::table.find(day))
                .set(token_activity_tallies::n.eq(token_activity_tallies::n - n))
                .execute(conn)?;
        }
        diesel::update(tally_sweep::table.find(1)).set(tally_sweep::swept_to.eq(now)).execute(conn)?;
        Ok(Some((mark, days.len())))
    })?;
    let Some((mark, days)) = swept else { return Ok(0) };
    // Out of the activity indexes: "unused for N days" walks live tokens only.
    crate::db::write_transaction(conn, |conn| -> QueryResult<usize> {
        diesel::update(
            access_tokens::table
                .filter(access_tokens::expires_at.gt(mark))
                .filter(access_tokens::expires_at.le(now)),
        )
        .set(access_tokens::lapsed.eq(true))
        .execute(conn)
    })?;
    Ok(days)
}

#[derive(QueryableByName)]
struct DayCount {
    #[diesel(sql_type = diesel::sql_types::Date)]
    day: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Tokens with `after < expires_at <= until`, by the day of their last use (or creation).
fn expired_between(
    conn: &mut DbConnection,
    after: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDate, i64)>> {
    use diesel::sql_types::Timestamp;
    let rows: Vec<DayCount> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT date(coalesce(last_used_at, created_at)) AS day, count(*) AS n FROM access_tokens \
             WHERE expires_at > ? AND expires_at <= ? GROUP BY 1",
        )
        .bind::<Timestamp, _>(after)
        .bind::<Timestamp, _>(until)
        .load(c)?,
        DbConnection::Pg(c) => diesel::sql_query(
            "SELECT (coalesce(last_used_at, created_at))::date AS day, count(*) AS n FROM access_tokens \
             WHERE expires_at > $1 AND expires_at <= $2 GROUP BY 1",
        )
        .bind::<Timestamp, _>(after)
        .bind::<Timestamp, _>(until)
        .load(c)?,
    };
    Ok(rows.into_iter().map(|r| (r.day, r.n)).collect())
}

/// The owners' roles that hold at least one token: the views query each on its own.
pub fn owner_roles_in_use(conn: &mut DbConnection) -> QueryResult<Vec<OwnerRoles>> {
    let masks: Vec<i32> = token_tallies::table
        .filter(token_tallies::n.gt(0))
        .select(token_tallies::owner_roles)
        .distinct()
        .load(conn)?;
    Ok(masks.into_iter().map(OwnerRoles).collect())
}
