//! Evidence records: what a store holds about names, addresses and sources.
//!
//! Every record is plain data; identity (which records are "the same" on re-import) is
//! defined by the store, documented on each type.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainName, DomainQuery, FileHashes, RiskLevel};

/// Every time in the model is UTC; conversion to a display zone happens in the report.
pub type Timestamp = DateTime<Utc>;

/// Source reliability on the Admiralty scale (NATO AJP-2.1), as MISP's `admiralty-scale` tags use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reliability {
    /// Completely reliable.
    A,
    /// Usually reliable.
    B,
    /// Fairly reliable.
    C,
    /// Not usually reliable.
    D,
    /// Unreliable.
    E,
    /// Reliability cannot be judged.
    F,
}

impl Reliability {
    pub const ALL: [Reliability; 6] = [Self::A, Self::B, Self::C, Self::D, Self::E, Self::F];

    pub fn as_char(self) -> char {
        match self {
            Self::A => 'A',
            Self::B => 'B',
            Self::C => 'C',
            Self::D => 'D',
            Self::E => 'E',
            Self::F => 'F',
        }
    }

    /// A and B: the sources the allowlist conflict rule trusts on their own.
    pub fn is_reliable(self) -> bool {
        matches!(self, Self::A | Self::B)
    }
}

impl fmt::Display for Reliability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reliability must be one letter A-F (Admiralty scale), got {0:?}")]
pub struct ReliabilityError(pub String);

impl FromStr for Reliability {
    type Err = ReliabilityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "A" => Ok(Self::A),
            "B" => Ok(Self::B),
            "C" => Ok(Self::C),
            "D" => Ok(Self::D),
            "E" => Ok(Self::E),
            "F" => Ok(Self::F),
            _ => Err(ReliabilityError(s.to_owned())),
        }
    }
}

/// A feed or list that evidence comes from. Identity: `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub reliability: Reliability,
    /// Threat type given to this source's records that do not carry one.
    pub default_threat_type: Option<String>,
}

/// One source's claim that a name (or a whole zone) is malicious.
///
/// Identity: (`name`, `zone`, `source`, `threat_type`, `label`). Re-importing the same record
/// widens `first_seen`/`last_seen` and counts a sighting; it never duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorRecord {
    pub name: DomainName,
    /// `true` for a listing of the zone (`*.name` in a feed): it covers every name strictly
    /// below `name` as their own evidence, but not `name` itself.
    pub zone: bool,
    pub source: String,
    /// The reference's taxonomy name (`C&C Server`, `Phishing`, ...).
    pub threat_type: String,
    /// Family, group or technique (`mykings`, `apt32`, `bits job`).
    pub label: Option<String>,
    pub risk: RiskLevel,
    /// Scenario as the feed states it; the report derives one from the threat type otherwise.
    pub scenario: Option<String>,
    /// ATT&CK tactic or kill-chain phase, as a key (`command-and-control`, `delivery`).
    pub attack_stage: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// The record's own confidence, 0-100; the verdict uses its default when absent.
    pub confidence: Option<u8>,
    pub reference: Option<String>,
    /// The feed listed a URL on this host rather than the host itself: evidence that the host
    /// serves something malicious (often an abused shared service), which never outweighs an
    /// allowlist on its own.
    #[serde(default)]
    pub via_url: bool,
}

/// How an allowlist entry matches names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowMatch {
    /// The name and every name below it (up to the registrable domain's suffix).
    Hostname,
    /// Only this exact name.
    Exact,
}

/// What kind of allowlist an entry belongs to; decides how strong its "safe" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowlistKind {
    /// The operator's own list: the strongest.
    Operator,
    /// A curated vendor list (MISP warninglists and the like).
    Curated,
    /// A popularity ranking (Tranco and the like): strength by rank.
    TopSites,
}

/// A named allowlist. Identity: `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowlist {
    pub name: String,
    pub kind: AllowlistKind,
    pub enabled: bool,
}

/// One name on an allowlist. Identity: (`list`, `name`, `matching`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistEntry {
    pub name: DomainName,
    pub matching: AllowMatch,
    pub list: String,
    /// Position in a ranked list (1 = most popular).
    pub rank: Option<u32>,
}

