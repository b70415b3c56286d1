//! Every input format, and the one detector: the format of a file from its name and first
//! kilobytes (content first; the name only breaks ties that content cannot, such as a top-site
//! list versus a blocklist of names).

use std::fmt;
use std::str::FromStr;

use threatintel_model::FileHash;

use crate::context::parse_whois_for;
use crate::feed::{host_of_url, parse_host};

/// Every input format [`read`](fn@crate::read) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// threatintel's own JSON lines (`docs/native-format.md`).
    Native,
    /// STIX 2.x bundle (or array of objects).
    Stix,
    /// One MISP event JSON.
    MispEvent,
    /// A MISP feed's `manifest.json` (read with the event files beside it).
    MispManifest,
    /// ThreatFox JSON document (snapshot, API answer or full export).
    ThreatFoxJson,
    /// ThreatFox JSON Lines.
    ThreatFoxJsonl,
    UrlhausCsv,
    FeodoCsv,
    PhishTankCsv,
    TweetFeedCsv,
    /// MalwareBazaar's CSV export (file hashes).
    MalwareBazaarCsv,
    /// Any other CSV: needs a column mapping.
    Csv,
    /// One name (or address, or URL) per line.
    DomainList,
    HostsFile,
    Adblock,
    MaltrailTrails,
    MispWarninglist,
    /// `rank,name` lines.
    RankedTopList,
    /// A popularity list of one name per line (rank = position).
    TopList,
    /// A raw port-43 WHOIS answer (one domain per file).
    Whois,
    /// An RDAP domain response (RFC 9083).
    Rdap,
    /// PEM, PEM bundle or DER certificates.
    Certificate,
    /// Passive DNS in the Common Output Format, one JSON object per line.
    PassiveDns,
    /// Suricata EVE JSON lines (alerts).
    SuricataEve,
    /// threatintel's event JSON lines (`name, time, stage, industry, count`).
    Events,
}

impl Format {
    pub const ALL: [Format; 25] = [
        Self::Native,
        Self::Stix,
        Self::MispEvent,
        Self::MispManifest,
        Self::ThreatFoxJson,
        Self::ThreatFoxJsonl,
        Self::UrlhausCsv,
        Self::FeodoCsv,
        Self::PhishTankCsv,
        Self::TweetFeedCsv,
        Self::MalwareBazaarCsv,
        Self::Csv,
        Self::DomainList,
        Self::HostsFile,
        Self::Adblock,
        Self::MaltrailTrails,
        Self::MispWarninglist,
        Self::RankedTopList,
        Self::TopList,
        Self::Whois,
        Self::Rdap,
        Self::Certificate,
        Self::PassiveDns,
        Self::SuricataEve,
        Self::Events,
    ];

    /// Whether records of this format are allowlist entries rather than threat claims.
    pub fn is_allowlist(self) -> bool {
        matches!(
            self,
            Self::MispWarninglist | Self::RankedTopList | Self::TopList
        )
    }

