//! The formats an import can read, and detection from a file's first kilobytes.

use std::fmt;
use std::str::FromStr;

use threatintel_parse::context::parse_whois_for;
use threatintel_parse::feed::{detect_format, host_of_url, parse_host, FeedFormat};

/// Every input format `threatintel import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// threatintel's own JSON lines (`docs/native-format.md`).
    Native,
    Feed(FeedFormat),
    Context(ContextFormat),
}

/// Context records: registration data, certificates, DNS history, security events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextFormat {
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

impl ContextFormat {
    pub const ALL: [ContextFormat; 6] = [
        Self::Whois,
        Self::Rdap,
        Self::Certificate,
        Self::PassiveDns,
        Self::SuricataEve,
        Self::Events,
    ];

    /// The `--format` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Whois => "whois",
            Self::Rdap => "rdap",
            Self::Certificate => "certificate",
            Self::PassiveDns => "passive_dns",
            Self::SuricataEve => "suricata_eve",
            Self::Events => "events",
        }
    }
}

impl InputFormat {
    /// The names `--format` accepts, for messages.
    pub fn names() -> String {
        let mut names = vec!["native".to_owned()];
        names.extend(FeedFormat::ALL.iter().map(|f| feed_format_name(*f)));
        names.extend(ContextFormat::ALL.iter().map(|f| f.name().to_owned()));
        names.join(", ")
    }
}

fn feed_format_name(format: FeedFormat) -> String {
    serde_json::to_value(format)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Native => f.write_str("threatintel native JSON lines"),
            Self::Feed(format) => write!(f, "{format}"),
            Self::Context(ContextFormat::Whois) => f.write_str("WHOIS answer"),
            Self::Context(ContextFormat::Rdap) => f.write_str("RDAP domain response"),
            Self::Context(ContextFormat::Certificate) => f.write_str("certificates"),
            Self::Context(ContextFormat::PassiveDns) => f.write_str("passive DNS (COF)"),
            Self::Context(ContextFormat::SuricataEve) => f.write_str("Suricata EVE"),
            Self::Context(ContextFormat::Events) => f.write_str("threatintel events"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {given:?}; known formats: auto, {known}")]
pub struct UnknownFormat {
    pub given: String,
    pub known: String,
}

impl FromStr for InputFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        if s == "native" {
            return Ok(Self::Native);
        }
        if let Some(context) = ContextFormat::ALL.into_iter().find(|f| f.name() == s) {
            return Ok(Self::Context(context));
        }
        FeedFormat::ALL
            .into_iter()
            .find(|f| feed_format_name(*f) == s)
            .map(Self::Feed)
            .ok_or_else(|| UnknownFormat {
                given: s,
                known: Self::names(),
            })
    }
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
fn detect_context(file_name: &str, head: &[u8]) -> Option<ContextFormat> {
    let text = String::from_utf8_lossy(head);
    if text.contains("-----BEGIN CERTIFICATE-----")
        || text.contains("-----BEGIN X509 CERTIFICATE-----")
    {
        return Some(ContextFormat::Certificate);
    }
    let lower = file_name.to_ascii_lowercase();
    // DER: a SEQUENCE with a long-form length, in a file named like a certificate.
    if head.starts_with(&[0x30, 0x82])
        && [".der", ".cer", ".crt"].iter().any(|e| lower.ends_with(e))
    {
        return Some(ContextFormat::Certificate);
    }
    if let Some(first) = first_json_line(head) {
        if first.contains_key("rrname") && first.contains_key("rrtype") {
            return Some(ContextFormat::PassiveDns);
        }
        if first.contains_key("event_type")
            && (first.contains_key("src_ip") || first.contains_key("timestamp"))
        {
            return Some(ContextFormat::SuricataEve);
        }
        if first.contains_key("stage")
            && first.contains_key("industry")
            && first.contains_key("name")
        {
            return Some(ContextFormat::Events);
        }
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{')
        && (text.contains("\"rdapConformance\"") || text.contains("\"objectClassName\""))
    {
        return Some(ContextFormat::Rdap);
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
    ];
    let lowered = text.to_lowercase();
    let hits = WHOIS_KEYS
        .iter()
        .filter(|k| lowered.lines().any(|l| l.trim_start().starts_with(*k)))
        .count();
    if hits >= 2 || lower.contains(".whois") {
        return Some(ContextFormat::Whois);
    }
    // Registry layouts without `key:` lines (.ch, .fi, .hk ...): ask the WHOIS parser itself.
    let epoch = chrono::DateTime::UNIX_EPOCH;
    let parsed = parse_whois_for(&text, None, epoch);
    let found = parsed.record.is_some_and(|r| {
        !r.nameservers.is_empty()
            && (r.created.is_some() || r.expires.is_some() || !r.registrar.name.is_empty())
    });
    (found || parsed.not_found).then_some(ContextFormat::Whois)
}

/// The format of a file from its name and first bytes; `None` when nothing matches.
pub fn detect(file_name: &str, head: &[u8]) -> Option<InputFormat> {
    if is_native(head) {
        return Some(InputFormat::Native);
    }
    if let Some(context) = detect_context(file_name, head) {
        return Some(InputFormat::Context(context));
    }
    match detect_format(file_name, head)? {
        // One token per line is not enough: most of the lines must be names or addresses.
        FeedFormat::DomainList | FeedFormat::TopList if !mostly_hosts(head) => None,
        format => Some(InputFormat::Feed(format)),
    }
}

/// Whether at least half of the data lines of `head` (up to 200) are host names or addresses.
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
        .filter(|l| parse_host(l).is_ok() || host_of_url(l).is_ok())
        .count();
    !lines.is_empty() && hosts * 2 >= lines.len()
}
