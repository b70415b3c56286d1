//! `DomainName` and `DomainQuery`: validated, normalised DNS names.
//!
//! Normalisation follows what a resolver library such as hickory-dns does on input: IDNA
//! (UTS #46, non-transitional) to A-labels, ASCII lower case, no trailing dot. The stored form is
//! therefore always plain ASCII (`[a-z0-9_-]` labels joined by `.`), and two spellings of one
//! name (`Bücher.DE.`, `xn--bcher-kva.de`) compare equal.
//!
//! Parsing is on the query and the ingestion hot paths, so plain ASCII input without `xn--`
//! labels is validated in one pass over its bytes and costs exactly one allocation (the final
//! `Box<str>`). Only non-ASCII input and `xn--` labels go through the `idna` crate.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use serde::{Deserialize, Serialize};

/// Longest name in octets, without the trailing dot (RFC 1035 §2.3.4 and RFC 2181 §11).
const MAX_NAME_LEN: usize = 253;
/// Longest label in octets.
const MAX_LABEL_LEN: usize = 63;

/// Every printable ASCII character that is not a letter, digit, `-`, `.` or `_`, plus (through
/// `deny_glyphless`) space, the control characters and DEL. UTS #46 maps some non-ASCII
/// characters onto these (fullwidth `／` to `/`, U+00A0 to a space, `℀` to `a/c`); denying them
/// makes such input an IDNA error. This is STD3 rules, except that `_` stays allowed.
const DENY: AsciiDenyList = AsciiDenyList::new(true, "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}~");

/// Full stops that UTS #46 maps to `.`: ASCII, ideographic, fullwidth, halfwidth ideographic.
const IDNA_DOTS: [char; 4] = ['.', '\u{3002}', '\u{FF0E}', '\u{FF61}'];

/// Why a string is not a [`DomainName`] or a [`DomainQuery`].
///
/// Positions are 0-based character (not byte) indices into the input as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The input is empty, or only the root dot.
    #[error("domain name is empty")]
    Empty,
    /// Over 253 octets (without the trailing dot) in A-label form.
    #[error("domain name is {length} octets long in A-label form; at most 253 are allowed")]
    TooLong { length: usize },
    /// A label over 63 octets (in A-label form for an internationalised label).
    #[error("label {label:?} is {length} octets long; at most 63 are allowed")]
    LabelTooLong { label: String, length: usize },
    /// Two dots in a row, a leading dot, or more than one trailing dot.
    #[error(
        "empty label in {name:?}: a domain name cannot start with a dot or have two dots in a row"
    )]
    EmptyLabel { name: String },
    /// A character that cannot occur in a domain name. Labels hold letters, digits, `-` and `_`.
    #[error("invalid character {ch:?} at position {position} in {name:?}")]
    InvalidCharacter {
        ch: char,
        position: usize,
        name: String,
    },
    /// A label that starts or ends with `-`.
    #[error("label {label:?} {} with a hyphen", hyphen_edge(.label))]
    HyphenAtLabelEdge { label: String },
    /// Unicode input that IDNA (UTS #46) rejects although each character is allowed somewhere:
    /// a label starting with a combining mark, a right-to-left label mixed with left-to-right
    /// text. `label` is the offending label, or the whole name when only the combination of
    /// its labels is invalid (the bidi rule: `1.א`).
    #[error("{}", idna_message(.label))]
    InvalidIdna { label: String },
    /// An `xn--` label that is not valid punycode, does not decode to a valid internationalised
    /// label, or is not the canonical encoding of what it decodes to.
    #[error("label {label:?} is not valid punycode: it does not decode to a valid internationalised label that encodes back to the same A-label")]
    InvalidPunycode { label: String },
    /// A URL (`scheme://…`, `//host…`, or a host followed by a path, query or fragment).
    /// `host` is the host it names, normalised when it is a valid name; empty when it has none.
    #[error("{}", url_message(.host))]
    Url { host: String },
    /// An IPv4 or IPv6 address: bare, bracketed, with a zone, a port or a CIDR prefix length.
    #[error("{input:?} is an IP address, not a domain name")]
    IpAddress { input: String },
    /// The last label is all digits (`999.1.1.1`, `123`): no top-level domain is numeric
    /// (RFC 3696 §2), and such input is nearly always a malformed IP address.
    #[error("{name:?} ends in the all-numeric label {tld:?}, which cannot be a top-level domain (is it a malformed IP address?)")]
    NumericTld { name: String, tld: String },
    /// A `*` anywhere in a [`DomainName`], or anywhere but as the whole leftmost label of a
    /// [`DomainQuery`].
    #[error("misplaced wildcard '*' at position {position} in {name:?}: a wildcard can only be the whole leftmost label of a query, as in \"*.example.com\"")]
    MisplacedWildcard { name: String, position: usize },
    /// A query for a bare ICANN public suffix (`com`, `co.uk`) or an unlisted single label
    /// (`localhost`).
    #[error("{name:?} is a public suffix, not a domain")]
    PublicSuffix { name: String },
    /// A wildcard query over an ICANN public suffix (`*.com`, `*.co.uk`).
    #[error("\"*.{suffix}\" is a wildcard over the public suffix {suffix:?}, not over a domain")]
    WildcardOverPublicSuffix { suffix: String },
}