    /// The `--format` name (`domain_list`, `passive_dns`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Stix => "stix",
            Self::MispEvent => "misp_event",
            Self::MispManifest => "misp_manifest",
            Self::ThreatFoxJson => "threat_fox_json",
            Self::ThreatFoxJsonl => "threat_fox_jsonl",
            Self::UrlhausCsv => "urlhaus_csv",
            Self::FeodoCsv => "feodo_csv",
            Self::PhishTankCsv => "phish_tank_csv",
            Self::TweetFeedCsv => "tweet_feed_csv",
            Self::MalwareBazaarCsv => "malware_bazaar_csv",
            Self::Csv => "csv",
            Self::DomainList => "domain_list",
            Self::HostsFile => "hosts_file",
            Self::Adblock => "adblock",
            Self::MaltrailTrails => "maltrail_trails",
            Self::MispWarninglist => "misp_warninglist",
            Self::RankedTopList => "ranked_top_list",
            Self::TopList => "top_list",
            Self::Whois => "whois",
            Self::Rdap => "rdap",
            Self::Certificate => "certificate",
            Self::PassiveDns => "passive_dns",
            Self::SuricataEve => "suricata_eve",
            Self::Events => "events",
        }
    }

    /// The names `--format` accepts, for messages.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Native => "threatintel native JSON lines",
            Self::Stix => "STIX 2 bundle",
            Self::MispEvent => "MISP event",
            Self::MispManifest => "MISP feed manifest",
            Self::ThreatFoxJson => "ThreatFox JSON",
            Self::ThreatFoxJsonl => "ThreatFox JSON Lines",
            Self::UrlhausCsv => "URLhaus CSV",
            Self::FeodoCsv => "Feodo Tracker CSV",
            Self::PhishTankCsv => "PhishTank CSV",
            Self::TweetFeedCsv => "TweetFeed CSV",
            Self::MalwareBazaarCsv => "MalwareBazaar CSV",
            Self::Csv => "CSV (needs a column mapping)",
            Self::DomainList => "domain list",
            Self::HostsFile => "hosts file",
            Self::Adblock => "Adblock list",
            Self::MaltrailTrails => "maltrail trails",
            Self::MispWarninglist => "MISP warninglist",
            Self::RankedTopList => "ranked top-site list",
            Self::TopList => "top-site list",
            Self::Whois => "WHOIS answer",
            Self::Rdap => "RDAP domain response",
            Self::Certificate => "certificates",
            Self::PassiveDns => "passive DNS (COF)",
            Self::SuricataEve => "Suricata EVE",
            Self::Events => "threatintel events",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {given:?}; known formats: auto, {known}")]
pub struct UnknownFormat {
    pub given: String,
    pub known: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat {
                given: s,
                known: Self::names(),
            })
    }
}

const TOP_LIST_HINTS: &[&str] = &[
    "tranco",
    "alexa",
    "umbrella",
    "majestic",
    "top-1m",
    "top1m",
    "top-10k",
    "top10k",
    "top-100k",
    "cisco_top",
    "crux",
    "radar",
];

/// The feed format of a file from its name and first bytes (a few KB; may end mid-line).
/// `None` when the content matches no format (binary data, unknown JSON, empty).
fn detect_feed(file_name: &str, head: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.is_empty() || head.iter().take(4096).filter(|&&b| b == 0).count() > 0 {
        return None;
    }
    let name = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .to_ascii_lowercase();
    let json_array = text
        .strip_prefix('[')
        .is_some_and(|r| r.trim_start().starts_with(['{', '"', ']']));
    if text.starts_with('{') || json_array {
        return detect_json(text);
    }
    // Complete lines only (the last may be cut).
    let mut lines: Vec<&str> = text.lines().collect();
    if head.len() >= 1024 && !text.ends_with('\n') && lines.len() > 1 {
        lines.pop();
    }
    let data: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let comments: Vec<&str> = data
        .iter()
        .copied()
        .filter(|l| l.starts_with('#') || l.starts_with('!'))
        .collect();
    let body: Vec<&str> = data
        .iter()
        .copied()
        .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
        .collect();
    let lower = text.to_ascii_lowercase();

    if comments
        .iter()
        .any(|c| c.contains("Reference:") || c.contains("Aliases:") || c.contains("Maltrail"))
    {
        return Some(Format::MaltrailTrails);
    }
    if lower.contains("id,dateadded,url,url_status") {
        return Some(Format::UrlhausCsv);
    }
    if lower.contains("sha256_hash")
        && lower.contains("md5_hash")
        && lower.contains("first_seen_utc")
    {
        return Some(Format::MalwareBazaarCsv);
    }
    if lower.contains("dst_ip") && lower.contains("first_seen_utc")
        || lower.contains("feodo tracker")
    {
        return Some(Format::FeodoCsv);
    }
    if lower.contains("phish_id,url,phish_detail_url") {
        return Some(Format::PhishTankCsv);
    }
    let first = body.first().copied().unwrap_or("");
    if first.starts_with("[Adblock") || data.iter().any(|l| l.starts_with("[Adblock")) {
        return Some(Format::Adblock);
    }
    let share = |pred: &dyn Fn(&str) -> bool| -> f64 {
        if body.is_empty() {
            0.0
        } else {
            body.iter().filter(|l| pred(l)).count() as f64 / body.len() as f64
        }
    };
    if share(&|l| l.starts_with("||") || l.starts_with("@@||")) > 0.5 {
        return Some(Format::Adblock);
    }
    if share(&is_hosts_line) > 0.5 {
        return Some(Format::HostsFile);
    }
    if share(&is_tweetfeed_line) > 0.5 {
        return Some(Format::TweetFeedCsv);
    }
    if share(&|l| {
        l.split_once(',').is_some_and(|(r, n)| {
            !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) && is_name_like(n)
        })
    }) > 0.8
    {
        return Some(Format::RankedTopList);
    }
    let hinted_top = TOP_LIST_HINTS.iter().any(|h| name.contains(h));
    let header_domain =
        first.eq_ignore_ascii_case("domain") || first.eq_ignore_ascii_case("domains");
    if share(&|l| {
        !l.contains(',') && !l.contains(char::is_whitespace)
            || l.split_whitespace()
                .nth(1)
                .is_some_and(|w| w.starts_with('#'))
    }) > 0.8
    {
        return Some(if hinted_top || header_domain {
            Format::TopList
        } else {
            Format::DomainList
        });
    }
    let commas: Vec<usize> = body
        .iter()
        .take(50)
        .map(|l| l.matches(',').count())
        .collect();
    if commas.len() >= 2
        && commas[0] >= 1
        && commas.iter().filter(|&&c| c == commas[0]).count() * 10 >= commas.len() * 8
    {
        return Some(Format::Csv);
    }
    if name.ends_with(".txt") || name.ends_with(".list") {
        return Some(Format::DomainList);
    }
    None
}

