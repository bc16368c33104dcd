//! The outbox (`notifications`), webhook endpoints, the expiry lines already acted on
//! (`token_reminders`) and people's notification choices.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{AccessToken, UserCard};
use crate::db::schema::{
    access_tokens, notification_preferences, notifications, token_reminders, users, webhook_endpoints,
};
use crate::db::{DbConnection, on_backend};

pub const EMAIL: &str = "email";
pub const WEBHOOK: &str = "webhook";

/// A message's state in the outbox.
pub mod state {
    /// Waiting for its next attempt (or being delivered right now, while claimed).
    pub const PENDING: &str = "pending";
    /// Delivered: the SMTP server took it, or the endpoint answered 2xx.
    pub const SENT: &str = "sent";
    /// No SMTP server is configured: written to the log instead (recipient and subject).
    pub const LOGGED: &str = "logged";
    /// Tried for a day without success; an administrator may resend it.
    pub const FAILED: &str = "failed";
    /// No longer true when its turn came (a reminder for a token revoked since).
    pub const CANCELLED: &str = "cancelled";
}

/// One message of the outbox.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, PartialEq, Eq)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: i64,
    pub message_id: String,
    pub channel: String,
    pub event: String,
    pub endpoint_id: Option<i64>,
    pub user_id: Option<i64>,
    pub recipient: String,
    pub token_id: Option<i64>,
    pub payload: String,
    pub dedupe_key: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub resends: i32,
    pub next_attempt_at: NaiveDateTime,
    pub give_up_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub claimed_by: Option<String>,
    pub last_error: Option<String>,
    pub last_status: Option<i32>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = notifications)]
pub struct NewNotification {
    pub message_id: String,
    pub channel: &'static str,
    pub event: String,
    pub endpoint_id: Option<i64>,
    pub user_id: Option<i64>,
    pub recipient: String,
    pub token_id: Option<i64>,
    pub payload: String,
    pub dedupe_key: Option<String>,
    pub state: &'static str,
    pub next_attempt_at: NaiveDateTime,
    pub give_up_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// How an attempt ended, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `sent`, `logged`, `failed`, `cancelled`, or `pending` again (with `next_attempt_at`).
    pub state: &'static str,
    pub next_attempt_at: Option<NaiveDateTime>,
    /// Whether a delivery was tried (counted in `attempts`).
    pub attempted: bool,
    pub error: Option<String>,
    pub status: Option<i32>,
}

impl Notification {
    pub fn insert(conn: &mut DbConnection, new: &[NewNotification]) -> QueryResult<usize> {
        // One statement per row: the two-backend connection has no multi-row insert.
        let mut n = 0;
        for row in new {
            n += diesel::insert_into(notifications::table).values(row).execute(conn)?;
        }
        Ok(n)
    }