fn hyphen_edge(label: &str) -> &'static str {
    if label.starts_with('-') {
        "starts"
    } else {
        "ends"
    }
}

fn idna_message(label: &str) -> String {
    if label.contains(IDNA_DOTS) {
        format!("{label:?} is not a valid internationalised domain name: IDNA (UTS #46) rejects the combination of its labels")
    } else {
        format!("label {label:?} is not a valid internationalised label: IDNA (UTS #46) rejects it")
    }
}

fn url_message(host: &str) -> String {
    if host.is_empty() {
        "this is a URL without a host, not a domain name".to_owned()
    } else {
        format!("this is a URL, not a domain name; did you mean {host:?}?")
    }
}

impl DomainError {
    /// Re-targets an error found in the zone part of a `*.zone` query at the whole query.
    fn in_query(self, query: &str, offset: usize) -> Self {
        match self {
            Self::InvalidCharacter { ch, position, .. } => Self::InvalidCharacter {
                ch,
                position: position + offset,
                name: query.to_owned(),
            },
            Self::MisplacedWildcard { position, .. } => Self::MisplacedWildcard {
                position: position + offset,
                name: query.to_owned(),
            },
            Self::EmptyLabel { .. } => Self::EmptyLabel {
                name: query.to_owned(),
            },
            other => other,
        }
    }
}

/// Which section of the Public Suffix List a name that is itself a public suffix belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuffixKind {
    /// The ICANN section (`com`, `co.uk`), or an unlisted single label (the PSL default rule:
    /// `localhost`, `internal`).
    Icann,
    /// The private section (`github.io`, `duckdns.org`, `s3.amazonaws.com`).
    Private,
}

/// A validated DNS name in normal form: A-labels, lower case, no trailing dot.
///
/// Single-label names and public suffixes are valid names (ingestion sees them);
/// [`DomainQuery`] is what rejects them. A `DomainName` is never a wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(Box<str>);

