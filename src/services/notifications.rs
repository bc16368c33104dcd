//! Notifications (SPEC 13). The other services call [`token_event`], [`roles_changed`] and
//! [`email`] inside their own transaction, beside their audit event: a message exists if
//! and only if the change it tells about was committed (an outbox). The delivery worker
//! (`crate::notify`) sends it afterwards.
//!
//! Also here: the webhook endpoints (`account.settings`), each person's choices, resending
//! a message, and what the expiry scheduler writes — each line a token crosses acted on
//! once, however many instances run the scheduler.

use chrono::{NaiveDateTime, SecondsFormat};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::stash::StashKey;
use super::{Actor, Error, Principal, Via};
use crate::db::{DbConnection, write_transaction};
use crate::domain::net::OutboundReach;
use crate::domain::notification::{self, Event, EventSet, SigningSecret, Threshold, WebhookUrl};
use crate::domain::{Permission, ValidationError, now};
use crate::models::notification::{EMAIL, NewNotification, TokenReminder, WEBHOOK, state};
use crate::models::{
    AccessToken, AuditAction, DigestFigures, Notification, Preferences, User, UserCard, UserRoles,
    WebhookEndpoint,
};

// ---------------------------------------------------------------------------------------
// Emails

/// A token as a message tells about it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFacts {
    pub id: i64,
    pub purpose: String,
    pub hint: String,
    pub expires_at: Option<NaiveDateTime>,
}

impl TokenFacts {
    pub fn of(t: &AccessToken) -> TokenFacts {
        TokenFacts { id: t.id, purpose: t.purpose.clone(), hint: t.hint.clone(), expires_at: t.expires_at }
    }
}

/// An email to one person: the facts it tells, kept in the outbox as JSON and written out
/// by the templates (`templates/email/`) when it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mail {
    /// A token created, regenerated or widened for them by someone else: pending until they
    /// activate it. (`widened` is absent from messages written before it existed.)
    CreatedOnBehalf {
        name: String,
        by: String,
        token: TokenFacts,
        regenerated: bool,
        #[serde(default)]
        widened: bool,
    },
    /// Tokens of theirs revoked by someone else: one, or all of them.
    RevokedByAdmin { name: String, by: String, at: NaiveDateTime, tokens: Vec<TokenFacts>, all: bool },
    /// A token of theirs reported as leaked, and so revoked.
    Leaked { name: String, token: TokenFacts, reported_from: String, at: NaiveDateTime },
    /// Their tokens shortened to the student maximum.
    Capped { name: String, count: usize, expires_at: NaiveDateTime, max_days: i32 },
    /// A token of theirs expiring within a week (`today`: on the day).
    Expiring { name: String, token: TokenFacts, today: bool },
    /// The week's figures, for an administrator who asked for them.
    Digest { name: String, week: String, figures: DigestFigures },
}

impl Mail {
    /// The outbox's `event` for this email.
    pub fn event(&self) -> &'static str {
        match self {
            Mail::CreatedOnBehalf { regenerated: true, .. } => "email.token_regenerated_on_behalf",
            Mail::CreatedOnBehalf { widened: true, .. } => "email.token_widened_on_behalf",
            Mail::CreatedOnBehalf { .. } => "email.token_created_on_behalf",
            Mail::RevokedByAdmin { all: false, .. } => "email.token_revoked",
            Mail::RevokedByAdmin { all: true, .. } => "email.tokens_revoked_all",
            Mail::Leaked { .. } => "email.token_leaked",
            Mail::Capped { .. } => "email.tokens_capped",
            Mail::Expiring { today: false, .. } => "email.token_expiring",
            Mail::Expiring { today: true, .. } => "email.token_expires_today",
            Mail::Digest { .. } => "email.weekly_digest",
        }
    }
}

/// What someone else did to a token that left it pending for its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBehalf {
    Created,
    Regenerated,
    /// Updated to more scopes or a later expiry.
    Widened,
}

