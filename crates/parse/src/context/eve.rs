//! Security events: Suricata EVE JSON alerts and threatintel's native JSON-lines events.
//!
//! ## Suricata EVE (`event_type: "alert"`, one JSON object per line)
//! - **Names**: `dns.query[].rrname` (EVE v2), `dns.rrname` (v1), `http.hostname`, `tls.sni`;
//!   one [`SecurityEvent`] per distinct name that parses (IP literals are skipped), count 1
//!   (the store aggregates). Other event types, and alerts without a name, yield nothing.
//! - **Time**: `timestamp` (`2024-01-01T12:00:00.123456+0000`), converted to UTC.
//! - **Threat type and stage**: [`classify_alert`], a keyword table over `alert.signature`
//!   then `alert.category` (first match wins):
//!
//!   | keyword (signature / category)                             | threat type        | stage                 |
//!   |------------------------------------------------------------|--------------------|-----------------------|
//!   | `ET PHISHING`, `Phishing`                                  | Phishing           | initial-access        |
//!   | `COINMINER`, `Crypto Currency Mining`                      | Miner Pool         | impact                |
//!   | `ET CNC`, `ET BOTCC`, `C2`, `CnC`, `Command and Control`   | C&C Server         | command-and-control   |
//!   | `ET MALWARE`, `ET TROJAN`, `A Network Trojan was detected`, `Malware Command and Control Activity Detected` | C&C Server | command-and-control |
//!   | `ET EXPLOIT`, `ET WEB_SERVER`, `Attempted Administrator Privilege Gain`, `Attempted User Privilege Gain`, `Web Application Attack` | Exploit | initial-access |
//!   | `ET SCAN`, `Attempted Information Leak`, `Detection of a Network Scan` | Scanner | reconnaissance |
//!   | `ET DOS`, `Denial of Service`                               | Attack Source      | impact                |
//!   | `ET DNS`, `ET INFO`, `ET POLICY`, `Potentially Bad Traffic`, `Misc activity` | Suspicious | discovery        |
//!   | anything else                                              | Suspicious         | unknown               |
//!
//! - **Victim**: the rule's `alert.target.ip` when the rule names one (Suricata ≥ 6 `target`
//!   keyword; inbound attacks set it to the attacked server). Otherwise the client of the
//!   flow: the internal host that resolved or connected to the name, i.e. for an outbound
//!   callback the host that called out. That is `flow.src_ip` when present (Suricata ≥ 7),
//!   else `src_ip` when `direction` is `to_server` (or absent) and `dest_ip` when it is
//!   `to_client` (the packet then travels from the server back to the client).
//! - **Industry**: the longest-prefix match of the victim in the caller's CIDR → industry map;
//!   `unknown` when nothing matches.
//!
//! ## Native JSON lines
//! `{"name": "evil.example", "time": "2024-01-01T00:00:00Z", "stage": "command-and-control",
//! "industry": "finance", "count": 3}`: `name` and `time` (RFC 3339) are required; `stage`
//! defaults to `unknown`, `industry` to `unknown`, `count` to 1. The source is the caller's.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use threatintel_model::{DomainName, IpNetwork, SecurityEvent, Timestamp};

/// Industry of victims that no CIDR of the map covers.
pub const UNKNOWN_INDUSTRY: &str = "unknown";

/// An EVE alert turned into evidence, with what the event record has no place for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EveEvent {
    pub event: SecurityEvent,
    /// Threat type from [`classify_alert`] (`C&C Server`, `Phishing`, ...).
    pub threat_type: String,
    pub signature: String,
    pub victim: Option<IpAddr>,
}

/// Why an event line was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("an event must be a JSON object")]
    NotAnObject,
    #[error("missing field {0:?}")]
    Missing(&'static str),
    #[error("field {field:?} must be {expected}")]
    Type {
        field: &'static str,
        expected: &'static str,
    },
    #[error("{field} {value:?} is not a timestamp")]
    BadTime { field: &'static str, value: String },
    #[error("name {value:?} is not a domain name: {reason}")]
    BadName { value: String, reason: String },
}

/// Threat type and attack stage of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub threat_type: &'static str,
    pub stage: &'static str,
}

