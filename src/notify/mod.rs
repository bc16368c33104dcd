//! The delivery worker inside `serve` (SPEC 13): it claims the outbox's due messages and
//! sends them — emails over SMTP, webhooks signed per the Standard Webhooks
//! specification — and runs the scheduler that enqueues expiry reminders, `token.expired`
//! events and weekly digests.
//!
//! Guarantees, with the outbox (`services::notifications`): a message exists once its
//! change is committed, and stays until it is delivered or has failed for a day; a
//! database, SMTP or endpoint outage only delays it. Instances sharing one PostgreSQL
//! database claim messages with `FOR UPDATE SKIP LOCKED` and a lease, so each message is
//! sent by one of them; the claims of an instance that died are taken again when their
//! lease runs out (that message may then arrive twice, with the same id). On SQLite the
//! claim is a write transaction: one process at a time delivers.

pub mod mail;
pub mod webhook;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::Settings;
use crate::db::{self, DbPool};
use crate::domain::notification::next_attempt;
use crate::domain::now;
use crate::models::notification::{EMAIL, Outcome, WEBHOOK, state};
use crate::models::{Notification, WebhookEndpoint};
use crate::services::Error;
use crate::services::notifications::{self, Mail};

/// Messages claimed at once.
const BATCH: i64 = 20;
/// How long a claim holds: longer than any delivery takes (their timeouts are 15 s).
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// How long delivered messages are kept for the admin page's log.
const KEEP_DAYS: i64 = 30;

/// The worker: what it needs to deliver, and its pace.
pub struct Notifier {
    pool: DbPool,
    server_key: Vec<u8>,
    mailer: mail::Mailer,
    webhooks: webhook::Sender,
    /// This process, as its claims name it.
    instance: String,
    poll: Duration,
    schedule_every: Duration,
    retry_base: chrono::Duration,
}

impl Notifier {
    /// Checks the settings (an SMTP URL that does not parse fails the start, not the
    /// first email); `public_url` is where links in emails lead.
    pub fn new(pool: DbPool, settings: &Settings, public_url: url::Url) -> anyhow::Result<Notifier> {
        let args = &settings.serve.notify;
        Ok(Notifier {
            pool,
            server_key: settings.session_key.clone(),
            mailer: mail::Mailer::new(args.smtp_url.as_deref(), args.mail_from.as_deref(), public_url)?
                .send_within(Duration::from_millis(args.notify_send_timeout_ms)),
            webhooks: webhook::Sender::new(args.outbound_reach(), args.webhook_proxy()?.as_ref())
                .context("could not build the webhook client")?,
            instance: crate::domain::token_secret::random_base62(12),
            poll: Duration::from_millis(args.notify_poll_ms),
            schedule_every: Duration::from_millis(args.notify_schedule_ms),
            retry_base: chrono::Duration::milliseconds(
                i64::try_from(args.notify_retry_ms).unwrap_or(i64::MAX),
            ),
        })
    }

    /// The worker's loop, for the server's runtime (which stops it with the server).
    pub async fn run(self) {
        let me = Arc::new(self);
        let mut next_schedule = Instant::now();
        let mut next_purge = Instant::now();
        loop {
            if Instant::now() >= next_schedule {
                me.schedule().await;
                next_schedule = Instant::now() + me.schedule_every;
            }
            if Instant::now() >= next_purge {
                me.purge().await;
                next_purge = Instant::now() + Duration::from_secs(3600);
            }
            // A full batch: there may be more waiting.
            while me.clone().deliver_due().await == BATCH as usize {}
            actix_web::rt::time::sleep(me.poll).await;
        }
    }

