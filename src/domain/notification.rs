//! The rules of notifications (SPEC 13), without I/O: the webhook events and what an
//! endpoint subscribes to, an endpoint's URL, the signing secret and the Standard Webhooks
//! signature, when a failed delivery is tried again, and when a token's expiry is worth a
//! reminder.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Datelike, Duration, NaiveDateTime};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ValidationError;

/// What a webhook tells about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Event {
    TokenCreated,
    TokenUpdated,
    TokenRegenerated,
    TokenRevoked,
    TokenExpired,
    TokenLeaked,
    RolesChanged,
}

impl Event {
    pub const ALL: [Event; 7] = [
        Event::TokenCreated,
        Event::TokenUpdated,
        Event::TokenRegenerated,
        Event::TokenRevoked,
        Event::TokenExpired,
        Event::TokenLeaked,
        Event::RolesChanged,
    ];

    /// The event type as receivers see it in the body's `type`.
    pub const fn key(self) -> &'static str {
        match self {
            Event::TokenCreated => "token.created",
            Event::TokenUpdated => "token.updated",
            Event::TokenRegenerated => "token.regenerated",
            Event::TokenRevoked => "token.revoked",
            Event::TokenExpired => "token.expired",
            Event::TokenLeaked => "token.leaked",
            Event::RolesChanged => "user.roles_changed",
        }
    }

    /// What it means, for people.
    pub const fn label(self) -> &'static str {
        match self {
            Event::TokenCreated => "A token was created",
            Event::TokenUpdated => "A token's purpose, scopes or expiry changed",
            Event::TokenRegenerated => "A token got a new secret",
            Event::TokenRevoked => "A token was revoked (deleted)",
            Event::TokenExpired => "A token reached its expiry",
            Event::TokenLeaked => "A token was reported as leaked and revoked",
            Event::RolesChanged => "A user's roles changed",
        }
    }

    pub fn parse(key: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.key() == key.trim())
    }
}

/// The event of the "Send test event" button: delivered whatever the endpoint subscribes to.
pub const TEST_EVENT: &str = "webhook.test";

/// The events an endpoint subscribes to; none listed means every one (new ones included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSet(Vec<Event>);

impl EventSet {
    pub const FIELD: &'static str = "events";

    /// Event types as a form or the command line gives them; an unknown one is refused.
    pub fn parse<S: AsRef<str>>(keys: &[S]) -> Result<EventSet, ValidationError> {
        let mut events = Vec::new();
        for key in keys.iter().map(AsRef::as_ref).filter(|k| !k.trim().is_empty()) {
            let event = Event::parse(key).ok_or_else(|| {
                ValidationError::new(
                    Self::FIELD,
                    format!(
                        "“{}” is not an event. The events are: {}.",
                        key.trim(),
                        Event::ALL.map(Event::key).join(", ")
                    ),
                )
            })?;
            events.push(event);
        }
        events.sort();
        events.dedup();
        // Every event listed is the same as none listed, and stays so as events are added.
        if events.len() == Event::ALL.len() {
            events.clear();
        }
        Ok(EventSet(events))
    }

    /// As stored: space-separated keys, '' for every event. Unknown keys (from a newer
    /// version) are dropped.
    pub fn from_stored(s: &str) -> EventSet {
        let mut events: Vec<Event> = s.split_whitespace().filter_map(Event::parse).collect();
        events.sort();
        events.dedup();
        EventSet(events)
    }

    pub fn to_stored(&self) -> String {
        self.0.iter().map(|e| e.key()).collect::<Vec<_>>().join(" ")
    }

    pub fn is_every(&self) -> bool {
        self.0.is_empty()
    }

    pub fn includes(&self, e: Event) -> bool {
        self.0.is_empty() || self.0.contains(&e)
    }

    /// The events listed (empty for every event).
    pub fn listed(&self) -> &[Event] {
        &self.0
    }