fn detect_json(text: &str) -> Option<Format> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(8192)
        .collect();
    let has = |s: &str| compact.contains(s);
    if has("\"type\":\"bundle\"")
        || (has("\"spec_version\":\"2.") && has("\"type\":\""))
        || has("\"pattern_type\":\"stix\"")
    {
        return Some(Format::Stix);
    }
    if has("\"matching_attributes\"") || (has("\"list\":[\"") && has("\"description\":")) {
        return Some(Format::MispWarninglist);
    }
    if has("\"Event\":{") || has("\"Attribute\":[") && has("\"threat_level_id\"") {
        return Some(Format::MispEvent);
    }
    if is_manifest(&compact) {
        return Some(Format::MispManifest);
    }
    if has("\"ioc\":") || has("\"ioc_value\":") {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let jsonl = lines.len() > 1
            && lines
                .iter()
                .take(3)
                .all(|l| l.starts_with('{') && l.ends_with('}'));
        return Some(if jsonl {
            Format::ThreatFoxJsonl
        } else {
            Format::ThreatFoxJson
        });
    }
    if has("\"type\":\"indicator\"") || has("\"type\":\"domain-name\"") {
        return Some(Format::Stix);
    }
    None
}

/// `{"<uuid>":{"info":...` with MISP event keys.
fn is_manifest(compact: &str) -> bool {
    let Some(rest) = compact.strip_prefix("{\"") else {
        return false;
    };
    let key: String = rest.chars().take(36).collect();
    let uuid_like = key.len() == 36
        && key.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && key.matches('-').count() == 4;
    uuid_like && (compact.contains("\"info\":") || compact.contains("\"Orgc\":"))
}

fn is_hosts_line(l: &str) -> bool {
    let mut t = l.split_whitespace();
    let (Some(ip), Some(_)) = (t.next(), t.next()) else {
        return false;
    };
    matches!(
        ip,
        "0.0.0.0" | "127.0.0.1" | "::1" | "::" | "0:0:0:0:0:0:0:0"
    )
}

fn is_tweetfeed_line(l: &str) -> bool {
    let f: Vec<&str> = l.splitn(4, ',').collect();
    f.len() == 4
        && f[0].len() == 19
        && f[0].as_bytes().get(4) == Some(&b'-')
        && matches!(f[2], "domain" | "url" | "ip" | "sha256" | "md5")
}

fn is_name_like(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && s.contains('.') && !s.contains(',') && !s.contains(char::is_whitespace)
}

