//! Who is on the other end of a request: the client's address.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::ServeArgs;
use crate::domain::net::{ProxyTrust, canonical};

/// The client's address: the TCP peer, or behind trusted proxies the rightmost
/// X-Forwarded-For hop that is not one of them (see [`ProxyTrust::client`]).
pub fn client_ip(req: &HttpRequest, serve: &ServeArgs) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trust = serve.proxy_trust();
    if trust == ProxyTrust::None {
        return Some(canonical(peer));
    }
    let forwarded: Vec<&str> =
        req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
    Some(trust.client(peer, &forwarded))
}

/// Whether the request came through a proxy this server trusts, so that its
/// `X-Forwarded-Proto` and `X-Forwarded-Host` may be believed.
pub fn via_trusted_proxy(req: &HttpRequest, serve: &ServeArgs) -> bool {
    req.peer_addr().is_some_and(|peer| serve.proxy_trust().trusts_peer(peer.ip()))
}

/// The address people reach this site at, without a trailing slash, for links handed to
/// them: `--public-url` when set; else as this request reached it (the scheme and host a
/// trusted proxy forwarded, or the `Host` header, over HTTPS when cookies are `Secure`).
pub fn site_address(req: &HttpRequest, serve: &ServeArgs) -> String {
    if let Some(url) = &serve.public_url {
        return url.as_str().trim_end_matches('/').to_owned();
    }
    if via_trusted_proxy(req, serve) {
        let info = req.connection_info();
        return format!("{}://{}", info.scheme(), info.host());
    }
    // A host that would break out of a link (`<…>` in a Link header, a path) is not used.
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', '\\', '<', '>', ' ', '"']))
        .unwrap_or("localhost");
    format!("{}://{host}", if serve.secure_cookies { "https" } else { "http" })
}
