//! The client's address behind proxies: the trusted blocks of `--trusted-proxies`
//! (`Cidr`) and the `X-Forwarded-For` walk (`ProxyTrust::client`).
//!
//! The input: line 0 is a comma-separated list of blocks; line 1 the TCP peer's address
//! (`10.0.0.2` when it does not read); every further line an `X-Forwarded-For` value.

use std::net::IpAddr;

use super::{line, text};
use tokenwarden::domain::net::{Cidr, ProxyTrust, canonical};

pub fn check(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();
    let blocks: Vec<Cidr> = line(s, 0).split(',').filter_map(|b| b.parse().ok()).collect();
    for written in line(s, 0).split(',') {
        if let Ok(block) = written.parse::<Cidr>() {
            // A block reads back as itself and holds the address it was written with.
            assert_eq!(block.to_string().parse::<Cidr>(), Ok(block), "{written:?}");
            let addr = written.trim().split('/').next().unwrap_or_default();
            let addr: IpAddr = addr.parse().unwrap_or_else(|_| panic!("{written:?} read without an address"));
            assert!(block.contains(addr), "{written:?} does not hold its own address");
        }
    }
    let peer: IpAddr = line(s, 1).trim().parse().unwrap_or(IpAddr::from([10, 0, 0, 2]));
    let forwarded: Vec<&str> = s.split('\n').skip(2).collect();
    // Every hop the header names, as the walk reads them.
    let hop = |h: &str| {
        h.parse::<IpAddr>()
            .ok()
            .or_else(|| h.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
            .map(canonical)
    };
    let hops: Vec<IpAddr> =
        forwarded.iter().flat_map(|v| v.split(',')).map(str::trim).filter_map(hop).collect();

    assert_eq!(ProxyTrust::None.client(peer, &forwarded), canonical(peer), "no trust: the peer");
    for trust in [ProxyTrust::Peer, ProxyTrust::Blocks(&blocks)] {
        let client = trust.client(peer, &forwarded);
        assert_eq!(client, canonical(client), "{trust:?}: {client} is not canonical");
        assert!(client == canonical(peer) || hops.contains(&client), "{trust:?}: {client} came from nowhere");
        if !trust.trusts_peer(peer) {
            assert_eq!(client, canonical(peer), "{trust:?}: an untrusted peer speaks for nobody");
        }
        // What the client wrote left of the hops the proxies wrote changes nothing: once
        // the walk ends at an untrusted hop, hops before it are never read.
        let ends_untrusted = match trust {
            ProxyTrust::Blocks(b) => !b.iter().any(|c| c.contains(client)),
            _ => true,
        };
        if ends_untrusted && (hops.contains(&client) || !trust.trusts_peer(peer)) {
            let mut forged = vec!["192.0.2.66, 2001:db8::66, garbage"];
            forged.extend(&forwarded);
            assert_eq!(
                trust.client(peer, &forged),
                client,
                "{trust:?}: a forged hop on the left moved the client"
            );
        }
    }
}