/// A registrar or a contact as WHOIS and RDAP report them; every field may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    pub name: String,
    pub organization: String,
    pub email: String,
    pub phone: String,
    pub street: String,
    pub city: String,
    pub province: String,
    pub country: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Registrar {
    pub name: String,
    pub url: String,
    pub email: String,
    pub phone: String,
}

/// A parsed WHOIS or RDAP record of a registrable domain. History is kept: identity is
/// (`domain`, `observed_at`), and reports use the newest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoisRecord {
    pub domain: DomainName,
    pub registrar: Registrar,
    pub registrant: Contact,
    pub admin: Contact,
    pub tech: Contact,
    pub whois_server: String,
    pub dnssec: String,
    pub nameservers: Vec<String>,
    pub status: Vec<String>,
    pub created: Option<Timestamp>,
    pub expires: Option<Timestamp>,
    pub updated: Option<Timestamp>,
    pub observed_at: Timestamp,
    /// The text or JSON the record was parsed from.
    pub raw: String,
}

/// A certificate seen somewhere. Identity: (`sha256`, `seen_where`); the newest sighting wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Serial number in decimal.
    pub serial: String,
    pub issuer: String,
    pub subject: String,
    pub sans: Vec<String>,
    /// The names this certificate is valid for (SANs, or the CN without SANs); wildcards as
    /// [`DomainQuery::Wildcard`].
    pub covers: Vec<DomainQuery>,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// SHA-256 of the DER encoding, lower-case hex.
    pub sha256: String,
    pub seen_at: Timestamp,
    pub seen_where: String,
}

/// A passive-DNS observation. Identity: (`name`, `ip`); re-observation widens the window and
/// adds to `count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub name: DomainName,
    pub ip: IpAddr,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
}

/// The type of a name-to-name DNS record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RelationKind {
    /// `name` is an alias of `target`.
    Cname,
    /// `name` is delegated to the name server `target`.
    Ns,
    /// `name`'s mail goes to `target`.
    Mx,
}

impl RelationKind {
    /// The record type as DNS writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Cname => "CNAME",
            RelationKind::Ns => "NS",
            RelationKind::Mx => "MX",
        }
    }

    /// The kind of a record type written as DNS writes it (any case); `None` for other types.
    pub fn parse(rrtype: &str) -> Option<Self> {
        [RelationKind::Cname, RelationKind::Ns, RelationKind::Mx]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(rrtype))
    }
}

/// A name-to-name DNS record seen (passive DNS, or a lookup). Identity: (`name`, `kind`,
/// `target`); re-observation widens the window, adds to `count`, and names its `source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRelation {
    pub name: DomainName,
    pub kind: RelationKind,
    pub target: DomainName,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
    /// Who saw it last: the import's source, or `dns` for a lookup.
    pub source: String,
}

/// An IP network (a single address is a /32 or /128) with the host bits cleared. In JSON it is
/// a string: `"203.0.113.0/24"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpNetworkError {
    #[error("{0:?} is not an IP address or CIDR block")]
    Syntax(String),
    #[error("prefix length /{prefix} is too long for {addr}")]
    PrefixTooLong { addr: IpAddr, prefix: u8 },
}

impl IpNetwork {
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, IpNetworkError> {
        let max = max_prefix(addr);
        if prefix > max {
            return Err(IpNetworkError::PrefixTooLong { addr, prefix });
        }
        Ok(Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    pub fn host(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix: max_prefix(addr),
        }
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// `addr` with every bit after the first `prefix` cleared.
pub fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = if prefix == 0 {
                0
            } else {
                bits & (u32::MAX << (32 - u32::from(prefix.min(32))))
            };
            IpAddr::V4(kept.into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = if prefix == 0 {
                0
            } else {
                bits & (u128::MAX << (128 - u32::from(prefix.min(128))))
            };
            IpAddr::V6(kept.into())
        }
    }
}

impl FromStr for IpNetwork {
    type Err = IpNetworkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || IpNetworkError::Syntax(s.to_owned());
        match s.trim().split_once('/') {
            None => s.trim().parse().map(Self::host).map_err(|_| syntax()),
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.parse().map_err(|_| syntax())?;
                let prefix: u8 = prefix.parse().map_err(|_| syntax())?;
                Self::new(addr, prefix)
            }
        }
    }
}

