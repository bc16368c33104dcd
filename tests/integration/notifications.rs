//! Notifications (SPEC 13) with the real things: a real SMTP server (aiosmtpd, pinned in
//! `.ci/run`, started here on a free port; `tests/smtp/server.py` writes what it receives
//! to a folder), a webhook receiver that checks every delivery's signature the way a
//! receiver would (written here from the Standard Webhooks specification, not with the
//! app's code), the delivery worker and scheduler running inside the app, and two
//! instances on one database.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use tokenwarden::config::ServeArgs;
use tokenwarden::db::schema::{access_tokens, notifications as outbox, token_reminders};
use tokenwarden::domain::now;
use tokenwarden::models::Notification;

use crate::helpers::{Browser, TestApp, free_port, location, spawn_app_on_with, spawn_app_with};
use crate::tokens_page::shown_secret;

// ---------------------------------------------------------------------------------------
// A real SMTP server

/// The Python of the virtualenv that `.ci/run` makes for aiosmtpd (or `SMTP_PYTHON`). The
/// first test that needs it makes it when it is missing, as `.ci/run` would, so that
/// `cargo test` on a fresh machine needs only Python 3.
fn smtp_python() -> PathBuf {
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(python) = std::env::var_os("SMTP_PYTHON") {
            return PathBuf::from(python);
        }
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/smtp-venv");
        let python = venv.join("bin/python");
        let has_aiosmtpd = || {
            std::process::Command::new(&python)
                .args(["-c", "import aiosmtpd"])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has_aiosmtpd() {
            let made = std::process::Command::new("python3").arg("-m").arg("venv").arg(&venv).status();
            assert!(made.is_ok_and(|s| s.success()), "python3 -m venv target/smtp-venv failed");
            let pip = std::process::Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check", "aiosmtpd==1.4.6"])
                .status();
            assert!(pip.is_ok_and(|s| s.success()), "pip install aiosmtpd==1.4.6 failed");
        }
        python
    })
    .clone()
}

/// An email as the SMTP server received it, decoded as a mail client would show it.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
}