/// What an outbox event is, for people (the admin page's delivery log).
pub fn describe_event(event: &str) -> String {
    let known = match event {
        "email.token_created_on_behalf" => "Token created on your behalf",
        "email.token_regenerated_on_behalf" => "Token regenerated on your behalf",
        "email.token_widened_on_behalf" => "Token widened on your behalf",
        "email.token_revoked" => "Token revoked by an administrator",
        "email.tokens_revoked_all" => "All tokens revoked by an administrator",
        "email.token_leaked" => "Token revoked as leaked",
        "email.tokens_capped" => "Tokens capped by the student maximum",
        "email.token_expiring" => "Token expires in 7 days",
        "email.token_expires_today" => "Token expires today",
        "email.weekly_digest" => "Weekly digest",
        notification::TEST_EVENT => "Test event",
        other => return Event::parse(other).map_or_else(|| other.to_owned(), |e| e.label().to_owned()),
    };
    known.to_owned()
}

fn new_message(channel: &'static str, event: String, payload: String, now: NaiveDateTime) -> NewNotification {
    NewNotification {
        message_id: notification::message_id(),
        channel,
        event,
        endpoint_id: None,
        user_id: None,
        recipient: String::new(),
        token_id: None,
        payload,
        dedupe_key: None,
        state: state::PENDING,
        next_attempt_at: now,
        give_up_at: now + notification::retry_for(),
        created_at: now,
    }
}

fn unexpected(e: impl std::fmt::Display) -> Error {
    Error::Unexpected(anyhow::anyhow!("could not write a notification: {e}"))
}

/// Puts an email to `to` in the outbox (call inside the transaction of the change).
pub fn email(
    conn: &mut DbConnection,
    to: &UserCard,
    mail: &Mail,
    token_id: Option<i64>,
) -> Result<(), Error> {
    Notification::insert(conn, &[email_message(to, mail, token_id, now())?])?;
    Ok(())
}

fn email_message(
    to: &UserCard,
    mail: &Mail,
    token_id: Option<i64>,
    now: NaiveDateTime,
) -> Result<NewNotification, Error> {
    let payload = serde_json::to_string(mail).map_err(unexpected)?;
    Ok(NewNotification {
        user_id: Some(to.id),
        recipient: to.email.clone(),
        token_id,
        ..new_message(EMAIL, mail.event().to_owned(), payload, now)
    })
}

/// Who acted, in a sentence's words: "Ada Admin (admin)".
pub fn actor_name(conn: &mut DbConnection, actor: &Actor) -> Result<String, Error> {
    Ok(match actor.principal {
        Principal::User(id) => {
            let u = UserCard::find(conn, id)?;
            format!("{} ({})", u.name, u.login)
        }
        Principal::Operator => "an operator at the server's command line".to_owned(),
        Principal::Directory => match actor.via {
            Via::SingleSignOn => "the institution's single sign-on".to_owned(),
            _ => "the institution's directory (provisioning)".to_owned(),
        },
    })
}

// ---------------------------------------------------------------------------------------
// Webhooks