impl TryFrom<String> for IpNetwork {
    type Error = IpNetworkError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<IpNetwork> for String {
    fn from(n: IpNetwork) -> String {
        n.to_string()
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A source's claim about an address or network. Identity: (`network`, `source`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpIntel {
    pub network: IpNetwork,
    pub risk: RiskLevel,
    pub source: String,
    pub threat_type: Option<String>,
}

/// One source's dated claim that an address or network is malicious: what feeds say about
/// IPs and CIDR blocks, judged by the same verdict model as names (decay from `last_seen`,
/// the source's reliability, corroboration).
///
/// Identity: (`network`, `source`, `threat_type`, `label`). Re-importing the same record widens
/// `first_seen`/`last_seen` and counts a sighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpRecord {
    /// A single address is a /32 or /128; a listed block covers every address in it.
    pub network: IpNetwork,
    pub source: String,
    pub threat_type: String,
    pub label: Option<String>,
    pub risk: RiskLevel,
    pub scenario: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// The record's own confidence, 0-100; the verdict uses its default when absent.
    pub confidence: Option<u8>,
    pub reference: Option<String>,
}

/// One source's dated claim that a file is malicious, with what the source knows of the file.
///
/// Identity: (the file, `source`, `threat_type`, `label`). The file is the one any of `hashes`
/// names: a store links every hash of a record to one file, so a record that gives only an MD5
/// and a later one that gives that MD5 with its SHA-256 speak of the same file, and a lookup by
/// either hash finds both. A hash already linked to a file stays linked to it (the first link
/// wins). Re-importing the same record widens `first_seen`/`last_seen`, adds its file names,
/// keeps the newest file type and size, and counts a sighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub hashes: FileHashes,
    pub source: String,
    pub threat_type: String,
    /// The malware family (`AgentTesla`, `Mirai`).
    pub label: Option<String>,
    pub risk: RiskLevel,
    pub scenario: Option<String>,
    /// What the file is (`exe`, `elf`, `docx`), as the source names it.
    #[serde(default)]
    pub file_type: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Names the file was seen under, sorted, each once.
    #[serde(default)]
    pub file_names: Vec<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// The record's own confidence, 0-100; the verdict uses its default when absent.
    pub confidence: Option<u8>,
    pub reference: Option<String>,
}

/// An address or network on an allowlist (a warninglist's CIDR list: public resolvers, CDNs,
/// cloud ranges). Identity: (`list`, `network`); it covers every address in `network`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAllowEntry {
    pub list: String,
    pub network: IpNetwork,
}

/// Who a block of addresses is registered to (a RIR WHOIS `inetnum`/`inet6num`/`NetRange`, an
/// RDAP `ip network`). A registered range that is not one CIDR block gives one record per block
/// of it, each with the whole `range`. Identity: `network`; a re-import with a newer
/// `observed_at` replaces the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRegistration {
    pub network: IpNetwork,
    /// The registered range as `first - last`.
    pub range: String,
    /// The network's name (`netname`, `NetName`, RDAP `name`).
    pub name: Option<String>,
    pub organisation: Option<String>,
    /// ISO 3166 code, as registered.
    pub country: Option<String>,
    pub abuse_email: Option<String>,
    pub observed_at: Timestamp,
}

/// Security events (IDS/WAF alerts, sightings) that involve a name as attacker or callback host.
/// Identity: (`name`, `time`, `stage`, `industry`, `source`); re-import replaces `count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    pub name: DomainName,
    pub time: Timestamp,
    /// ATT&CK tactic or kill-chain phase key (`initial-access`, `command-and-control`).
    pub stage: String,
    /// Victim industry key (`finance`, `gaming`).
    pub industry: String,
    pub count: u64,
    pub source: String,
}

/// Any one record a parser yields and a store accepts. As JSON (the native JSON-lines format
/// of `threatintel db load`), the record's kind is in the `record` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Evidence {
    Source(Source),
    Indicator(IndicatorRecord),
    Allowlist(Allowlist),
    AllowlistEntry(AllowlistEntry),
    Whois(Box<WhoisRecord>),
    Certificate(Box<Certificate>),
    Resolution(Resolution),
    Relation(DnsRelation),
    IpIntel(IpIntel),
    Event(SecurityEvent),
    IpRecord(IpRecord),
    NetworkAllowEntry(NetworkAllowEntry),
    FileRecord(Box<FileRecord>),
    NetworkRegistration(NetworkRegistration),
}
