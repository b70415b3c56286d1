//! DNS log formats: detection from the first lines, and the query of one line.
//!
//! Only what a retro-hunt needs is read: the queried name, the client and the time (parsed
//! only for lines whose name the matcher knows). A line that is not a query (headers, a
//! dnsmasq `reply`/`forwarded` line, a Zeek `#close`) is skipped; one that should be a query
//! but cannot be read is malformed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use threatintel_model::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Zeek `dns.log`, tab-separated with `#fields`.
    Zeek,
    /// Zeek `dns.log` as JSON lines.
    ZeekJson,
    /// Suricata EVE JSON, `event_type` `dns`.
    Eve,
    /// BIND query log (9.10+ `queries: info: client @0x...` and the older style).
    Bind,
    /// dnsmasq / Pi-hole `query[A] name from client`.
    Dnsmasq,
    /// Comma-separated values with a header row naming the query column (and the time and
    /// client columns, when present): see [`CsvColumns::of_header`].
    Csv,
    /// One name a line (a `#` starts a comment).
    Plain,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Zeek => "zeek",
            Self::ZeekJson => "zeek-json",
            Self::Eve => "eve",
            Self::Bind => "bind",
            Self::Dnsmasq => "dnsmasq",
            Self::Csv => "csv",
            Self::Plain => "plain",
        }
    }

    /// The format of a log from its first lines; `None` when no line looks like any.
    pub fn detect<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        for line in lines.into_iter().map(str::trim).filter(|l| !l.is_empty()) {
            if line.starts_with("#separator") || line.starts_with("#fields") {
                return Some(Self::Zeek);
            }
            if line.starts_with('{') {
                if line.contains("\"event_type\"") {
                    return Some(Self::Eve);
                }
                if line.contains("\"query\"") || line.contains("\"_path\"") {
                    return Some(Self::ZeekJson);
                }
                continue;
            }
            if line.contains(" client ") && line.contains(": query: ") {
                return Some(Self::Bind);
            }
            if line.contains(" dnsmasq[") || line.contains(" pihole-FTL[") {
                return Some(Self::Dnsmasq);
            }
            if line.starts_with('#') || line.starts_with("###") {
                continue;
            }
            if CsvColumns::of_header(line).is_some() {
                return Some(Self::Csv);
            }
            if !line.contains(char::is_whitespace) && line.contains('.') {
                return Some(Self::Plain);
            }
        }
        None
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown log format {0:?}; expected auto, zeek, zeek-json, eve, bind, dnsmasq, csv or plain"
)]
pub struct UnknownLogFormat(pub String);

impl FromStr for LogFormat {
    type Err = UnknownLogFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Zeek,
            Self::ZeekJson,
            Self::Eve,
            Self::Bind,
            Self::Dnsmasq,
            Self::Csv,
            Self::Plain,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| UnknownLogFormat(s.to_owned()))
    }
}

/// One query read from a line; the time stays text until the name turns out to matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub name: &'a str,
    pub client: &'a str,
    pub time: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    Query(Query<'a>),
    /// Not a query (a header, a comment, another kind of log line).
    Other,
    Malformed(String),
}

/// Reads the lines of one log in one format (Zeek's columns come from its `#fields` line).
#[derive(Debug, Clone)]
pub struct LineReader {
    format: LogFormat,
    zeek: ZeekColumns,
    /// A CSV log's columns, from its header row.
    csv: Option<CsvColumns>,
    /// The year of dnsmasq's syslog times, which have none.
    year: i32,
}

#[derive(Debug, Clone, Copy)]
struct ZeekColumns {
    ts: usize,
    client: usize,
    query: usize,
}

/// The columns of Zeek's default `dns.log`, until a `#fields` line says otherwise.
const ZEEK_DEFAULT: ZeekColumns = ZeekColumns {
    ts: 0,
    client: 2,
    query: 9,
};

