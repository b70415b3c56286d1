//! Network registrations ([`NetworkRegistration`]): RDAP `ip network` objects and RIR WHOIS
//! answers about address space (RIPE/APNIC/AFRINIC/LACNIC `inetnum`/`inet6num`, ARIN
//! `NetRange`). A registered range that is not one CIDR block yields one record per block.

use std::net::IpAddr;

use serde_json::Value;
use threatintel_model::{IpNetwork, NetworkRegistration, Timestamp};

use super::rdap::parse_entities;

/// Most CIDR blocks one registered range is split into (an arbitrary IPv6 range needs at most
/// 254).
const MAX_BLOCKS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error("not a network registration: {0}")]
    NotNetwork(String),
    #[error("bad address range {0:?}")]
    BadRange(String),
    #[error("invalid RDAP entities: {0}")]
    Entities(String),
}

/// Whether an RDAP response is an `ip network` object.
pub fn is_rdap_ip_network(value: &Value) -> bool {
    value.get("objectClassName").and_then(Value::as_str) == Some("ip network")
}

/// Parses an RDAP `ip network` object (RFC 9083 §5.4): `startAddress`/`endAddress`, `name`,
/// `country`, the `registrant` entity's organisation (else name) and the `abuse` entity's
/// email.
pub fn parse_rdap_ip_network(
    value: &Value,
    observed_at: Timestamp,
) -> Result<Vec<NetworkRegistration>, NetworkError> {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if !is_rdap_ip_network(value) {
        return Err(NetworkError::NotNetwork(
            "objectClassName is not \"ip network\"".into(),
        ));
    }
    let (Some(first), Some(last)) = (text("startAddress"), text("endAddress")) else {
        return Err(NetworkError::NotNetwork(
            "no startAddress and endAddress".into(),
        ));
    };
    let entities = parse_entities(value.get("entities"), "$.entities", None)
        .map_err(|e| NetworkError::Entities(e.to_string()))?;
    let with_role = |role: &'static str| {
        entities
            .iter()
            .filter(move |e| e.roles.iter().any(|r| r == role))
    };
    let organisation = with_role("registrant").find_map(|e| {
        [&e.contact.organization, &e.contact.name]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
    });
    let abuse_email = with_role("abuse")
        .map(|e| e.contact.email.clone())
        .find(|s| !s.is_empty());
    registrations(
        &format!("{first} - {last}"),
        Fields {
            name: text("name").map(str::to_owned),
            organisation,
            country: text("country").map(str::to_owned),
            abuse_email,
        },
        observed_at,
    )
}

/// Parses a WHOIS answer about address space; `None` when it names no range (`inetnum`,
/// `inet6num`, `NetRange`, `CIDR`). Each attribute is its first value in the answer (the
/// network object comes first; the organisation and abuse objects RIRs append after it give
/// what it lacks).
pub fn parse_whois_network(
    text: &str,
    observed_at: Timestamp,
) -> Option<Result<Vec<NetworkRegistration>, NetworkError>> {
    let first = |keys: &[&str], valid: fn(&str) -> bool| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            let value = value.trim();
            (keys.contains(&key.trim().to_ascii_lowercase().as_str())
                && !value.is_empty()
                && valid(value))
            .then(|| value.to_owned())
        })
    };
    let any = |_: &str| true;
    let range = first(&["inetnum", "inet6num", "netrange"], any)
        .or_else(|| first(&["cidr"], |v| !v.contains(',')))?;
    let fields = Fields {
        name: first(&["netname"], any),
        organisation: first(&["org-name", "orgname", "owner"], any)
            .or_else(|| first(&["descr"], any)),
        country: first(&["country"], any),
        abuse_email: first(&["abuse-mailbox", "orgabuseemail"], |v| v.contains('@')),
    };
    Some(registrations(&range, fields, observed_at))
}

struct Fields {
    name: Option<String>,
    organisation: Option<String>,
    country: Option<String>,
    abuse_email: Option<String>,
}

fn registrations(
    range: &str,
    fields: Fields,
    observed_at: Timestamp,
) -> Result<Vec<NetworkRegistration>, NetworkError> {
    let bad = || NetworkError::BadRange(range.to_owned());
    let (first, last) = match range.split_once(" - ").or_else(|| range.split_once('-')) {
        Some((a, b)) => (
            a.trim().parse::<IpAddr>().map_err(|_| bad())?,
            b.trim().parse::<IpAddr>().map_err(|_| bad())?,
        ),
        None => {
            let network: IpNetwork = range.trim().parse().map_err(|_| bad())?;
            (network.addr(), last_of(network))
        }
    };
    let blocks = blocks(first, last).ok_or_else(bad)?;
    let range = format!("{first} - {last}");
    Ok(blocks
        .into_iter()
        .map(|network| NetworkRegistration {
            network,
            range: range.clone(),
            name: fields.name.clone(),
            organisation: fields.organisation.clone(),
            country: fields.country.clone(),
            abuse_email: fields.abuse_email.clone(),
            observed_at,
        })
        .collect())
}

/// The address as a number and its width in bits.
fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn address(value: u128, width: u32) -> IpAddr {
    if width == 32 {
        IpAddr::from((value as u32).to_be_bytes())
    } else {
        IpAddr::from(value.to_be_bytes())
    }
}

/// The offset of the last address of a block of `2^size` addresses.
fn span(size: u32) -> u128 {
    u128::MAX.checked_shr(128 - size).unwrap_or(0)
}

fn last_of(network: IpNetwork) -> IpAddr {
    let (start, width) = bits(network.addr());
    address(start | span(width - u32::from(network.prefix())), width)
}

/// The fewest CIDR blocks that cover exactly `first..=last`; `None` for a range that mixes
/// families, runs backwards or needs more than [`MAX_BLOCKS`].
fn blocks(first: IpAddr, last: IpAddr) -> Option<Vec<IpNetwork>> {
    let ((mut start, width), (end, other)) = (bits(first), bits(last));
    if width != other || end < start {
        return None;
    }
    let mut out = Vec::new();
    loop {
        // The largest block aligned at `start` that does not pass `end`.
        let mut size = start.trailing_zeros().min(width);
        while size > 0 && start + span(size) > end {
            size -= 1;
        }
        out.push(IpNetwork::new(address(start, width), (width - size) as u8).ok()?);
        if out.len() > MAX_BLOCKS {
            return None;
        }
        match (start + span(size)).checked_add(1) {
            Some(next) if next <= end => start = next,
            _ => return Some(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(first: &str, last: &str) -> Option<Vec<String>> {
        blocks(first.parse().unwrap(), last.parse().unwrap())
            .map(|b| b.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn ranges_split_into_the_fewest_blocks() {
        assert_eq!(cidrs("192.0.2.0", "192.0.2.255").unwrap(), ["192.0.2.0/24"]);
        assert_eq!(
            cidrs("192.0.2.0", "192.0.3.127").unwrap(),
            ["192.0.2.0/24", "192.0.3.0/25"]
        );
        assert_eq!(cidrs("0.0.0.0", "255.255.255.255").unwrap(), ["0.0.0.0/0"]);
        assert_eq!(
            cidrs("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").unwrap(),
            ["::/0"]
        );
        assert_eq!(cidrs("192.0.2.7", "192.0.2.7").unwrap(), ["192.0.2.7/32"]);
        assert_eq!(cidrs("192.0.2.1", "192.0.2.0"), None);
        assert_eq!(cidrs("192.0.2.1", "::1"), None);
        assert_eq!(
            cidrs("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")
                .unwrap()
                .len(),
            254
        );
    }
}