    /// Inserts a message unless one with its `dedupe_key` exists; whether it was inserted.
    pub fn insert_once(conn: &mut DbConnection, new: &NewNotification) -> QueryResult<bool> {
        let n = on_backend!(conn, |c| diesel::insert_into(notifications::table)
            .values(new)
            .on_conflict(notifications::dedupe_key)
            .do_nothing()
            .execute(c))?;
        Ok(n == 1)
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Notification> {
        notifications::table.find(id).select(Notification::as_select()).get_result(conn)
    }

    /// Which of these dedupe keys are taken.
    pub fn taken_keys(conn: &mut DbConnection, keys: &[String]) -> QueryResult<Vec<String>> {
        let taken: Vec<Option<String>> = notifications::table
            .filter(notifications::dedupe_key.eq_any(keys))
            .select(notifications::dedupe_key)
            .load(conn)?;
        Ok(taken.into_iter().flatten().collect())
    }

    /// Whether any message is due (a read: the claim, a write, only follows when one is).
    pub fn any_due(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
        use diesel::dsl::{exists, select};
        on_backend!(conn, |c| select(exists(
            notifications::table
                .filter(notifications::state.eq(state::PENDING))
                .filter(notifications::next_attempt_at.le(now))
                .filter(notifications::claimed_until.is_null().or(notifications::claimed_until.lt(now)))
        ))
        .get_result(c))
    }

    /// Claims up to `limit` due messages for `me` until `lease_until`, and returns them.
    /// Due: pending, its time come, not claimed by a live lease, and (a webhook) for an
    /// endpoint that is enabled. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`
    /// while they are claimed, so instances sharing the database never claim the same
    /// message; on SQLite the claim is one write transaction, which the database
    /// serialises.
    pub fn claim(
        conn: &mut DbConnection,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        me: &str,
        limit: i64,
    ) -> QueryResult<Vec<Notification>> {
        macro_rules! due {
            () => {
                notifications::table
                    .filter(notifications::state.eq(state::PENDING))
                    .filter(notifications::next_attempt_at.le(now))
                    .filter(notifications::claimed_until.is_null().or(notifications::claimed_until.lt(now)))
                    .filter(
                        notifications::endpoint_id.is_null().or(notifications::endpoint_id
                            .nullable()
                            .eq_any(
                                webhook_endpoints::table
                                    .filter(webhook_endpoints::enabled.eq(true))
                                    .select(webhook_endpoints::id.nullable()),
                            )),
                    )
                    .order(notifications::next_attempt_at.asc())
                    .limit(limit)
                    .select(notifications::id)
            };
        }
        let mark = |ids: &[i64]| {
            diesel::update(notifications::table.filter(notifications::id.eq_any(ids.to_vec())))
                .set((notifications::claimed_until.eq(lease_until), notifications::claimed_by.eq(me)))
        };
        macro_rules! load {
            ($ids:expr) => {
                notifications::table
                    .filter(notifications::id.eq_any($ids.to_vec()))
                    .order(notifications::next_attempt_at.asc())
                    .select(Notification::as_select())
            };
        }
        match conn {
            DbConnection::Pg(c) => c.transaction(|c| {
                let ids: Vec<i64> = due!().for_update().skip_locked().load(c)?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                mark(&ids).execute(c)?;
                load!(&ids).load(c)
            }),
            DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
                let ids: Vec<i64> = due!().load(c)?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                mark(&ids).execute(c)?;
                load!(&ids).load(c)
            }),
        }
    }

    /// Records how an attempt by `me` ended and lets the claim go. Nothing happens if the
    /// lease was lost meanwhile (another instance has the message now).
    pub fn finish(
        conn: &mut DbConnection,
        id: i64,
        me: &str,
        outcome: &Outcome,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let mine = notifications::table.find(id).filter(notifications::claimed_by.eq(me));
        let attempts = if outcome.attempted { 1 } else { 0 };
        diesel::update(mine)
            .set((
                notifications::state.eq(outcome.state),
                notifications::attempts.eq(notifications::attempts + attempts),
                notifications::next_attempt_at.eq(outcome.next_attempt_at.unwrap_or(now)),
                notifications::claimed_until.eq(None::<NaiveDateTime>),
                notifications::claimed_by.eq(None::<String>),
                notifications::last_error.eq(outcome.error.clone()),
                notifications::last_status.eq(outcome.status),
                notifications::sent_at
                    .eq(matches!(outcome.state, state::SENT | state::LOGGED).then_some(now)),
            ))
            .execute(conn)
    }

    /// Sends a message again: pending from now, tried for another day. Not one that is
    /// pending already.
    pub fn resend(
        conn: &mut DbConnection,
        id: i64,
        now: NaiveDateTime,
        give_up_at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(notifications::table.find(id).filter(notifications::state.ne(state::PENDING)))
            .set((
                notifications::state.eq(state::PENDING),
                notifications::resends.eq(notifications::resends + 1),
                notifications::next_attempt_at.eq(now),
                notifications::give_up_at.eq(give_up_at),
                notifications::claimed_until.eq(None::<NaiveDateTime>),
                notifications::claimed_by.eq(None::<String>),
            ))
            .execute(conn)
    }

    /// The most recent messages of a channel, newest first, with their endpoint's URL.
    pub fn recent(
        conn: &mut DbConnection,
        channel: &str,
        limit: i64,
    ) -> QueryResult<Vec<(Notification, Option<String>)>> {
        notifications::table
            .left_join(webhook_endpoints::table)
            .filter(notifications::channel.eq(channel))
            .order(notifications::id.desc())
            .limit(limit)
            .select((Notification::as_select(), webhook_endpoints::url.nullable()))
            .load(conn)
    }

    /// Forgets messages delivered (or given up) before `before`; pending ones stay.
    pub fn purge_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(
            notifications::table
                .filter(notifications::state.ne(state::PENDING))
                .filter(notifications::created_at.lt(before)),
        )
        .execute(conn)
    }
}

