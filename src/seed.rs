//! `tokenwarden seed`: bulk demo or benchmark data — a realistic mix of roles, purposes,
//! expiries and usage — written in large batches inside transactions, so that a million
//! tokens take seconds, not minutes.

use std::fmt;
use std::time::Instant;

use chrono::{Duration, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::schema::{access_tokens, tally_sweep, user_account_roles, user_roles, users};
use crate::db::{DbConnection, on_backend};
use crate::domain::owner_roles::OwnerRoles;
use crate::domain::token::SCOPE_CATALOGUE;
use crate::domain::token_secret::{TokenSecret, random_base62};
use crate::domain::{EnrollmentRole, now};

const PURPOSES: &[&str] = &[
    "Grade export to the district SIS",
    "Canvas course sync script",
    "Attendance dashboard",
    "Assignment reminder bot",
    "Jupyter notebook for the data science course",
    "Command-line tool for submissions",
    "Personal calendar feed",
    "Library reading list integration",
    "Rubric import tool",
    "Lab automation for CS101",
    "Mobile app prototype",
    "Accessibility checker",
];

/// The built-in Account Admin role (migration 2026-11-23-000001).
const ACCOUNT_ADMIN_ROLE_ID: i64 = 1;

/// Rows per INSERT: 2,000 × 12 columns stays under SQLite's and PostgreSQL's parameter limits.
const BATCH: usize = 2_000;
/// Rows per transaction.
const PER_TRANSACTION: usize = 50_000;

#[derive(Insertable)]
#[diesel(table_name = users)]
struct SeedUser {
    login: String,
    name: String,
    email: String,
    password_hash: String,
    state: &'static str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = access_tokens, treat_none_as_default_value = false)]
struct SeedToken {
    user_id: i64,
    real_user_id: Option<i64>,
    purpose: &'static str,
    scopes: String,
    digest: String,
    hint: String,
    workflow_state: &'static str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    last_used_at: Option<NaiveDateTime>,
    owner_roles: i32,
    /// Expired by the tallies' last sweep (the database would mark it so itself).
    lapsed: bool,
}

pub struct SeedReport {
    pub users: usize,
    pub tokens: usize,
    /// Audit events written for them.
    pub events: usize,
    pub password: String,
    pub seconds: f64,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeded {} users and {} tokens ({} audit events) in {:.1} s; every seeded user's password is: {}",
            self.users, self.tokens, self.events, self.seconds, self.password
        )
    }
}

