//! Who is on the other end of a request: the client's address.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::ServeArgs;

/// The client's address: the TCP peer, or the first X-Forwarded-For hop behind a trusted proxy.
pub fn client_ip(req: &HttpRequest, serve: &ServeArgs) -> Option<IpAddr> {
    let info = req.connection_info();
    let raw = if serve.trust_proxy { info.realip_remote_addr() } else { info.peer_addr() };
    raw.and_then(|s| {
        s.parse::<IpAddr>().ok().or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
    })
}
