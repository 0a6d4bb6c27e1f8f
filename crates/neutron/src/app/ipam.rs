//! Address arithmetic for IPAM, as neutron/ipam/utils.py and netaddr do it: CIDRs in canonical
//! form, default allocation pools (the whole range minus the network address, the IPv4
//! broadcast and the gateway), pool validation, and picking free addresses. Addresses are held
//! as `u128` with their version, so IPv4 and IPv6 share one code path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP address with its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ip {
    pub value: u128,
    pub v6: bool,
}

impl Ip {
    pub fn parse(s: &str) -> Option<Ip> {
        match s.trim().parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => Some(Ip { value: u128::from(u32::from(a)), v6: false }),
            IpAddr::V6(a) => Some(Ip { value: u128::from(a), v6: true }),
        }
    }

    pub fn version(&self) -> i64 {
        if self.v6 {
            6
        } else {
            4
        }
    }

    pub fn offset(&self, by: u128) -> Ip {
        Ip { value: self.value.saturating_add(by), v6: self.v6 }
    }
}

impl std::fmt::Display for Ip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.v6 {
            write!(f, "{}", Ipv6Addr::from(self.value))
        } else {
            write!(f, "{}", Ipv4Addr::from(u32::try_from(self.value).unwrap_or(u32::MAX)))
        }
    }
}

/// A network prefix in canonical form (no host bits set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: Ip,
    pub prefix: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// Not an address/prefix at all.
    Invalid,
    /// Host bits set; carries the canonical form upstream recommends.
    NotCanonical(String),
}

impl Cidr {
    fn bits(v6: bool) -> u32 {
        if v6 {
            128
        } else {
            32
        }
    }