impl DomainName {
    /// Validates and normalises `input`: ASCII or Unicode, any case, one optional trailing dot.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        match parse_name(input) {
            Ok(name) => Ok(Self(name)),
            Err(err) => Err(classify(input).unwrap_or(err)),
        }
    }

    /// The normal (A-label) form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The display form: A-labels decoded to Unicode (U-labels).
    pub fn to_unicode(&self) -> String {
        if !self.0.contains("xn--") {
            return self.0.to_string();
        }
        let (unicode, result) = Uts46::new().to_unicode(self.0.as_bytes(), DENY, Hyphens::Allow);
        match result {
            Ok(()) => unicode.into_owned(),
            // Unreachable for a parsed name; the A-label form is still a faithful display.
            Err(_) => self.0.to_string(),
        }
    }

    /// The labels, leftmost first (`www`, `example`, `com`).
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.0.split('.')
    }

    pub fn label_count(&self) -> usize {
        self.0.bytes().filter(|&b| b == b'.').count() + 1
    }

    /// The name one label up (`example.com` for `www.example.com`); `None` for a single label.
    pub fn parent(&self) -> Option<DomainName> {
        self.0
            .split_once('.')
            .map(|(_, parent)| Self(parent.into()))
    }

    /// Every strict ancestor, nearest first, ending with the top-level domain.
    pub fn ancestors(&self) -> impl Iterator<Item = DomainName> {
        std::iter::successors(self.parent(), DomainName::parent)
    }

    /// The texts of the name's ancestors, nearest first (`example.com`, `com` for
    /// `www.example.com`), borrowed from the name.
    pub fn ancestor_texts(&self) -> impl Iterator<Item = &str> + '_ {
        texts_after_dots(&self.0)
    }

    /// Whether `self` is strictly below `zone` (`a.example.com` is below `example.com`;
    /// `example.com` and `notexample.com` are not).
    pub fn is_subdomain_of(&self, zone: &DomainName) -> bool {
        let (name, zone) = (self.0.as_bytes(), zone.0.as_bytes());
        name.len() > zone.len() && name.ends_with(zone) && name[name.len() - zone.len() - 1] == b'.'
    }

    /// The registrable domain by the Public Suffix List, private section included
    /// (`a.b.example.co.uk` → `example.co.uk`, `x.github.io` → `x.github.io`); `None` when the
    /// name is itself a public suffix.
    pub fn registrable(&self) -> Option<DomainName> {
        let domain = psl::domain(self.0.as_bytes())?;
        let start = self.0.len() - domain.as_bytes().len();
        // The PSL match is a suffix of our own (ASCII) string, so `start` is a label boundary.
        Some(if start == 0 {
            self.clone()
        } else {
            Self(self.0[start..].into())
        })
    }

    /// `Some` when the name is itself a public suffix, saying from which section.
    pub fn suffix_kind(&self) -> Option<SuffixKind> {
        let suffix = psl::suffix(self.0.as_bytes())?;
        if suffix.as_bytes().len() != self.0.len() {
            return None;
        }
        Some(match suffix.typ() {
            Some(psl::Type::Private) => SuffixKind::Private,
            // ICANN section, or the default rule for an unlisted top-level label.
            Some(psl::Type::Icann) | None => SuffixKind::Icann,
        })
    }

    /// The labels in reverse order joined by `.` (`com.example.www`): an index key under which
    /// a zone's whole subtree is one key range.
    pub fn reversed(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        for (i, label) in self.labels().rev().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(label);
        }
        out
    }

    /// Compares in the store's key order, that of the [`reversed`](Self::reversed) keys with a
    /// trailing dot (`com.example.www.`): a zone's whole subtree directly follows the zone.
    pub fn cmp_in_key_order(&self, other: &DomainName) -> std::cmp::Ordering {
        fn key_bytes(name: &DomainName) -> impl Iterator<Item = u8> + '_ {
            name.labels()
                .rev()
                .flat_map(|label| label.bytes().chain(std::iter::once(b'.')))
        }
        key_bytes(self).cmp(key_bytes(other))
    }
}

/// Lookups by the normal form: a map keyed by `DomainName` answers `get(&str)`. Equality,
/// order and hash are the normal form's, so the two agree.
impl std::borrow::Borrow<str> for DomainName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DomainName {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
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

/// The API's `Domain` parameter: one name, or (`*.zone`) a whole zone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DomainQuery {
    Exact(DomainName),
    /// The zone, without `*.`.
    Wildcard(DomainName),
}

