//! Client addresses behind proxies, the keys that throttles count them by, and which
//! addresses the server itself may reach (webhooks).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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

/// What `ip` is when it is not an address on the public internet ("a loopback address",
/// "an address in a private network", …): the special-purpose blocks of RFC 6890 and its
/// updates, and the IPv6 forms that carry such an IPv4 address (mapped, NAT64, 6to4).
/// `None` for a public address.
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_private() => "an address in a private network",
        _ if ip.is_link_local() => "a link-local address (where cloud metadata services answer)",
        (0, _, _) => "an address of this host's own network",
        (100, 64..=127, _) => "an address in carrier-grade NAT's shared space",
        (192, 0, 0) => "an address reserved for protocol assignments",
        (198, 18..=19, _) => "an address reserved for benchmarking",
        _ if ip.is_documentation() => "an address reserved for documentation",
        _ if ip.is_multicast() => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

/// An IPv6 address that carries an IPv4 one (NAT64, 6to4) names what it carries.
const CARRIES_SPECIAL_V4: &str = "an IPv6 form of a loopback, private or otherwise non-public IPv4 address";

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    let embedded_v4 = |shift: u32| Ipv4Addr::from((bits >> shift) as u32);
    let in_block = |net: u128, prefix: u32| bits >> (128 - prefix) == net >> (128 - prefix);
    Some(match ip {
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_unspecified() => "an address of this host's own network",
        _ if ip.is_unique_local() => "an address in a private network",
        _ if ip.is_unicast_link_local() => "a link-local address (where cloud metadata services answer)",
        _ if ip.is_multicast() => "a multicast address",
        // NAT64 (64:ff9b::/96), IPv4-translated (::ffff:0:0/96) and 6to4 (2002::/16)
        // addresses reach the IPv4 address they carry.
        _ if in_block(0x0064_ff9b << 96, 96) || in_block(0xffff_0000 << 32, 96) => {
            special_v4(embedded_v4(0)).map(|_| CARRIES_SPECIAL_V4)?
        }
        _ if in_block(0x2002 << 112, 16) => special_v4(embedded_v4(80)).map(|_| CARRIES_SPECIAL_V4)?,
        _ if in_block(0x0064_ff9b_0001 << 80, 48) => "an address of a local NAT64 translator",
        _ if in_block(0x2001_0db8 << 96, 32) => "an address reserved for documentation",
        _ if in_block(0xfec0 << 112, 10) => "a site-local address",
        _ if bits >> 32 == 0 => "an IPv4-compatible address (deprecated)",
        _ => return None,
    })
}

/// The address a URL names as its host (`http://10.0.0.1/`, `http://[::1]/`), which a
/// client connects to without resolving anything; `None` for a name.
pub fn host_address(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// The addresses the server's own requests (webhook deliveries) may go to: the public
/// internet, and the blocks the operator allowed on top (`--webhook-allow-networks`). What
/// an administrator types into a form must not turn the server into a way into its own
/// network: its loopback services, the cloud's metadata service, the intranet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundReach {
    allowed: Vec<Cidr>,
}

impl OutboundReach {
    pub fn new(allowed: Vec<Cidr>) -> OutboundReach {
        OutboundReach { allowed }
    }

