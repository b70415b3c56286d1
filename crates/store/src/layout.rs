//! What every backend stores the same way: the name key layout, the kind bits of `names.kinds`,
//! the text codes of enums, and the order in which a batch is written.

use std::net::IpAddr;

use threatintel_model::{AllowMatch, AllowlistKind, DomainName, Evidence, Reliability, RiskLevel};

use crate::{PutOutcome, Result, StoreError};

/// Bits of `names.kinds`: which evidence mentions a name.
pub(crate) mod kind {
    pub const INDICATOR: i64 = 1;
    pub const ALLOWLIST: i64 = 2;
    pub const RESOLUTION: i64 = 4;
    pub const CERTIFICATE: i64 = 8;
    pub const EVENT: i64 = 16;
    pub const WHOIS: i64 = 32;
    /// A zone listing (`*.name`) or a wildcard certificate: they speak about the names below.
    pub const ZONE_INDICATOR: i64 = 64;
    pub const CERTIFICATE_WILDCARD: i64 = 128;
    /// The kinds that make a name count as a known child (report-semantics: child_domain_cnt).
    pub const COUNTED: i64 = INDICATOR | RESOLUTION | CERTIFICATE | EVENT;
    /// The kinds on an ancestor that can affect the names below it.
    pub const ABOVE: i64 = ZONE_INDICATOR | CERTIFICATE_WILDCARD;
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// The key of a name: reversed labels with a trailing dot (`www.example.com` →
/// `com.example.www.`). Names sort by it in the store, so a zone's subtree is one key range.
pub fn key(name: &DomainName) -> String {
    let mut out = String::with_capacity(name.as_str().len() + 1);
    push_reversed_labels(&mut out, name.as_str());
    out.push('.');
    out
}

/// Appends the dot-separated labels of `dotted` in reverse order (`a.b.c` → `c.b.a`): turns a
/// name into its key without the trailing dot, and back.
fn push_reversed_labels(out: &mut String, dotted: &str) {
    let mut end = dotted.len();
    for (i, byte) in dotted.bytes().enumerate().rev() {
        if byte == b'.' {
            out.push_str(&dotted[i + 1..end]);
            out.push('.');
            end = i;
        }
    }
    out.push_str(&dotted[..end]);
}

/// The exclusive upper bound of a zone's key range.
pub(crate) fn key_end(key: &str) -> String {
    let mut end = String::with_capacity(key.len());
    end.push_str(&key[..key.len() - 1]);
    end.push('/');
    end
}

/// The name whose key `key` is, checked as any name is.
pub(crate) fn name_from_key(key: &str) -> Result<DomainName> {
    let trimmed = key.strip_suffix('.').unwrap_or(key);
    let mut name = String::with_capacity(trimmed.len());
    push_reversed_labels(&mut name, trimmed);
    DomainName::parse(&name).map_err(|e| StoreError::Corrupt(format!("stored name {key:?}: {e}")))
}

pub(crate) fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

pub(crate) fn ip_from_bytes(bytes: &[u8]) -> Result<IpAddr> {
    match bytes.len() {
        4 => Ok(IpAddr::from(
            <[u8; 4]>::try_from(bytes).expect("length checked"),
        )),
        16 => Ok(IpAddr::from(
            <[u8; 16]>::try_from(bytes).expect("length checked"),
        )),
        n => Err(StoreError::Corrupt(format!(
            "stored address has {n} octets"
        ))),
    }
}

pub(crate) fn reliability(s: &str) -> Result<Reliability> {
    s.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))
}

pub(crate) fn risk(code: i64) -> Result<RiskLevel> {
    RiskLevel::from_code(code).ok_or_else(|| StoreError::Corrupt(format!("risk {code}")))
}

pub(crate) fn allowlist_kind_str(kind: AllowlistKind) -> &'static str {
    match kind {
        AllowlistKind::Operator => "operator",
        AllowlistKind::Curated => "curated",
        AllowlistKind::TopSites => "top_sites",
    }
}

pub(crate) fn allowlist_kind(s: &str) -> Result<AllowlistKind> {
    Ok(match s {
        "operator" => AllowlistKind::Operator,
        "curated" => AllowlistKind::Curated,
        "top_sites" => AllowlistKind::TopSites,
        other => return Err(StoreError::Corrupt(format!("allowlist kind {other:?}"))),
    })
}

