//! `DomainName`: a DNS name validated and normalised on construction (IDNA to A-labels, lower
//! case, no trailing dot), so the rest of the code never sees two spellings of one name; and
//! `DomainQuery`, what a user may ask about (a name or a `*.zone`, never a bare public suffix).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Longest name in octets (RFC 1035 §2.3.4, without the root's length octet and final dot).
const MAX_NAME: usize = 253;
/// Longest label in octets.
const MAX_LABEL: usize = 63;

/// Why a text is not a domain name; each rejection says what is wrong with which part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("domain name is empty")]
    Empty,
    #[error("domain name is {len} octets long; the limit is 253")]
    TooLong { len: usize },
    #[error("label {label:?} is {len} octets long; the limit is 63")]
    LabelTooLong { label: String, len: usize },
    #[error("domain name {name:?} has an empty label")]
    EmptyLabel { name: String },
    #[error("invalid character {ch:?} at position {position}")]
    InvalidCharacter { ch: char, position: usize },
    #[error("label {label:?} starts or ends with a hyphen")]
    HyphenAtLabelEdge { label: String },
    #[error("invalid internationalised name {name:?}: {reason}")]
    Idna { name: String, reason: String },
    #[error("this is a URL, not a domain name; did you mean {host:?}?")]
    Url { host: String },
    #[error("{address:?} is an IP address, not a domain name")]
    IpLiteral { address: String },
    #[error("'*' is only allowed as the whole leftmost label, as in \"*.example.com\"")]
    MisplacedWildcard,
    #[error("{name:?} is a public suffix, not a domain")]
    PublicSuffix { name: String },
    #[error("a wildcard over the public suffix {suffix:?} would cover a whole registry")]
    WildcardOverPublicSuffix { suffix: String },
}

/// Which section of the Public Suffix List a name that is itself a suffix belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuffixKind {
    /// ICANN section (`com`, `co.uk`), or an unlisted single label (`localhost`).
    Icann,
    /// Private section: registries run by companies (`github.io`, `duckdns.org`).
    Private,
}