/// aiosmtpd on `port`, writing what it receives to a folder of its own; killed on drop.
pub struct Smtp {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Smtp {
    pub fn start(port: u16) -> Smtp {
        let dir = std::env::temp_dir()
            .join(format!("tw-mail-{}", tokenwarden::domain::token_secret::random_base62(10)));
        let mut child = Command::new(smtp_python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/server.py"))
            .args(["--port", &port.to_string(), "--dir", &dir.to_string_lossy()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the SMTP server");
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Smtp { child, port, dir }
    }

    /// Everything received so far, in order of arrival.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        files
            .iter()
            .map(|p| {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                Received {
                    to: v["envelope_to"][0].as_str().unwrap_or_default().to_owned(),
                    from: s("from"),
                    subject: s("subject"),
                    message_id: s("message_id"),
                    text: s("text"),
                    html: s("html"),
                }
            })
            .collect()
    }

    pub fn to(&self, address: &str) -> Vec<Received> {
        self.received().into_iter().filter(|m| m.to == address).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------
// A webhook receiver

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    /// The `Host` it was sent to (through a proxy, the endpoint's, not the proxy's).
    pub host: String,
    pub body: String,
    pub answered: u16,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// An HTTP server that records every delivery; it answers 500 to the first `fail_first`
/// requests, then 204.
pub struct Receiver {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let record = got.clone();
        let server = actix_web::HttpServer::new(move || {
            let (record, seen) = (record.clone(), seen.clone());
            actix_web::App::new().default_service(actix_web::web::to(
                move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                    let (record, seen) = (record.clone(), seen.clone());
                    async move {
                        let header = |n: &str| {
                            req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                        };
                        let answered =
                            if seen.fetch_add(1, Ordering::SeqCst) < fail_first { 500 } else { 204 };
                        record.lock().unwrap().push(Delivery {
                            id: header("webhook-id"),
                            timestamp: header("webhook-timestamp"),
                            signature: header("webhook-signature"),
                            content_type: header("content-type"),
                            host: header("host"),
                            body: String::from_utf8_lossy(&body).into_owned(),
                            answered,
                        });
                        actix_web::HttpResponse::build(
                            actix_web::http::StatusCode::from_u16(answered).unwrap(),
                        )
                        .finish()
                    }
                },
            ))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        Receiver { port, got }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/tokenwarden", self.port)
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    pub fn of_type(&self, event: &str) -> Vec<Delivery> {
        self.deliveries().into_iter().filter(|d| d.json()["type"] == event).collect()
    }
}

/// Whether a delivery is authentic, as a receiver checks it (Standard Webhooks): the
/// secret is `whsec_` + base64 of the key; the signed content is `{id}.{timestamp}.{body}`
/// with the body exactly as received; HMAC-SHA256, base64; the header holds one or more
/// space-separated `v1,<signature>`; the timestamp is within five minutes of now.
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &str, signatures: &str) -> bool {
    let Some(key) = secret.strip_prefix("whsec_").and_then(|k| STANDARD.decode(k).ok()) else {
        return false;
    };
    let Ok(ts) = timestamp.parse::<i64>() else { return false };
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 || id.is_empty() {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    signatures.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|s| {
        use subtle::ConstantTimeEq;
        s.len() == expected.len() && bool::from(s.as_bytes().ct_eq(expected.as_bytes()))
    })
}

fn verified(secret: &str, d: &Delivery) -> bool {
    verify(secret, &d.id, &d.timestamp, &d.body, &d.signature)
}

// ---------------------------------------------------------------------------------------
// The app, fast

/// A worker that looks every 50 ms, retries after 200 ms (doubling), schedules every
/// 100 ms, and mails through the SMTP server on `smtp` (none: logged).
fn fast(serve: &mut ServeArgs, smtp: Option<u16>) {
    serve.notify.smtp_url = smtp.map(|p| format!("smtp://127.0.0.1:{p}"));
    serve.notify.mail_from = Some("tokenwarden <tokens@example.edu>".into());
    serve.notify.notify_poll_ms = 50;
    serve.notify.notify_retry_ms = 200;
    serve.notify.notify_schedule_ms = 100;
    // The receivers of these tests listen on this host, a network webhooks reach only when
    // the operator allows it.
    serve.notify.webhook_allow_networks = vec!["127.0.0.0/8".parse().unwrap()];
}

/// Waits up to `secs` seconds for `f` to give something.
async fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "waited {secs} s for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pause(ms: u64) {
    actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
}

fn conn(app: &TestApp) -> tokenwarden::db::DbConnection {
    tokenwarden::db::connect(&app.database_url).expect("connect")
}

/// Every message of the outbox, oldest first.
fn messages(app: &TestApp) -> Vec<Notification> {
    outbox::table
        .order(outbox::id)
        .select(Notification::as_select())
        .load(&mut conn(app))
        .expect("the outbox")
}

fn emails_of(app: &TestApp, event: &str) -> Vec<Notification> {
    messages(app).into_iter().filter(|m| m.event == event).collect()
}

/// Moves a token in time: made `age_days` ago, expiring at `expires_at`.
fn set_times(app: &TestApp, token: i64, age_days: i64, expires_at: NaiveDateTime) {
    diesel::update(access_tokens::table.find(token))
        .set((
            access_tokens::created_at.eq(now() - chrono::Duration::days(age_days)),
            access_tokens::expires_at.eq(Some(expires_at)),
        ))
        .execute(&mut conn(app))
        .expect("move the token in time");
}

/// The admin creates a token on `user`'s behalf on the profile page; its id and secret.
async fn create_on_behalf(app: &TestApp, admin: &Browser, user: i64, purpose: &str) -> (i64, String) {
    let res = admin
        .post_form(&format!("/admin/users/{user}/tokens"), &[("purpose", purpose), ("expires_in", "30")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "creating “{purpose}” on behalf");
    let html = admin.get_html(&format!("/admin/users/{user}")).await;
    let secret = shown_secret(&html).expect("the secret, shown once");
    let id = access_tokens::table
        .filter(access_tokens::purpose.eq(purpose))
        .select(access_tokens::id)
        .first(&mut conn(app))
        .expect("the token");
    (id, secret)
}

/// Registers an endpoint on the admin page; its signing secret, shown once.
async fn add_endpoint(admin: &Browser, url: &str, events: &[&str]) -> String {
    let mut fields = vec![("url", url), ("description", "Test receiver"), ("enabled", "on")];
    fields.extend(events.iter().map(|e| ("events", *e)));
    let res = admin.post_form("/admin/webhooks", &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "adding the endpoint");
    assert_eq!(location(&res), "/admin/webhooks");
    let html = admin.get_html("/admin/webhooks").await;
    let marker = "id=\"new-secret-value\">";
    let start = html.find(marker).expect("the signing secret is shown once") + marker.len();
    let secret = html[start..start + html[start..].find('<').unwrap()].to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(!admin.get_html("/admin/webhooks").await.contains(&secret), "shown once only");
    secret
}

// ---------------------------------------------------------------------------------------
// Email

#[actix_web::test]
async fn notifications_a_token_created_on_a_students_behalf_mails_them_a_working_activation_link() {
    let smtp = Smtp::start(free_port());
    let app = spawn_app_with(|s| fast(s, Some(smtp.port))).await;
    let admin = app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    let (token, secret) = create_on_behalf(&app, &admin, sam, "Library sync").await;

    let mail = eventually(10, "the email to sam", || smtp.to("sam@example.edu").into_iter().next()).await;
    assert_eq!(mail.from, "tokenwarden <tokens@example.edu>");
    assert!(mail.subject.contains("Library sync") && mail.subject.contains("activate"), "{}", mail.subject);
    assert!(mail.message_id.starts_with("<msg_"), "{}", mail.message_id);
    assert!(mail.text.contains("Ada Admin (admin) created an access token for you"), "{}", mail.text);
    assert!(mail.text.contains("pending") && mail.html.contains("pending"));
    let link = format!("{}/settings/tokens", app.address);
    assert!(mail.text.contains(&link), "{}", mail.text);
    assert!(mail.html.contains(&format!("href=\"{link}\"")), "{}", mail.html);
    for body in [&mail.text, &mail.html, &mail.subject] {
        assert!(!body.contains(&secret) && !body.contains(&secret[3..20]), "no secret in the email");
    }
    assert!(messages(&app).iter().all(|m| !m.payload.contains(&secret[3..20])), "no secret in the outbox");

    // The link works: sam, signed in, finds the pending token there, activates it, and
    // the secret the admin handed over authenticates.
    let path = mail.text[mail.text.find(&link).unwrap() + app.address.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let sam_browser = app.signed_in("sam").await;
    let page = sam_browser.get_html(&path).await;
    assert!(page.contains("Library sync") && page.contains(&format!("/settings/tokens/{token}/activate")));
    assert_eq!(
        app.api(&secret).get("/api/v1/users/self").await.status(),
        StatusCode::UNAUTHORIZED,
        "pending"
    );
    let res = sam_browser.post_form(&format!("/settings/tokens/{token}/activate"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.api(&secret).get("/api/v1/users/self").await.status(), StatusCode::OK);
    assert_eq!(smtp.to("sam@example.edu").len(), 1, "activating sends nothing");
    let sent = emails_of(&app, "email.token_created_on_behalf");
    assert_eq!((sent.len(), sent[0].state.as_str(), sent[0].attempts), (1, "sent", 1));
}

#[actix_web::test]
async fn notifications_an_admin_revoke_mails_the_owner_who_and_when_but_their_own_does_not() {
    let smtp = Smtp::start(free_port());
    let app = spawn_app_with(|s| fast(s, Some(smtp.port))).await;
    let admin = app.setup_admin().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let theirs = app.issue_token("tess", Some(60), &[]);
    let own = app.issue_token("tess", Some(60), &[]);
    let hint = tokenwarden::domain::token_secret::hint_of(&theirs.secret);

    let res = admin.post_form(&format!("/admin/users/{tess}/tokens/{}/revoke", theirs.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail =
        eventually(10, "the revocation email", || smtp.to("tess@example.edu").into_iter().next()).await;
    assert_eq!(mail.subject, "Your access token “API test” was revoked");
    assert!(mail.text.contains("Ada Admin (admin) revoked one of your access tokens on "), "{}", mail.text);
    assert!(mail.text.contains(" UTC") && mail.text.contains(&hint), "when, and which: {}", mail.text);
    assert!(mail.html.contains("Ada Admin (admin)") && mail.html.contains(&hint));

    // Her own deletion is no news to her: nothing is queued for it.
    let before = messages(&app).len();
    let browser = app.signed_in("tess").await;
    let res = browser.post_form(&format!("/settings/tokens/{}/delete", own.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(messages(&app).len(), before, "no email for revoking one's own token");

    // Revoke-all: one email listing them.
    let a = app.issue_token("tess", Some(60), &[]);
    let b = app.issue_token("tess", Some(60), &[]);
    let res = admin.post_form(&format!("/admin/users/{tess}/tokens/revoke-all"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let all = eventually(10, "the revoke-all email", || {
        smtp.to("tess@example.edu").into_iter().find(|m| m.subject.starts_with("All your access tokens"))
    })
    .await;
    assert_eq!(all.subject, "All your access tokens were revoked (2)");
    for t in [&a, &b] {
        assert!(all.text.contains(&tokenwarden::domain::token_secret::hint_of(&t.secret)), "{}", all.text);
    }
    pause(300).await;
    assert_eq!(smtp.to("tess@example.edu").len(), 2, "one email each time");
}

#[actix_web::test]
async fn notifications_a_token_seven_days_from_expiry_gets_one_reminder_however_often_the_scheduler_runs() {
    let smtp = Smtp::start(free_port());
    let app = spawn_app_with(|s| fast(s, Some(smtp.port))).await;
    let _admin = app.setup_admin().await;
    app.create_user("sam", &["student"], &[]);
    app.create_user("teo", &["teacher"], &[]);
    // A second instance on the same database runs the scheduler too (behind the same
    // public address, as behind a load balancer).
    let public = app.address.parse().unwrap();
    let _second = spawn_app_on_with(&app.database_url, |s| {
        fast(s, Some(smtp.port));
        s.public_url = Some(public);
    })
    .await;
    // Teo turned reminders off on his account page.
    let teo = app.signed_in("teo").await;
    assert_eq!(teo.post_form("/settings/account/notifications", &[]).await.status(), StatusCode::SEE_OTHER);
    assert!(
        !teo.get_html("/settings/account").await.contains("name=\"expiry_reminders\" value=\"on\" checked")
    );

    let week = now() + chrono::Duration::days(7) - chrono::Duration::hours(1);
    let sams = app.issue_token("sam", Some(30), &[]);
    let teos = app.issue_token("teo", Some(30), &[]);
    // Made for a week: its maker knows when it ends; no reminder.
    let short = app.issue_token("sam", Some(7), &[]);
    set_times(&app, sams.id, 30, week);
    set_times(&app, teos.id, 30, week);

    let mail = eventually(10, "sam's reminder", || smtp.to("sam@example.edu").into_iter().next()).await;
    assert_eq!(mail.subject, "Your access token “API test” expires in 7 days");
    assert!(mail.text.contains("expires in 7 days, on "), "{}", mail.text);
    assert!(mail.text.contains(&format!("{}/settings/account", app.address)), "how to turn them off");
    // The scheduler runs every 100 ms on each of two instances: 30 more passes at least.
    pause(1500).await;
    assert_eq!(smtp.to("sam@example.edu").len(), 1, "one reminder, whatever the passes");
    assert!(smtp.to("teo@example.edu").is_empty(), "reminders off: none");
    assert_eq!(emails_of(&app, "email.token_expiring").len(), 1);
    let marks: Vec<(i64, String)> = token_reminders::table
        .select((token_reminders::token_id, token_reminders::threshold))
        .order((token_reminders::token_id, token_reminders::threshold))
        .load(&mut conn(&app))
        .unwrap();
    assert_eq!(
        marks,
        vec![(sams.id, "7d".to_owned()), (teos.id, "7d".to_owned()), (short.id, "7d".to_owned())],
        "each line crossed is remembered once"
    );

    // A new expiry is a new line: extended, then near its end again, it is told again.
    let later = now() + chrono::Duration::days(6);
    set_times(&app, sams.id, 30, later);
    eventually(10, "the reminder of the new expiry", || {
        (smtp.to("sam@example.edu").len() == 2).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn notifications_a_token_expiring_today_is_told_on_the_day_and_not_a_week_ahead_too() {
    let smtp = Smtp::start(free_port());
    let app = spawn_app_with(|s| fast(s, Some(smtp.port))).await;
    app.create_user("sam", &["student"], &[]);
    let token = app.issue_token("sam", Some(30), &[]);
    // Later today (a few seconds at worst, a minute before midnight).
    let end_of_day = tokenwarden::domain::notification::start_of_day(now()) + chrono::Duration::days(1);
    let expires = (now() + chrono::Duration::hours(3)).min(end_of_day - chrono::Duration::seconds(1));
    set_times(&app, token.id, 30, expires.max(now() + chrono::Duration::seconds(20)));
    let mail = eventually(10, "the reminder", || smtp.to("sam@example.edu").into_iter().next()).await;
    assert!(
        mail.subject.ends_with("expires today") || mail.subject.contains("expires in 1 day"),
        "{}",
        mail.subject
    );
    pause(800).await;
    assert_eq!(smtp.to("sam@example.edu").len(), 1, "the day's reminder makes the week's moot");
}

#[actix_web::test]
async fn notifications_while_smtp_is_down_the_mail_waits_and_arrives_once_it_is_back() {
    let port = free_port();
    // Nothing listens on the port yet.
    let app = spawn_app_with(|s| fast(s, Some(port))).await;
    let admin = app.setup_admin().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let revoked = app.issue_token("tess", Some(60), &[]);
    let reminded = app.issue_token("tess", Some(60), &[]);

    let res = admin.post_form(&format!("/admin/users/{tess}/tokens/{}/revoke", revoked.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A reminder waits too, and its token is revoked before SMTP comes back.
    set_times(&app, reminded.id, 30, now() + chrono::Duration::days(5));
    let waiting = eventually(10, "failed attempts", || {
        let m = messages(&app);
        (m.len() == 2 && m.iter().all(|m| m.attempts >= 2)).then_some(m)
    })
    .await;
    for m in &waiting {
        assert_eq!(m.state, "pending", "still waiting, not lost");
        assert!(m.last_error.as_deref().unwrap_or_default().contains("SMTP"), "{:?}", m.last_error);
    }
    let page = admin.get_html("/admin/webhooks").await;
    assert!(
        page.contains("Retrying") && page.contains("the SMTP server did not take it"),
        "visible to admins"
    );
    let browser = app.signed_in("tess").await;
    let res = browser.post_form(&format!("/settings/tokens/{}/delete", reminded.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let smtp = Smtp::start(port);
    let mail =
        eventually(15, "the email, once SMTP is back", || smtp.to("tess@example.edu").into_iter().next())
            .await;
    assert!(mail.subject.contains("was revoked"), "{}", mail.subject);
    let reminder = eventually(10, "the reminder's fate", || {
        emails_of(&app, "email.token_expiring").into_iter().find(|m| m.state != "pending")
    })
    .await;
    assert_eq!(reminder.state, "cancelled", "never a reminder for a revoked token");
    pause(300).await;
    assert_eq!(smtp.to("tess@example.edu").len(), 1);
    let sent = emails_of(&app, "email.token_revoked");
    assert_eq!(sent[0].state, "sent");
    assert!(sent[0].attempts >= 3, "attempts are counted: {}", sent[0].attempts);
}

/// An SMTP server that takes connections and never says a word (a hung relay, a
/// firewall that swallows the conversation): holds every connection until dropped.
struct SilentSmtp {
    port: u16,
    _held: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl SilentSmtp {
    fn start() -> SilentSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let held: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let keep = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().unwrap().push(stream);
            }
        });
        SilentSmtp { port, _held: held }
    }
}

#[actix_web::test]
async fn notifications_an_smtp_server_that_stops_answering_holds_up_neither_webhooks_nor_its_own_retries() {
    let smtp = SilentSmtp::start();
    let receiver = Receiver::start(0).await;
    let app = spawn_app_with(|s| {
        fast(s, Some(smtp.port));
        s.notify.notify_send_timeout_ms = 1000;
    })
    .await;
    let admin = app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    add_endpoint(&admin, &receiver.url(), &[]).await;
    // An email (to Sam: created on his behalf) and a webhook, claimed in one batch.
    create_on_behalf(&app, &admin, sam, "Reading list").await;
    let delivered =
        eventually(10, "the webhook, while SMTP hangs", || receiver.deliveries().into_iter().next()).await;
    assert_eq!(delivered.json()["type"], "token.created");
    let waiting = eventually(10, "the email's failed attempts", || {
        emails_of(&app, "email.token_created_on_behalf").into_iter().find(|m| m.attempts >= 2)
    })
    .await;
    assert_eq!(waiting.state, "pending", "still waiting, not lost");
    let error = waiting.last_error.unwrap_or_default();
    assert!(error.contains("did not take it within") && error.contains("stopped answering"), "{error}");
}

#[actix_web::test]
async fn notifications_an_email_to_an_address_that_is_none_fails_at_once_instead_of_for_a_day() {
    use tokenwarden::db::schema::users;
    let smtp = Smtp::start(free_port());
    let app = spawn_app_with(|s| fast(s, Some(smtp.port))).await;
    let admin = app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    // As a directory may provision him: no email address.
    diesel::update(users::table.find(sam)).set(users::email.eq("")).execute(&mut conn(&app)).unwrap();
    create_on_behalf(&app, &admin, sam, "Reading list").await;
    let failed = eventually(10, "the email's fate", || {
        emails_of(&app, "email.token_created_on_behalf").into_iter().find(|m| m.state != "pending")
    })
    .await;
    assert_eq!(failed.state, "failed", "nothing to retry: {failed:?}");
    assert!(failed.last_error.unwrap_or_default().contains("address is not usable"));
    assert!(smtp.received().is_empty());
}

#[actix_web::test]
async fn notifications_leaks_and_the_student_cap_are_told_to_the_owner() {
    let smtp = Smtp::start(free_port());
    let app = spawn_app_with(|s| fast(s, Some(smtp.port))).await;
    let admin = app.setup_admin().await;
    app.create_user("sam", &["student"], &[]);
    let teo = app.create_user("teo", &["teacher"], &[]);
    let leaked = app.issue_token("sam", Some(30), &[]);
    let res = app
        .anonymous_api()
        .post_json("/api/v1/credentials/revoke", &json!({"credentials": [leaked.secret]}))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = eventually(10, "the leak email", || smtp.to("sam@example.edu").into_iter().next()).await;
    assert!(mail.subject.contains("reported as leaked"), "{}", mail.subject);
    assert!(mail.text.contains("reported as leaked from 127.0.0.1"), "where from: {}", mail.text);
    assert!(!mail.text.contains(&leaked.secret[3..20]));

    app.issue_token("teo", None, &[]);
    let res = admin.post_form(&format!("/admin/users/{teo}/roles"), &[("roles", "student")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = eventually(10, "the cap email", || smtp.to("teo@example.edu").into_iter().next()).await;
    assert_eq!(mail.subject, "Your access tokens now expire within 120 days");
    assert!(mail.text.contains("One of your access tokens had no expiry or a later one"), "{}", mail.text);
}

#[actix_web::test]
async fn notifications_an_admin_who_asks_for_the_weekly_digest_gets_it_once_a_week() {
    let smtp = Smtp::start(free_port());
    let app = spawn_app_with(|s| fast(s, Some(smtp.port))).await;
    let admin = app.setup_admin().await;
    app.create_user("sam", &["student"], &[]);
    app.issue_token("sam", Some(5), &[]);
    app.issue_token("admin", None, &[]);
    // A student is not offered the digest, and cannot ask for it anyway.
    let sam = app.signed_in("sam").await;
    assert!(!sam.get_html("/settings/account").await.contains("weekly_digest"));
    let res = sam
        .post_form("/settings/account/notifications", &[("expiry_reminders", "on"), ("weekly_digest", "on")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    assert!(admin.get_html("/settings/account").await.contains("name=\"weekly_digest\""));
    let res = admin
        .post_form("/settings/account/notifications", &[("expiry_reminders", "on"), ("weekly_digest", "on")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(admin.get_html("/settings/account").await.contains("Your notification settings are saved."));
    let digest = eventually(10, "the digest", || smtp.to("admin@example.edu").into_iter().next()).await;
    assert!(digest.subject.starts_with("Access tokens, week "), "{}", digest.subject);
    assert!(digest.subject.ends_with("2 active, 1 expiring within 7 days"), "{}", digest.subject);
    assert!(
        digest.text.lines().any(
            |l| l.trim_start().starts_with("Without expiry:") && l.split_whitespace().nth(2) == Some("1")
        ),
        "{}",
        digest.text
    );
    assert!(digest.html.contains(&format!("{}/admin/tokens?show=no_expiry", app.address)));
    pause(800).await;
    assert_eq!(smtp.to("admin@example.edu").len(), 1, "once a week");
    assert!(smtp.to("sam@example.edu").is_empty());
}

#[actix_web::test]
async fn notifications_without_smtp_each_email_is_logged_with_recipient_and_subject_only() {
    // A scratch database only (its own worker sleeps: the binary below delivers).
    let scratch = spawn_app_with(|s| s.notify.notify_poll_ms = 3_600_000).await;
    let dir = Path::new(&scratch.database_url).parent().unwrap().to_path_buf();
    let db = if tokenwarden::db::is_postgres(&scratch.database_url) {
        scratch.database_url.clone()
    } else {
        dir.join("logged.db").to_string_lossy().into_owned()
    };
    let served = crate::helpers::Served::start(&db, "info");
    let admin = Browser::detached(&served.base);
    admin.complete_setup().await;
    let sam = crate::helpers::create_user_in(&db, "sam", &["student"], &[]);
    let res = admin
        .post_form(
            &format!("/admin/users/{sam}/tokens"),
            &[("purpose", "Printed notes"), ("expires_in", "30")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let secret = shown_secret(&admin.get_html(&format!("/admin/users/{sam}")).await).unwrap();
    assert!(
        served.logged(&["email logged, not sent", "sam@example.edu", "Printed notes"]).await,
        "the email is logged: {}",
        served.log()
    );
    assert!(!served.log().contains(&secret[3..20]), "never the secret");
    // Recorded a moment after it is logged.
    let mut page = String::new();
    for _ in 0..100 {
        page = admin.get_html("/admin/webhooks").await;
        if page.contains("Logged (no SMTP)") {
            break;
        }
        pause(50).await;
    }
    assert!(page.contains("No SMTP server is configured") && page.contains("Logged (no SMTP)"), "{page}");
    assert!(!page.contains("sam@example.edu"), "the admin page does not say who got which email");
}

// ---------------------------------------------------------------------------------------
// Webhooks

#[actix_web::test]
async fn notifications_webhooks_are_signed_retried_after_a_500_and_resent_on_demand() {
    let receiver = Receiver::start(1).await;
    let app = spawn_app_with(|s| fast(s, None)).await;
    let admin = app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    let secret = add_endpoint(&admin, &receiver.url(), &[]).await;

    let (token, token_secret) = create_on_behalf(&app, &admin, sam, "Gradebook export").await;
    let two = eventually(10, "the delivery and its retry", || {
        let d = receiver.deliveries();
        (d.len() >= 2).then_some(d)
    })
    .await;
    assert_eq!((two[0].answered, two[1].answered), (500, 204), "refused once, then taken");
    assert_eq!(two[0].id, two[1].id, "a retry carries the same webhook-id");
    assert!(two[0].id.starts_with("msg_"));
    for d in &two {
        assert!(verified(&secret, d), "the signature checks out: {d:?}");
        assert_eq!(d.content_type, "application/json");
        assert!(!d.body.contains(&token_secret[3..20]), "never the token's secret");
    }
    let tampered = two[1].body.replace("Gradebook export", "Gradebook exports");
    assert!(
        !verify(&secret, &two[1].id, &two[1].timestamp, &tampered, &two[1].signature),
        "a tampered body fails"
    );
    assert!(!verify(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &two[1].id,
        &two[1].timestamp,
        &two[1].body,
        &two[1].signature
    ));
    let body = two[1].json();
    assert_eq!(body["type"], "token.created");
    assert_eq!(body["data"]["actor"]["login"], "admin");
    assert_eq!(body["data"]["user"]["login"], "sam");
    assert_eq!(body["data"]["token"]["id"], token);
    assert_eq!(body["data"]["token"]["purpose"], "Gradebook export");
    assert_eq!(body["data"]["token"]["workflow_state"], "pending");
    assert!(body["data"]["token"]["hint"].as_str().unwrap().starts_with("tw_…"));
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let row = eventually(5, "the delivery recorded", || {
        messages(&app).into_iter().find(|m| m.channel == "webhook" && m.state == "sent")
    })
    .await;
    assert_eq!((row.attempts, row.last_status), (2, Some(204)));
    let page = admin.get_html("/admin/webhooks").await;
    assert!(page.contains(&row.message_id) && page.contains("Delivered"), "the delivery log");
    // The address wraps between its parts on a phone, never inside a name: in the log and
    // in the endpoint's heading.
    let port = receiver.url().split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    let broken =
        format!("<code>http://<wbr>127<wbr>.0<wbr>.0<wbr>.1:{port}<wbr>/hooks<wbr>/tokenwarden</code>");
    assert_eq!(page.matches(&broken).count(), 2, "{page}");

    // The other events: revoked, roles changed, leaked.
    let res = admin.post_form(&format!("/admin/users/{sam}/tokens/{token}/revoke"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = admin.post_form(&format!("/admin/users/{sam}/roles"), &[("roles", "teacher")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let leaked = app.issue_token("sam", Some(30), &[]);
    app.anonymous_api()
        .post_json("/api/v1/credentials/revoke", &json!({"credentials": [leaked.secret]}))
        .await;
    for event in ["token.revoked", "user.roles_changed", "token.leaked"] {
        let d = eventually(10, event, || receiver.of_type(event).into_iter().next()).await;
        assert!(verified(&secret, &d), "{event} is signed");
    }
    let roles = receiver.of_type("user.roles_changed")[0].json();
    assert_eq!(roles["data"]["roles"]["before"]["enrollment"], json!(["student"]));
    assert_eq!(roles["data"]["roles"]["after"]["enrollment"], json!(["teacher"]));
    assert_eq!(receiver.of_type("token.leaked")[0].json()["data"]["actor"]["ip"], "127.0.0.1");

    // Resend: the same message again, same id, signed anew.
    let before = receiver.deliveries().len();
    let res = admin.post_form(&format!("/admin/webhooks/deliveries/{}/resend", row.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(admin.get_html("/admin/webhooks").await.contains("will be sent again"));
    let again = eventually(10, "the resent delivery", || receiver.deliveries().get(before).cloned()).await;
    assert_eq!(again.id, row.message_id);
    assert!(verified(&secret, &again));
}

#[actix_web::test]
async fn notifications_an_endpoint_gets_only_its_events_and_a_disabled_one_none() {
    let revokes = Receiver::start(0).await;
    let paused = Receiver::start(0).await;
    let app = spawn_app_with(|s| fast(s, None)).await;
    let admin = app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    add_endpoint(&admin, &revokes.url(), &["token.revoked"]).await;
    add_endpoint(&admin, &paused.url(), &[]).await;
    let paused_id: i64 = {
        use tokenwarden::db::schema::webhook_endpoints as e;
        e::table.filter(e::url.eq(paused.url())).select(e::id).first(&mut conn(&app)).unwrap()
    };
    let res = admin
        .post_form(&format!("/admin/webhooks/{paused_id}"), &[("url", &paused.url()), ("events", "")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "disabled (the box unticked)");
    assert!(admin.get_html("/admin/webhooks").await.contains("Disabled"));

    let (token, _) = create_on_behalf(&app, &admin, sam, "Quiz bot").await;
    admin.post_form(&format!("/admin/users/{sam}/tokens/{token}/revoke"), &[]).await;
    let d = eventually(10, "the revocation", || revokes.deliveries().into_iter().next()).await;
    assert_eq!(d.json()["type"], "token.revoked");
    pause(500).await;
    assert_eq!(revokes.deliveries().len(), 1, "not token.created");
    assert!(paused.deliveries().is_empty(), "a disabled endpoint gets nothing");
    // Nor a test event.
    let res = admin.post_form(&format!("/admin/webhooks/{paused_id}/test"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(admin.get_html("/admin/webhooks").await.contains("This endpoint is disabled"));

    // A URL that is not http(s) is refused next to its field, with the input kept.
    let res =
        admin.post_form("/admin/webhooks", &[("url", "ftp://files.example.edu/in"), ("enabled", "on")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Only http:// and https:// URLs can receive webhooks.")
            && html.contains("ftp://files.example.edu/in")
    );
}

#[actix_web::test]
async fn notifications_webhooks_reach_public_addresses_only_unless_the_operator_allows_a_network() {
    // Found in review: an administrator's form could point deliveries at the server's own
    // loopback services, the cloud's metadata address or the intranet, and read what each
    // answered in the delivery log.
    use tokenwarden::db::schema::webhook_endpoints as e;
    let receiver = Receiver::start(0).await;
    let app = spawn_app_with(|s| {
        fast(s, None);
        s.notify.webhook_allow_networks.clear();
    })
    .await;
    let admin = app.setup_admin().await;
    let urls =
        |app: &TestApp| -> Vec<String> { e::table.select(e::url).order(e::id).load(&mut conn(app)).unwrap() };
    assert!(
        admin.get_html("/admin/webhooks/new").await.contains("A public address only"),
        "the form says where deliveries may go"
    );
    for (url, why) in [
        (receiver.url(), "127.0.0.1 is a loopback address"),
        (format!("http://localhost:{}/hooks", receiver.port), "localhost is the server itself"),
        ("http://169.254.169.254/latest/meta-data/".to_owned(), "169.254.169.254 is a link-local address"),
        ("http://[::ffff:10.0.0.7]/in".to_owned(), "10.0.0.7 is an address in a private network"),
        ("http://0x7f.1/in".to_owned(), "127.0.0.1 is a loopback address"),
    ] {
        let res = admin
            .post_form(
                "/admin/webhooks",
                &[("url", &url), ("description", "Intranet probe"), ("enabled", "on")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!("Webhooks go to public addresses only: {why}")), "{url}: {html}");
        assert!(html.contains("Intranet probe") && html.contains(&url), "the input is kept: {url}");
        // Found in review: the field's help was no longer read out once it had an error.
        assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"url-error url-help\""), "{html}");
    }
    assert!(urls(&app).is_empty(), "nothing registered");

    let public = "https://hooks.example.edu/tokenwarden";
    add_endpoint(&admin, public, &["token.created"]).await;
    let id: i64 = e::table.select(e::id).first(&mut conn(&app)).unwrap();
    let res = admin
        .post_form(
            &format!("/admin/webhooks/{id}"),
            &[("url", "http://192.168.1.20/hook"), ("enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "an edit is held to the same rule");
    assert!(res.text().await.unwrap().contains("192.168.1.20 is an address in a private network"));
    assert_eq!(urls(&app), [public], "unchanged");

    // An endpoint kept from before (or whose name resolves somewhere else now) is held to
    // it at each delivery: the addresses its name resolves to, or the address it names.
    let refused = |app: &TestApp, n: usize| {
        let errors: Vec<String> = messages(app).into_iter().filter_map(|m| m.last_error).collect();
        (errors.len() >= n).then_some(errors)
    };
    let by_name = format!("http://localhost:{}/hooks/tokenwarden", receiver.port);
    diesel::update(e::table.find(id)).set(e::url.eq(&by_name)).execute(&mut conn(&app)).unwrap();
    app.issue_token("admin", Some(30), &[]);
    let errors = eventually(10, "the delivery refused", || refused(&app, 1)).await;
    assert_eq!(
        errors[0], "could not connect: localhost resolves to a loopback address, outside the server's reach",
        "which address is not said"
    );
    diesel::update(e::table.find(id)).set(e::url.eq(receiver.url())).execute(&mut conn(&app)).unwrap();
    app.issue_token("admin", Some(30), &[]);
    let errors = eventually(10, "the second delivery refused", || refused(&app, 2)).await;
    assert!(
        errors.iter().any(|m| m == "not sent: 127.0.0.1 is a loopback address, outside the server's reach"),
        "{errors:?}"
    );
    pause(300).await;
    assert!(receiver.deliveries().is_empty(), "the receiver on this host got nothing");
    let page = admin.get_html("/admin/webhooks").await;
    assert!(
        page.contains("127.0.0.1 is a loopback address, outside the server"),
        "the delivery log says why"
    );
    // Found in review: such an endpoint looked like any other, and could not be saved
    // again (to disable it, or describe it) without changing its URL.
    assert!(
        page.contains("Nothing is delivered here: 127.0.0.1 is a loopback address, outside this server"),
        "its card says so"
    );
    let updates = |app: &TestApp| -> i64 {
        use tokenwarden::db::schema::audit_events as a;
        a::table.filter(a::action.eq("webhook.updated")).count().get_result(&mut conn(app)).unwrap()
    };
    let kept = receiver.url();
    let disabled = [("url", kept.as_str()), ("description", "Paused until the network is allowed")];
    let res = admin.post_form(&format!("/admin/webhooks/{id}"), &disabled).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "its URL, saved again as it is, is kept");
    assert!(admin.get_html("/admin/webhooks").await.contains("Paused until the network is allowed"));
    assert_eq!(updates(&app), 1);
    // Saved again with nothing changed: nothing written, nothing recorded, and it says so.
    let res = admin.post_form(&format!("/admin/webhooks/{id}"), &disabled).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = admin.get_html("/admin/webhooks").await;
    assert!(page.contains(&format!("Nothing to save: endpoint {kept} is as it was.")), "{page}");
    assert_eq!(updates(&app), 1, "no audit event for a save that changed nothing");

    // The operator allows the network (a receiver on this host): delivered.
    let allowed = spawn_app_with(|s| fast(s, None)).await;
    let admin = allowed.setup_admin().await;
    assert!(
        admin
            .get_html("/admin/webhooks/new")
            .await
            .contains("or one in 127.0.0.0/8 (allowed on this server)")
    );
    add_endpoint(&admin, &by_name, &["token.created"]).await;
    allowed.issue_token("admin", Some(30), &[]);
    let d = eventually(10, "the delivery by name", || receiver.deliveries().into_iter().next()).await;
    assert_eq!(d.json()["type"], "token.created");
}

/// Found in review: reqwest takes a proxy from the environment, and through a proxy the
/// names are resolved by the proxy, out of the checks' sight. Deliveries go direct.
#[actix_web::test]
async fn notifications_webhooks_do_not_go_through_a_proxy_named_in_the_environment() {
    let (proxy, receiver) = (Receiver::start(0).await, Receiver::start(0).await);
    let scratch = spawn_app_with(|s| s.notify.notify_poll_ms = 3_600_000).await;
    let db = if tokenwarden::db::is_postgres(&scratch.database_url) {
        scratch.database_url.clone()
    } else {
        let dir = Path::new(&scratch.database_url).parent().unwrap().to_path_buf();
        dir.join("proxied.db").to_string_lossy().into_owned()
    };
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let served = crate::helpers::Served::start_with(
        &db,
        "info",
        &[
            ("HTTP_PROXY", &proxy_url),
            ("http_proxy", &proxy_url),
            ("ALL_PROXY", &proxy_url),
            ("NO_PROXY", ""),
            ("TOKENWARDEN_NOTIFY_POLL_MS", "50"),
            ("TOKENWARDEN_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8"),
        ],
    );
    let admin = Browser::detached(&served.base);
    admin.complete_setup().await;
    add_endpoint(&admin, &receiver.url(), &[]).await;
    let page = admin.get_html("/admin/webhooks").await;
    let start = page.find("action=\"/admin/webhooks/").expect("the endpoint's forms") + "action=\"".len();
    let id: String =
        page[start + "/admin/webhooks/".len()..].chars().take_while(char::is_ascii_digit).collect();
    let res = admin.post_form(&format!("/admin/webhooks/{id}/test"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let d = eventually(10, "the test event, sent direct", || receiver.deliveries().into_iter().next()).await;
    assert_eq!(d.json()["type"], "webhook.test");
    assert!(proxy.deliveries().is_empty(), "nothing went through the proxy");
}

/// A network whose only way out is a proxy: the operator names it, and deliveries go through
/// it to names only the proxy can resolve, signed as ever. What this server can still see is
/// still held to its reach.
#[actix_web::test]
async fn notifications_webhooks_go_through_the_proxy_the_operator_names() {
    use tokenwarden::db::schema::webhook_endpoints as e;
    let proxy = Receiver::start(0).await;
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let app = spawn_app_with(|s| {
        fast(s, None);
        // The proxy is in this host's loopback, which endpoints may not reach.
        s.notify.webhook_allow_networks.clear();
        s.notify.webhook_proxy = Some(proxy_url.clone());
    })
    .await;
    let admin = app.setup_admin().await;
    // A name this server cannot resolve (a reserved one): behind a proxy, often only the
    // proxy can.
    let endpoint = "http://hooks.example.invalid/tokenwarden";
    let secret = add_endpoint(&admin, endpoint, &["token.created"]).await;
    app.issue_token("admin", Some(30), &[]);
    let d = eventually(10, "the delivery, through the proxy", || proxy.deliveries().into_iter().next()).await;
    assert_eq!(
        (d.host.as_str(), &d.json()["type"]),
        ("hooks.example.invalid", &serde_json::json!("token.created"))
    );
    assert!(verified(&secret, &d), "signed as ever");
    let sent = || messages(&app).into_iter().filter(|m| m.state == "sent").count();
    eventually(10, "marked sent", || (sent() == 1).then_some(())).await;

    // A name that resolves here into the loopback, and an address in the URL, are not sent.
    let id: i64 = e::table.select(e::id).first(&mut conn(&app)).unwrap();
    let refused = |app: &TestApp, n: usize| {
        let errors: Vec<String> = messages(app).into_iter().filter_map(|m| m.last_error).collect();
        (errors.len() >= n).then_some(errors)
    };
    diesel::update(e::table.find(id))
        .set(e::url.eq("http://localhost:9/hooks"))
        .execute(&mut conn(&app))
        .unwrap();
    app.issue_token("admin", Some(30), &[]);
    let errors = eventually(10, "the delivery by name refused", || refused(&app, 1)).await;
    assert_eq!(errors, ["not sent: localhost resolves to a loopback address, outside the server's reach"]);
    diesel::update(e::table.find(id))
        .set(e::url.eq("http://127.0.0.1:9/hooks"))
        .execute(&mut conn(&app))
        .unwrap();
    app.issue_token("admin", Some(30), &[]);
    let errors = eventually(10, "the delivery to an address refused", || refused(&app, 2)).await;
    assert!(
        errors.iter().any(|m| m == "not sent: 127.0.0.1 is a loopback address, outside the server's reach"),
        "{errors:?}"
    );
    pause(300).await;
    assert_eq!(proxy.deliveries().len(), 1, "the proxy was asked for neither");

    // Found in review: a receiver inside, in a network the operator allowed, went through the
    // proxy too, which reached the proxy's own loopback. It is sent to directly.
    let inside = Receiver::start(0).await;
    let app = spawn_app_with(|s| {
        fast(s, None);
        s.notify.webhook_proxy = Some(proxy_url.clone());
    })
    .await;
    let admin = app.setup_admin().await;
    add_endpoint(&admin, &inside.url(), &["token.created"]).await;
    app.issue_token("admin", Some(30), &[]);
    let d = eventually(10, "the delivery inside", || inside.deliveries().into_iter().next()).await;
    assert_eq!(d.json()["type"], "token.created");
    assert_eq!(proxy.deliveries().len(), 1, "not through the proxy");
}

#[actix_web::test]
async fn notifications_webhook_create_prints_the_signing_secret_alone_and_it_signs_the_deliveries() {
    let receiver = Receiver::start(0).await;
    let app = spawn_app_with(|s| fast(s, None)).await;
    let _admin = app.setup_admin().await;
    // Found in review: run with another key (another directory's key file, another
    // environment), it sealed a secret the server could not open, and every delivery
    // failed. A key that is not the one the server started with is refused, the first
    // endpoint's too; without any, none is made up.
    // In a directory of its own: on PostgreSQL the key file is the working directory's.
    let elsewhere = crate::helpers::tempfile_dir::TempDir::new();
    let webhook_create = |key: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenwarden"));
        cmd.current_dir(&elsewhere.0)
            .args(["webhook", "create", "--url", &receiver.url()])
            .env("DATABASE_URL", &app.database_url)
            .env("TOKENWARDEN_LOG", "warn")
            .env_remove("TOKENWARDEN_SESSION_KEY");
        if let Some(key) = key {
            cmd.args(["--session-key", key]);
        }
        cmd.output().unwrap()
    };
    let other = webhook_create(Some("not the server's key, though long enough to derive from"));
    assert!(!other.status.success());
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("not the one the server last started with"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    assert!(other.stdout.is_empty(), "no secret printed");
    let none = webhook_create(None);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no session key"));
    let key_file = format!("{}.session-key", app.database_url);
    assert!(!std::path::Path::new(&key_file).exists(), "no key made up");
    let endpoints: i64 = {
        use tokenwarden::db::schema::webhook_endpoints as e;
        e::table.count().get_result(&mut conn(&app)).unwrap()
    };
    assert_eq!(endpoints, 0, "nothing registered");

    let out = Command::new(env!("CARGO_BIN_EXE_tokenwarden"))
        .args([
            "webhook",
            "create",
            "--url",
            &receiver.url(),
            "--event",
            "token.created",
            "--event",
            "token.revoked",
        ])
        .env("DATABASE_URL", &app.database_url)
        .env("TOKENWARDEN_LOG", "warn")
        .env("TOKENWARDEN_SESSION_KEY", "a test session key that is long enough to derive from")
        .env("TOKENWARDEN_WEBHOOK_ALLOW_NETWORKS", "10.0.0.0/8,127.0.0.0/8")
        .output()
        .expect("run tokenwarden");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let secret = stdout.trim_end_matches('\n');
    assert!(secret.starts_with("whsec_") && !secret.contains('\n'), "the secret alone: {stdout:?}");

    app.issue_token("admin", Some(30), &[]);
    let d = eventually(10, "the delivery", || receiver.deliveries().into_iter().next()).await;
    assert_eq!(d.json()["type"], "token.created");
    assert!(verified(secret, &d), "the printed secret verifies the deliveries");
    let stored: String = {
        use tokenwarden::db::schema::webhook_endpoints as e;
        e::table.select(e::secret_sealed).first(&mut conn(&app)).unwrap()
    };
    assert!(!stored.contains(&secret[6..]), "stored sealed, not in clear");

    // Without the network allowed, the command holds to the admin page's rule.
    let local = Command::new(env!("CARGO_BIN_EXE_tokenwarden"))
        .args(["webhook", "create", "--url", &receiver.url()])
        .env("DATABASE_URL", &app.database_url)
        .env("TOKENWARDEN_SESSION_KEY", "a test session key that is long enough to derive from")
        .env_remove("TOKENWARDEN_WEBHOOK_ALLOW_NETWORKS")
        .output()
        .unwrap();
    assert!(!local.status.success() && local.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&local.stderr);
    assert!(
        stderr.contains("url: Webhooks go to public addresses only: 127.0.0.1 is a loopback address"),
        "{stderr}"
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_tokenwarden"))
        .args(["webhook", "create", "--url", "gopher://x", "--event", "token.exploded"])
        .env("DATABASE_URL", &app.database_url)
        .env("TOKENWARDEN_SESSION_KEY", "a test session key that is long enough to derive from")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("url: Only http:// and https://") && stderr.contains("events: “token.exploded”"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// Once, across instances; claims of the dead

#[actix_web::test]
async fn notifications_two_instances_on_one_database_send_each_message_once() {
    let smtp = Smtp::start(free_port());
    let receiver = Receiver::start(0).await;
    let first = spawn_app_with(|s| fast(s, Some(smtp.port))).await;
    let admin = first.setup_admin().await;
    let sam = first.create_user("sam", &["student"], &[]);
    add_endpoint(&admin, &receiver.url(), &["token.created"]).await;
    let _second = spawn_app_on_with(&first.database_url, |s| fast(s, Some(smtp.port))).await;

    const N: usize = 12;
    {
        use tokenwarden::services::tokens::{self, TokenDraft};
        use tokenwarden::services::{Actor, Via};
        let mut c = conn(&first);
        let admin_id = first.user_id("admin");
        let roles = tokenwarden::models::User::roles(&mut c, admin_id).unwrap();
        let actor = Actor::user(admin_id, roles.permissions(), false, Via::Cli, None);
        for i in 0..N {
            let draft = TokenDraft {
                purpose: Some(format!("Batch {i}")),
                scopes: Some(Vec::new()),
                expiry: Some(Ok(tokenwarden::domain::token::ExpiryChoice::Days(30))),
            };
            tokens::create(&mut c, &actor, sam, &draft).expect("a token on sam's behalf");
        }
    }
    eventually(20, "every email and delivery", || {
        (smtp.to("sam@example.edu").len() >= N && receiver.deliveries().len() >= N).then_some(())
    })
    .await;
    pause(1000).await;
    let mails = smtp.to("sam@example.edu");
    let deliveries = receiver.deliveries();
    assert_eq!((mails.len(), deliveries.len()), (N, N), "each once, two instances polling every 50 ms");
    let mut ids: Vec<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N);
    let mut ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N);
    // Each recorded as sent (a moment after it arrived, on a busy machine).
    eventually(10, "every message recorded as sent", || {
        messages(&first).iter().all(|m| m.state == "sent").then_some(())
    })
    .await;
}

#[actix_web::test]
async fn notifications_a_claim_left_by_an_instance_that_died_is_taken_again_when_its_lease_runs_out() {
    use tokenwarden::models::notification::NewNotification;
    let receiver = Receiver::start(0).await;
    let app = spawn_app_with(|s| fast(s, None)).await;
    let admin = app.setup_admin().await;
    let secret = add_endpoint(&admin, &receiver.url(), &[]).await;
    let endpoint: i64 = {
        use tokenwarden::db::schema::webhook_endpoints as e;
        e::table.select(e::id).first(&mut conn(&app)).unwrap()
    };
    // Two messages claimed by an instance that died: one lease has run out, the other
    // holds for six more seconds. Each is written already claimed (one transaction), so
    // the running worker never sees it unclaimed.
    for (n, lease) in [("expired", -1), ("live", 6)] {
        let row = NewNotification {
            message_id: format!("msg_claimed_{n}"),
            channel: "webhook",
            event: "webhook.test".into(),
            endpoint_id: Some(endpoint),
            user_id: None,
            recipient: String::new(),
            token_id: None,
            payload: json!({"type": "webhook.test", "timestamp": "2026-12-03T10:00:00Z", "data": {}})
                .to_string(),
            dedupe_key: None,
            state: "pending",
            next_attempt_at: now(),
            give_up_at: now() + chrono::Duration::days(1),
            created_at: now(),
        };
        conn(&app)
            .transaction::<_, diesel::result::Error, _>(|c| {
                Notification::insert(c, &[row])?;
                diesel::update(outbox::table.filter(outbox::message_id.eq(format!("msg_claimed_{n}"))))
                    .set((
                        outbox::claimed_by.eq("an-instance-that-died"),
                        outbox::claimed_until.eq(now() + chrono::Duration::seconds(lease)),
                    ))
                    .execute(c)
            })
            .unwrap();
    }
    let d =
        eventually(5, "the expired claim, taken again", || receiver.deliveries().into_iter().next()).await;
    assert_eq!(d.id, "msg_claimed_expired");
    assert!(verified(&secret, &d));
    pause(1000).await;
    assert_eq!(receiver.deliveries().len(), 1, "a live lease is left alone");
    let d =
        eventually(15, "the other, once its lease ran out", || receiver.deliveries().get(1).cloned()).await;
    assert_eq!(d.id, "msg_claimed_live");
}

#[actix_web::test]
async fn notifications_updates_regenerations_and_expiries_are_announced_once_each() {
    let receiver = Receiver::start(0).await;
    let app = spawn_app_with(|s| fast(s, None)).await;
    let admin = app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    let secret =
        add_endpoint(&admin, &receiver.url(), &["token.updated", "token.regenerated", "token.expired"]).await;
    let (token, _) = create_on_behalf(&app, &admin, sam, "Reading list").await;

    let res = admin
        .post_form(
            &format!("/admin/users/{sam}/tokens/{token}"),
            &[("purpose", "Reading lists"), ("expires_in", "keep")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = admin
        .post_form(&format!("/admin/users/{sam}/tokens/{token}/regenerate"), &[("expires_in", "30")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let updated =
        eventually(10, "token.updated", || receiver.of_type("token.updated").into_iter().next()).await;
    assert_eq!(updated.json()["data"]["token"]["purpose"], "Reading lists");
    let regenerated =
        eventually(10, "token.regenerated", || receiver.of_type("token.regenerated").into_iter().next())
            .await;
    assert_eq!(regenerated.json()["data"]["token"]["workflow_state"], "pending", "back to pending");
    assert!(verified(&secret, &updated) && verified(&secret, &regenerated));
    // Sam is told it waits for him again (no SMTP here: the email is logged).
    eventually(10, "the regeneration email", || {
        emails_of(&app, "email.token_regenerated_on_behalf").into_iter().find(|m| m.state == "logged")
    })
    .await;

    // Its expiry passes: announced once, by the scheduler, with no actor.
    set_times(&app, token, 30, now() - chrono::Duration::minutes(1));
    let expired =
        eventually(10, "token.expired", || receiver.of_type("token.expired").into_iter().next()).await;
    let body = expired.json();
    assert_eq!(body["data"]["actor"], Value::Null);
    assert_eq!(body["data"]["token"]["id"], token);
    assert!(verified(&secret, &expired));
    pause(800).await;
    assert_eq!(receiver.of_type("token.expired").len(), 1, "once, however often the scheduler runs");
    assert!(receiver.of_type("token.created").is_empty(), "not subscribed");
    assert!(
        emails_of(&app, "email.token_expires_today").is_empty()
            && emails_of(&app, "email.token_expiring").is_empty(),
        "no reminder for a token already past its expiry"
    );
}