    /// What `ip` is when the server may not send to it ("an address in a private network"),
    /// or `None` when it may.
    pub fn refused(&self, ip: IpAddr) -> Option<&'static str> {
        special_purpose(ip).filter(|_| !self.allowed.iter().any(|b| b.contains(ip)))
    }

    /// Whether `ip` is outside the public internet in a block the operator allowed: a
    /// receiver inside the institution, which a delivery reaches without the proxy.
    pub fn allows_network_of(&self, ip: IpAddr) -> bool {
        special_purpose(ip).is_some() && self.allowed.iter().any(|b| b.contains(ip))
    }

    /// Why the server may not send to `ip` ("10.1.2.3 is an address in a private network"),
    /// or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        self.refused(ip).map(|what| format!("{} is {what}", canonical(ip)))
    }

    /// Why the server may not send to `url`'s host (an address, `[::1]`, or a name):
    /// addresses are checked here, and `localhost` with its subdomains (RFC 6761: always the
    /// loopback); any other name only once it is resolved, at each delivery.
    pub fn refusal_for_url(&self, url: &url::Url) -> Option<String> {
        if let Some(ip) = host_address(url) {
            return self.refusal(ip);
        }
        match url.host()? {
            url::Host::Ipv4(_) | url::Host::Ipv6(_) => None,
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                let loopback = name == "localhost" || name.ends_with(".localhost");
                let reachable = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]
                    .into_iter()
                    .any(|ip| self.refused(ip).is_none());
                (loopback && !reachable).then(|| format!("{name} is the server itself (a loopback address)"))
            }
        }
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

    #[test]
    fn special_purpose_addresses_are_named_and_public_ones_are_not() {
        for (addr, what) in [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("10.2.3.4", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("fd12:3456::1", "private"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("0.0.0.0", "own network"),
            ("::", "own network"),
            ("100.64.0.1", "carrier-grade"),
            ("198.18.0.1", "benchmarking"),
            ("192.0.2.1", "documentation"),
            ("2001:db8::1", "documentation"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("64:ff9b::a9fe:a9fe", "IPv6 form of"),
            ("::ffff:0:7f00:1", "IPv6 form of"),
            ("64:ff9b:1::a00:1", "local NAT64"),
            ("2002:7f00:1::", "IPv6 form of"),
            ("2002:0a00:0001::1", "IPv6 form of"),
            ("fc00::1", "private"),
            ("192.0.0.192", "protocol assignments"),
            ("240.0.0.1", "reserved"),
            ("::7f00:1", "IPv4-compatible"),
            ("fec0::1", "site-local"),
        ] {
            let named = special_purpose(ip(addr)).unwrap_or_else(|| panic!("{addr} is special"));
            assert!(named.contains(what), "{addr}: {named}");
        }
        for public in
            ["203.0.114.9", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808"]
        {
            assert_eq!(special_purpose(ip(public)), None, "{public} is public");
        }
    }

    #[test]
    fn the_server_reaches_public_addresses_and_only_the_private_blocks_it_was_allowed() {
        let none = OutboundReach::default();
        assert_eq!(none.refusal(ip("8.8.8.8")), None);
        assert_eq!(
            none.refusal(ip("::ffff:10.0.0.5")).as_deref(),
            Some("10.0.0.5 is an address in a private network")
        );
        let lab = OutboundReach::new(vec!["10.20.0.0/16".parse().unwrap(), "::1".parse().unwrap()]);
        assert_eq!(lab.refusal(ip("10.20.3.4")), None, "an allowed block");
        assert!(lab.refusal(ip("10.21.3.4")).is_some(), "a private address outside it");
        assert_eq!(lab.refusal(ip("::1")), None);
        assert!(lab.refusal(ip("127.0.0.1")).is_some(), "::1 allowed is not 127.0.0.1 allowed");
    }

    #[test]
    fn hosts_are_checked_by_address_and_localhost_by_its_name() {
        let none = OutboundReach::default();
        let url = |host: &str| url::Url::parse(&format!("http://{host}/")).unwrap();
        for refused in [
            "127.0.0.1",
            "127.0.0.1.",
            "2130706433",
            "0177.1",
            "[::127.0.0.1]",
            "[::1]",
            "[::ffff:169.254.169.254]",
            "localhost",
            "LocalHost.",
            "api.localhost",
            "0x7f.1",
        ] {
            assert!(none.refusal_for_url(&url(refused)).is_some(), "{refused}");
        }
        for later in ["hooks.example.edu", "localhost.example.edu", "203.0.114.9"] {
            assert_eq!(none.refusal_for_url(&url(later)), None, "{later}");
        }
        let loopback = OutboundReach::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert_eq!(loopback.refusal_for_url(&url("localhost")), None);
        let v6 = OutboundReach::new(vec!["::1".parse().unwrap()]);
        assert_eq!(v6.refusal_for_url(&url("localhost")), None, "it may resolve to ::1");
    }
}
