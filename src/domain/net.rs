//! Client addresses behind proxies, and the keys that throttles count them by.

use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// An address block, as `10.0.0.0/8`, `fd00::/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network = canonical(addr.parse::<IpAddr>().map_err(|_| format!("not an address: {addr}"))?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("not a prefix length: /{p}"))?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) is the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whom the proxies in front of the server speak for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyTrust<'a> {
    /// Nobody: the TCP peer is the client, whatever `X-Forwarded-For` says.
    #[default]
    None,
    /// The TCP peer is one proxy: the hop it appended (the rightmost) is the client.
    Peer,
    /// Proxies in these blocks: the client is the rightmost hop that is not one of them.
    Blocks(&'a [Cidr]),
}

impl ProxyTrust<'_> {
    fn trusts(&self, ip: IpAddr, is_peer: bool) -> bool {
        match self {
            ProxyTrust::None => false,
            ProxyTrust::Peer => is_peer,
            ProxyTrust::Blocks(blocks) => blocks.iter().any(|b| b.contains(ip)),
        }
    }

    /// Whether the TCP peer is a proxy this server trusts (its forwarded headers count).
    pub fn trusts_peer(&self, peer: IpAddr) -> bool {
        self.trusts(canonical(peer), true)
    }

    /// The client's address, from the TCP peer and the `X-Forwarded-For` values (in the
    /// order they came, each a comma-separated list): walking from the right, past every
    /// trusted proxy, to the first hop that is not one. The hops left of it were written by
    /// the client itself and are never believed: rotating them changes nothing. An
    /// unreadable hop ends the walk at the last good one.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer, true) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { return client };
            client = canonical(ip);
            if !self.trusts(client, false) {
                return client;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` hop: an address, maybe with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// What a throttle counts an address by: an IPv4 address, or the /64 an IPv6 address is
/// in — a single subscriber usually holds a whole /64, and counting its addresses one by one
/// would give it 2⁶⁴ budgets.
pub fn throttle_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let b: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(b.contains(ip("10.200.3.4")) && !b.contains(ip("11.0.0.1")));
        assert!(b.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6 is IPv4");
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn without_trust_the_peer_is_the_client_whatever_the_header_says() {
        assert_eq!(ProxyTrust::None.client(ip("198.51.100.1"), &["203.0.113.5"]), ip("198.51.100.1"));
    }

    #[test]
    fn one_trusted_proxy_means_the_rightmost_hop() {
        let t = ProxyTrust::Peer;
        // The client wrote "1.1.1.1" itself; the proxy appended the address it saw.
        assert_eq!(t.client(ip("10.0.0.2"), &["1.1.1.1, 203.0.113.5"]), ip("203.0.113.5"));
        assert_eq!(t.client(ip("10.0.0.2"), &[]), ip("10.0.0.2"), "no header: the peer");
    }

    #[test]
    fn trusted_blocks_are_walked_past_from_the_right() {
        let blocks = ["10.0.0.0/8".parse().unwrap()];
        let t = ProxyTrust::Blocks(&blocks);
        let peer = ip("10.0.0.2");
        assert_eq!(t.client(peer, &["6.6.6.6, 203.0.113.5, 10.0.0.9"]), ip("203.0.113.5"));
        assert_eq!(t.client(peer, &["6.6.6.6", "203.0.113.5"]), ip("203.0.113.5"), "several headers");
        assert_eq!(t.client(ip("198.51.100.1"), &["203.0.113.5"]), ip("198.51.100.1"), "an untrusted peer");
        assert_eq!(t.client(peer, &["garbage, 203.0.113.5"]), ip("203.0.113.5"));
        assert_eq!(t.client(peer, &["203.0.113.5, garbage"]), peer, "an unreadable hop stops the walk");
        assert_eq!(t.client(peer, &["[2001:db8::1]:4711"]), ip("2001:db8::1"));
    }

    #[test]
    fn rotating_the_forged_part_changes_nothing() {
        let t = ProxyTrust::Peer;
        let a = t.client(ip("10.0.0.2"), &["1.2.3.4, 203.0.113.5"]);
        let b = t.client(ip("10.0.0.2"), &["9.9.9.9, 8.8.8.8, 203.0.113.5"]);
        assert_eq!(a, b);
    }

    #[test]
    fn ipv6_addresses_are_counted_by_their_64() {
        assert_eq!(throttle_key(ip("2001:db8:1:2:aaaa::1")), throttle_key(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(throttle_key(ip("2001:db8:1:2::1")), throttle_key(ip("2001:db8:1:3::1")));
        assert_eq!(throttle_key(ip("192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(throttle_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