fn iso(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Who acted, as a webhook's `data.actor` says it.
pub fn actor_json(conn: &mut DbConnection, actor: &Actor) -> Result<Value, Error> {
    Ok(match actor.principal {
        Principal::User(id) => {
            let u = UserCard::find(conn, id)?;
            json!({"type": "user", "id": u.id, "login": u.login, "name": u.name})
        }
        Principal::Operator => json!({"type": "operator"}),
        Principal::Directory => json!({
            "type": "directory",
            "via": if actor.via == Via::SingleSignOn { "single_sign_on" } else { "provisioning" },
        }),
    })
}

fn user_json(u: &UserCard) -> Value {
    json!({"id": u.id, "login": u.login, "name": u.name, "email": u.email})
}

fn token_json(t: &AccessToken) -> Value {
    json!({
        "id": t.id,
        "purpose": t.purpose,
        "hint": t.hint,
        "scopes": t.scope_set().iter().collect::<Vec<_>>(),
        "workflow_state": t.workflow_state,
        "created_at": iso(t.created_at),
        "expires_at": t.expires_at.map(iso),
        "real_user_id": t.real_user_id,
    })
}

/// Puts the webhook `event` in the outbox for every enabled endpoint that subscribes to it
/// (call inside the transaction of the change). Returns how many deliveries.
pub fn webhook(conn: &mut DbConnection, event: Event, data: Value) -> Result<usize, Error> {
    let endpoints: Vec<WebhookEndpoint> = WebhookEndpoint::enabled(conn)?
        .into_iter()
        .filter(|e| EventSet::from_stored(&e.events).includes(event))
        .collect();
    if endpoints.is_empty() {
        return Ok(0);
    }
    let at = now();
    let body = json!({"type": event.key(), "timestamp": iso(at), "data": data}).to_string();
    let rows: Vec<NewNotification> = endpoints
        .iter()
        .map(|e| NewNotification {
            endpoint_id: Some(e.id),
            ..new_message(WEBHOOK, event.key().to_owned(), body.clone(), at)
        })
        .collect();
    Ok(Notification::insert(conn, &rows)?)
}

/// A token's webhook event (created, updated, regenerated, revoked, leaked).
pub fn token_event(
    conn: &mut DbConnection,
    actor: Option<&Actor>,
    event: Event,
    owner: &UserCard,
    token: &AccessToken,
) -> Result<usize, Error> {
    if !has_subscribers(conn, event)? {
        return Ok(0);
    }
    let actor = match actor {
        Some(a) => actor_json(conn, a)?,
        None => Value::Null,
    };
    webhook(conn, event, json!({"actor": actor, "user": user_json(owner), "token": token_json(token)}))
}

/// A leak report's webhook: no actor, the reporter's address instead.
pub fn leaked(
    conn: &mut DbConnection,
    owner: &UserCard,
    token: &AccessToken,
    reported_from: &str,
) -> Result<usize, Error> {
    if !has_subscribers(conn, Event::TokenLeaked)? {
        return Ok(0);
    }
    webhook(
        conn,
        Event::TokenLeaked,
        json!({
            "actor": {"type": "leak_report", "ip": reported_from},
            "user": user_json(owner),
            "token": token_json(token),
        }),
    )
}

/// `user.roles_changed`: the roles before and after, and the tokens the change capped.
pub fn roles_changed(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &UserCard,
    before: &UserRoles,
    after: &UserRoles,
    capped: usize,
) -> Result<usize, Error> {
    if !has_subscribers(conn, Event::RolesChanged)? {
        return Ok(0);
    }
    let roles = |r: &UserRoles| {
        json!({
            "enrollment": r.enrollment.iter().map(|e| e.key()).collect::<Vec<_>>(),
            "account": r.account.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
            "student_only": r.is_student_only(),
        })
    };
    let actor = actor_json(conn, actor)?;
    webhook(
        conn,
        Event::RolesChanged,
        json!({
            "actor": actor,
            "user": user_json(user),
            "roles": {"before": roles(before), "after": roles(after)},
            "tokens_capped": capped,
        }),
    )
}

fn has_subscribers(conn: &mut DbConnection, event: Event) -> Result<bool, Error> {
    Ok(WebhookEndpoint::enabled(conn)?.iter().any(|e| EventSet::from_stored(&e.events).includes(event)))
}

/// The key that seals signing secrets: derived from the server's session key, for this use
/// alone (no session id is this string), with the stash's audited AEAD.
fn sealer(server_key: &[u8]) -> StashKey {
    StashKey::derive(server_key, "\0webhook signing secrets", "webhook-endpoints".to_owned())
}

const SEALED_FOR: &str = "signing-secret";

/// What tells one session key from another without telling the key: an HMAC of a fixed text
/// under it. The server records its own at start; `webhook create` compares, so that it
/// never seals with a key the server does not hold.
pub fn session_key_check(server_key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(server_key).expect("HMAC takes a key of any length");
    mac.update(b"tokenwarden session key check v1");
    hex::encode(&mac.finalize().into_bytes()[..16])
}

fn seal(server_key: &[u8], secret: &SigningSecret) -> Result<String, Error> {
    sealer(server_key).seal(SEALED_FOR, secret.bytes())
}

/// An endpoint's signing secret, opened for a delivery; `None` when it cannot be (the
/// session key changed since it was sealed).
pub fn open_secret(server_key: &[u8], sealed: &str) -> Option<SigningSecret> {
    sealer(server_key).open(SEALED_FOR, sealed).map(SigningSecret::from_bytes)
}

/// An endpoint as a form or the command line describes it, not yet parsed.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
}

struct ParsedEndpoint {
    url: WebhookUrl,
    description: String,
    events: EventSet,
}