    /// "every event", or "token.created, token.revoked".
    pub fn describe(&self) -> String {
        if self.0.is_empty() { "every event".to_owned() } else { self.to_stored().replace(' ', ", ") }
    }
}

/// Where an endpoint's deliveries go: an absolute http or https URL, without user name or
/// password (they would show on the admin page and in logs; receivers authenticate a
/// delivery by its signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub const FIELD: &'static str = "url";

    pub fn parse(input: &str) -> Result<WebhookUrl, ValidationError> {
        let err = |m: &str| ValidationError::new(Self::FIELD, m);
        let input = input.trim();
        if input.is_empty() {
            return Err(err(
                "Enter the URL that receives the deliveries, e.g. https://hooks.example.edu/tokenwarden.",
            ));
        }
        if input.len() > 2000 {
            return Err(err("A URL has at most 2,000 characters."));
        }
        let url = url::Url::parse(input)
            .map_err(|_| err("Enter a full URL, starting with https:// (or http://)."))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(err("Only http:// and https:// URLs can receive webhooks."));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(err("The URL needs a host name."));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err(
                "Leave the user name and password out of the URL: receivers check the signature instead.",
            ));
        }
        if url.fragment().is_some() {
            return Err(err("A URL to post to has no #fragment."));
        }
        Ok(WebhookUrl(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Why the server may not post to this URL's host, when it may not (see
    /// [`OutboundReach::refusal_for_url`](crate::domain::net::OutboundReach::refusal_for_url)).
    pub fn refusal(&self, reach: &crate::domain::net::OutboundReach) -> Option<String> {
        reach.refusal_for_url(&url::Url::parse(&self.0).ok()?)
    }
}

/// The scheme, host and port of a URL (`https://hooks.example.edu`), for the audit log:
/// what follows may be a credential of the receiver's.
pub fn url_origin(url: &str) -> String {
    url::Url::parse(url).map(|u| u.origin().ascii_serialization()).unwrap_or_else(|_| "an invalid URL".into())
}

/// An endpoint's signing secret: 32 bytes from the OS CSPRNG, written as Standard Webhooks
/// writes it, `whsec_` + base64. Shown once; kept sealed, because signing needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    pub const PREFIX: &'static str = "whsec_";

    pub fn generate() -> SigningSecret {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random number generator failed");
        SigningSecret(key)
    }

    pub fn from_bytes(key: Vec<u8>) -> SigningSecret {
        SigningSecret(key)
    }

    /// A secret as written (`whsec_…`); `None` if it is not one.
    pub fn parse(written: &str) -> Option<SigningSecret> {
        let key = STANDARD.decode(written.strip_prefix(Self::PREFIX)?).ok()?;
        (key.len() >= 24 && key.len() <= 64).then_some(SigningSecret(key))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `whsec_` + base64 of the key: what the receiver is given, once.
    pub fn expose(&self) -> String {
        format!("{}{}", Self::PREFIX, STANDARD.encode(&self.0))
    }

    /// `whsec_…x9Q=`: enough to tell secrets apart on the admin page.
    pub fn hint(&self) -> String {
        let written = self.expose();
        format!("{}…{}", Self::PREFIX, &written[written.len() - 4..])
    }

    /// The `webhook-signature` header of a delivery: `v1,` + base64 of
    /// HMAC-SHA256(key, "{id}.{timestamp}.{body}").
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningSecret({})", self.hint())
    }
}

/// A message's id: the same at every attempt, so that receivers can drop a duplicate.
pub fn message_id() -> String {
    format!("msg_{}", super::token_secret::random_base62(24))
}

/// How long a message is tried before it is given up (then an administrator may resend it).
pub fn retry_for() -> Duration {
    Duration::days(1)
}

/// The longest wait between two attempts.
pub fn longest_wait() -> Duration {
    Duration::hours(2)
}

