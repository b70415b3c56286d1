//! Passive DNS Common Output Format (draft-dulaunoy-dnsop-passive-dns-cof) JSON lines.
//!
//! One line is one JSON object with `rrname`, `rrtype`, `rdata` (a string or an array of
//! strings), `time_first`, `time_last` (Unix seconds; `time_first_ms`/`time_last_ms` or
//! `zone_time_first`/`zone_time_last` are used when those are absent) and an optional
//! `count` (1 when absent). `A`/`AAAA` records become [`Resolution`]s, `CNAME`/`NS`/`MX` records
//! [`DnsRelation`]s (an MX `rdata` may lead with its preference), one per `rdata` element,
//! attributed to the caller's source; other record types are valid but carry nothing
//! here and yield no record. [`parse_cof_line`] works on one line at a time, so a caller can
//! stream a file of any size and skip the lines that fail.

use std::net::IpAddr;

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use threatintel_model::{DnsRelation, DomainName, RelationKind, Resolution, Timestamp};

/// What one COF record yields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum PdnsRecord {
    Resolution(Resolution),
    Relation(DnsRelation),
}

/// Why a COF line was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdnsError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("a COF record must be a JSON object")]
    NotAnObject,
    #[error("missing mandatory field {0:?}")]
    Missing(&'static str),
    #[error("field {field:?} must be {expected}")]
    Type {
        field: &'static str,
        expected: &'static str,
    },
    #[error("{field} {value:?} is not a domain name: {reason}")]
    BadName {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("rdata {0:?} is not an IP address")]
    BadAddress(String),
    #[error("{field} {value} is out of range")]
    BadTime { field: &'static str, value: i64 },
    #[error("time_last ({last}) is before time_first ({first})")]
    TimeOrder { first: Timestamp, last: Timestamp },
}

fn time_field(
    m: &Map<String, Value>,
    secs: &'static str,
    millis: &'static str,
    zone: &'static str,
) -> Result<Timestamp, PdnsError> {
    let as_i64 = |field: &'static str| -> Result<Option<i64>, PdnsError> {
        match m.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or(PdnsError::Type {
                    field,
                    expected: "an integer",
                }),
            // Some exporters quote numbers.
            Some(Value::String(s)) => {
                s.trim()
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| PdnsError::Type {
                        field,
                        expected: "an integer",
                    })
            }
            Some(_) => Err(PdnsError::Type {
                field,
                expected: "an integer",
            }),
        }
    };
    let to_time = |field: &'static str, v: i64, ms: bool| {
        let t = if ms {
            DateTime::from_timestamp_millis(v)
        } else {
            DateTime::from_timestamp(v, 0)
        };
        t.ok_or(PdnsError::BadTime { field, value: v })
    };
    if let Some(v) = as_i64(secs)? {
        return to_time(secs, v, false);
    }
    if let Some(v) = as_i64(millis)? {
        return to_time(millis, v, true);
    }
    if let Some(v) = as_i64(zone)? {
        return to_time(zone, v, false);
    }
    Err(PdnsError::Missing(secs))
}

fn name_field(field: &'static str, value: &str) -> Result<DomainName, PdnsError> {
    DomainName::parse(value).map_err(|e| PdnsError::BadName {
        field,
        value: value.to_owned(),
        reason: e.to_string(),
    })
}

/// Parses one COF line. A blank line yields nothing.
pub fn parse_cof_line(line: &str, source: &str) -> Result<Vec<PdnsRecord>, PdnsError> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_str(line).map_err(|e| PdnsError::Json(e.to_string()))?;
    parse_cof_value(&value, source)
}

/// Parses one decoded COF record; relations are attributed to `source`.
pub fn parse_cof_value(value: &Value, source: &str) -> Result<Vec<PdnsRecord>, PdnsError> {
    let m = value.as_object().ok_or(PdnsError::NotAnObject)?;
    let str_field = |field: &'static str| -> Result<&str, PdnsError> {
        match m.get(field) {
            None | Some(Value::Null) => Err(PdnsError::Missing(field)),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(PdnsError::Type {
                field,
                expected: "a string",
            }),
        }
    };
    let rrname = str_field("rrname")?;
    let rrtype = str_field("rrtype")?.trim().to_ascii_uppercase();
    let rdata: Vec<&str> = match m.get("rdata") {
        None | Some(Value::Null) => return Err(PdnsError::Missing("rdata")),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().ok_or(PdnsError::Type {
                    field: "rdata",
                    expected: "a string or an array of strings",
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(PdnsError::Type {
                field: "rdata",
                expected: "a string or an array of strings",
            })
        }
    };
    let first = time_field(m, "time_first", "time_first_ms", "zone_time_first")?;
    let last = time_field(m, "time_last", "time_last_ms", "zone_time_last")?;
    if last < first {
        return Err(PdnsError::TimeOrder { first, last });
    }
    let count = match m.get("count") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => n.as_u64().ok_or(PdnsError::Type {
            field: "count",
            expected: "a non-negative integer",
        })?,
        Some(_) => {
            return Err(PdnsError::Type {
                field: "count",
                expected: "a non-negative integer",
            })
        }
    };
    let relation = RelationKind::parse(&rrtype);
    if relation.is_none() && !matches!(rrtype.as_str(), "A" | "AAAA") {
        return Ok(Vec::new());
    }
    let name = name_field("rrname", rrname)?;
    let mut out = Vec::with_capacity(rdata.len());
    for r in rdata {
        let r = r.trim();
        let Some(kind) = relation else {
            let ip: IpAddr = r.parse().map_err(|_| PdnsError::BadAddress(r.to_owned()))?;
            if ip.is_ipv4() != (rrtype == "A") {
                return Err(PdnsError::BadAddress(r.to_owned()));
            }
            out.push(PdnsRecord::Resolution(Resolution {
                name: name.clone(),
                ip,
                first_seen: first,
                last_seen: last,
                count,
            }));
            continue;
        };
        let target = match kind {
            // `10 mail.example.com`: the exchange is the last word.
            RelationKind::Mx => r.rsplit(' ').next().unwrap_or(r),
            RelationKind::Cname | RelationKind::Ns => r,
        };
        out.push(PdnsRecord::Relation(DnsRelation {
            name: name.clone(),
            kind,
            target: name_field("rdata", target)?,
            first_seen: first,
            last_seen: last,
            count,
            source: source.to_owned(),
        }));
    }
    Ok(out)
}
