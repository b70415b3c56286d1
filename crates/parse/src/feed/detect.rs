//! Format detection from a file's first few kilobytes (content first; the file name only
//! breaks ties that content cannot, such as a top-site list versus a blocklist of names).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every input format the feed parsers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// STIX 2.x bundle (or array of objects).
    Stix,
    /// One MISP event JSON.
    MispEvent,
    /// A MISP feed's `manifest.json`.
    MispManifest,
    /// ThreatFox JSON document (snapshot, API answer or full export).
    ThreatFoxJson,
    /// ThreatFox JSON Lines.
    ThreatFoxJsonl,
    UrlhausCsv,
    FeodoCsv,
    PhishTankCsv,
    TweetFeedCsv,
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
}

impl FeedFormat {
    pub const ALL: [FeedFormat; 17] = [
        Self::Stix,
        Self::MispEvent,
        Self::MispManifest,
        Self::ThreatFoxJson,
        Self::ThreatFoxJsonl,
        Self::UrlhausCsv,
        Self::FeodoCsv,
        Self::PhishTankCsv,
        Self::TweetFeedCsv,
        Self::Csv,
        Self::DomainList,
        Self::HostsFile,
        Self::Adblock,
        Self::MaltrailTrails,
        Self::MispWarninglist,
        Self::RankedTopList,
        Self::TopList,
    ];

    /// Whether records of this format are allowlist entries rather than threat claims.
    pub fn is_allowlist(self) -> bool {
        matches!(
            self,
            Self::MispWarninglist | Self::RankedTopList | Self::TopList
        )
    }
}

impl fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stix => "STIX 2 bundle",
            Self::MispEvent => "MISP event",
            Self::MispManifest => "MISP feed manifest",
            Self::ThreatFoxJson => "ThreatFox JSON",
            Self::ThreatFoxJsonl => "ThreatFox JSON Lines",
            Self::UrlhausCsv => "URLhaus CSV",
            Self::FeodoCsv => "Feodo Tracker CSV",
            Self::PhishTankCsv => "PhishTank CSV",
            Self::TweetFeedCsv => "TweetFeed CSV",
            Self::Csv => "CSV (needs a column mapping)",
            Self::DomainList => "domain list",
            Self::HostsFile => "hosts file",
            Self::Adblock => "Adblock list",
            Self::MaltrailTrails => "maltrail trails",
            Self::MispWarninglist => "MISP warninglist",
            Self::RankedTopList => "ranked top-site list",
            Self::TopList => "top-site list",
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

/// The format of a file from its name and first bytes (a few KB; may end mid-line).
/// `None` when the content matches no format (binary data, unknown JSON, empty).
pub fn detect_format(file_name: &str, head: &[u8]) -> Option<FeedFormat> {
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
        return Some(FeedFormat::MaltrailTrails);
    }
    if lower.contains("id,dateadded,url,url_status") {
        return Some(FeedFormat::UrlhausCsv);
    }
    if lower.contains("dst_ip") && lower.contains("first_seen_utc")
        || lower.contains("feodo tracker")
    {
        return Some(FeedFormat::FeodoCsv);
    }
    if lower.contains("phish_id,url,phish_detail_url") {
        return Some(FeedFormat::PhishTankCsv);
    }
    let first = body.first().copied().unwrap_or("");
    if first.starts_with("[Adblock") || data.iter().any(|l| l.starts_with("[Adblock")) {
        return Some(FeedFormat::Adblock);
    }
    let share = |pred: &dyn Fn(&str) -> bool| -> f64 {
        if body.is_empty() {
            0.0
        } else {
            body.iter().filter(|l| pred(l)).count() as f64 / body.len() as f64
        }
    };
    if share(&|l| l.starts_with("||") || l.starts_with("@@||")) > 0.5 {
        return Some(FeedFormat::Adblock);
    }
    if share(&is_hosts_line) > 0.5 {
        return Some(FeedFormat::HostsFile);
    }
    if share(&is_tweetfeed_line) > 0.5 {
        return Some(FeedFormat::TweetFeedCsv);
    }
    if share(&|l| {
        l.split_once(',').is_some_and(|(r, n)| {
            !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) && is_name_like(n)
        })
    }) > 0.8
    {
        return Some(FeedFormat::RankedTopList);
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
            FeedFormat::TopList
        } else {
            FeedFormat::DomainList
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
        return Some(FeedFormat::Csv);
    }
    if name.ends_with(".txt") || name.ends_with(".list") {
        return Some(FeedFormat::DomainList);
    }
    None
}

fn detect_json(text: &str) -> Option<FeedFormat> {
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
        return Some(FeedFormat::Stix);
    }
    if has("\"matching_attributes\"") || (has("\"list\":[\"") && has("\"description\":")) {
        return Some(FeedFormat::MispWarninglist);
    }
    if has("\"Event\":{") || has("\"Attribute\":[") && has("\"threat_level_id\"") {
        return Some(FeedFormat::MispEvent);
    }
    if is_manifest(&compact) {
        return Some(FeedFormat::MispManifest);
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
            FeedFormat::ThreatFoxJsonl
        } else {
            FeedFormat::ThreatFoxJson
        });
    }
    if has("\"type\":\"indicator\"") || has("\"type\":\"domain-name\"") {
        return Some(FeedFormat::Stix);
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
