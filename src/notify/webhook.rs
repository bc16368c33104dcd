//! Posting a webhook, signed per the Standard Webhooks specification: `webhook-id` (the
//! message's id, the same at every attempt), `webhook-timestamp` (Unix seconds of this
//! attempt), `webhook-signature` (`v1,` + base64 of HMAC-SHA256 over
//! `{id}.{timestamp}.{body}` with the endpoint's secret).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::net::OutboundReach;
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
/// administrator said, or fails), only addresses within the server's reach connected to
/// (checked on the addresses a name resolves to, at each delivery, so that a name which
/// later resolves into the intranet reaches nothing there), a timeout, TLS through the
/// vendored OpenSSL.
pub struct Sender {
    client: reqwest::Client,
    reach: Arc<OutboundReach>,
}

impl Sender {
    pub fn new(reach: OutboundReach) -> reqwest::Result<Sender> {
        let reach = Arc::new(reach);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Not through a proxy named by the environment (HTTPS_PROXY, ALL_PROXY): the
            // proxy would resolve the names, and the checks below would see only its address.
            .no_proxy()
            .dns_resolver(Arc::new(WithinReach(reach.clone())))
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tokenwarden-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender { client, reach })
    }

    /// Posts `body` to `url`; the status when the endpoint answered 2xx.
    pub async fn post(
        &self,
        url: &str,
        secret: &SigningSecret,
        id: &str,
        body: &str,
    ) -> Result<i32, PostError> {
        // An address in the URL is connected to as it is, without the resolver: check it here.
        let address = url::Url::parse(url).ok().and_then(|u| crate::domain::net::host_address(&u));
        if let Some(why) = address.and_then(|ip| self.reach.refusal(ip)) {
            return Err(PostError {
                message: format!("not sent: {why}, outside the server's reach"),
                status: None,
            });
        }
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

/// The system's resolver, keeping only the addresses the server may reach: a name that
/// resolves only to refused ones fails to connect, and says why.
struct WithinReach(Arc<OutboundReach>);

impl reqwest::dns::Resolve for WithinReach {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.0.clone();
        Box::pin(async move { resolve_within(&reach, name.as_str()).await })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn resolve_within(reach: &OutboundReach, host: &str) -> Result<reqwest::dns::Addrs, BoxError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| {
            let detail = e.to_string();
            let detail = detail.strip_prefix("failed to lookup address information: ").unwrap_or(&detail);
            format!("the name {host} could not be resolved ({detail})")
        })?
        .collect();
    let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        found.into_iter().partition(|a| reach.refused(a.ip()).is_none());
    // Which address it was is not said: the delivery log would otherwise answer DNS
    // questions about the intranet.
    match (kept.is_empty(), refused.first().and_then(|a| reach.refused(a.ip()))) {
        (true, Some(what)) => Err(format!("{host} resolves to {what}, outside the server's reach").into()),
        _ => Ok(Box::new(kept.into_iter())),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_that_resolves_only_outside_the_reach_is_not_connected_to() {
        let refused =
            resolve_within(&OutboundReach::default(), "localhost").await.err().map(|e| e.to_string());
        let refused = refused.expect("localhost is the loopback");
        assert!(
            refused == "localhost resolves to a loopback address, outside the server's reach",
            "{refused}"
        );
        let allowed = OutboundReach::new(vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()]);
        let found: Vec<SocketAddr> = resolve_within(&allowed, "localhost").await.expect("allowed").collect();
        assert!(!found.is_empty() && found.iter().all(|a| a.ip().is_loopback()), "{found:?}");
    }
}