impl LineReader {
    pub fn new(format: LogFormat, year: i32) -> Self {
        Self {
            format,
            zeek: ZEEK_DEFAULT,
            csv: None,
            year,
        }
    }

    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Follows what `lines` (whole lines) change of the reader's state, without reading the
    /// rest: a Zeek `#fields` line, a CSV log's header. A reader that followed them reads the
    /// lines after them as one that read them would.
    pub fn follow(&mut self, lines: &[u8]) {
        match self.format {
            LogFormat::Zeek => {
                for at in memchr::memmem::find_iter(lines, b"#fields\t") {
                    if at == 0 || lines[at - 1] == b'\n' {
                        let end =
                            memchr::memchr(b'\n', &lines[at..]).map_or(lines.len(), |e| at + e);
                        self.follow_line(&lines[at..end]);
                    }
                }
            }
            LogFormat::Csv => {
                for line in lines.split_inclusive(|&b| b == b'\n') {
                    if self.csv.is_some() {
                        break;
                    }
                    self.follow_line(line);
                }
            }
            _ => {}
        }
    }

    fn follow_line(&mut self, line: &[u8]) {
        if let Ok(text) = std::str::from_utf8(line) {
            self.read(text);
        }
    }

    pub fn read<'a>(&mut self, line: &'a str) -> Line<'a> {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return Line::Other;
        }
        match self.format {
            LogFormat::Zeek => self.zeek_line(line),
            LogFormat::ZeekJson | LogFormat::Eve => json_line(self.format, line),
            LogFormat::Bind => bind_line(line),
            LogFormat::Dnsmasq => dnsmasq_line(line),
            LogFormat::Csv => self.csv_line(line),
            LogFormat::Plain => plain_line(line),
        }
    }

    fn csv_line<'a>(&mut self, line: &'a str) -> Line<'a> {
        let Some(columns) = self.csv else {
            return match CsvColumns::of_header(line) {
                Some(columns) => {
                    self.csv = Some(columns);
                    Line::Other
                }
                None => Line::Malformed(
                    "a CSV log starts with a header naming its query column (query, qname, domain, ...)"
                        .into(),
                ),
            };
        };
        let mut fields = ["", "-", ""];
        let mut found_query = false;
        for (i, field) in line.split(',').enumerate() {
            let field = field.trim().trim_matches('"');
            if i == columns.query {
                fields[0] = field;
                found_query = true;
            } else if Some(i) == columns.client {
                fields[1] = field;
            } else if Some(i) == columns.time {
                fields[2] = field;
            }
        }
        let [name, client, time] = fields;
        if !found_query {
            return Line::Malformed(format!("no column {} (query)", columns.query + 1));
        }
        if name.is_empty() {
            return Line::Malformed("an empty query".into());
        }
        Line::Query(Query { name, client, time })
    }

    fn zeek_line<'a>(&mut self, line: &'a str) -> Line<'a> {
        if let Some(fields) = line.strip_prefix("#fields\t") {
            let index = |name: &str| fields.split('\t').position(|f| f == name);
            if let (Some(ts), Some(client), Some(query)) =
                (index("ts"), index("id.orig_h"), index("query"))
            {
                self.zeek = ZeekColumns { ts, client, query };
                return Line::Other;
            }
            return Line::Malformed("#fields has no ts, id.orig_h or query column".into());
        }
        if line.starts_with('#') {
            return Line::Other;
        }
        let columns = self.zeek;
        let last = columns.ts.max(columns.client).max(columns.query);
        let mut fields: [&str; 3] = ["", "", ""];
        let mut found = 0;
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\t', line.as_bytes()).chain(std::iter::once(line.len()));
        for (i, end) in ends.enumerate().take(last + 1) {
            let field = &line[start..end];
            start = end + 1;
            if i == columns.ts {
                fields[0] = field;
                found += 1;
            }
            if i == columns.client {
                fields[1] = field;
                found += 1;
            }
            if i == columns.query {
                fields[2] = field;
                found += 1;
            }
        }
        if found < 3 {
            return Line::Malformed(format!("fewer than {} tab-separated fields", last + 1));
        }
        let [time, client, name] = fields;
        if name == "-" || name == "(empty)" {
            return Line::Other;
        }
        Line::Query(Query { name, client, time })
    }

    /// The time of a query, as the format writes it.
    pub fn time(&self, text: &str) -> Option<Timestamp> {
        match self.format {
            LogFormat::Zeek => epoch_seconds(text),
            LogFormat::ZeekJson | LogFormat::Eve => DateTime::parse_from_rfc3339(text)
                .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| epoch_seconds(text)),
            LogFormat::Bind => NaiveDateTime::parse_from_str(text, "%d-%b-%Y %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc()),
            LogFormat::Dnsmasq => {
                let with_year = format!("{} {text}", self.year);
                NaiveDateTime::parse_from_str(&with_year, "%Y %b %e %H:%M:%S")
                    .ok()
                    .map(|t| t.and_utc())
            }
            LogFormat::Csv => DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                        .ok()
                        .map(|t| t.and_utc())
                })
                .or_else(|| epoch_seconds(text)),
            LogFormat::Plain => None,
        }
    }
}

