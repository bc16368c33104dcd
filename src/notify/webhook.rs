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
/// With the operator's proxy (`--webhook-proxy`), for a network whose only way out is one,
/// deliveries to the internet go through it, and the proxy resolves their names: this server
/// refuses what it can still see (an address in the URL, a name that it resolves itself only
/// into refused addresses) and leaves the rest to the proxy's rules. A receiver in a network
/// the operator allowed (`--webhook-allow-networks`) is inside, and is sent to directly.
pub struct Sender {
    direct: reqwest::Client,
    proxied: Option<reqwest::Client>,
    reach: Arc<OutboundReach>,
}

/// How long the server waits for its own resolver before leaving a name to the proxy: where
/// the proxy is the only way out, a lookup often times out rather than fails.
const LOOKUP_WITHIN: Duration = Duration::from_secs(2);

impl Sender {
    pub fn new(reach: OutboundReach, proxy: Option<&url::Url>) -> reqwest::Result<Sender> {
        let reach = Arc::new(reach);
        let builder = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!("tokenwarden-webhooks/", env!("CARGO_PKG_VERSION")))
        };
        // Never through a proxy named by the environment (HTTPS_PROXY, ALL_PROXY, nor its
        // NO_PROXY): the proxy would resolve the names, and the checks see only its address.
        let direct = builder().no_proxy().dns_resolver(Arc::new(WithinReach(reach.clone()))).build()?;
        // The proxy's own address is the operator's choice, and usually in the intranet: it
        // is not held to the reach (reqwest resolves it with the system's resolver).
        let proxied = proxy.map(|p| builder().proxy(reqwest::Proxy::all(p.as_str())?).build()).transpose()?;
        Ok(Sender { direct, proxied, reach })
    }

    /// The client for `url`: the proxy for the internet, direct for a receiver within an
    /// allowed network; or why nothing is sent.
    async fn route(&self, url: &str) -> Result<(&reqwest::Client, bool), String> {
        let parsed = url::Url::parse(url).ok();
        // An address in the URL is connected to as it is, without the resolver: check it here.
        let address = parsed.as_ref().and_then(crate::domain::net::host_address);
        if let Some(why) = address.and_then(|ip| self.reach.refusal(ip)) {
            return Err(format!("not sent: {why}, outside the server's reach"));
        }
        let Some(proxied) = &self.proxied else {
            return Ok((&self.direct, false));
        };
        let addresses = match (address, parsed.as_ref().and_then(url::Url::host_str)) {
            (Some(ip), _) => vec![ip],
            (None, Some(host)) => {
                let found = tokio::time::timeout(LOOKUP_WITHIN, tokio::net::lookup_host((host, 0))).await;
                let found: Vec<std::net::IpAddr> =
                    found.ok().and_then(Result::ok).into_iter().flatten().map(|a| a.ip()).collect();
                if let Some(what) = refused_everywhere(&self.reach, &found) {
                    return Err(format!("not sent: {host} resolves to {what}, outside the server's reach"));
                }
                found
            }
            (None, None) => Vec::new(),
        };
        if !addresses.is_empty() && addresses.iter().all(|ip| self.reach.allows_network_of(*ip)) {
            Ok((&self.direct, false))
        } else {
            Ok((proxied, true))
        }
    }

    /// Posts `body` to `url`; the status when the endpoint answered 2xx.
    pub async fn post(
        &self,
        url: &str,
        secret: &SigningSecret,
        id: &str,
        body: &str,
    ) -> Result<i32, PostError> {
        let (client, through_proxy) =
            self.route(url).await.map_err(|message| PostError { message, status: None })?;
        // Whoever answers through the proxy may be the proxy: the log says the way it went.
        let way = if through_proxy { " (through the proxy)" } else { "" };
        let timestamp = chrono::Utc::now().timestamp();
        let res = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", secret.sign(id, timestamp, body))
            .body(body.to_owned())
            .send()
            .await
            // Without the URL: it may carry a token of the receiver's (a chat service's hook).
            .map_err(|e| PostError {
                message: format!("{}{way}", describe(&e.without_url())),
                status: None,
            })?;
        let status = res.status();
        let code = i32::from(status.as_u16());
        if status.is_success() {
            Ok(code)
        } else {
            Err(PostError {
                message: format!(
                    "the endpoint answered {}{}{way}",
                    status.as_u16(),
                    status.canonical_reason().map(|r| format!(" {r}")).unwrap_or_default()
                ),
                status: Some(code),
            })
        }
    }
}

/// What the addresses a name resolved to are, when every one of them is refused (none
/// found: nothing is known, and `None`).
fn refused_everywhere(reach: &OutboundReach, found: &[std::net::IpAddr]) -> Option<&'static str> {
    let mut refusals = found.iter().map(|ip| reach.refused(*ip));
    let first = refusals.next()??;
    refusals.all(|r| r.is_some()).then_some(first)
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

    #[test]
    fn a_name_is_refused_only_when_every_address_it_resolves_to_is() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let none = OutboundReach::default();
        assert_eq!(refused_everywhere(&none, &[ip("127.0.0.1"), ip("::1")]), Some("a loopback address"));
        assert_eq!(refused_everywhere(&none, &[ip("127.0.0.1"), ip("93.184.215.14")]), None, "one public");
        assert_eq!(refused_everywhere(&none, &[]), None, "not resolved here: the proxy's to judge");
        let lab = OutboundReach::new(vec!["10.20.0.0/16".parse().unwrap()]);
        assert_eq!(refused_everywhere(&lab, &[ip("10.20.1.2")]), None);
    }

    #[tokio::test]
    async fn through_the_proxy_a_receiver_in_an_allowed_network_is_sent_to_directly() {
        let proxy: url::Url = "http://127.0.0.1:9".parse().unwrap();
        let lab = OutboundReach::new(vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()]);
        let sender = Sender::new(lab, Some(&proxy)).unwrap();
        assert!(!sender.route("http://127.0.0.1:8080/in").await.unwrap().1, "an allowed address");
        assert!(!sender.route("http://localhost:8080/in").await.unwrap().1, "a name resolving into it");
        assert!(sender.route("http://93.184.215.14/in").await.unwrap().1, "the internet");
        assert!(sender.route("http://hooks.example.invalid/in").await.unwrap().1, "a name for the proxy");
        let sender = Sender::new(OutboundReach::default(), Some(&proxy)).unwrap();
        assert_eq!(
            sender.route("http://localhost:8080/in").await.err().as_deref(),
            Some("not sent: localhost resolves to a loopback address, outside the server's reach")
        );
        let direct = Sender::new(OutboundReach::default(), None).unwrap();
        assert!(!direct.route("http://93.184.215.14/in").await.unwrap().1, "no proxy: direct");
    }
}
