//! Posting a webhook, signed per the Standard Webhooks specification: `webhook-id` (the
//! message's id, the same at every attempt), `webhook-timestamp` (Unix seconds of this
//! attempt), `webhook-signature` (`v1,` + base64 of HMAC-SHA256 over
//! `{id}.{timestamp}.{body}` with the endpoint's secret).

use std::time::Duration;

use crate::domain::notification::SigningSecret;

/// How long an endpoint has to answer.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Why a delivery did not succeed: the endpoint's status when it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostError {
    pub message: String,
    pub status: Option<i32>,
}

/// The HTTP client for every endpoint: no redirects followed (a delivery goes where the
/// administrator said, or fails), a timeout, TLS through the vendored OpenSSL.
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    pub fn new() -> reqwest::Result<Sender> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tokenwarden-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender { client })
    }

    /// Posts `body` to `url`; the status when the endpoint answered 2xx.
    pub async fn post(
        &self,
        url: &str,
        secret: &SigningSecret,
        id: &str,
        body: &str,
    ) -> Result<i32, PostError> {
        let timestamp = chrono::Utc::now().timestamp();
        let res = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", secret.sign(id, timestamp, body))
            .body(body.to_owned())
            .send()
            .await
            // Without the URL: it may carry a token of the receiver's (a chat service's hook).
            .map_err(|e| PostError { message: describe(&e.without_url()), status: None })?;
        let status = res.status();
        let code = i32::from(status.as_u16());
        if status.is_success() {
            Ok(code)
        } else {
            Err(PostError {
                message: format!(
                    "the endpoint answered {}{}",
                    status.as_u16(),
                    status.canonical_reason().map(|r| format!(" {r}")).unwrap_or_default()
                ),
                status: Some(code),
            })
        }
    }
}

/// A transport error in words, with its causes ("could not connect: Connection refused").
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    match causes.last() {
        Some(root) => format!("{what}: {root}"),
        None => what.to_owned(),
    }
}
