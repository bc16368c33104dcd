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
///
/// Through the operator's proxy (`--webhook-proxy`), where a network's only way out is one,
/// the proxy resolves the names and connects: this server then refuses what it can still
/// see, an address in the URL and a name that it resolves itself only into refused
/// addresses, and leaves the rest to the proxy's own rules.
pub struct Sender {
    client: reqwest::Client,
    reach: Arc<OutboundReach>,
    proxied: bool,
}

impl Sender {
    pub fn new(reach: OutboundReach, proxy: Option<&url::Url>) -> reqwest::Result<Sender> {
        let reach = Arc::new(reach);
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tokenwarden-webhooks/", env!("CARGO_PKG_VERSION")));
        let builder = match proxy {
            // The proxy's own address is the operator's choice, and usually in the intranet:
            // it is not held to the reach (reqwest resolves it with the system's resolver).
            Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy.as_str())?),
            // Never through a proxy named by the environment (HTTPS_PROXY, ALL_PROXY): the
            // proxy would resolve the names, and the checks would see only its address.
            None => builder.no_proxy().dns_resolver(Arc::new(WithinReach(reach.clone()))),
        };
        Ok(Sender { client: builder.build()?, reach, proxied: proxy.is_some() })
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
        let parsed = url::Url::parse(url).ok();
        let address = parsed.as_ref().and_then(crate::domain::net::host_address);
        if let Some(why) = address.and_then(|ip| self.reach.refusal(ip)) {
            return Err(PostError {
                message: format!("not sent: {why}, outside the server's reach"),
                status: None,
            });
        }
        // Through the proxy, the resolver above is not asked: the name is checked here.
        if self.proxied
            && address.is_none()
            && let Some(host) = parsed.as_ref().and_then(url::Url::host_str)
            && let Some(why) = refused_by_name(&self.reach, host).await
        {
            return Err(PostError { message: format!("not sent: {why}"), status: None });
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

/// Why a delivery through the proxy to `host` is refused: the name resolves here, and only
/// into addresses outside the reach. A name this server cannot resolve is the proxy's to
/// resolve (behind a proxy, often only the proxy can).
async fn refused_by_name(reach: &OutboundReach, host: &str) -> Option<String> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await.ok()?.collect();
    let mut refusals = found.iter().map(|a| reach.refused(a.ip()));
    let first = refusals.next()??;
    refusals.all(|r| r.is_some()).then(|| format!("{host} resolves to {first}, outside the server's reach"))
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

    #[tokio::test]
    async fn through_the_proxy_a_name_is_refused_only_when_it_resolves_here_outside_the_reach() {
        assert_eq!(
            refused_by_name(&OutboundReach::default(), "localhost").await.as_deref(),
            Some("localhost resolves to a loopback address, outside the server's reach")
        );
        let allowed = OutboundReach::new(vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()]);
        assert_eq!(refused_by_name(&allowed, "localhost").await, None);
        // Not resolvable here (a reserved name): the proxy's to resolve.
        assert_eq!(refused_by_name(&OutboundReach::default(), "hooks.example.invalid").await, None);
    }
}
