//! Emails: each message written out as plain text and HTML from the templates under
//! `templates/email/`, and sent over SMTP (lettre) — or, with no SMTP server configured,
//! written to the log (recipient and subject only). Never a secret: the outbox holds none.

use std::time::Duration;

use anyhow::Context;
use askama::Template;
use lettre::message::{Mailbox, MultiPart, header};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::domain::notification::days_until;
use crate::domain::now;
use crate::models::{DigestFigures, Notification};
use crate::services::notifications::{Mail, TokenFacts};
use crate::views::tokens::date_time;

/// How long the SMTP server has to take a connection.
const TIMEOUT: Duration = Duration::from_secs(15);

/// How long it has for a whole message, by default: lettre's timeout covers connecting
/// only, and a server that accepts and then stays silent would hold the worker's batch
/// (every channel) until it hung up. Well inside the outbox's two-minute lease.
const SEND_WITHIN: Duration = Duration::from_secs(30);

/// Where the links in emails lead, from `--public-url`.
#[derive(Debug, Clone)]
pub struct Links {
    pub site: String,
    /// `/settings/tokens`: the list, where a pending token is activated.
    pub tokens: String,
    /// `/settings/account`: where reminders are turned off.
    pub account: String,
    /// `/admin/tokens`, for the digest's figures (each with its filter).
    pub admin_tokens: String,
}

impl Links {
    pub fn new(public_url: &url::Url) -> Links {
        let at =
            |path: &str| public_url.join(path).map(|u| u.to_string()).unwrap_or_else(|_| path.to_owned());
        Links {
            site: at(""),
            tokens: at("settings/tokens"),
            account: at("settings/account"),
            admin_tokens: at("admin/tokens"),
        }
    }
}

/// An email, written out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// How a send ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The SMTP server took it.
    Delivered,
    /// No SMTP server is configured: logged instead.
    Logged,
}

/// Why a send failed: in words, with the SMTP server's reply code when it gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    pub status: Option<i32>,
    /// Trying again cannot help (an address that is not one, an email that cannot be
    /// written): the message fails at once.
    pub permanent: bool,
}

/// The SMTP transport (if any), the sender and the links.
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
    send_within: Duration,
    links: Links,
    /// The domain of Message-IDs.
    host: String,
}

impl Mailer {
    pub fn new(
        smtp_url: Option<&str>,
        mail_from: Option<&str>,
        public_url: url::Url,
    ) -> anyhow::Result<Mailer> {
        let from = mail_from
            .filter(|f| !f.trim().is_empty())
            .map(|f| {
                f.parse::<Mailbox>().with_context(|| {
                    format!(
                        "--mail-from {f:?} is not an email address (e.g. tokenwarden <tokens@example.edu>)"
                    )
                })
            })
            .transpose()?;
        let transport = match smtp_url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(url) => {
                anyhow::ensure!(
                    url.starts_with("smtp://") || url.starts_with("smtps://"),
                    "--smtp-url must start with smtp:// or smtps://"
                );
                anyhow::ensure!(from.is_some(), "--smtp-url needs --mail-from (the sender of the emails)");
                // Not the URL in the message: it may hold the SMTP password.
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("--smtp-url is not a usable SMTP URL: {e}"))?;
                Some(builder.timeout(Some(TIMEOUT)).build())
            }
        };
        let host = public_url.host_str().unwrap_or("localhost").to_owned();
        Ok(Mailer { transport, from, links: Links::new(&public_url), host, send_within: SEND_WITHIN })
    }

    /// How long the SMTP server has for a whole message.
    pub fn send_within(self, send_within: Duration) -> Mailer {
        Mailer { send_within, ..self }
    }

    /// Sends the email `mail` of the outbox message `message`.
    pub async fn send(&self, message: &Notification, mail: &Mail) -> Result<Sent, SendError> {
        let fail = |m: String| SendError { message: m, status: None, permanent: true };
        let rendered =
            render(mail, &self.links).map_err(|e| fail(format!("the email could not be written: {e}")))?;
        let (Some(transport), Some(from)) = (&self.transport, &self.from) else {
            tracing::info!(
                to = %message.recipient,
                subject = %rendered.subject,
                message_id = %message.message_id,
                "email logged, not sent: no SMTP server is configured (--smtp-url)"
            );
            return Ok(Sent::Logged);
        };
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|e| fail(format!("the recipient's address is not usable: {e}")))?;
        let email = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(format!("<{}@{}>", message.message_id, self.host)))
            .header(header::MIME_VERSION_1_0)
            .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
            .map_err(|e| fail(format!("the email could not be built: {e}")))?;
        match actix_web::rt::time::timeout(self.send_within, transport.send(email)).await {
            Ok(Ok(_)) => Ok(Sent::Delivered),
            Ok(Err(e)) => Err(SendError {
                status: e.status().and_then(|c| c.to_string().parse().ok()),
                message: describe(&e),
                permanent: false,
            }),
            Err(_) => Err(SendError {
                message: format!(
                    "the SMTP server did not take it within {} s: it stopped answering",
                    self.send_within.as_secs_f32()
                ),
                status: None,
                permanent: false,
            }),
        }
    }
}