/// When to try a message again after its `attempts`-th failure: `base`, then twice as
/// long each time (at most [`longest_wait`]), with a last attempt when the day is up;
/// `None` once it is up (the message has failed).
pub fn next_attempt(
    attempts: i32,
    base: Duration,
    now: NaiveDateTime,
    give_up_at: NaiveDateTime,
) -> Option<NaiveDateTime> {
    if now >= give_up_at {
        return None;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let wait = base.checked_mul(1_i32 << doublings.min(30)).unwrap_or(longest_wait()).min(longest_wait());
    Some((now + wait.max(Duration::seconds(0))).min(give_up_at))
}

/// The lines a token's expiry crosses, each acted on once per expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// A week before: "your token expires in 7 days".
    Week,
    /// The day of it (UTC): "your token expires today".
    Day,
    /// Past it: the `token.expired` webhook.
    Expired,
}

impl Threshold {
    pub const ALL: [Threshold; 3] = [Threshold::Week, Threshold::Day, Threshold::Expired];

    pub const fn key(self) -> &'static str {
        match self {
            Threshold::Week => "7d",
            Threshold::Day => "0d",
            Threshold::Expired => "expired",
        }
    }

    /// The expiries that have crossed this line and not yet the next, at `now`: (after,
    /// up to and including). A token expired more than a day ago is not announced any more
    /// (the scheduler was down, or the tokens are older than notifications).
    pub fn window(self, now: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
        match self {
            Threshold::Week => (now, now + Duration::days(7)),
            Threshold::Day => (now, start_of_day(now) + Duration::days(1) - Duration::seconds(1)),
            Threshold::Expired => (now - Duration::days(1), now),
        }
    }

    /// Whether a token whose expiry has crossed this line is worth telling its owner about.
    /// Not a week ahead when it expires today anyway (that one is told), or when it was
    /// made to live a week or less (its maker knows); not on the day when it was made that
    /// day. Always for the `token.expired` webhook.
    pub fn worth_telling(
        self,
        created_at: NaiveDateTime,
        expires_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> bool {
        match self {
            Threshold::Week => {
                expires_at - created_at > Duration::days(7) && start_of_day(expires_at) != start_of_day(now)
            }
            Threshold::Day => created_at < start_of_day(now),
            Threshold::Expired => true,
        }
    }
}

/// Midnight (UTC) of the day of `t`.
pub fn start_of_day(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_hms_opt(0, 0, 0).expect("midnight exists")
}

/// Whole days from `now` until `at`, rounded up ("in 7 days").
pub fn days_until(now: NaiveDateTime, at: NaiveDateTime) -> i64 {
    let secs = (at - now).num_seconds().max(0);
    (secs + 86_399) / 86_400
}