/// A small deterministic generator (xorshift) for the mix; secrets still come from the OS.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Seeds `user_count` users with `tokens_per_user` tokens each; with `history`, the audit
/// log has each seeded token's creation, as if the app had written it.
pub fn run(
    conn: &mut DbConnection,
    user_count: u32,
    tokens_per_user: u32,
    history: bool,
) -> anyhow::Result<SeedReport> {
    let started = Instant::now();
    if let DbConnection::Sqlite(c) = &mut *conn {
        // The digest index takes random inserts: keep its pages in memory while seeding.
        c.batch_execute("PRAGMA cache_size = -524288; PRAGMA temp_store = MEMORY;")?;
    }
    let password = random_base62(16);
    let password_hash = crate::auth::password::hash(&password)?;
    let tag = random_base62(4).to_lowercase();
    let now = now();
    let mut mix = Mix(0x9E37_79B9_7F4A_7C15 ^ u64::from(user_count) ^ (now.and_utc().timestamp() as u64));

    // Users and their roles.
    let mut roles_of: Vec<Vec<EnrollmentRole>> = Vec::with_capacity(user_count as usize);
    // One in two hundred is also an Account Admin (staff who oversee the tokens).
    let mut admins: Vec<bool> = Vec::with_capacity(user_count as usize);
    let mut new_users = Vec::with_capacity(user_count as usize);
    for i in 0..user_count {
        let roles = match mix.below(100) {
            0..=69 => vec![EnrollmentRole::Student],
            70..=84 => vec![EnrollmentRole::Teacher],
            85..=91 => vec![EnrollmentRole::Student, EnrollmentRole::Ta],
            92..=95 => vec![EnrollmentRole::Designer],
            _ => vec![EnrollmentRole::Observer],
        };
        let kind = roles.last().map_or("user", |r| r.key());
        let login = format!("{kind}{i:06}-{tag}");
        new_users.push(SeedUser {
            name: format!("{} {i} ({tag})", roles[roles.len() - 1].label()),
            email: format!("{login}@example.edu"),
            login,
            password_hash: password_hash.clone(),
            state: "active",
            created_at: now,
            updated_at: now,
        });
        roles_of.push(roles);
        admins.push(mix.below(200) == 0);
    }
    for chunk in new_users.chunks(PER_TRANSACTION) {
        on_backend!(&mut *conn, |c| c.transaction(|c| {
            for batch in chunk.chunks(BATCH) {
                diesel::insert_into(users::table).values(batch).execute(c)?;
            }
            diesel::QueryResult::Ok(())
        }))?;
    }
    let pattern = format!("%-{tag}");
    let ids: Vec<(i64, String)> =
        users::table.filter(users::login.like(&pattern)).select((users::id, users::login)).load(conn)?;
    let id_of: std::collections::HashMap<String, i64> = ids.into_iter().map(|(id, l)| (l, id)).collect();
    let user_ids: Vec<i64> = new_users.iter().map(|u| id_of[&u.login]).collect();
    let role_rows: Vec<_> = user_ids
        .iter()
        .zip(&roles_of)
        .flat_map(|(id, roles)| {
            roles.iter().map(move |r| (user_roles::user_id.eq(*id), user_roles::role.eq(r.key())))
        })
        .collect();
    for chunk in role_rows.chunks(PER_TRANSACTION) {
        on_backend!(&mut *conn, |c| c.transaction(|c| {
            for batch in chunk.chunks(BATCH) {
                diesel::insert_into(user_roles::table).values(batch).execute(c)?;
            }
            diesel::QueryResult::Ok(())
        }))?;
    }

    let admin_rows: Vec<_> = user_ids
        .iter()
        .zip(&admins)
        .filter(|(_, admin)| **admin)
        .map(|(id, _)| {
            (
                user_account_roles::user_id.eq(*id),
                user_account_roles::account_role_id.eq(ACCOUNT_ADMIN_ROLE_ID),
            )
        })
        .collect();
    on_backend!(&mut *conn, |c| c.transaction(|c| {
        for batch in admin_rows.chunks(BATCH) {
            diesel::insert_into(user_account_roles::table).values(batch).execute(c)?;
        }
        diesel::QueryResult::Ok(())
    }))?;
    let on_behalf_of = user_ids.iter().zip(&admins).find(|(_, admin)| **admin).map(|(id, _)| *id);

    // Tokens, generated and written one transaction's worth at a time.
    let swept_to: NaiveDateTime =
        on_backend!(&mut *conn, |c| tally_sweep::table.find(1).select(tally_sweep::swept_to).get_result(c))?;
    let total = user_ids.len() * tokens_per_user as usize;
    let mut write_tokens = |conn: &mut DbConnection| -> anyhow::Result<usize> {
        let mut pending: Vec<SeedToken> = Vec::with_capacity(PER_TRANSACTION.min(total));
        let mut written = 0usize;
        for (idx, user_id) in user_ids.iter().enumerate() {
            let student_only = roles_of[idx] == [EnrollmentRole::Student];
            let owner_roles = OwnerRoles::of(&roles_of[idx], admins[idx]).0;
            for _ in 0..tokens_per_user {
                let token = seed_token(&mut mix, *user_id, student_only, on_behalf_of, now);
                let lapsed = token.expires_at.is_some_and(|at| at <= swept_to);
                pending.push(SeedToken { owner_roles, lapsed, ..token });
                if pending.len() == PER_TRANSACTION {
                    written += flush(conn, &mut pending)?;
                }
            }
        }
        written += flush(conn, &mut pending)?;
        Ok(written)
    };
    let tokens_before: i64 = access_tokens::table.count().get_result(conn)?;
    let last_before: Option<i64> =
        access_tokens::table.select(diesel::dsl::max(access_tokens::id)).get_result(conn)?;
    let written = if tokens_before == 0 && matches!(conn, DbConnection::Sqlite(_)) {
        // Into an empty table, one transaction: the secondary indexes are dropped, the rows
        // written, and the indexes built again from them — a sort each, several times
        // faster than updating them row by row, most in random order. Nobody sees the
        // table without them, and a seed that fails leaves them as they were.
        // Not on PostgreSQL: there each statement's tally trigger updates the same tally
        // rows, and in one transaction each update walks every earlier version of its row.
        conn.transaction(|conn| {
            let indexes = secondary_indexes(conn)?;
            for index in &indexes {
                conn.batch_execute(&format!("DROP INDEX {}", index.name))?;
            }
            let written = write_tokens(conn)?;
            for index in &indexes {
                conn.batch_execute(&index.definition)?;
            }
            anyhow::Ok(written)
        })?
    } else {
        write_tokens(conn)?
    };
    // The audit log the app would have written: each token's creation at its time, by the
    // administrator who made it on the owner's behalf or by the owner, in time order.
    let events = if history {
        conn.batch_execute(&format!(
            "INSERT INTO audit_events (occurred_at, actor_id, subject_user_id, token_id, action, details) \
             SELECT created_at, COALESCE(real_user_id, user_id), user_id, id, 'token.created', \
                    'purpose \"' || purpose || '\"; seeded' \
             FROM access_tokens WHERE id > {} ORDER BY created_at, id",
            last_before.unwrap_or(0)
        ))?;
        written
    } else {
        0
    };
    // Fresh statistics for PostgreSQL's planner: without them it guesses row counts for a
    // table that just grew by a million rows and picks slow plans until autovacuum runs;
    // and a visibility map, without which no count is read from an index alone.
    // Not on SQLite: its bundled build keeps STAT4 samples, and with those it prepares a
    // statement again whenever a bound value changes — every token lookup, three times
    // slower — while every query here is planned well from the indexes alone.
    // The tallies are compacted first: the seed's statements of thousands of tokens each
    // updated the same tally rows, and PostgreSQL kept each earlier version until now
    // (after a million tokens, their tens of rows took megabytes, read by every dashboard).
    // Grown one change at a time, as the app grows them, they stay compact.
    if let DbConnection::Pg(c) = &mut *conn {
        c.batch_execute("VACUUM FULL token_tallies, token_activity_tallies, token_weekly_activity")?;
        c.batch_execute("VACUUM ANALYZE")?;
    }
    Ok(SeedReport {
        users: user_ids.len(),
        tokens: written,
        events,
        password,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One token: one in a hundred made by an administrator on the owner's behalf and still
/// waiting for them to activate it.
fn seed_token(
    mix: &mut Mix,
    user_id: i64,
    student_only: bool,
    on_behalf_of: Option<i64>,
    now: NaiveDateTime,
) -> SeedToken {
    let secret = TokenSecret::generate();
    let age_days = mix.below(400) as i64;
    let created_at = now - Duration::days(age_days) - Duration::minutes(mix.below(1440) as i64);
    let expires_at = if student_only {
        Some(created_at + Duration::days([7, 30, 60, 90, 120][mix.below(5) as usize]))
    } else {
        match mix.below(10) {
            0..=3 => None,
            4..=6 => Some(created_at + Duration::days(365)),
            _ => Some(created_at + Duration::days([30, 90][mix.below(2) as usize])),
        }
    };
    // A use happened between the token's creation and now, and not after it expired.
    let latest_use = expires_at.map_or(now, |at| at.min(now));
    let last_used_at = match mix.below(4) {
        0 => None,
        _ => {
            let span = (latest_use - created_at).num_minutes().max(1);
            Some(created_at + Duration::minutes(mix.below(span as u64) as i64))
        }
    };
    let scopes = if mix.below(3) == 0 {
        SCOPE_CATALOGUE[mix.below(SCOPE_CATALOGUE.len() as u64) as usize].scope.to_owned()
    } else {
        String::new()
    };
    let by_admin = on_behalf_of.filter(|_| mix.below(100) == 0);
    SeedToken {
        user_id,
        real_user_id: by_admin,
        purpose: PURPOSES[mix.below(PURPOSES.len() as u64) as usize],
        scopes,
        digest: secret.digest().as_str().to_owned(),
        hint: secret.hint(),
        workflow_state: if by_admin.is_some() { "pending" } else { "active" },
        created_at,
        updated_at: created_at,
        expires_at,
        // A pending token authenticates nothing, so it has never been used.
        last_used_at: last_used_at.filter(|_| by_admin.is_none()),
        owner_roles: 0,
        lapsed: false,
    }
}

/// An index of `access_tokens` that its migrations created, with the statement that
/// creates it (SQLite: the indexes it made itself, for primary and unique keys, have none).
#[derive(QueryableByName)]
struct SecondaryIndex {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    definition: String,
}

fn secondary_indexes(conn: &mut DbConnection) -> QueryResult<Vec<SecondaryIndex>> {
    diesel::sql_query(
        "SELECT name, sql AS definition FROM sqlite_master \
         WHERE type = 'index' AND tbl_name = 'access_tokens' AND sql IS NOT NULL",
    )
    .load(conn)
}

fn flush(conn: &mut DbConnection, rows: &mut Vec<SeedToken>) -> anyhow::Result<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    on_backend!(&mut *conn, |c| c.transaction(|c| {
        for batch in rows.chunks(BATCH) {
            diesel::insert_into(access_tokens::table).values(batch).execute(c)?;
        }
        diesel::QueryResult::Ok(())
    }))?;
    let n = rows.len();
    rows.clear();
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found in review: some seeded pending tokens showed a last use, which a token that
    /// authenticates nothing cannot have.
    #[test]
    fn a_seeded_pending_token_was_never_used_and_others_were_used_within_their_life() {
        let now = now();
        let mut mix = Mix(0x2545_F491_4F6C_DD1D);
        let tokens: Vec<SeedToken> =
            (0..5_000).map(|_| seed_token(&mut mix, 7, false, Some(1), now)).collect();
        let pending: Vec<_> = tokens.iter().filter(|t| t.workflow_state == "pending").collect();
        assert!(!pending.is_empty(), "one in a hundred is made on the owner's behalf");
        assert!(pending.iter().all(|t| t.last_used_at.is_none() && t.real_user_id == Some(1)));
        assert!(tokens.iter().any(|t| t.last_used_at.is_some()), "active ones have been used");
        for t in tokens.iter().filter(|t| t.workflow_state == "active") {
            assert_eq!(t.real_user_id, None);
            if let Some(used) = t.last_used_at {
                assert!(t.created_at <= used && used <= now && t.expires_at.is_none_or(|e| used <= e));
            }
        }
    }
}