/// The endpoint's fields, and its URL within the server's reach: an address, or
/// `localhost`, that is not on the public internet is refused here, unless the server was
/// allowed its network (a name is checked again at each delivery, where it is resolved).
/// The endpoint's `kept` URL, saved again as it is, is not: its deliveries are held to the
/// reach anyway, and an administrator must be able to disable or describe it.
fn parse_endpoint(
    input: &EndpointInput,
    reach: &OutboundReach,
    kept: Option<&str>,
) -> Result<ParsedEndpoint, Error> {
    let mut errors = Vec::new();
    let url = WebhookUrl::parse(&input.url)
        .and_then(|url| match url.refusal(reach).filter(|_| Some(url.as_str()) != kept) {
            Some(why) => Err(ValidationError::new(WebhookUrl::FIELD, outside_reach(&why))),
            None => Ok(url),
        })
        .map_err(|e| errors.push(e))
        .ok();
    let events = EventSet::parse(&input.events).map_err(|e| errors.push(e)).ok();
    let description = input.description.trim().to_owned();
    if description.chars().count() > 200 {
        errors.push(ValidationError::new("description", "A description has at most 200 characters."));
    } else if description.chars().any(crate::domain::text::is_forbidden_in_text) {
        errors.push(ValidationError::new(
            "description",
            "A description is one line, without control characters or text-direction overrides.",
        ));
    }
    match (url, events, errors.is_empty()) {
        (Some(url), Some(events), true) => Ok(ParsedEndpoint { url, description, events }),
        _ => Err(Error::Invalid(errors)),
    }
}

/// What an administrator is told of a URL outside the server's reach, and whom to ask.
pub fn outside_reach(why: &str) -> String {
    format!(
        "Webhooks go to public addresses only: {why}. To post into your institution's network, ask \
         whoever runs tokenwarden to allow it (--webhook-allow-networks, or \
         TOKENWARDEN_WEBHOOK_ALLOW_NETWORKS)."
    )
}

/// An endpoint and its signing secret, shown this once.
pub struct Registered {
    pub endpoint: WebhookEndpoint,
    pub secret: SigningSecret,
}

fn describe_endpoint(id: i64, url: &str, events: &EventSet, enabled: bool) -> String {
    format!(
        "endpoint #{id} ({}): {}; {}",
        notification::url_origin(url),
        events.describe(),
        if enabled { "enabled" } else { "disabled" }
    )
}

// The audit log names an endpoint by its id and origin only: a receiver's URL may carry a
// credential of its own in its path or query (chat services' incoming hooks do).

/// Registers an endpoint; its signing secret is sealed with a key derived from
/// `server_key`.
pub fn create_endpoint(
    conn: &mut DbConnection,
    actor: &Actor,
    reach: &OutboundReach,
    server_key: &[u8],
    input: &EndpointInput,
) -> Result<Registered, Error> {
    require_webhooks(actor)?;
    let parsed = parse_endpoint(input, reach, None)?;
    let secret = SigningSecret::generate();
    let sealed = seal(server_key, &secret)?;
    write_transaction(conn, |conn| {
        let at = now();
        let endpoint = WebhookEndpoint::insert(
            conn,
            &crate::models::notification::NewWebhookEndpoint {
                url: parsed.url.as_str(),
                description: &parsed.description,
                events: parsed.events.to_stored(),
                enabled: input.enabled,
                secret_sealed: &sealed,
                secret_hint: &secret.hint(),
                created_at: at,
                updated_at: at,
            },
        )?;
        actor
            .audit(AuditAction::WebhookCreated)
            .details(describe_endpoint(endpoint.id, &endpoint.url, &parsed.events, endpoint.enabled))
            .record(conn)?;
        Ok(Registered { endpoint, secret })
    })
}

/// An endpoint after a save, and whether the save changed it.
pub struct SavedEndpoint {
    pub endpoint: WebhookEndpoint,
    pub changed: bool,
}