/// Where webhooks go.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, PartialEq, Eq)]
#[diesel(table_name = webhook_endpoints)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: String,
    pub enabled: bool,
    pub secret_sealed: String,
    pub secret_hint: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct NewWebhookEndpoint<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub events: String,
    pub enabled: bool,
    pub secret_sealed: &'a str,
    pub secret_hint: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl WebhookEndpoint {
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<WebhookEndpoint>> {
        webhook_endpoints::table.order(webhook_endpoints::id).select(WebhookEndpoint::as_select()).load(conn)
    }

    pub fn enabled(conn: &mut DbConnection) -> QueryResult<Vec<WebhookEndpoint>> {
        on_backend!(conn, |c| webhook_endpoints::table
            .filter(webhook_endpoints::enabled.eq(true))
            .order(webhook_endpoints::id)
            .select(WebhookEndpoint::as_select())
            .load(c))
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<WebhookEndpoint> {
        webhook_endpoints::table.find(id).select(WebhookEndpoint::as_select()).get_result(conn)
    }

    pub fn insert(conn: &mut DbConnection, new: &NewWebhookEndpoint<'_>) -> QueryResult<WebhookEndpoint> {
        on_backend!(conn, |c| diesel::insert_into(webhook_endpoints::table)
            .values(new)
            .returning(WebhookEndpoint::as_returning())
            .get_result(c))
    }

    pub fn update(
        conn: &mut DbConnection,
        id: i64,
        url: &str,
        description: &str,
        events: &str,
        enabled: bool,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::url.eq(url),
                webhook_endpoints::description.eq(description),
                webhook_endpoints::events.eq(events),
                webhook_endpoints::enabled.eq(enabled),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)
    }

    pub fn set_secret(
        conn: &mut DbConnection,
        id: i64,
        sealed: &str,
        hint: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::secret_sealed.eq(sealed),
                webhook_endpoints::secret_hint.eq(hint),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Removes an endpoint and every message still meant for it.
    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(notifications::table.filter(notifications::endpoint_id.eq(id))).execute(conn)?;
        diesel::delete(webhook_endpoints::table.find(id)).execute(conn)
    }
}

/// What a person chose; [`Preferences::default`] when they chose nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    pub expiry_reminders: bool,
    pub weekly_digest: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences { expiry_reminders: true, weekly_digest: false }
    }
}

impl Preferences {
    pub fn load(conn: &mut DbConnection, user_id: i64) -> QueryResult<Preferences> {
        Ok(notification_preferences::table
            .find(user_id)
            .select((notification_preferences::expiry_reminders, notification_preferences::weekly_digest))
            .get_result::<(bool, bool)>(conn)
            .optional()?
            .map_or_else(Preferences::default, |(expiry_reminders, weekly_digest)| Preferences {
                expiry_reminders,
                weekly_digest,
            }))
    }