/// An SMTP error in words, with its root cause.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    format!("the SMTP server did not take it: {text}")
}

// ---------------------------------------------------------------------------------------
// Writing the messages out

/// A token as the emails show it.
pub struct TokenLine {
    pub purpose: String,
    pub hint: String,
    pub expires: String,
}

impl TokenLine {
    fn of(t: &TokenFacts) -> TokenLine {
        TokenLine {
            purpose: t.purpose.clone(),
            hint: t.hint.clone(),
            expires: t.expires_at.map_or_else(|| "never".to_owned(), date_time),
        }
    }
}

/// Defines the plain-text and HTML templates of one message, over the same view.
macro_rules! email_templates {
    ($view:ident, $txt:ident = $txt_path:literal, $html:ident = $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $txt_path)]
        struct $txt<'a> {
            m: &'a $view,
            links: &'a Links,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a $view,
            links: &'a Links,
        }

        impl $view {
            fn write(&self, subject: String, links: &Links) -> askama::Result<Rendered> {
                Ok(Rendered {
                    subject,
                    text: $txt { m: self, links }.render()?,
                    html: $html { m: self, links }.render()?,
                })
            }
        }
    };
}

pub struct OnBehalf {
    pub name: String,
    pub by: String,
    pub token: TokenLine,
    pub regenerated: bool,
    pub widened: bool,
}
email_templates!(OnBehalf, OnBehalfText = "email/on_behalf.txt", OnBehalfHtml = "email/on_behalf.html");

pub struct Revoked {
    pub name: String,
    pub by: String,
    pub at: String,
    pub tokens: Vec<TokenLine>,
    pub all: bool,
}
email_templates!(Revoked, RevokedText = "email/revoked.txt", RevokedHtml = "email/revoked.html");

pub struct Leaked {
    pub name: String,
    pub token: TokenLine,
    pub reported_from: String,
    pub at: String,
}
email_templates!(Leaked, LeakedText = "email/leaked.txt", LeakedHtml = "email/leaked.html");

pub struct Capped {
    pub name: String,
    pub count: usize,
    pub expires: String,
    pub max_days: i32,
}
email_templates!(Capped, CappedText = "email/capped.txt", CappedHtml = "email/capped.html");

pub struct Expiring {
    pub name: String,
    pub token: TokenLine,
    pub today: bool,
    pub days: i64,
}
email_templates!(Expiring, ExpiringText = "email/expiring.txt", ExpiringHtml = "email/expiring.html");

pub struct Digest {
    pub name: String,
    pub week: String,
    pub figures: DigestFigures,
}
email_templates!(Digest, DigestText = "email/digest.txt", DigestHtml = "email/digest.html");