    /// One pass of the scheduler.
    async fn schedule(&self) {
        let result = db::run_within(&self.pool, db::LONG_WORK_WITHIN, |conn| -> Result<_, Error> {
            let at = now();
            let expiry = notifications::schedule_expiry(conn, at)?;
            let digests = notifications::schedule_digests(conn, at)?;
            Ok((expiry, digests))
        })
        .await;
        match result {
            Ok((expiry, digests)) if expiry.marked > 0 || digests > 0 => tracing::info!(
                tokens = expiry.marked,
                reminders = expiry.reminders,
                expired_events = expiry.expired_events,
                digests,
                "notifications scheduled"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the notification scheduler could not run; it tries again"),
        }
    }

    async fn purge(&self) {
        let before = now() - chrono::Duration::days(KEEP_DAYS);
        if let Err(e) = db::run_within(&self.pool, db::LONG_WORK_WITHIN, move |conn| {
            Ok::<_, Error>(Notification::purge_before(conn, before)?)
        })
        .await
        {
            tracing::debug!(error = %e, "old notifications not purged yet");
        }
    }

    /// Claims the due messages and delivers them, each on a task of its own (a slow
    /// endpoint does not hold up the others). Returns how many were claimed.
    async fn deliver_due(self: Arc<Self>) -> usize {
        let (at, me) = (now(), self.instance.clone());
        let claimed = db::run_within(&self.pool, db::LONG_WORK_WITHIN, move |conn| -> Result<_, Error> {
            if !Notification::any_due(conn, at)? {
                return Ok(Vec::new());
            }
            Ok(Notification::claim(conn, at, at + LEASE, &me, BATCH)?)
        })
        .await;
        let claimed = match claimed {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "no notifications claimed: the database is unavailable");
                return 0;
            }
        };
        let n = claimed.len();
        let tasks: Vec<_> =
            claimed.into_iter().map(|m| actix_web::rt::spawn(self.clone().deliver(m))).collect();
        for task in tasks {
            let _ = task.await;
        }
        n
    }

    /// Delivers one claimed message and records how it went.
    async fn deliver(self: Arc<Self>, message: Notification) {
        let outcome = match message.channel.as_str() {
            EMAIL => self.send_email(&message).await,
            WEBHOOK => self.send_webhook(&message).await,
            other => give_up(format!("unknown channel {other}")),
        };
        match outcome.state {
            state::SENT | state::LOGGED | state::CANCELLED => tracing::debug!(
                id = message.id,
                channel = %message.channel,
                event = %message.event,
                state = outcome.state,
                "notification delivered"
            ),
            _ => tracing::warn!(
                id = message.id,
                channel = %message.channel,
                event = %message.event,
                attempts = message.attempts + 1,
                error = outcome.error.as_deref().unwrap_or_default(),
                state = outcome.state,
                "notification not delivered"
            ),
        }
        // The result must be written, or the message is sent again when its lease is up:
        // through a database outage, keep trying for as long as the lease lasts.
        let lease_left = message.claimed_until.map_or(LEASE, |until| until - now());
        for wait in recording_waits(lease_left) {
            actix_web::rt::time::sleep(wait).await;
            let (id, me, outcome) = (message.id, self.instance.clone(), outcome.clone());
            let recorded = db::run_within(&self.pool, db::LONG_WORK_WITHIN, move |conn| {
                Ok::<_, Error>(Notification::finish(conn, id, &me, &outcome, now())?)
            })
            .await;
            match recorded {
                Ok(_) => return,
                Err(e) => tracing::debug!(error = %e, id, "the delivery's result is not recorded yet"),
            }
        }
        tracing::warn!(id = message.id, "a delivery's result could not be recorded: it will be sent again");
    }

    /// After a failed attempt: again later, or failed for good once the day is up.
    fn retry(&self, message: &Notification, error: String, status: Option<i32>) -> Outcome {
        match next_attempt(message.attempts + 1, self.retry_base, now(), message.give_up_at) {
            Some(at) => Outcome {
                state: state::PENDING,
                next_attempt_at: Some(at),
                attempted: true,
                error: Some(error),
                status,
            },
            None => Outcome {
                state: state::FAILED,
                next_attempt_at: None,
                attempted: true,
                error: Some(error),
                status,
            },
        }
    }

    async fn send_email(&self, message: &Notification) -> Outcome {
        let mail: Mail = match serde_json::from_str(&message.payload) {
            Ok(m) => m,
            Err(e) => return give_up(format!("the message cannot be read: {e}")),
        };
        if matches!(mail, Mail::Expiring { .. }) {
            let (m, facts) = (message.clone(), mail.clone());
            match db::run_within(&self.pool, db::LONG_WORK_WITHIN, move |conn| {
                notifications::reminder_still_holds(conn, &m, &facts)
            })
            .await
            {
                Ok(true) => {}
                Ok(false) => {
                    return Outcome {
                        state: state::CANCELLED,
                        next_attempt_at: None,
                        attempted: false,
                        error: Some("no longer true: the token was revoked or its expiry changed, or reminders were turned off".into()),
                        status: None,
                    };
                }
                Err(e) => return self.retry(message, format!("could not check the token: {e}"), None),
            }
        }
        match self.mailer.send(message, &mail).await {
            Ok(mail::Sent::Delivered) => Outcome {
                state: state::SENT,
                next_attempt_at: None,
                attempted: true,
                error: None,
                status: None,
            },
            Ok(mail::Sent::Logged) => Outcome {
                state: state::LOGGED,
                next_attempt_at: None,
                attempted: false,
                error: None,
                status: None,
            },
            Err(mail::SendError { message: error, permanent: true, .. }) => give_up(error),
            Err(mail::SendError { message: error, status, .. }) => self.retry(message, error, status),
        }
    }

    async fn send_webhook(&self, message: &Notification) -> Outcome {
        let Some(endpoint_id) = message.endpoint_id else {
            return give_up("a webhook without an endpoint".into());
        };
        let endpoint = db::run_within(&self.pool, db::LONG_WORK_WITHIN, move |conn| {
            Ok::<_, Error>(WebhookEndpoint::find(conn, endpoint_id)?)
        })
        .await;
        let endpoint = match endpoint {
            Ok(e) => e,
            Err(Error::NotFound) => {
                return Outcome {
                    state: state::CANCELLED,
                    next_attempt_at: None,
                    attempted: false,
                    error: Some("the endpoint was removed".into()),
                    status: None,
                };
            }
            Err(e) => return self.retry(message, format!("could not read the endpoint: {e}"), None),
        };
        let Some(secret) = notifications::open_secret(&self.server_key, &endpoint.secret_sealed) else {
            return self.retry(
                message,
                "the signing secret cannot be opened (was the session key changed?): rotate this endpoint's secret"
                    .into(),
                None,
            );
        };
        match self.webhooks.post(&endpoint.url, &secret, &message.message_id, &message.payload).await {
            Ok(status) => Outcome {
                state: state::SENT,
                next_attempt_at: None,
                attempted: true,
                error: None,
                status: Some(status),
            },
            Err(webhook::PostError { message: error, status }) => self.retry(message, error, status),
        }
    }
}