    /// The choices of several people (the defaults for those who made none).
    pub fn of_many(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<HashMap<i64, Preferences>> {
        let rows: Vec<(i64, bool, bool)> = notification_preferences::table
            .filter(notification_preferences::user_id.eq_any(ids))
            .select((
                notification_preferences::user_id,
                notification_preferences::expiry_reminders,
                notification_preferences::weekly_digest,
            ))
            .load(conn)?;
        let mut out: HashMap<i64, Preferences> = ids.iter().map(|id| (*id, Preferences::default())).collect();
        for (id, expiry_reminders, weekly_digest) in rows {
            out.insert(id, Preferences { expiry_reminders, weekly_digest });
        }
        Ok(out)
    }

    pub fn save(self, conn: &mut DbConnection, user_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
        let row = (
            notification_preferences::user_id.eq(user_id),
            notification_preferences::expiry_reminders.eq(self.expiry_reminders),
            notification_preferences::weekly_digest.eq(self.weekly_digest),
            notification_preferences::updated_at.eq(now),
        );
        on_backend!(conn, |c| diesel::insert_into(notification_preferences::table)
            .values(row)
            .on_conflict(notification_preferences::user_id)
            .do_update()
            .set((
                notification_preferences::expiry_reminders.eq(self.expiry_reminders),
                notification_preferences::weekly_digest.eq(self.weekly_digest),
                notification_preferences::updated_at.eq(now),
            ))
            .execute(c))
    }

    /// The people who asked for the weekly digest.
    pub fn digest_subscribers(conn: &mut DbConnection) -> QueryResult<Vec<i64>> {
        notification_preferences::table
            .filter(notification_preferences::weekly_digest.eq(true))
            .select(notification_preferences::user_id)
            .load(conn)
    }
}

/// The expiry lines already acted on (see `domain::notification::Threshold`).
pub struct TokenReminder;

impl TokenReminder {
    /// Tokens whose expiry is in `(after, until]` and that have no mark of `threshold` for
    /// that expiry, with their owners; at most `limit`, soonest first.
    pub fn unmarked(
        conn: &mut DbConnection,
        threshold: &str,
        after: NaiveDateTime,
        until: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<(AccessToken, UserCard)>> {
        use diesel::dsl::{exists, not};
        let marked = token_reminders::table
            .filter(token_reminders::token_id.eq(access_tokens::id))
            .filter(token_reminders::threshold.eq(threshold))
            .filter(access_tokens::expires_at.eq(token_reminders::expires_at.nullable()));
        access_tokens::table
            .inner_join(users::table)
            .filter(access_tokens::expires_at.gt(after))
            .filter(access_tokens::expires_at.le(until))
            .filter(not(exists(marked)))
            .order(access_tokens::expires_at.asc())
            .limit(limit)
            .select((AccessToken::as_select(), UserCard::as_select()))
            .load(conn)
    }

    /// Marks that `token_id` crossed `threshold` for this expiry; `true` if this call did
    /// (and so acts on it), `false` if someone already had.
    pub fn mark(
        conn: &mut DbConnection,
        token_id: i64,
        threshold: &str,
        expires_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let row = (
            token_reminders::token_id.eq(token_id),
            token_reminders::threshold.eq(threshold),
            token_reminders::expires_at.eq(expires_at),
            token_reminders::created_at.eq(now),
        );
        let n = on_backend!(conn, |c| diesel::insert_into(token_reminders::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(n == 1)
    }
}

/// The account's tokens in figures, as the dashboard shows them (the weekly digest keeps
/// them in its message).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DigestFigures {
    /// Working now: active, not expired.
    pub active: i64,
    /// Without an expiry.
    pub without_expiry: i64,
    pub expiring_within_7_days: i64,
    pub expiring_within_30_days: i64,
    /// Created (or regenerated) on someone's behalf and not yet activated.
    pub pending: i64,
    /// Unexpired, and not used (never used: not created) for 90 days.
    pub unused_90_days: i64,
}

impl DigestFigures {
    /// From the dashboard's tallies: a few small queries at any number of tokens.
    pub fn count(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<DigestFigures> {
        use crate::domain::owner_roles::OwnerFilter;
        let f = super::token_tally::TokenFigures::load(conn, now)?;
        Ok(DigestFigures {
            active: f.live.working(OwnerFilter::Anyone),
            without_expiry: f.never_expiring.all(),
            expiring_within_7_days: f.expiring_within(7),
            expiring_within_30_days: f.expiring_within(30),
            pending: f.live.pending(),
            unused_90_days: f.unused,
        })
    }
}