/// The documented keyword table (see the module docs); matched case-insensitively as
/// substrings of the signature, then of the category.
const TABLE: &[(&[&str], &str, &str)] = &[
    (
        &["et phishing", "etpro phishing", "phishing"],
        "Phishing",
        "initial-access",
    ),
    (
        &[
            "coinminer",
            "crypto currency mining",
            "cryptocurrency mining",
        ],
        "Miner Pool",
        "impact",
    ),
    (
        &["et cnc", "et botcc", " c2 ", "cnc", "command and control"],
        "C&C Server",
        "command-and-control",
    ),
    (
        &[
            "et malware",
            "etpro malware",
            "et trojan",
            "etpro trojan",
            "a network trojan was detected",
        ],
        "C&C Server",
        "command-and-control",
    ),
    (
        &[
            "et exploit",
            "etpro exploit",
            "et web_server",
            "et web_specific_apps",
            "attempted administrator privilege gain",
            "attempted user privilege gain",
            "web application attack",
            "executable code was detected",
        ],
        "Exploit",
        "initial-access",
    ),
    (
        &[
            "et scan",
            "attempted information leak",
            "detection of a network scan",
        ],
        "Scanner",
        "reconnaissance",
    ),
    (&["et dos", "denial of service"], "Attack Source", "impact"),
    (
        &[
            "et dns",
            "et info",
            "et policy",
            "et hunting",
            "potentially bad traffic",
            "misc activity",
        ],
        "Suspicious",
        "discovery",
    ),
];

/// Threat type and stage for an alert's signature and category.
pub fn classify_alert(signature: &str, category: &str) -> Classification {
    for text in [signature, category] {
        let lower = format!(" {} ", text.to_lowercase());
        for (keywords, threat_type, stage) in TABLE {
            if keywords.iter().any(|k| lower.contains(k)) {
                return Classification { threat_type, stage };
            }
        }
    }
    Classification {
        threat_type: "Suspicious",
        stage: "unknown",
    }
}

/// The industry of `ip`: the longest matching prefix in `industries`, else `unknown`.
pub fn industry_of(ip: Option<IpAddr>, industries: &[(IpNetwork, String)]) -> String {
    let Some(ip) = ip else {
        return UNKNOWN_INDUSTRY.to_owned();
    };
    industries
        .iter()
        .filter(|(net, _)| net.contains(ip))
        .max_by_key(|(net, _)| net.prefix())
        .map_or_else(|| UNKNOWN_INDUSTRY.to_owned(), |(_, ind)| ind.clone())
}

fn parse_time(field: &'static str, s: &str) -> Result<Timestamp, EventError> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| EventError::BadTime {
            field,
            value: s.to_owned(),
        })
}

fn get_str<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

fn ip_at(v: Option<&Value>) -> Option<IpAddr> {
    v.and_then(Value::as_str)
        .and_then(|s| s.trim().parse().ok())
}

/// The victim of an alert (see the module docs).
fn victim(m: &Map<String, Value>) -> Option<IpAddr> {
    if let Some(target) = m
        .get("alert")
        .and_then(|a| a.get("target"))
        .and_then(|t| t.get("ip"))
    {
        if let Some(ip) = ip_at(Some(target)) {
            return Some(ip);
        }
    }
    if let Some(ip) = ip_at(m.get("flow").and_then(|f| f.get("src_ip"))) {
        return Some(ip);
    }
    match get_str(m, "direction") {
        Some("to_client") => ip_at(m.get("dest_ip")),
        _ => ip_at(m.get("src_ip")),
    }
}

/// Names an EVE record mentions, in field order, deduplicated.
fn names(m: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: Option<&str>| {
        if let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) {
            if !out.iter().any(|x| x == s) {
                out.push(s.to_owned());
            }
        }
    };
    if let Some(dns) = m.get("dns").and_then(Value::as_object) {
        match dns.get("query") {
            Some(Value::Array(qs)) => {
                for q in qs {
                    push(q.get("rrname").and_then(Value::as_str));
                }
            }
            Some(Value::Object(q)) => push(get_str(q, "rrname")),
            _ => {}
        }
        push(get_str(dns, "rrname"));
    }
    push(
        m.get("http")
            .and_then(|h| h.get("hostname"))
            .and_then(Value::as_str),
    );
    push(
        m.get("tls")
            .and_then(|t| t.get("sni"))
            .and_then(Value::as_str),
    );
    out
}