/// Writes `mail` out: subject, plain text, HTML.
pub fn render(mail: &Mail, links: &Links) -> askama::Result<Rendered> {
    match mail {
        Mail::CreatedOnBehalf { name, by, token, regenerated, widened } => {
            let subject = if *regenerated {
                format!("Your access token “{}” was regenerated for you: activate it", token.purpose)
            } else if *widened {
                format!("Your access token “{}” was given more for you: activate it again", token.purpose)
            } else {
                format!("An access token was created for you: activate “{}”", token.purpose)
            };
            let view = OnBehalf {
                name: name.clone(),
                by: by.clone(),
                token: TokenLine::of(token),
                regenerated: *regenerated,
                widened: *widened,
            };
            view.write(subject, links)
        }
        Mail::RevokedByAdmin { name, by, at, tokens, all } => {
            let subject = match (all, tokens.as_slice()) {
                (false, [one]) => format!("Your access token “{}” was revoked", one.purpose),
                _ => format!("All your access tokens were revoked ({})", tokens.len()),
            };
            let view = Revoked {
                name: name.clone(),
                by: by.clone(),
                at: date_time(*at),
                tokens: tokens.iter().map(TokenLine::of).collect(),
                all: *all,
            };
            view.write(subject, links)
        }
        Mail::Leaked { name, token, reported_from, at } => {
            let subject = format!("Your access token “{}” was reported as leaked and revoked", token.purpose);
            let view = Leaked {
                name: name.clone(),
                token: TokenLine::of(token),
                reported_from: reported_from.clone(),
                at: date_time(*at),
            };
            view.write(subject, links)
        }
        Mail::Capped { name, count, expires_at, max_days } => {
            let subject = format!("Your access tokens now expire within {max_days} days");
            let view = Capped {
                name: name.clone(),
                count: *count,
                expires: date_time(*expires_at),
                max_days: *max_days,
            };
            view.write(subject, links)
        }
        Mail::Expiring { name, token, today } => {
            let days = token.expires_at.map_or(0, |at| days_until(now(), at));
            let subject = if *today {
                format!("Your access token “{}” expires today", token.purpose)
            } else {
                format!(
                    "Your access token “{}” expires in {days} day{}",
                    token.purpose,
                    if days == 1 { "" } else { "s" }
                )
            };
            let view = Expiring { name: name.clone(), token: TokenLine::of(token), today: *today, days };
            view.write(subject, links)
        }
        Mail::Digest { name, week, figures } => {
            let subject = format!(
                "Access tokens, week {week}: {} active, {} expiring within 7 days",
                figures.active, figures.expiring_within_7_days
            );
            let view = Digest { name: name.clone(), week: week.clone(), figures: *figures };
            view.write(subject, links)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> Links {
        Links::new(&url::Url::parse("https://tokens.example.edu/").unwrap())
    }

    fn facts() -> TokenFacts {
        TokenFacts {
            id: 7,
            purpose: "Grades <export> & sync".into(),
            hint: "tw_…x9Qa".into(),
            expires_at: Some(
                chrono::NaiveDate::from_ymd_opt(2027, 3, 4).unwrap().and_hms_opt(9, 5, 0).unwrap(),
            ),
        }
    }

    #[test]
    fn a_token_made_on_someones_behalf_links_to_where_it_is_activated() {
        let mail = Mail::CreatedOnBehalf {
            name: "Sam".into(),
            by: "Ada Admin (admin)".into(),
            token: facts(),
            regenerated: false,
            widened: false,
        };
        let r = render(&mail, &links()).unwrap();
        assert!(r.subject.contains("Grades <export> & sync"));
        assert!(r.text.contains("https://tokens.example.edu/settings/tokens"), "{}", r.text);
        assert!(r.text.contains("Grades <export> & sync") && r.text.contains("Ada Admin (admin)"));
        assert!(r.html.contains("href=\"https://tokens.example.edu/settings/tokens\""), "{}", r.html);
        assert!(r.html.contains("Grades &#60;export&#62; &#38; sync"), "escaped in HTML: {}", r.html);
        assert!(r.text.contains("4 Mar 2027, 09:05 UTC"));
    }

    #[test]
    fn a_token_widened_on_someones_behalf_asks_to_be_activated_again() {
        let mail = Mail::CreatedOnBehalf {
            name: "Sam".into(),
            by: "Ada Admin (admin)".into(),
            token: facts(),
            regenerated: false,
            widened: true,
        };
        let r = render(&mail, &links()).unwrap();
        assert!(r.subject.contains("activate it again"), "{}", r.subject);
        for body in [&r.text, &r.html] {
            assert!(body.contains("more on your behalf"), "{body}");
            assert!(body.contains("the same secret") && !body.contains("should hand it over"), "{body}");
        }
        assert_eq!(mail.event(), "email.token_widened_on_behalf");
    }

    #[test]
    fn every_message_is_written_as_text_and_html() {
        let at = facts().expires_at.unwrap();
        for mail in [
            Mail::RevokedByAdmin {
                name: "Sam".into(),
                by: "Ada".into(),
                at,
                tokens: vec![facts(), facts()],
                all: true,
            },
            Mail::Leaked { name: "Sam".into(), token: facts(), reported_from: "203.0.113.9".into(), at },
            Mail::Capped { name: "Sam".into(), count: 3, expires_at: at, max_days: 120 },
            Mail::Expiring { name: "Sam".into(), token: facts(), today: true },
            Mail::Digest {
                name: "Ada".into(),
                week: "2026-W49".into(),
                figures: DigestFigures { active: 12, ..Default::default() },
            },
        ] {
            let r = render(&mail, &links()).unwrap();
            assert!(!r.subject.is_empty() && r.text.contains("Sam") || r.text.contains("Ada"), "{mail:?}");
            assert!(r.html.starts_with("<!doctype html>"), "{}", r.html);
            assert!(
                !r.text.contains('<') || r.text.contains("<export>"),
                "plain text has no markup: {}",
                r.text
            );
        }
    }
}