/// The ISO week of `t`, e.g. `2026-W49`: a weekly digest is sent once per week.
pub fn iso_week(t: NaiveDateTime) -> String {
    let w = t.date().iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn events_parse_by_key_and_every_event_listed_is_every_event() {
        let set = EventSet::parse(&["token.revoked", "token.created", "token.revoked"]).unwrap();
        assert_eq!(set.to_stored(), "token.created token.revoked");
        assert!(set.includes(Event::TokenRevoked) && !set.includes(Event::RolesChanged));
        assert_eq!(EventSet::from_stored(&set.to_stored()), set);
        let every = EventSet::parse(&Event::ALL.map(Event::key)).unwrap();
        assert!(every.is_every() && every.includes(Event::TokenLeaked));
        assert!(EventSet::parse::<&str>(&[]).unwrap().is_every());
        let e = EventSet::parse(&["token.exploded"]).unwrap_err();
        assert_eq!(e.field, "events");
        assert!(e.message.contains("token.created"), "the message lists the events");
    }

    #[test]
    fn only_http_and_https_urls_without_credentials_receive_webhooks() {
        assert_eq!(
            WebhookUrl::parse(" https://hooks.example.edu/tw ").unwrap().as_str(),
            "https://hooks.example.edu/tw"
        );
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook?x=1").is_ok());
        for bad in [
            "",
            "hooks.example.edu",
            "ftp://example.edu/x",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "https://user:pw@example.edu/",
            "https://example.edu/#top",
            "mailto:a@example.edu",
        ] {
            let e = WebhookUrl::parse(bad).unwrap_err();
            assert_eq!(e.field, "url", "{bad}");
        }
        assert!(WebhookUrl::parse(&format!("https://e.edu/{}", "a".repeat(2000))).is_err());
        assert_eq!(
            url_origin("https://hooks.example.edu:8443/services/T0/B0/s3cr3t?k=v"),
            "https://hooks.example.edu:8443"
        );
    }

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_ne!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{}"),
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        );
    }

    #[test]
    fn a_secret_is_written_as_whsec_base64_and_never_debugged() {
        let s = SigningSecret::generate();
        assert_eq!(s.bytes().len(), 32);
        let written = s.expose();
        assert!(written.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&written), Some(s.clone()));
        assert!(s.hint().starts_with("whsec_…") && written.ends_with(&s.hint()[s.hint().len() - 4..]));
        assert!(!format!("{s:?}").contains(&written[6..]));
        assert_eq!(SigningSecret::parse("whsec_short"), None);
        assert_eq!(SigningSecret::parse("tw_abc"), None);
    }

    #[test]
    fn a_failed_message_waits_twice_as_long_each_time_for_a_day() {
        let now = at("2026-12-03 10:00:00");
        let give_up = now + Duration::days(1);
        let base = Duration::seconds(30);
        assert_eq!(next_attempt(1, base, now, give_up), Some(now + Duration::seconds(30)));
        assert_eq!(next_attempt(2, base, now, give_up), Some(now + Duration::seconds(60)));
        assert_eq!(next_attempt(5, base, now, give_up), Some(now + Duration::seconds(480)));
        assert_eq!(
            next_attempt(40, base, now, give_up),
            Some(now + longest_wait()),
            "never longer than that"
        );
        // Near the end of the day, a last attempt at its end; after it, none.
        let late = give_up - Duration::minutes(5);
        assert_eq!(next_attempt(12, base, late, give_up), Some(give_up));
        assert_eq!(next_attempt(13, base, give_up, give_up), None);
    }

    #[test]
    fn expiry_lines_and_who_is_told() {
        let now = at("2026-12-03 10:00:00");
        let (after, until) = Threshold::Week.window(now);
        assert_eq!((after, until), (now, at("2026-12-10 10:00:00")));
        assert_eq!(Threshold::Day.window(now).1, at("2026-12-03 23:59:59"));
        assert_eq!(Threshold::Expired.window(now).0, at("2026-12-02 10:00:00"));
        let long_ago = at("2026-09-01 00:00:00");
        // A token of three months, a week from its end: told. Made for a week: not told.
        assert!(Threshold::Week.worth_telling(long_ago, at("2026-12-10 09:00:00"), now));
        assert!(!Threshold::Week.worth_telling(at("2026-12-03 09:00:00"), at("2026-12-10 09:00:00"), now));
        // Expiring today: the day's reminder is told, not the week's.
        assert!(!Threshold::Week.worth_telling(long_ago, at("2026-12-03 18:00:00"), now));
        assert!(Threshold::Day.worth_telling(long_ago, at("2026-12-03 18:00:00"), now));
        assert!(!Threshold::Day.worth_telling(at("2026-12-03 08:00:00"), at("2026-12-03 18:00:00"), now));
        assert!(Threshold::Expired.worth_telling(now, now, now));
    }

    #[test]
    fn days_and_weeks() {
        let now = at("2026-12-03 10:00:00");
        assert_eq!(days_until(now, at("2026-12-10 10:00:00")), 7);
        assert_eq!(days_until(now, at("2026-12-10 09:00:00")), 7);
        assert_eq!(days_until(now, at("2026-12-03 11:00:00")), 1);
        assert_eq!(days_until(now, now), 0);
        assert_eq!(iso_week(now), "2026-W49");
        assert_eq!(iso_week(at("2027-01-01 00:00:00")), "2026-W53");
    }
}