/// Parses one EVE line. Non-alert events and alerts that name no domain yield nothing;
/// names that do not parse as domains (IP literals in `http.hostname`) are skipped.
pub fn parse_eve_line(
    line: &str,
    source: &str,
    industries: &[(IpNetwork, String)],
) -> Result<Vec<EveEvent>, EventError> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_str(line).map_err(|e| EventError::Json(e.to_string()))?;
    parse_eve_value(&value, source, industries)
}

/// Parses one decoded EVE record.
pub fn parse_eve_value(
    value: &Value,
    source: &str,
    industries: &[(IpNetwork, String)],
) -> Result<Vec<EveEvent>, EventError> {
    let m = value.as_object().ok_or(EventError::NotAnObject)?;
    match m.get("event_type") {
        Some(Value::String(t)) if t == "alert" => {}
        Some(Value::String(_)) => return Ok(Vec::new()),
        None => return Err(EventError::Missing("event_type")),
        Some(_) => {
            return Err(EventError::Type {
                field: "event_type",
                expected: "a string",
            })
        }
    }
    let ts = match m.get("timestamp") {
        Some(Value::String(s)) => parse_time("timestamp", s)?,
        None => return Err(EventError::Missing("timestamp")),
        Some(_) => {
            return Err(EventError::Type {
                field: "timestamp",
                expected: "a string",
            })
        }
    };
    let alert = match m.get("alert") {
        Some(Value::Object(a)) => a,
        None => return Err(EventError::Missing("alert")),
        Some(_) => {
            return Err(EventError::Type {
                field: "alert",
                expected: "an object",
            })
        }
    };
    let signature = get_str(alert, "signature").unwrap_or("").to_owned();
    let category = get_str(alert, "category").unwrap_or("");
    let class = classify_alert(&signature, category);
    let victim = victim(m);
    let industry = industry_of(victim, industries);
    Ok(names(m)
        .into_iter()
        .filter_map(|n| DomainName::parse(&n).ok())
        .map(|name| EveEvent {
            event: SecurityEvent {
                name,
                time: ts,
                stage: class.stage.to_owned(),
                industry: industry.clone(),
                count: 1,
                source: source.to_owned(),
            },
            threat_type: class.threat_type.to_owned(),
            signature: signature.clone(),
            victim,
        })
        .collect())
}

/// Parses one line of the native event format; a blank line yields `None`.
pub fn parse_event_line(line: &str, source: &str) -> Result<Option<SecurityEvent>, EventError> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(line).map_err(|e| EventError::Json(e.to_string()))?;
    let m = value.as_object().ok_or(EventError::NotAnObject)?;
    let text = |field: &'static str, required: bool| -> Result<Option<String>, EventError> {
        match m.get(field) {
            None | Some(Value::Null) if required => Err(EventError::Missing(field)),
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(EventError::Type {
                field,
                expected: "a string",
            }),
        }
    };
    let raw_name = text("name", true)?.unwrap_or_default();
    let name = DomainName::parse(&raw_name).map_err(|e| EventError::BadName {
        value: raw_name.clone(),
        reason: e.to_string(),
    })?;
    let time = parse_time("time", &text("time", true)?.unwrap_or_default())?;
    let stage = text("stage", false)?
        .filter(|s| !s.is_empty())
        .map(|s| s.to_lowercase().replace([' ', '_'], "-"))
        .unwrap_or_else(|| "unknown".to_owned());
    let industry = text("industry", false)?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| UNKNOWN_INDUSTRY.to_owned());
    let count = match m.get("count") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => n.as_u64().ok_or(EventError::Type {
            field: "count",
            expected: "a non-negative integer",
        })?,
        Some(_) => {
            return Err(EventError::Type {
                field: "count",
                expected: "a non-negative integer",
            })
        }
    };
    Ok(Some(SecurityEvent {
        name,
        time,
        stage,
        industry,
        count,
        source: source.to_owned(),
    }))
}