/// When to try writing a delivery's result, as waits before each try: at once, then
/// sooner than later (a blip), then every two seconds — each try may also find the pool
/// marked down by another's and be refused without reaching the database — until the
/// claim's lease is nearly up (10 s before: after it, another instance may send the message
/// again, and this one's result is no longer taken).
fn recording_waits(lease_left: chrono::Duration) -> Vec<Duration> {
    let budget = (lease_left - chrono::Duration::seconds(10)).to_std().unwrap_or_default();
    let mut waits = vec![Duration::ZERO];
    let mut spent = Duration::ZERO;
    for next in [200, 500, 1000].into_iter().chain(std::iter::repeat(2000)).map(Duration::from_millis) {
        if spent + next > budget {
            break;
        }
        spent += next;
        waits.push(next);
    }
    waits
}

/// A message that can never be delivered as it is: failed at once (an administrator may
/// still resend it, say after an upgrade).
fn give_up(error: String) -> Outcome {
    Outcome {
        state: state::FAILED,
        next_attempt_at: None,
        attempted: false,
        error: Some(error),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found in review: a result that could not be written within 14 s (a PostgreSQL blip
    /// that killed the pooled connections, each try then refused while the pool was marked
    /// down) was given up, and the message went out twice once its lease ran out.
    #[test]
    fn a_result_is_tried_until_the_lease_is_nearly_up() {
        let waits = recording_waits(LEASE);
        let total: Duration = waits.iter().sum();
        assert_eq!(waits[0], Duration::ZERO, "at once first");
        assert!(total > Duration::from_secs(100) && total <= Duration::from_secs(110), "{total:?}");
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(2)), "never long between tries");
        // A lease nearly gone: one try; one already gone (a slow send): still one.
        assert_eq!(recording_waits(chrono::Duration::seconds(5)), [Duration::ZERO]);
        assert_eq!(recording_waits(chrono::Duration::seconds(-30)), [Duration::ZERO]);
    }
}