pub(crate) fn matching_str(m: AllowMatch) -> &'static str {
    match m {
        AllowMatch::Hostname => "hostname",
        AllowMatch::Exact => "exact",
    }
}

pub(crate) fn matching(s: &str) -> Result<AllowMatch> {
    match s {
        "hostname" => Ok(AllowMatch::Hostname),
        "exact" => Ok(AllowMatch::Exact),
        other => Err(StoreError::Corrupt(format!("allowlist matching {other:?}"))),
    }
}

pub(crate) fn outcome(added: bool) -> PutOutcome {
    if added {
        PutOutcome::Added
    } else {
        PutOutcome::Updated
    }
}

/// Where a record goes in a sorted batch: sources and lists first, then by name key, so that
/// inserts walk the indexes in order instead of jumping around them.
pub(crate) fn batch_order(evidence: &Evidence) -> (u8, String) {
    match evidence {
        Evidence::Source(_) | Evidence::Allowlist(_) => (0, String::new()),
        Evidence::Indicator(r) => (1, key(&r.name)),
        Evidence::AllowlistEntry(e) => (1, key(&e.name)),
        Evidence::Resolution(r) => (1, key(&r.name)),
        Evidence::Event(e) => (1, key(&e.name)),
        Evidence::Whois(w) => (1, key(&w.domain)),
        Evidence::Certificate(_) | Evidence::IpIntel(_) => (2, String::new()),
    }
}

/// The batch in write order: [`batch_order`], stable, so records with the same identity keep
/// their input order.
pub(crate) fn sorted(batch: &[Evidence]) -> Vec<&Evidence> {
    sorted_keyed(batch).into_iter().map(|(_, e)| e).collect()
}

/// [`sorted`], each record with its [`batch_order`] (which holds its name key).
pub(crate) fn sorted_keyed(batch: &[Evidence]) -> Vec<((u8, String), &Evidence)> {
    let mut order: Vec<((u8, String), &Evidence)> =
        batch.iter().map(|e| (batch_order(e), e)).collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    order
}

/// The key range `[lo, hi)` of a query's scope: an exact name is `[k, k + "\x01")` (no label
/// character sorts that low, and PostgreSQL text cannot hold `"\0"`); a zone is its subtree.
pub(crate) fn scope_range(scope: &threatintel_model::DomainQuery) -> (String, String) {
    let k = key(scope.name());
    match scope {
        threatintel_model::DomainQuery::Exact(_) => {
            let mut end = k.clone();
            end.push('\u{1}');
            (k, end)
        }
        threatintel_model::DomainQuery::Wildcard(_) => {
            let end = key_end(&k);
            (k, end)
        }
    }
}

/// Certificates newest sighting first, each once (a name can be covered exactly and by a
/// wildcard of the same certificate).
pub(crate) fn newest_first(
    mut all: Vec<threatintel_model::Certificate>,
) -> Vec<threatintel_model::Certificate> {
    all.sort_by(|a, b| (b.seen_at, &b.sha256).cmp(&(a.seen_at, &a.sha256)));
    all.dedup_by(|a, b| a.sha256 == b.sha256);
    all
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use threatintel_model::DomainName;

    use super::{key, key_end, name_from_key};

    proptest! {
        /// A key is the labels reversed, each followed by a dot; it reads back as the same name
        /// and every key below the name's sorts inside its zone range.
        #[test]
        fn keys_reverse_labels_and_read_back(
            mut labels in proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 0..5),
            tld in "[a-z]{2,6}",
            child in "[a-z0-9]{1,6}",
        ) {
            labels.push(tld);
            let name = DomainName::parse(&labels.join("."));
            prop_assume!(name.is_ok(), "not a name: {:?}", labels);
            let name = name.unwrap();
            let k = key(&name);
            let expected: String = labels.iter().rev().map(|l| format!("{l}.")).collect();
            prop_assert_eq!(&k, &expected);
            prop_assert_eq!(name_from_key(&k).unwrap(), name.clone());
            let below = key(&DomainName::parse(&format!("{child}.{name}")).unwrap());
            prop_assert!(k.as_str() < below.as_str() && below.as_str() < key_end(&k).as_str());
        }
    }
}