impl DomainQuery {
    /// Parses a name or a `*.zone` wildcard. Normalises and rejects like [`DomainName::parse`],
    /// and also rejects a `*` anywhere but as the whole leftmost label, a bare ICANN public
    /// suffix (`com`, `co.uk`, `localhost`) and a wildcard over one (`*.com`). Private-section
    /// suffixes (`github.io`, `*.github.io`) are accepted.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        match input
            .strip_prefix("*.")
            .filter(|zone| !zone.is_empty() && *zone != ".")
        {
            Some(zone) => {
                let zone = match parse_name(zone) {
                    Ok(name) => DomainName(name),
                    Err(err) => {
                        return Err(classify(input).unwrap_or_else(|| err.in_query(input, 2)))
                    }
                };
                if zone.suffix_kind() == Some(SuffixKind::Icann) {
                    return Err(DomainError::WildcardOverPublicSuffix {
                        suffix: zone.0.into(),
                    });
                }
                Ok(Self::Wildcard(zone))
            }
            None => {
                let name = DomainName::parse(input)?;
                if name.suffix_kind() == Some(SuffixKind::Icann) {
                    return Err(DomainError::PublicSuffix {
                        name: name.0.into(),
                    });
                }
                Ok(Self::Exact(name))
            }
        }
    }

    /// The query's text in two parts, its prefix (`*.` for a wildcard, else empty) and its
    /// name: what it displays, for a writer that takes text in pieces.
    pub fn text_parts(&self) -> [&str; 2] {
        match self {
            Self::Exact(n) => ["", n.as_str()],
            Self::Wildcard(n) => ["*.", n.as_str()],
        }
    }

    /// The name, or for a wildcard the zone.
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
        let [prefix, name] = self.text_parts();
        f.write_str(prefix)?;
        f.write_str(name)
    }
}

impl FromStr for DomainQuery {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
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

/// The normal form of `input`, or the first thing wrong with it. URLs and IP literals that
/// fail here are recognised by [`classify`] on the error path.
fn parse_name(input: &str) -> Result<Box<str>, DomainError> {
    let name = input.strip_suffix('.').unwrap_or(input);
    if name.is_empty() {
        return Err(DomainError::Empty);
    }
    let normal: Box<str> = if name.is_ascii() {
        let scan = scan_ascii(name, input)?;
        if scan.has_punycode {
            to_ascii_idna(name, input, false)?
        } else {
            // The fast path: one allocation, no IDNA.
            let mut normal: Box<str> = name.into();
            if scan.has_upper {
                normal.make_ascii_lowercase();
            }
            normal
        }
    } else {
        precheck_unicode(name, input)?;
        to_ascii_idna(name, input, name.len() == input.len())?
    };
    check_numeric_tld(&normal, input)?;
    Ok(normal)
}

#[derive(Default)]
struct Scan {
    has_upper: bool,
    /// Some label starts with `xn--` (any case): IDNA must validate it.
    has_punycode: bool,
}

/// What a byte of an ASCII name is to [`scan_ascii`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    /// A lowercase letter, a digit, `-` or `_`: nothing to note.
    Plain,
    Upper,
    Dot,
    Star,
    Invalid,
}

/// [`ByteClass`] of every byte: one load a byte instead of a chain of range tests.
const BYTE_CLASSES: [ByteClass; 256] = {
    let mut classes = [ByteClass::Invalid; 256];
    let mut b = 0;
    while b < 256 {
        classes[b] = match b as u8 {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => ByteClass::Plain,
            b'A'..=b'Z' => ByteClass::Upper,
            b'.' => ByteClass::Dot,
            b'*' => ByteClass::Star,
            _ => ByteClass::Invalid,
        };
        b += 1;
    }
    classes
};

/// One pass over an ASCII name (without its trailing dot): characters, labels, length.
/// `input` is what errors quote.
fn scan_ascii(name: &str, input: &str) -> Result<Scan, DomainError> {
    let bytes = name.as_bytes();
    let mut scan = Scan::default();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match BYTE_CLASSES[usize::from(b)] {
            ByteClass::Plain => {}
            ByteClass::Upper => scan.has_upper = true,
            ByteClass::Dot => {
                end_label(&bytes[start..i], input, &mut scan)?;
                start = i + 1;
            }
            ByteClass::Star => {
                return Err(DomainError::MisplacedWildcard {
                    name: input.to_owned(),
                    position: i,
                })
            }
            ByteClass::Invalid => {
                return Err(DomainError::InvalidCharacter {
                    ch: char::from(b),
                    position: i,
                    name: input.to_owned(),
                })
            }
        }
    }
    end_label(&bytes[start..], input, &mut scan)?;
    if bytes.len() > MAX_NAME_LEN {
        return Err(DomainError::TooLong {
            length: bytes.len(),
        });
    }
    Ok(scan)
}