/// The columns of a CSV DNS log, found by name in its header row (case-insensitive): the query
/// (`query`, `qname`, `query_name`, `domain`, `fqdn`, `name`, `question`), and when present the
/// client (`client`, `client_ip`, `clientip`, `src_ip`, `source_ip`, `src`, `id.orig_h`) and the
/// time (`time`, `timestamp`, `ts`, `datetime`, `date`, `@timestamp`); times are RFC 3339,
/// `YYYY-MM-DD HH:MM:SS[.f]` (UTC) or Unix seconds. Fields are split at commas (a quoted field
/// loses its quotes; a quoted comma is not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvColumns {
    query: usize,
    client: Option<usize>,
    time: Option<usize>,
}

impl CsvColumns {
    const QUERY: [&'static str; 7] = [
        "query",
        "qname",
        "query_name",
        "domain",
        "fqdn",
        "name",
        "question",
    ];
    const CLIENT: [&'static str; 7] = [
        "client",
        "client_ip",
        "clientip",
        "src_ip",
        "source_ip",
        "src",
        "id.orig_h",
    ];
    const TIME: [&'static str; 6] = ["time", "timestamp", "ts", "datetime", "date", "@timestamp"];

    /// The columns a header row names; `None` unless it has commas and a query column.
    pub fn of_header(line: &str) -> Option<Self> {
        if !line.contains(',') {
            return None;
        }
        let cells: Vec<String> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
            .collect();
        let find = |names: &[&str]| names.iter().find_map(|n| cells.iter().position(|c| c == n));
        Some(Self {
            query: find(&Self::QUERY)?,
            client: find(&Self::CLIENT),
            time: find(&Self::TIME),
        })
    }
}

/// `1521911724.729679`: whole seconds and a decimal fraction, read as digits (a float would
/// round the microseconds).
fn epoch_seconds(text: &str) -> Option<Timestamp> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u32>().ok()? * 10u32.pow(9 - fraction.len() as u32)
    };
    Utc.timestamp_opt(whole.parse().ok()?, nanos).single()
}

#[derive(Deserialize)]
struct JsonDns<'a> {
    #[serde(borrow, default)]
    event_type: Option<&'a str>,
    #[serde(borrow, default)]
    query: Option<&'a str>,
    #[serde(borrow, default)]
    ts: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    timestamp: Option<&'a str>,
    #[serde(borrow, default, rename = "id.orig_h")]
    orig_h: Option<&'a str>,
    #[serde(borrow, default)]
    src_ip: Option<&'a str>,
    #[serde(borrow, default)]
    dns: Option<EveDns<'a>>,
}