/// Changes an endpoint's URL, description, events and whether it is enabled. A disabled
/// endpoint gets no new messages, and those waiting for it wait until it is enabled again.
/// Saved as it was, nothing is written or recorded.
pub fn update_endpoint(
    conn: &mut DbConnection,
    actor: &Actor,
    reach: &OutboundReach,
    id: i64,
    input: &EndpointInput,
) -> Result<SavedEndpoint, Error> {
    require_webhooks(actor)?;
    write_transaction(conn, |conn| {
        let before = WebhookEndpoint::find(conn, id)?;
        let parsed = parse_endpoint(input, reach, Some(&before.url))?;
        let events = parsed.events.to_stored();
        let same = before.url == parsed.url.as_str()
            && before.description == parsed.description
            && before.events == events
            && before.enabled == input.enabled;
        if same {
            return Ok(SavedEndpoint { endpoint: before, changed: false });
        }
        WebhookEndpoint::update(
            conn,
            id,
            parsed.url.as_str(),
            &parsed.description,
            &events,
            input.enabled,
            now(),
        )?;
        actor
            .audit(AuditAction::WebhookUpdated)
            .details(format!(
                "{} → {}",
                describe_endpoint(id, &before.url, &EventSet::from_stored(&before.events), before.enabled),
                describe_endpoint(id, parsed.url.as_str(), &parsed.events, input.enabled)
            ))
            .record(conn)?;
        Ok(SavedEndpoint { endpoint: WebhookEndpoint::find(conn, id)?, changed: true })
    })
}

/// A new signing secret; deliveries are signed with it from now on (retries included).
pub fn rotate_secret(
    conn: &mut DbConnection,
    actor: &Actor,
    server_key: &[u8],
    id: i64,
) -> Result<Registered, Error> {
    require_webhooks(actor)?;
    let secret = SigningSecret::generate();
    let sealed = seal(server_key, &secret)?;
    write_transaction(conn, |conn| {
        let endpoint = WebhookEndpoint::find(conn, id)?;
        WebhookEndpoint::set_secret(conn, id, &sealed, &secret.hint(), now())?;
        actor
            .audit(AuditAction::WebhookSecretRotated)
            .details(format!(
                "endpoint #{id} ({}): new signing secret {}",
                notification::url_origin(&endpoint.url),
                secret.hint()
            ))
            .record(conn)?;
        Ok(Registered { endpoint: WebhookEndpoint::find(conn, id)?, secret })
    })
}

/// Removes an endpoint, and the messages still waiting for it.
pub fn delete_endpoint(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<WebhookEndpoint, Error> {
    require_webhooks(actor)?;
    write_transaction(conn, |conn| {
        let endpoint = WebhookEndpoint::find(conn, id)?;
        WebhookEndpoint::delete(conn, id)?;
        actor
            .audit(AuditAction::WebhookDeleted)
            .details(format!("endpoint #{id} ({})", notification::url_origin(&endpoint.url)))
            .record(conn)?;
        Ok(endpoint)
    })
}

/// Sends a `webhook.test` event to one endpoint, whatever it subscribes to.
pub fn send_test(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<WebhookEndpoint, Error> {
    require_webhooks(actor)?;
    write_transaction(conn, |conn| {
        let endpoint = WebhookEndpoint::find(conn, id)?;
        if !endpoint.enabled {
            return Err(Error::Conflict(
                "This endpoint is disabled: enable it to send it a test event.".into(),
            ));
        }
        let at = now();
        let by = actor_json(conn, actor)?;
        let body = json!({
            "type": notification::TEST_EVENT,
            "timestamp": iso(at),
            "data": {"actor": by, "endpoint_id": endpoint.id, "message": "A test event from tokenwarden."},
        })
        .to_string();
        let row = NewNotification {
            endpoint_id: Some(endpoint.id),
            ..new_message(WEBHOOK, notification::TEST_EVENT.to_owned(), body, at)
        };
        Notification::insert(conn, &[row])?;
        actor
            .audit(AuditAction::WebhookTested)
            .details(format!("endpoint #{id} ({})", notification::url_origin(&endpoint.url)))
            .record(conn)?;
        Ok(endpoint)
    })
}

/// Managing webhooks, or reading what was sent to them: `account.settings`, and also
/// `access_tokens.view` or `users.manage`. Their messages carry people's logins, names and
/// emails and their tokens' purposes and hints: the audit log's data, which needs one of
/// those (SPEC 2), and an endpoint pointed elsewhere would receive all of it from then on.
pub fn require_webhooks(actor: &Actor) -> Result<(), Error> {
    actor.require(Permission::AccountSettings)?;
    if actor.can(Permission::ViewTokens) || actor.can(Permission::ManageUsers) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "Webhooks carry people's names and their tokens' purposes: managing them needs the \
             access_tokens.view or users.manage permission as well as account.settings."
                .into(),
        ))
    }
}

