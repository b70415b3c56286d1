//! Where lookups may go: addresses the service may connect to on a stranger's behalf, and
//! names it may look up at all.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use threatintel_model::{DomainName, DomainQuery};

use crate::EnrichError;

/// Why an address is not one the service connects to, or `None` for a public address.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_reason(v4),
            None => v6_reason(v6),
        },
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        _ if a == 100 && (64..128).contains(&b) => "CGNAT",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        _ if ip.is_broadcast() || a >= 240 => "reserved",
        _ if a == 192 && b == 0 && c == 0 => "IETF protocol assignment",
        _ if ip.is_documentation() => "documentation",
        _ if a == 198 && (b & 0xfe) == 18 => "benchmarking",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_multicast() => "multicast",
        _ if (first & 0xfe00) == 0xfc00 => "private (unique local)",
        _ if (first & 0xffc0) == 0xfe80 => "link-local",
        _ if first == 0x2001 && ip.segments()[1] == 0x0db8 => "documentation",
        _ if first == 0x0064 && ip.segments()[1] == 0xff9b => "NAT64",
        _ if (first & 0xe000) != 0x2000 => "reserved",
        _ => return None,
    })
}

/// The addresses of `addrs` the service may connect to; an error naming the first refused one
/// when none is left.
pub fn allowed(
    addrs: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, EnrichError> {
    if allow_private {
        return Ok(addrs);
    }
    let mut refused = None;
    let kept: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| match non_public_reason(a.ip()) {
            None => true,
            Some(reason) => {
                tracing::warn!(address = %a.ip(), reason, "enrichment refused a non-public address");
                refused.get_or_insert((a.ip(), reason));
                false
            }
        })
        .collect();
    match (kept.is_empty(), refused) {
        (true, Some((ip, reason))) => Err(EnrichError::Refused {
            address: ip,
            reason,
        }),
        _ => Ok(kept),
    }
}

/// The name a query is looked up as (`*.zone` → the zone), or `None` when it lies under a
/// `never` zone.
pub fn lookup_name(query: &DomainQuery, never: &[DomainName]) -> Option<DomainName> {
    let name = query.name();
    if never
        .iter()
        .any(|zone| name == zone || name.is_subdomain_of(zone))
    {
        return None;
    }
    Some(name.clone())
}