/// Whether the first non-blank, non-comment line is a native record (`{"record": ...}`).
fn is_native(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let Some(line) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
    else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .is_some_and(|v| v.get("record").is_some_and(serde_json::Value::is_string))
}

/// The first non-blank line, as JSON, when it is an object.
fn first_json_line(head: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    let text = String::from_utf8_lossy(head);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    match serde_json::from_str(line) {
        Ok(serde_json::Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Context formats, told apart by their content.
fn detect_context(file_name: &str, head: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(head);
    if text.contains("-----BEGIN CERTIFICATE-----")
        || text.contains("-----BEGIN X509 CERTIFICATE-----")
    {
        return Some(Format::Certificate);
    }
    let lower = file_name.to_ascii_lowercase();
    // DER: a SEQUENCE with a long-form length, in a file named like a certificate.
    if head.starts_with(&[0x30, 0x82])
        && [".der", ".cer", ".crt"].iter().any(|e| lower.ends_with(e))
    {
        return Some(Format::Certificate);
    }
    if let Some(first) = first_json_line(head) {
        if first.contains_key("rrname") && first.contains_key("rrtype") {
            return Some(Format::PassiveDns);
        }
        if first.contains_key("event_type")
            && (first.contains_key("src_ip") || first.contains_key("timestamp"))
        {
            return Some(Format::SuricataEve);
        }
        if first.contains_key("stage")
            && first.contains_key("industry")
            && first.contains_key("name")
        {
            return Some(Format::Events);
        }
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{')
        && (text.contains("\"rdapConformance\"") || text.contains("\"objectClassName\""))
    {
        return Some(Format::Rdap);
    }
    // WHOIS: key: value lines with at least two of the keys registries use.
    const WHOIS_KEYS: &[&str] = &[
        "domain name:",
        "registrar:",
        "creation date:",
        "created:",
        "registry expiry date:",
        "expiration date:",
        "expires:",
        "name server:",
        "nserver:",
        "registrant:",
        "domain:",
        "status:",
        "updated date:",
        "whois server:",
        "registration time:",
        "expiration time:",
        "paid-till:",
        "[domain name]",
        "inetnum:",
        "inet6num:",
        "netrange:",
        "netname:",
    ];
    let lowered = text.to_lowercase();
    let hits = WHOIS_KEYS
        .iter()
        .filter(|k| lowered.lines().any(|l| l.trim_start().starts_with(*k)))
        .count();
    if hits >= 2 || lower.contains(".whois") {
        return Some(Format::Whois);
    }
    // Registry layouts without `key:` lines (.ch, .fi, .hk ...): ask the WHOIS parser itself.
    let epoch = chrono::DateTime::UNIX_EPOCH;
    let parsed = parse_whois_for(&text, None, epoch);
    let found = parsed.record.is_some_and(|r| {
        !r.nameservers.is_empty()
            && (r.created.is_some() || r.expires.is_some() || !r.registrar.name.is_empty())
    });
    (found || parsed.not_found).then_some(Format::Whois)
}

/// The format of a file from its name and first bytes (a few KB; may end mid-line): native
/// records, then context records, then feeds; `None` when nothing matches.
pub fn detect(file_name: &str, head: &[u8]) -> Option<Format> {
    if is_native(head) {
        return Some(Format::Native);
    }
    if let Some(context) = detect_context(file_name, head) {
        return Some(context);
    }
    match detect_feed(file_name, head)? {
        // One token per line is not enough: most of the lines must be names, addresses or
        // file hashes.
        Format::DomainList | Format::TopList if !mostly_hosts(head) => None,
        format => Some(format),
    }
}

/// Whether at least half of the data lines of `head` (up to 200) are host names, addresses or
/// file hashes.
fn mostly_hosts(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with('#') && !l.starts_with('!') && !l.starts_with('%')
        })
        .take(200)
        .collect();
    let hosts = lines
        .iter()
        .filter(|l| {
            let token = l.split_ascii_whitespace().next().unwrap_or(l);
            parse_host(l).is_ok() || host_of_url(l).is_ok() || FileHash::parse(token).is_ok()
        })
        .count();
    !lines.is_empty() && hosts * 2 >= lines.len()
}