    /// Parses `addr/len` (a bare address is a host prefix) and insists on the canonical form.
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip = Ip::parse(a).ok_or(CidrError::Invalid)?;
        let bits = Self::bits(ip.v6);
        let prefix = match p {
            Some(p) => p.trim().parse::<u32>().map_err(|_| CidrError::Invalid)?,
            None => bits,
        };
        if prefix > bits {
            return Err(CidrError::Invalid);
        }
        let c = Cidr { network: Ip { value: ip.value & Self::mask(prefix, bits), v6: ip.v6 }, prefix };
        if c.network.value != ip.value {
            return Err(CidrError::NotCanonical(c.to_string()));
        }
        Ok(c)
    }

    fn mask(prefix: u32, bits: u32) -> u128 {
        let all: u128 = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
        let host = bits - prefix;
        match host {
            0 => all,
            h if h >= 128 => 0,
            h => all & !((1u128 << h) - 1),
        }
    }

    pub fn version(&self) -> i64 {
        self.network.version()
    }

    pub fn first(&self) -> Ip {
        self.network
    }

    pub fn last(&self) -> Ip {
        let host_bits = Self::bits(self.network.v6) - self.prefix;
        let span = if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
        Ip { value: self.network.value | span, v6: self.network.v6 }
    }

    pub fn contains(&self, ip: Ip) -> bool {
        ip.v6 == self.network.v6 && ip.value >= self.first().value && ip.value <= self.last().value
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.network.v6 == other.network.v6 && self.first().value <= other.last().value && other.first().value <= self.last().value
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An inclusive address range (an allocation pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: Ip,
    pub end: Ip,
}

impl Range {
    pub fn contains(&self, ip: Ip) -> bool {
        ip.v6 == self.start.v6 && ip.value >= self.start.value && ip.value <= self.end.value
    }
    pub fn overlaps(&self, o: &Range) -> bool {
        self.start.value <= o.end.value && o.start.value <= self.end.value
    }
    pub fn size(&self) -> u128 {
        self.end.value - self.start.value + 1
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// The pools upstream computes when none are given (ipam/utils.py `generate_pools`): from the
/// address after the network address to the last (IPv6) or the one before the broadcast
/// (IPv4), with the gateway cut out.
pub fn default_pools(cidr: &Cidr, gateway: Option<Ip>) -> Vec<Range> {
    let (first, last) = (cidr.first(), cidr.last());
    if first == last {
        return vec![Range { start: first, end: last }];
    }
    let start = first.offset(1);
    let end = if cidr.network.v6 { last } else { Ip { value: last.value - 1, v6: false } };
    if start.value >= end.value {
        return vec![Range { start, end }];
    }
    match gateway {
        Some(g) if g.value >= start.value && g.value <= end.value => {
            let mut out = Vec::new();
            if g.value > start.value {
                out.push(Range { start, end: Ip { value: g.value - 1, v6: g.v6 } });
            }
            if g.value < end.value {
                out.push(Range { start: g.offset(1), end });
            }
            out
        }
        _ => vec![Range { start, end }],
    }
}

/// Up to `want` free addresses of `pools` (in order), skipping `taken`.
pub fn free_addresses(pools: &[Range], taken: &std::collections::HashSet<u128>, want: usize) -> Vec<Ip> {
    let mut out = Vec::new();
    for p in pools {
        let mut v = p.start.value;
        while v <= p.end.value {
            if !taken.contains(&v) {
                out.push(Ip { value: v, v6: p.start.v6 });
                if out.len() >= want {
                    return out;
                }
            }
            if v == u128::MAX {
                break;
            }
            v += 1;
        }
    }
    out
}

/// How many addresses the pools hold (saturating: an IPv6 /64 is "plenty").
pub fn pool_size(pools: &[Range]) -> u128 {
    pools.iter().fold(0u128, |acc, p| acc.saturating_add(p.size()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.0.0.0/24").unwrap();
        assert_eq!(c.first().to_string(), "10.0.0.0");
        assert_eq!(c.last().to_string(), "10.0.0.255");
        assert_eq!(Cidr::parse("10.0.0.1/24"), Err(CidrError::NotCanonical("10.0.0.0/24".into())));
        assert_eq!(Cidr::parse("10.0.0.0/33"), Err(CidrError::Invalid));
        assert!(c.overlaps(&Cidr::parse("10.0.0.128/25").unwrap()));
        assert!(!c.overlaps(&Cidr::parse("10.0.1.0/24").unwrap()));
        let v6 = Cidr::parse("2001:db8::/64").unwrap();
        assert_eq!(v6.last().to_string(), "2001:db8::ffff:ffff:ffff:ffff");
        assert!(v6.contains(Ip::parse("2001:db8::5").unwrap()));
        assert!(!v6.overlaps(&c));
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().last().to_string(), "255.255.255.255");
        assert_eq!(Cidr::parse("::/0").unwrap().last().value, u128::MAX);
    }

    #[test]
    fn pools_as_upstream() {
        let c = Cidr::parse("10.0.0.0/24").unwrap();
        let p = default_pools(&c, Ip::parse("10.0.0.1"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].to_string(), "10.0.0.2-10.0.0.254");
        let p = default_pools(&c, Ip::parse("10.0.0.100"));
        assert_eq!(p.iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["10.0.0.1-10.0.0.99", "10.0.0.101-10.0.0.254"]);
        let v6 = Cidr::parse("2001:db8::/64").unwrap();
        let p = default_pools(&v6, Ip::parse("2001:db8::1"));
        assert_eq!(p[0].to_string(), "2001:db8::2-2001:db8::ffff:ffff:ffff:ffff");
        let p29 = default_pools(&Cidr::parse("10.0.0.0/29").unwrap(), Ip::parse("10.0.0.1"));
        assert_eq!(pool_size(&p29), 5);
        let taken = [Ip::parse("10.0.0.2").unwrap().value].into_iter().collect();
        assert_eq!(free_addresses(&p29, &taken, 2).iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["10.0.0.3", "10.0.0.4"]);
    }
}