#[inline]
fn end_label(label: &[u8], input: &str, scan: &mut Scan) -> Result<(), DomainError> {
    // Only ever called on ASCII, so the lossy conversion is exact.
    let text = || String::from_utf8_lossy(label).into_owned();
    match label {
        [] => {
            return Err(DomainError::EmptyLabel {
                name: input.to_owned(),
            })
        }
        _ if label.len() > MAX_LABEL_LEN => {
            return Err(DomainError::LabelTooLong {
                label: text(),
                length: label.len(),
            })
        }
        [b'-', ..] | [.., b'-'] => return Err(DomainError::HyphenAtLabelEdge { label: text() }),
        [b'x' | b'X', b'n' | b'N', b'-', b'-', ..] => scan.has_punycode = true,
        _ => {}
    }
    Ok(())
}

/// Checks the ASCII part of a non-ASCII name, so that errors point into the input; UTS #46
/// judges the rest.
fn precheck_unicode(name: &str, input: &str) -> Result<(), DomainError> {
    for (position, ch) in name.chars().enumerate() {
        match ch {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => {}
            '*' => {
                return Err(DomainError::MisplacedWildcard {
                    name: input.to_owned(),
                    position,
                })
            }
            _ if ch.is_ascii() => {
                return Err(DomainError::InvalidCharacter {
                    ch,
                    position,
                    name: input.to_owned(),
                })
            }
            _ => {}
        }
    }
    if let Some(label) = name
        .split(IDNA_DOTS)
        .find(|label| label.starts_with('-') || label.ends_with('-'))
    {
        return Err(DomainError::HyphenAtLabelEdge {
            label: label.to_owned(),
        });
    }
    Ok(())
}

/// UTS #46 ToASCII, then the same checks as the fast path on its output, then the punycode
/// round trip. `may_strip_dot`: the input had no ASCII trailing dot, so a trailing dot that
/// came from an ideographic full stop is the root and goes.
fn to_ascii_idna(name: &str, input: &str, may_strip_dot: bool) -> Result<Box<str>, DomainError> {
    let ascii = Uts46::new()
        .to_ascii(
            name.as_bytes(),
            DENY,
            Hyphens::CheckFirstLast,
            DnsLength::Ignore,
        )
        .map_err(|_| idna_failure(name, input))?;
    let out = match ascii.strip_suffix('.') {
        Some(stripped) if may_strip_dot => stripped,
        _ => &ascii,
    };
    if out.is_empty() {
        return Err(DomainError::Empty);
    }
    scan_ascii(out, input)?;
    for label in out.split('.') {
        if let Some(encoded) = label.strip_prefix("xn--") {
            let round_trip = idna::punycode::decode_to_string(encoded)
                .and_then(|decoded| idna::punycode::encode_str(&decoded))
                .is_some_and(|again| again == encoded);
            if !round_trip {
                return Err(DomainError::InvalidPunycode {
                    label: label.to_owned(),
                });
            }
        }
    }
    Ok(out.into())
}

/// Finds what made UTS #46 reject `name` (error path only): an `xn--` label, a character that
/// is invalid in any label, one label, or (the bidi rule) only the combination of the labels.
fn idna_failure(name: &str, input: &str) -> DomainError {
    let uts46 = Uts46::new();
    let fails = |s: &str| {
        uts46
            .to_ascii(
                s.as_bytes(),
                DENY,
                Hyphens::CheckFirstLast,
                DnsLength::Ignore,
            )
            .is_err()
    };
    let mut position = 0;
    for label in name.split(IDNA_DOTS) {
        let start = position;
        position += label.chars().count() + 1;
        if label.is_empty() || !fails(label) {
            continue;
        }
        if label
            .get(..4)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("xn--"))
        {
            return DomainError::InvalidPunycode {
                label: label.to_owned(),
            };
        }
        // A character is to blame when it fails both on its own and after a letter, so that
        // neither a combining mark nor a right-to-left letter is blamed for its context.
        let mut buf = String::with_capacity(8);
        for (i, ch) in label.chars().enumerate() {
            if ch.is_ascii() {
                continue;
            }
            buf.clear();
            buf.push(ch);
            if !fails(&buf) {
                continue;
            }
            buf.insert(0, 'a');
            if fails(&buf) {
                return DomainError::InvalidCharacter {
                    ch,
                    position: start + i,
                    name: input.to_owned(),
                };
            }
        }
        return DomainError::InvalidIdna {
            label: label.to_owned(),
        };
    }
    DomainError::InvalidIdna {
        label: name.to_owned(),
    }
}