/// A normalised DNS name: A-labels, lower case, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(Box<str>);

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// If `input` is a URL (or a host followed by a path), the host that was meant.
fn url_host(input: &str) -> Option<String> {
    let rest = match input.find("://") {
        Some(i) => &input[i + 3..],
        None if input.contains(['/', '?', '#']) => input,
        None => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    Some(host.to_owned())
}

fn ip_literal(input: &str) -> bool {
    let bare = input
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(input);
    bare.parse::<IpAddr>().is_ok()
        || input
            .trim_end_matches('.')
            .parse::<std::net::Ipv4Addr>()
            .is_ok()
}

/// Checks the LDH (+ underscore) rules and lengths of an A-label name.
fn check_ascii(name: &str, original: &str) -> Result<(), DomainError> {
    if name.len() > MAX_NAME {
        return Err(DomainError::TooLong { len: name.len() });
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(DomainError::EmptyLabel {
                name: original.to_owned(),
            });
        }
        if label.len() > MAX_LABEL {
            return Err(DomainError::LabelTooLong {
                label: label.to_owned(),
                len: label.len(),
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(DomainError::HyphenAtLabelEdge {
                label: label.to_owned(),
            });
        }
    }
    Ok(())
}

/// The first character that no domain name may contain, with its position.
fn first_invalid(input: &str, allow_unicode: bool) -> Option<DomainError> {
    input.chars().enumerate().find_map(|(position, ch)| {
        let ok = is_name_char(ch)
            || ch == '.'
            || (allow_unicode && !ch.is_ascii() && ch.is_alphanumeric());
        (!ok).then_some(DomainError::InvalidCharacter { ch, position })
    })
}

/// Every `xn--` label must decode and re-encode to itself.
fn check_punycode(name: &str) -> Result<(), DomainError> {
    if !name.split('.').any(|l| l.starts_with("xn--")) {
        return Ok(());
    }
    let (unicode, result) = idna::domain_to_unicode(name);
    let invalid = |reason: &str| DomainError::Idna {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    result.map_err(|_| invalid("an xn-- label is not valid punycode"))?;
    let back = idna::domain_to_ascii(&unicode)
        .map_err(|_| invalid("an xn-- label decodes to a disallowed name"))?;
    if back != name {
        return Err(invalid("an xn-- label does not round-trip"));
    }
    Ok(())
}

impl DomainName {
    /// Validates and normalises `input`: ASCII or Unicode, any case, one optional trailing dot.
    /// Accepts single labels and public suffixes (feeds list them); [`DomainQuery::parse`]
    /// adds the rules for what a user may ask about.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(DomainError::Empty);
        }
        if let Some(host) = url_host(input) {
            return Err(DomainError::Url { host });
        }
        if ip_literal(input) {
            return Err(DomainError::IpLiteral {
                address: input.to_owned(),
            });
        }
        if input.contains('*') {
            return Err(DomainError::MisplacedWildcard);
        }
        let without_dot = input.strip_suffix('.').unwrap_or(input);
        if without_dot.is_empty() {
            return Err(DomainError::EmptyLabel {
                name: input.to_owned(),
            });
        }
        let ascii: Cow<'_, str> = if without_dot.is_ascii() {
            if let Some(e) = first_invalid(without_dot, false) {
                return Err(e);
            }
            if without_dot.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(without_dot.to_ascii_lowercase())
            } else {
                Cow::Borrowed(without_dot)
            }
        } else {
            if let Some(e) = first_invalid(without_dot, true) {
                return Err(e);
            }
            check_labels_not_empty(without_dot, input)?;
            let converted = idna::domain_to_ascii(without_dot).map_err(|_| DomainError::Idna {
                name: without_dot.to_owned(),
                reason: "not a valid internationalised domain name (UTS #46)".to_owned(),
            })?;
            // UTS #46 maps some code points to ASCII that no host name may hold (U+FE72 → " ").
            if first_invalid(&converted, false).is_some() {
                return Err(DomainError::Idna {
                    name: without_dot.to_owned(),
                    reason: "maps to characters not allowed in a domain name".to_owned(),
                });
            }
            Cow::Owned(converted)
        };
        check_ascii(&ascii, input)?;
        check_punycode(&ascii)?;
        Ok(Self(ascii.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The display form, with U-labels.
    pub fn to_unicode(&self) -> String {
        idna::domain_to_unicode(&self.0).0
    }

    /// Labels from left to right.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('.')
    }

    pub fn label_count(&self) -> usize {
        self.0.split('.').count()
    }

    /// The zone one label up; `None` for a single label.
    pub fn parent(&self) -> Option<DomainName> {
        self.0.split_once('.').map(|(_, p)| Self(p.into()))
    }

    /// Every strict ancestor, nearest first, ending with the top-level label.
    pub fn ancestors(&self) -> impl Iterator<Item = DomainName> + '_ {
        self.0
            .match_indices('.')
            .map(|(i, _)| Self(self.0[i + 1..].into()))
    }

    /// Whether `self` is strictly below `zone` (label-aware: `notexample.com` is not below `example.com`).
    pub fn is_subdomain_of(&self, zone: &DomainName) -> bool {
        let (name, zone) = (self.as_str(), zone.as_str());
        name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.'
    }

    /// The registrable domain by the Public Suffix List, private section included; `None`
    /// when the name is itself a suffix.
    pub fn registrable(&self) -> Option<DomainName> {
        let domain = psl::domain(self.0.as_bytes())?;
        let text = std::str::from_utf8(domain.as_bytes()).ok()?;
        Some(Self(text.into()))
    }

    /// `Some` when the name is itself a public suffix.
    pub fn suffix_kind(&self) -> Option<SuffixKind> {
        let suffix = psl::suffix(self.0.as_bytes())?;
        if suffix.as_bytes() != self.0.as_bytes() {
            return None;
        }
        Some(match suffix.typ() {
            Some(psl::Type::Private) => SuffixKind::Private,
            _ => SuffixKind::Icann,
        })
    }

    /// Labels in reverse order (`www.example.com` → `com.example.www`).
    pub fn reversed(&self) -> String {
        self.0.rsplit('.').collect::<Vec<_>>().join(".")
    }
}

/// An empty label in Unicode input (`a..b`) is reported before IDNA sees it.
fn check_labels_not_empty(name: &str, original: &str) -> Result<(), DomainError> {
    if name.split('.').any(str::is_empty) {
        return Err(DomainError::EmptyLabel {
            name: original.to_owned(),
        });
    }
    Ok(())
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DomainName {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DomainName> for String {
    fn from(d: DomainName) -> String {
        d.0.into()
    }
}

/// What a user may ask about: one name, or a whole zone (`*.example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DomainQuery {
    Exact(DomainName),
    /// The zone, without `*.`.
    Wildcard(DomainName),
}

impl DomainQuery {
    /// Parses the `Domain` parameter: a name, or `*.` and a zone; never a bare public suffix.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let input = input.trim();
        if let Some(zone) = input.strip_prefix("*.") {
            let zone = DomainName::parse(zone)?;
            if zone.suffix_kind() == Some(SuffixKind::Icann) {
                return Err(DomainError::WildcardOverPublicSuffix {
                    suffix: zone.to_string(),
                });
            }
            return Ok(Self::Wildcard(zone));
        }
        let name = DomainName::parse(input)?;
        if name.suffix_kind() == Some(SuffixKind::Icann) {
            return Err(DomainError::PublicSuffix {
                name: name.to_string(),
            });
        }
        Ok(Self::Exact(name))
    }

    pub fn name(&self) -> &DomainName {
        match self {
            Self::Exact(n) | Self::Wildcard(n) => n,
        }
    }

    pub fn is_wildcard(&self) -> bool {
        matches!(self, Self::Wildcard(_))
    }
}

impl fmt::Display for DomainQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(n) => write!(f, "{n}"),
            Self::Wildcard(n) => write!(f, "*.{n}"),
        }
    }
}

impl TryFrom<String> for DomainQuery {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DomainQuery> for String {
    fn from(q: DomainQuery) -> String {
        q.to_string()
    }
}
