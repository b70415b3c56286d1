//! The name key layout every backend stores: a name's key is its labels reversed, each followed
//! by a dot (`www.example.com` → `com.example.www.`), so a zone and everything below it is one
//! contiguous key range; the kind bits of `names.kinds`; and the order in which a batch is
//! written (by key).

use threatintel_model::{DomainName, DomainQuery, Evidence};

use crate::{Result, StoreError};

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
    /// A CNAME, NS or MX record of the name (not of its targets).
    pub const RELATION: i64 = 256;
    /// The kinds that make a name count as a known child (report-semantics: child_domain_cnt).
    pub const COUNTED: i64 = INDICATOR | RESOLUTION | CERTIFICATE | EVENT;
    /// The kinds on an ancestor that can affect the names below it.
    pub const ABOVE: i64 = ZONE_INDICATOR | CERTIFICATE_WILDCARD;
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

/// The key of the name one label up from the name whose key is `key` (`com.example.` for
/// `com.example.www.`); `None` for a single label. A slice of `key`: nothing is computed.
pub(crate) fn parent_key(key: &str) -> Option<&str> {
    let labels = key.strip_suffix('.').unwrap_or(key);
    labels.rfind('.').map(|dot| &key[..=dot])
}

/// The name whose key `key` is, checked as any name is.
pub(crate) fn name_from_key(key: &str) -> Result<DomainName> {
    let trimmed = key.strip_suffix('.').unwrap_or(key);
    let mut name = String::with_capacity(trimmed.len());
    push_reversed_labels(&mut name, trimmed);
    DomainName::parse(&name).map_err(|e| StoreError::Corrupt(format!("stored name {key:?}: {e}")))
}

/// Where a record goes in a sorted batch: sources and lists first, then by name key, so that
/// inserts walk the indexes in order instead of jumping around them.
pub(crate) fn batch_order(evidence: &Evidence) -> (u8, String) {
    match evidence {
        Evidence::Source(_) | Evidence::Allowlist(_) => (0, String::new()),
        Evidence::Indicator(r) => (1, key(&r.name)),
        Evidence::AllowlistEntry(e) => (1, key(&e.name)),
        Evidence::Resolution(r) => (1, key(&r.name)),
        Evidence::Relation(r) => (1, key(&r.name)),
        Evidence::Event(e) => (1, key(&e.name)),
        Evidence::Whois(w) => (1, key(&w.domain)),
        Evidence::Certificate(_)
        | Evidence::IpIntel(_)
        | Evidence::IpRecord(_)
        | Evidence::NetworkAllowEntry(_)
        | Evidence::FileRecord(_)
        | Evidence::NetworkRegistration(_) => (2, String::new()),
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
pub(crate) fn scope_range(scope: &DomainQuery) -> (String, String) {
    scope_range_of(scope, key(scope.name()))
}

/// [`scope_range`], given `k`, the key of the scope's name.
pub(crate) fn scope_range_of(scope: &DomainQuery, k: String) -> (String, String) {
    match scope {
        DomainQuery::Exact(_) => {
            // Sized for the extra byte: a clone has the key's length as its capacity, and
            // pushing onto it allocated again.
            let mut end = String::with_capacity(k.len() + 1);
            end.push_str(&k);
            end.push('\u{1}');
            (k, end)
        }
        DomainQuery::Wildcard(_) => {
            let end = key_end(&k);
            (k, end)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use threatintel_model::DomainName;

    use super::{key, key_end, name_from_key, parent_key};

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
            let parent = name.parent().map(|p| key(&p));
            prop_assert_eq!(parent_key(&k), parent.as_deref());
            let below = key(&DomainName::parse(&format!("{child}.{name}")).unwrap());
            prop_assert!(k.as_str() < below.as_str() && below.as_str() < key_end(&k).as_str());
        }
    }
}