#[derive(Deserialize)]
struct EveDns<'a> {
    #[serde(borrow, default)]
    rrname: Option<&'a str>,
    #[serde(borrow, default)]
    queries: Option<Vec<EveQuery<'a>>>,
}

#[derive(Deserialize)]
struct EveQuery<'a> {
    #[serde(borrow)]
    rrname: &'a str,
}

fn json_line(format: LogFormat, line: &str) -> Line<'_> {
    if !line.starts_with('{') {
        return Line::Malformed("not a JSON object".into());
    }
    let record: JsonDns<'_> = match serde_json::from_str(line) {
        Ok(record) => record,
        // Escapes in a string cannot be borrowed; such a line is rare enough to count.
        Err(e) => return Line::Malformed(format!("not JSON: {e}")),
    };
    match format {
        LogFormat::Eve => {
            if record.event_type != Some("dns") {
                return Line::Other;
            }
            let Some(dns) = record.dns else {
                return Line::Malformed("a dns event without `dns`".into());
            };
            let name = dns
                .rrname
                .or_else(|| dns.queries.as_ref()?.first().map(|q| q.rrname));
            match name {
                Some(name) => Line::Query(Query {
                    name,
                    client: record.src_ip.unwrap_or("-"),
                    time: record.timestamp.unwrap_or(""),
                }),
                None => Line::Malformed("a dns event without rrname".into()),
            }
        }
        _ => {
            let Some(name) = record.query else {
                return Line::Other;
            };
            // An ISO-8601 string or epoch seconds; kept as text for the lazy parse.
            let time = record.ts.map_or("", |raw| raw.get().trim_matches('"'));
            Line::Query(Query {
                name,
                client: record.orig_h.unwrap_or("-"),
                time,
            })
        }
    }
}

/// `02-Dec-2024 21:20:24.004 [queries: info: ]client [@0x...] 192.168.0.51#53695 (name): query: name IN A + (server)`
fn bind_line(line: &str) -> Line<'_> {
    let Some((head, rest)) = line.split_once(" client ") else {
        return Line::Other;
    };
    // The first two words: `02-Dec-2024 21:20:24.004`.
    let time = match head.match_indices(' ').nth(1) {
        Some((end, _)) => &head[..end],
        None => head,
    };
    let rest = rest.trim_start();
    let rest = match rest.strip_prefix('@') {
        Some(after) => after.split_once(' ').map_or("", |(_, r)| r),
        None => rest,
    };
    let Some((client_port, after)) = rest.split_once(' ') else {
        return Line::Malformed("no client address".into());
    };
    let client = client_port
        .rsplit_once('#')
        .map_or(client_port, |(ip, _)| ip);
    let Some((_, query)) = after.split_once("query: ") else {
        return Line::Other;
    };
    match query.split_whitespace().next() {
        Some(name) => Line::Query(Query { name, client, time }),
        None => Line::Malformed("an empty query".into()),
    }
}

/// `Jun 19 22:26:08 dnsmasq[14240]: query[A] name from 192.168.4.3`
fn dnsmasq_line(line: &str) -> Line<'_> {
    let Some((head, rest)) = line.split_once(": query[") else {
        return Line::Other;
    };
    let time = head.get(..15).unwrap_or("");
    let Some((_, rest)) = rest.split_once("] ") else {
        return Line::Malformed("query[ without ]".into());
    };
    match rest.split_once(" from ") {
        Some((name, client)) => Line::Query(Query {
            name: name.trim(),
            client: client.trim(),
            time,
        }),
        None => Line::Malformed("a query without `from`".into()),
    }
}

fn plain_line(line: &str) -> Line<'_> {
    let name = line.split('#').next().unwrap_or("").trim();
    if name.is_empty() {
        return Line::Other;
    }
    if name.contains(char::is_whitespace) {
        return Line::Malformed("more than one word".into());
    }
    Line::Query(Query {
        name,
        client: "-",
        time: "",
    })
}
