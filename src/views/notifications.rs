//! Webhook endpoints and the outbox's messages as the admin page shows them.

use chrono::NaiveDateTime;

use crate::domain::notification::{Event, EventSet};
use crate::models::notification::{EMAIL, state};
use crate::models::{Notification, WebhookEndpoint};
use crate::services::notifications::describe_event;
use crate::views::address::Breakable;
use crate::views::tokens::date_time;

/// An endpoint in the list.
pub struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: String,
    pub enabled: bool,
    pub secret_hint: String,
    pub created: String,
    /// Why its URL is outside the server's reach, when its address says so (one saved
    /// before, or while its network was allowed): nothing is delivered to it.
    pub outside_reach: Option<String>,
}

impl EndpointRow {
    pub fn of(e: WebhookEndpoint, reach: &crate::domain::net::OutboundReach) -> EndpointRow {
        EndpointRow {
            outside_reach: url::Url::parse(&e.url).ok().and_then(|u| reach.refusal_for_url(&u)),
            id: e.id,
            events: EventSet::from_stored(&e.events).describe(),
            url: e.url,
            description: e.description,
            enabled: e.enabled,
            secret_hint: e.secret_hint,
            created: date_time(e.created_at),
        }
    }

    /// The URL, to wrap between its parts.
    pub fn url_html(&self) -> Breakable<'_> {
        Breakable(&self.url)
    }
}

/// A message of the outbox in the delivery log. For emails, never whom to or what it said.
pub struct MessageRow {
    pub id: i64,
    pub message_id: String,
    pub created: String,
    pub created_iso: String,
    pub event: String,
    pub what: String,
    /// The endpoint's URL (webhooks).
    pub endpoint: String,
    pub state_label: &'static str,
    pub state_badge: &'static str,
    pub attempts: i32,
    /// The last response: a status code, an error, or both.
    pub last: String,
    /// When it is tried next, while pending.
    pub next: String,
    pub can_resend: bool,
}

impl MessageRow {
    /// The endpoint's URL, to wrap between its parts.
    pub fn endpoint_html(&self) -> Breakable<'_> {
        Breakable(&self.endpoint)
    }

    pub fn of(n: Notification, endpoint: Option<String>, now: NaiveDateTime) -> MessageRow {
        let (state_label, state_badge) = match n.state.as_str() {
            state::SENT => ("Delivered", "badge-success"),
            state::LOGGED => ("Logged (no SMTP)", "badge-info"),
            state::FAILED => ("Failed", "badge-danger"),
            state::CANCELLED => ("Not sent", "badge-muted"),
            _ if n.attempts > 0 => ("Retrying", "badge-warning"),
            _ => ("Waiting", "badge-info"),
        };
        let last = match (n.last_status, n.last_error.as_deref()) {
            (Some(code), Some(error)) if !error.contains(&code.to_string()) => format!("{code}: {error}"),
            (_, Some(error)) => error.to_owned(),
            (Some(code), None) => code.to_string(),
            (None, None) => String::new(),
        };
        let can_resend = match n.state.as_str() {
            state::PENDING => false,
            _ if n.channel == EMAIL => n.state == state::FAILED,
            _ => true,
        };
        MessageRow {
            id: n.id,
            created: date_time(n.created_at),
            created_iso: crate::views::tokens::iso(n.created_at),
            what: describe_event(&n.event),
            endpoint: endpoint.unwrap_or_default(),
            state_label,
            state_badge,
            attempts: n.attempts,
            last,
            next: if n.state == state::PENDING {
                describe_wait(n.next_attempt_at, now)
            } else {
                String::new()
            },
            can_resend,
            event: n.event,
            message_id: n.message_id,
        }
    }
}

/// The events an endpoint may subscribe to, for the form's checkboxes: (key, label, ticked).
pub fn event_choices(ticked: &[String]) -> Vec<(&'static str, &'static str, bool)> {
    Event::ALL.iter().map(|e| (e.key(), e.label(), ticked.iter().any(|t| t == e.key()))).collect()
}

/// When a pending message is tried next, for people ("in 4 minutes").
pub fn describe_wait(at: NaiveDateTime, now: NaiveDateTime) -> String {
    match (at - now).num_seconds() {
        s if s <= 0 => "now".to_owned(),
        s if s < 90 => format!("in {s} seconds"),
        s if s < 90 * 60 => format!("in {} minutes", (s + 30) / 60),
        s => format!("in {} hours", (s + 1800) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_said_in_the_unit_that_reads_best() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap().and_hms_opt(10, 0, 0).unwrap();
        let after = |s: i64| describe_wait(now + chrono::Duration::seconds(s), now);
        assert_eq!(after(-5), "now");
        assert_eq!(after(30), "in 30 seconds");
        assert_eq!(after(240), "in 4 minutes");
        assert_eq!(after(7200), "in 2 hours");
    }
}