/// Every endpoint, for the admin page.
pub fn endpoints(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<WebhookEndpoint>, Error> {
    require_webhooks(actor)?;
    Ok(WebhookEndpoint::all(conn)?)
}

pub fn endpoint(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<WebhookEndpoint, Error> {
    require_webhooks(actor)?;
    Ok(WebhookEndpoint::find(conn, id)?)
}

/// The most recent messages of a channel (`email` or `webhook`), for the admin page: what
/// was sent, what waits, what failed and why. For emails, never whom to or what they said.
pub fn recent(
    conn: &mut DbConnection,
    actor: &Actor,
    channel: &str,
    limit: i64,
) -> Result<Vec<(Notification, Option<String>)>, Error> {
    require_webhooks(actor)?;
    Ok(Notification::recent(conn, channel, limit)?)
}

/// Sends a message again, for another day of attempts, with the same id (so a receiver
/// that had it can tell). A webhook may be resent whatever became of it; an email only
/// when it failed (one that arrived is not sent twice).
pub fn resend(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<Notification, Error> {
    require_webhooks(actor)?;
    write_transaction(conn, |conn| {
        let message = Notification::find(conn, id)?;
        if message.state == state::PENDING {
            return Err(Error::Conflict("This message is waiting to be sent already.".into()));
        }
        if message.channel == EMAIL && message.state != state::FAILED {
            return Err(Error::Conflict("Only an email that failed can be sent again.".into()));
        }
        let at = now();
        Notification::resend(conn, id, at, at + notification::retry_for())?;
        actor
            .audit(AuditAction::NotificationResent)
            .details(format!("{} {} ({})", message.channel, message.message_id, message.event))
            .record(conn)?;
        Ok(Notification::find(conn, id)?)
    })
}

// ---------------------------------------------------------------------------------------
// People's choices

/// The acting user's choices.
pub fn preferences(conn: &mut DbConnection, actor: &Actor) -> Result<Preferences, Error> {
    Ok(Preferences::load(conn, actor.require_user()?)?)
}

/// Saves the acting user's choices; the weekly digest is for those who oversee tokens
/// (`access_tokens.view`). `false` when nothing changed.
pub fn save_preferences(conn: &mut DbConnection, actor: &Actor, wanted: Preferences) -> Result<bool, Error> {
    let me = actor.require_user()?;
    if wanted.weekly_digest {
        actor.require(Permission::ViewTokens)?;
    }
    write_transaction(conn, |conn| {
        let before = Preferences::load(conn, me)?;
        let on = |b: bool| if b { "on" } else { "off" };
        wanted.save(conn, me, now())?;
        if before == wanted {
            return Ok(false);
        }
        actor
            .audit(AuditAction::NotificationPreferencesChanged)
            .subject(me)
            .details(format!(
                "expiry reminders {}; weekly digest {}",
                on(wanted.expiry_reminders),
                on(wanted.weekly_digest)
            ))
            .record(conn)?;
        Ok(true)
    })
}

// ---------------------------------------------------------------------------------------
// The scheduler: expiry lines and the weekly digest

/// What one pass of the scheduler did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    /// Lines marked as crossed (tokens looked at).
    pub marked: usize,
    pub reminders: usize,
    pub expired_events: usize,
    pub digests: usize,
}

/// How many tokens one transaction of the scheduler takes on.
const SCHEDULE_BATCH: i64 = 200;

/// Finds the tokens whose expiry crossed a line since they were last looked at, marks each
/// line once (the mark and its messages in one transaction; a second instance, or a second
/// pass, finds it marked and does nothing), and enqueues what is worth telling: the owner's
/// reminder (if they want reminders), the `token.expired` webhook.
pub fn schedule_expiry(conn: &mut DbConnection, at: NaiveDateTime) -> Result<Scheduled, Error> {
    let mut done = Scheduled::default();
    // The day's line first: when both are due, the day's reminder is the one told.
    for threshold in [Threshold::Expired, Threshold::Day, Threshold::Week] {
        let (after, until) = threshold.window(at);
        loop {
            let candidates = TokenReminder::unmarked(conn, threshold.key(), after, until, SCHEDULE_BATCH)?;
            if candidates.is_empty() {
                break;
            }
            let n = candidates.len();
            let step = write_transaction(conn, |conn| act_on(conn, threshold, &candidates, at))?;
            done.marked += step.marked;
            done.reminders += step.reminders;
            done.expired_events += step.expired_events;
            if n < SCHEDULE_BATCH as usize || step.marked == 0 {
                break;
            }
        }
    }
    Ok(done)
}

fn act_on(
    conn: &mut DbConnection,
    threshold: Threshold,
    candidates: &[(AccessToken, UserCard)],
    at: NaiveDateTime,
) -> Result<Scheduled, Error> {
    let mut done = Scheduled::default();
    let owners: Vec<i64> = candidates.iter().map(|(_, u)| u.id).collect();
    let choices = Preferences::of_many(conn, &owners)?;
    for (token, owner) in candidates {
        let Some(expires_at) = token.expires_at else { continue };
        if !TokenReminder::mark(conn, token.id, threshold.key(), expires_at, at)? {
            continue;
        }
        done.marked += 1;
        if !threshold.worth_telling(token.created_at, expires_at, at) {
            continue;
        }
        match threshold {
            Threshold::Expired => {
                done.expired_events += token_event(conn, None, Event::TokenExpired, owner, token)?;
            }
            Threshold::Week | Threshold::Day => {
                // The day's reminder makes the week's moot: mark that line too, so a
                // token met first on its last day is not told twice.
                if threshold == Threshold::Day {
                    TokenReminder::mark(conn, token.id, Threshold::Week.key(), expires_at, at)?;
                }
                if choices.get(&owner.id).copied().unwrap_or_default().expiry_reminders {
                    let mail = Mail::Expiring {
                        name: owner.name.clone(),
                        token: TokenFacts::of(token),
                        today: threshold == Threshold::Day,
                    };
                    Notification::insert(conn, &[email_message(owner, &mail, Some(token.id), at)?])?;
                    done.reminders += 1;
                }
            }
        }
    }
    Ok(done)
}

/// Enqueues this week's digest for each person who asked for it and still oversees
/// tokens, once per person and week (the outbox's dedupe key).
pub fn schedule_digests(conn: &mut DbConnection, at: NaiveDateTime) -> Result<usize, Error> {
    let subscribers = Preferences::digest_subscribers(conn)?;
    if subscribers.is_empty() {
        return Ok(0);
    }
    let week = notification::iso_week(at);
    let key = |id: i64| format!("digest:{id}:{week}");
    let keys: Vec<String> = subscribers.iter().map(|id| key(*id)).collect();
    let taken = Notification::taken_keys(conn, &keys)?;
    let due: Vec<i64> = subscribers.into_iter().filter(|id| !taken.contains(&key(*id))).collect();
    if due.is_empty() {
        return Ok(0);
    }
    let figures = DigestFigures::count(conn, at)?;
    write_transaction(conn, |conn| {
        let mut sent = 0;
        for id in due {
            let user = UserCard::find(conn, id)?;
            let roles = User::roles(conn, id)?;
            if !user.is_active() || !roles.permissions().contains(Permission::ViewTokens) {
                continue;
            }
            let mail = Mail::Digest { name: user.name.clone(), week: week.clone(), figures };
            let mut row = email_message(&user, &mail, None, at)?;
            row.dedupe_key = Some(key(id));
            if Notification::insert_once(conn, &row)? {
                sent += 1;
            }
        }
        Ok(sent)
    })
}

/// Whether a reminder still holds when its turn comes: its token exists with the same
/// expiry, and its owner still wants reminders. A revoked token gets no reminder.
pub fn reminder_still_holds(
    conn: &mut DbConnection,
    message: &Notification,
    mail: &Mail,
) -> Result<bool, Error> {
    let (Mail::Expiring { token, .. }, Some(owner)) = (mail, message.user_id) else {
        return Ok(true);
    };
    let current = match AccessToken::find_for_user(conn, owner, token.id) {
        Ok(t) => t,
        Err(diesel::result::Error::NotFound) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    Ok(current.expires_at == token.expires_at
        && current.expires_at.is_some_and(|e| e > now())
        && Preferences::load(conn, owner)?.expiry_reminders)
}