/// Rejects a numeric top-level label: a dotted-quad IPv4 address, or something like one.
fn check_numeric_tld(normal: &str, input: &str) -> Result<(), DomainError> {
    let tld = normal.rfind('.').map_or(normal, |dot| &normal[dot + 1..]);
    if !tld.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    if normal.parse::<Ipv4Addr>().is_ok() {
        return Err(DomainError::IpAddress {
            input: input.to_owned(),
        });
    }
    Err(DomainError::NumericTld {
        name: input.to_owned(),
        tld: tld.to_owned(),
    })
}

/// Error path: recognises input that is an IP literal or a URL, which deserves a better error
/// than its first bad character.
fn classify(input: &str) -> Option<DomainError> {
    if is_ip_literal(input) {
        return Some(DomainError::IpAddress {
            input: input.to_owned(),
        });
    }
    let host = url_host(input)?;
    // The host has no `/`, `?`, `#` or `://`, so these calls do not come back here for a URL.
    let host = match DomainQuery::parse(host) {
        Ok(query) => query.to_string(),
        Err(_) => match DomainName::parse(host) {
            Ok(name) => name.0.into(),
            Err(_) => host.to_owned(),
        },
    };
    Some(DomainError::Url { host })
}

/// IPv4 or IPv6, optionally bracketed, with a zone, a port or a CIDR prefix length.
fn is_ip_literal(input: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let is_v6 = |s: &str| {
        s.split_once('%')
            .map_or(s, |(addr, _zone)| addr)
            .parse::<Ipv6Addr>()
            .is_ok()
    };
    let is_ip = |s: &str| s.parse::<Ipv4Addr>().is_ok() || is_v6(s);
    if let Some(rest) = input.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((addr, tail)) => {
                is_v6(addr) && (tail.is_empty() || tail.strip_prefix(':').is_some_and(digits))
            }
            None => false,
        };
    }
    if is_ip(input) {
        return true;
    }
    if let Some((addr, prefix)) = input.split_once('/') {
        return is_ip(addr) && digits(prefix);
    }
    matches!(input.rsplit_once(':'), Some((addr, port)) if addr.parse::<Ipv4Addr>().is_ok() && digits(port))
}

/// The host of something that looks like a URL: `scheme://authority…`, `//authority…`, or a
/// host followed by a path, query or fragment (`evil.com/login`).
fn url_host(input: &str) -> Option<&str> {
    let (rest, has_scheme) = match input.find("://") {
        Some(i) => (&input[i + 3..], true),
        None => match input.strip_prefix("//") {
            Some(rest) => (rest, true),
            None => (input, false),
        },
    };
    let end = rest.find(['/', '?', '#']);
    if !has_scheme && end.is_none() {
        return None;
    }
    let authority = &rest[..end.unwrap_or(rest.len())];
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_userinfo, host)| host);
    let host = if host_port.starts_with('[') {
        host_port.find(']').map_or(host_port, |i| &host_port[..=i])
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => host_port,
        }
    };
    if !has_scheme && host.is_empty() {
        return None;
    }
    Some(host)
}

/// The parts of a dotted `text` after each of its dots, nearest first (`b.c`, `c` for `a.b.c`).
/// The dots are found by a plain byte loop: a `str` searcher sets up `memchr` for every
/// match, which on texts as short as names costs several times more.
fn texts_after_dots(text: &str) -> impl Iterator<Item = &str> + '_ {
    text.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'.')
        .map(move |(i, _)| &text[i + 1..])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The byte loop finds the dots `str::match_indices` finds, in any text (multi-byte
        /// characters included).
        #[test]
        fn texts_after_dots_follow_each_dot(s in "[a.ü中-]{0,24}|\\PC{0,40}") {
            let expected: Vec<&str> = s.match_indices('.').map(|(i, _)| &s[i + 1..]).collect();
            prop_assert_eq!(super::texts_after_dots(&s).collect::<Vec<_>>(), expected);
        }
    }
}
