//! Delimited and JSON exports of abuse.ch and others: URLhaus CSV, Feodo Tracker IP
//! blocklist CSV, ThreatFox (JSON Lines, the `{"iocs": [...]}` snapshot, the API's
//! `{"data": [...]}` and the full export's `{"<id>": [{...}]}`), PhishTank and TweetFeed CSV,
//! and any other CSV through a [`CsvMapping`].
//!
//! Rows are read line by line (a quoted field may span lines). Values are refanged; URLs give
//! their host (a name record marked `via_url` when the value is written `scheme://host/...` or
//! `host/path`, whatever its column or type says); `ip:port` gives the address. A row's
//! threat type comes from its threat-type column, else its tags, else its family, else the
//! feed's default, all through [`taxonomy`]; a row the vocabulary calls
//! benign is skipped. File hashes (an MD5, SHA-1 or SHA-256 value, or the hash columns of a
//! MalwareBazaar export) become file records, with the file's name and type where a column
//! gives them; rows whose IOC is of another type (e-mail, registry key, ...) are skipped, not
//! rejected.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use threatintel_model::{Evidence, FileHash, FileHashes, Timestamp};

use super::ioc::{parse_target, refang, stated_file_hash, Target};
use super::taxonomy::{self, classify, most_specific};
use super::{confidence_of, numbered_lines, parse_time, Claim, FeedDefaults, Parsed};
use crate::limits::MAX_LINE;
use crate::Reject;

/// A column by header name (matched without regard to case or surrounding space) or by
/// 0-based position.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Column {
    Index(usize),
    Name(String),
}

fn default_true() -> bool {
    true
}
fn default_delimiter() -> char {
    ','
}
fn default_comment() -> Option<char> {
    Some('#')
}

/// Which columns of a CSV hold what. Deserialisable (e.g. from a TOML feed definition);
/// unknown keys are an error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// The first row that is not a comment names the columns (default true). A comment row
    /// that names every mapped column is taken as the header too (`# id,dateadded,url,...`).
    #[serde(default = "default_true")]
    pub header: bool,
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Lines starting with this are comments (default `#`).
    #[serde(default = "default_comment")]
    pub comment: Option<char>,
    /// A domain name or host.
    #[serde(default)]
    pub name: Option<Column>,
    /// A URL (its host is the indicator).
    #[serde(default)]
    pub url: Option<Column>,
    /// An IP address, `ip:port` or CIDR block.
    #[serde(default)]
    pub ip: Option<Column>,
    /// An IOC of the type named in `value_type` (`domain`, `hostname`, `url`, `ip`,
    /// `ip:port`, `md5`, `sha256_hash`, ...; other types such as e-mail are skipped).
    #[serde(default)]
    pub value: Option<Column>,
    #[serde(default)]
    pub value_type: Option<Column>,
    /// A feed threat-type term (normalised through the taxonomy).
    #[serde(default)]
    pub threat_type: Option<Column>,
    /// The family / group label.
    #[serde(default)]
    pub family: Option<Column>,
    /// Tags separated by commas or spaces (`#phishing #cryptoscam`, `elf,mips,Mozi`): give the
    /// threat type when no threat-type column does, and the family when no family column does.
    #[serde(default)]
    pub tags: Option<Column>,
    #[serde(default)]
    pub first_seen: Option<Column>,
    #[serde(default)]
    pub last_seen: Option<Column>,
    /// 0-100.
    #[serde(default)]
    pub confidence: Option<Column>,
    /// A reference URL.
    #[serde(default)]
    pub reference: Option<Column>,
    /// A file's MD5, SHA-1 and SHA-256 (a row with no other IOC is a file record; the hashes
    /// one row gives are of one file).
    #[serde(default)]
    pub md5: Option<Column>,
    #[serde(default)]
    pub sha1: Option<Column>,
    #[serde(default)]
    pub sha256: Option<Column>,
    /// A file record's file name.
    #[serde(default)]
    pub file_name: Option<Column>,
    /// A file record's file type (`exe`, `elf`, ...).
    #[serde(default)]
    pub file_type: Option<Column>,
}

impl Default for CsvMapping {
    fn default() -> Self {
        Self {
            header: true,
            delimiter: ',',
            comment: Some('#'),
            name: None,
            url: None,
            ip: None,
            value: None,
            value_type: None,
            threat_type: None,
            family: None,
            tags: None,
            first_seen: None,
            last_seen: None,
            confidence: None,
            reference: None,
            md5: None,
            sha1: None,
            sha256: None,
            file_name: None,
            file_type: None,
        }
    }
}

fn col(name: &str) -> Option<Column> {
    Some(Column::Name(name.to_owned()))
}

/// Built-in mappings of the CSV feeds the corpus holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvPreset {
    /// `id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter`.
    Urlhaus,
    /// `first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware`.
    Feodo,
    /// `phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target`.
    PhishTank,
    /// `date,reporter,type,value,tags,tweet_url` without a header.
    TweetFeed,
    /// MalwareBazaar's CSV export: `first_seen_utc,sha256_hash,md5_hash,sha1_hash,reporter,
    /// file_name,file_type_guess,mime_type,signature,...`, its header a comment.
    MalwareBazaar,
}

impl CsvPreset {
    pub fn mapping(self) -> CsvMapping {
        match self {
            Self::Urlhaus => CsvMapping {
                url: col("url"),
                first_seen: col("dateadded"),
                last_seen: col("last_online"),
                threat_type: col("threat"),
                tags: col("tags"),
                reference: col("urlhaus_link"),
                ..CsvMapping::default()
            },
            Self::Feodo => CsvMapping {
                ip: col("dst_ip"),
                first_seen: col("first_seen_utc"),
                last_seen: col("last_online"),
                family: col("malware"),
                ..CsvMapping::default()
            },
            Self::PhishTank => CsvMapping {
                url: col("url"),
                first_seen: col("submission_time"),
                last_seen: col("verification_time"),
                family: col("target"),
                reference: col("phish_detail_url"),
                ..CsvMapping::default()
            },
            Self::TweetFeed => CsvMapping {
                header: false,
                value: Some(Column::Index(3)),
                value_type: Some(Column::Index(2)),
                first_seen: Some(Column::Index(0)),
                tags: Some(Column::Index(4)),
                reference: Some(Column::Index(5)),
                ..CsvMapping::default()
            },
            Self::MalwareBazaar => CsvMapping {
                sha256: col("sha256_hash"),
                md5: col("md5_hash"),
                sha1: col("sha1_hash"),
                first_seen: col("first_seen_utc"),
                family: col("signature"),
                file_name: col("file_name"),
                file_type: col("file_type_guess"),
                ..CsvMapping::default()
            },
        }
    }

    /// The threat type of rows that say nothing about it.
    pub fn default_threat_type(self) -> &'static str {
        match self {
            Self::Urlhaus => taxonomy::MALICIOUS_SOURCE,
            Self::Feodo => taxonomy::C2,
            Self::PhishTank => taxonomy::PHISHING,
            Self::TweetFeed | Self::MalwareBazaar => taxonomy::MALWARE,
        }
    }
}

/// Family values that name no family.
const NO_FAMILY: &[&str] = &[
    "",
    "unknown",
    "unknown malware",
    "none",
    "n/a",
    "other",
    "null",
    "-",
];

/// Tags that describe a file or platform, not a family.
const GENERIC_TAGS: &[&str] = &[
    "32-bit",
    "64-bit",
    "elf",
    "mips",
    "mipsel",
    "arm",
    "arm7",
    "aarch64",
    "x86",
    "x86-64",
    "x64",
    "i686",
    "sh4",
    "ppc",
    "m68k",
    "sparc",
    "exe",
    "dll",
    "zip",
    "rar",
    "7z",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "js",
    "ps1",
    "vbs",
    "hta",
    "msi",
    "apk",
    "jar",
    "bat",
    "sh",
    "ascii",
    "encrypted",
    "geofenced",
    "pdf",
    "iso",
    "lnk",
    "html",
    "txt",
    "powershell",
    "botnetdomain",
    "signed",
    "unsigned",
    "ip",
    "url",
    "domain",
    "osint",
    "ioc",
    "iocs",
];

fn is_family_tag(tag: &str) -> bool {
    let t = tag.trim().trim_start_matches('#');
    !t.is_empty()
        && !NO_FAMILY.iter().any(|n| t.eq_ignore_ascii_case(n))
        && !GENERIC_TAGS.iter().any(|g| t.eq_ignore_ascii_case(g))
        && !t.starts_with("dropped-by")
        && !taxonomy::is_vocabulary(t)
        && !t.bytes().all(|b| b.is_ascii_digit())
}

fn family_value(v: &str) -> Option<&str> {
    let v = v.trim();
    (!NO_FAMILY.iter().any(|n| v.eq_ignore_ascii_case(n))).then_some(v)
}

/// Column positions once the header is known.
#[derive(Debug, Clone, Default)]
struct Resolved {
    name: Option<usize>,
    url: Option<usize>,
    ip: Option<usize>,
    value: Option<usize>,
    value_type: Option<usize>,
    threat_type: Option<usize>,
    family: Option<usize>,
    tags: Option<usize>,
    first_seen: Option<usize>,
    last_seen: Option<usize>,
    confidence: Option<usize>,
    reference: Option<usize>,
    md5: Option<usize>,
    sha1: Option<usize>,
    sha256: Option<usize>,
    file_name: Option<usize>,
    file_type: Option<usize>,
}

/// Streaming CSV feed parser: feed it lines in order with [`push_line`](Self::push_line), then
/// [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct CsvParser {
    mapping: CsvMapping,
    defaults: FeedDefaults,
    resolved: Option<Resolved>,
    /// Set when the header did not name a mapped column: rows are then skipped.
    broken: bool,
    /// A record whose quoted field continues on the next line.
    pending: Option<(u64, String)>,
    skipped: u64,
}

impl CsvParser {
    pub fn new(mapping: CsvMapping, defaults: FeedDefaults) -> Self {
        let resolved = if mapping.header {
            None
        } else {
            resolve_indices(&mapping)
        };
        let broken = !mapping.header && resolved.is_none();
        Self {
            mapping,
            defaults,
            resolved,
            broken,
            pending: None,
            skipped: 0,
        }
    }

    /// A parser for a built-in format; `defaults.threat_type` is replaced by the format's
    /// default threat type when `defaults` came from [`FeedDefaults::new`] with an empty one.
    pub fn preset(preset: CsvPreset, mut defaults: FeedDefaults) -> Self {
        if defaults.threat_type.is_empty() {
            defaults.threat_type = preset.default_threat_type().to_owned();
            defaults.risk = taxonomy::risk(&defaults.threat_type);
        }
        Self::new(preset.mapping(), defaults)
    }

    /// Rows skipped so far (IOC types this model does not hold, benign rows, rows after a bad
    /// header).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// One physical line; `Ok(None)` for comments, the header, skipped rows and the first
    /// lines of a record that continues.
    pub fn push_line(&mut self, line: &str, line_no: u64) -> Result<Option<Evidence>, Reject> {
        let (start, record) = match self.pending.take() {
            Some((start, mut buf)) => {
                buf.push('\n');
                buf.push_str(line);
                (start, Cow::Owned(buf))
            }
            None => (line_no, Cow::Borrowed(line)),
        };
        if quotes_open(&record) {
            if line_no - start > 1000 || record.len() > MAX_LINE {
                return Err(Reject {
                    line: start,
                    reason: "unterminated quoted field".to_owned(),
                });
            }
            self.pending = Some((start, record.into_owned()));
            return Ok(None);
        }
        self.record(&record).map_err(|reason| Reject {
            line: start,
            reason,
        })
    }

    /// At the end of the input: the record still open (an unterminated quoted field), as a
    /// reject at its first line.
    pub fn finish(&mut self) -> Option<Reject> {
        let (start, _) = self.pending.take()?;
        Some(Reject::new(
            start,
            "unterminated quoted field at end of input",
        ))
    }

    fn record(&mut self, record: &str) -> Result<Option<Evidence>, String> {
        let trimmed = record.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let mut body = trimmed;
        if let Some(c) = self.mapping.comment {
            if let Some(comment) = trimmed.strip_prefix(c) {
                // abuse.ch's `# END n entries` banner with a record glued to it.
                match glued_after_end_banner(comment) {
                    Some(rest) => body = rest,
                    None => {
                        if self.resolved.is_none() && !self.broken && self.mapping.header {
                            self.try_header(comment.trim());
                        }
                        return Ok(None);
                    }
                }
            }
        }
        if self.broken {
            self.skipped += 1;
            return Ok(None);
        }
        if self.resolved.is_none() {
            // The header row.
            if !self.try_header(body) {
                self.broken = true;
                return Err(format!(
                    "header {body:?} lacks a mapped column ({})",
                    self.missing_columns(body)
                ));
            }
            return Ok(None);
        }
        let fields = split_record(body, self.mapping.delimiter)?;
        self.row(&fields)
    }

    fn try_header(&mut self, row: &str) -> bool {
        let Ok(fields) = split_record(row, self.mapping.delimiter) else {
            return false;
        };
        let names: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
        self.resolved = resolve_names(&self.mapping, &names);
        self.resolved.is_some()
    }

    fn missing_columns(&self, row: &str) -> String {
        let fields = split_record(row, self.mapping.delimiter).unwrap_or_default();
        let names: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
        mapped_columns(&self.mapping)
            .into_iter()
            .filter_map(|c| match c {
                Column::Name(n) if !names.iter().any(|h| h.eq_ignore_ascii_case(n)) => {
                    Some(format!("{n:?} missing"))
                }
                Column::Index(i) if *i >= names.len() => Some(format!("column {i} missing")),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn row(&mut self, fields: &[Cow<'_, str>]) -> Result<Option<Evidence>, String> {
        let r = self.resolved.as_ref().expect("header resolved");
        let get = |i: Option<usize>| -> Option<&str> {
            i.and_then(|i| fields.get(i))
                .map(|f| f.trim())
                .filter(|f| !f.is_empty())
        };
        // The IOC.
        let target = if let Some(v) = get(r.value) {
            let ty = get(r.value_type).unwrap_or("").to_ascii_lowercase();
            match ty.as_str() {
                "domain" | "hostname" | "fqdn" | "domain-name" | "url" | "uri" | "link" | "ip"
                | "ip:port" | "ip-dst" | "ip-src" | "ipv4" | "ipv6" | "ipv4-addr" | "ipv6-addr"
                | "ip-dst|port" | "ip-src|port" => {
                    parse_target(v).map_err(|e| format!("{v:?}: {e}"))?
                }
                "md5" | "sha1" | "sha256" | "md5_hash" | "sha1_hash" | "sha256_hash"
                | "filehash-md5" | "filehash-sha1" | "filehash-sha256" | "hash" => {
                    stated_file_hash(v).map_err(|e| format!("{v:?}: {e}"))?
                }
                _ => {
                    self.skipped += 1;
                    return Ok(None);
                }
            }
        } else if let Some(v) = get(r.name).or(get(r.url)).or(get(r.ip)) {
            parse_target(v).map_err(|e| format!("{v:?}: {e}"))?
        } else if let Some(hashes) = row_hashes(&[get(r.md5), get(r.sha1), get(r.sha256)])? {
            Target::File(hashes)
        } else if [r.value, r.name, r.url, r.ip, r.md5, r.sha1, r.sha256]
            .iter()
            .any(Option::is_some)
        {
            return Err("no IOC in the row: the name / URL / IP / hash column is empty".to_owned());
        } else {
            return Err("the mapping names no name, url, ip, value or hash column".to_owned());
        };

        let tags: Vec<&str> = get(r.tags)
            .map(|t| {
                t.split(|c: char| c == ',' || c.is_whitespace())
                    .map(|t| t.trim_start_matches('#'))
                    .filter(|t| !t.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let family = match r.family {
            Some(_) => get(r.family).and_then(family_value),
            None => tags.iter().copied().find(|t| is_family_tag(t)),
        };
        let stated = get(r.threat_type).map(classify);
        if stated == Some(Some(taxonomy::BENIGN)) {
            self.skipped += 1;
            return Ok(None);
        }
        // Stated > tags > the more specific of the family's type and the feed's default
        // (Feodo's C&C role beats `Pikabot` → Botnet; a generic `Malware` default does not).
        let threat_type: &str = match stated
            .flatten()
            .or_else(|| most_specific(tags.iter().filter_map(|t| taxonomy::normalize(t))))
        {
            Some(t) => t,
            None => most_specific(
                family
                    .and_then(taxonomy::normalize)
                    .into_iter()
                    .chain([self.defaults.threat_type.as_str()]),
            )
            .unwrap_or(self.defaults.threat_type.as_str()),
        };
        let first_seen = time_field(get(r.first_seen), "first_seen")?;
        let last_seen = time_field(get(r.last_seen), "last_seen")?;
        let confidence = match get(r.confidence) {
            Some(c) => Some(
                confidence_of(&Value::String(c.to_owned()))
                    .ok_or_else(|| format!("confidence {c:?} is not a number"))?,
            ),
            None => self.defaults.confidence,
        };
        let reference = get(r.reference)
            .map(str::to_owned)
            .or_else(|| self.defaults.reference.clone());

        let d = &self.defaults;
        let first = first_seen.unwrap_or(d.observed_at);
        let last = last_seen.unwrap_or(first).max(first);
        let mut evidence = d.claimed(
            target,
            Claim {
                threat_type: threat_type.to_owned(),
                label: family,
                first_seen: first,
                last_seen: last,
                confidence,
                reference,
            },
        );
        if let Evidence::FileRecord(rec) = &mut evidence {
            rec.file_names = get(r.file_name)
                .and_then(family_value)
                .map(str::to_owned)
                .into_iter()
                .collect();
            rec.file_type = get(r.file_type)
                .filter(|t| !NO_FAMILY.iter().any(|n| t.eq_ignore_ascii_case(n)))
                .map(str::to_owned);
        }
        Ok(Some(evidence))
    }
}

/// The hashes of a file the hash columns of a row give (empty columns and `n/a` ignored);
/// `None` when they give none.
fn row_hashes(values: &[Option<&str>]) -> Result<Option<FileHashes>, String> {
    let mut hashes = Vec::new();
    for v in values.iter().flatten() {
        if NO_FAMILY.iter().any(|n| v.eq_ignore_ascii_case(n)) {
            continue;
        }
        hashes.push(FileHash::parse(v).map_err(|e| format!("{v:?}: {e}"))?);
    }
    if hashes.is_empty() {
        return Ok(None);
    }
    FileHashes::new(hashes).map(Some).map_err(|e| e.to_string())
}

fn time_field(v: Option<&str>, what: &str) -> Result<Option<Timestamp>, String> {
    match v {
        None => Ok(None),
        Some(s) => parse_time(s)
            .map(Some)
            .ok_or_else(|| format!("{what}: cannot read time {s:?}")),
    }
}

fn glued_after_end_banner(comment: &str) -> Option<&str> {
    let rest = comment.trim_start().strip_prefix("END")?.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let rest = rest[digits..].trim_start().strip_prefix("entries")?.trim();
    (!rest.is_empty()).then_some(rest)
}

fn mapped_columns(m: &CsvMapping) -> Vec<&Column> {
    [
        &m.name,
        &m.url,
        &m.ip,
        &m.value,
        &m.value_type,
        &m.threat_type,
        &m.family,
        &m.tags,
        &m.first_seen,
        &m.last_seen,
        &m.confidence,
        &m.reference,
        &m.md5,
        &m.sha1,
        &m.sha256,
        &m.file_name,
        &m.file_type,
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn resolve_with(m: &CsvMapping, mut pos: impl FnMut(&Column) -> Option<usize>) -> Option<Resolved> {
    let mut ok = true;
    let mut f = |c: &Option<Column>| -> Option<usize> {
        let c = c.as_ref()?;
        let p = pos(c);
        ok &= p.is_some();
        p
    };
    let r = Resolved {
        name: f(&m.name),
        url: f(&m.url),
        ip: f(&m.ip),
        value: f(&m.value),
        value_type: f(&m.value_type),
        threat_type: f(&m.threat_type),
        family: f(&m.family),
        tags: f(&m.tags),
        first_seen: f(&m.first_seen),
        last_seen: f(&m.last_seen),
        confidence: f(&m.confidence),
        reference: f(&m.reference),
        md5: f(&m.md5),
        sha1: f(&m.sha1),
        sha256: f(&m.sha256),
        file_name: f(&m.file_name),
        file_type: f(&m.file_type),
    };
    ok.then_some(r)
}

fn resolve_names(m: &CsvMapping, header: &[&str]) -> Option<Resolved> {
    resolve_with(m, |c| match c {
        Column::Index(i) => (*i < header.len()).then_some(*i),
        Column::Name(n) => header
            .iter()
            .position(|h| h.trim_matches('"').eq_ignore_ascii_case(n.trim())),
    })
}

fn resolve_indices(m: &CsvMapping) -> Option<Resolved> {
    resolve_with(m, |c| match c {
        Column::Index(i) => Some(*i),
        Column::Name(_) => None,
    })
}

fn quotes_open(s: &str) -> bool {
    s.bytes().filter(|&b| b == b'"').count() % 2 == 1
}

/// RFC 4180 fields: `"` quotes a field, `""` inside quotes is a quote.
pub(crate) fn split_record(line: &str, delimiter: char) -> Result<Vec<Cow<'_, str>>, String> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if let Some(q) = trimmed.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if q[i + 1..].starts_with('"') {
                        value.push('"');
                        chars.next();
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            let end = end.ok_or_else(|| "unterminated quoted field".to_owned())?;
            let after = q[end..].trim_start_matches([' ', '\t']);
            fields.push(Cow::Owned(value));
            if after.is_empty() {
                return Ok(fields);
            }
            match after.strip_prefix(delimiter) {
                Some(r) => rest = r,
                None => {
                    return Err(format!(
                        "text after a quoted field: {:?}",
                        after.chars().take(20).collect::<String>()
                    ))
                }
            }
        } else {
            match rest.find(delimiter) {
                Some(i) => {
                    fields.push(Cow::Borrowed(&rest[..i]));
                    rest = &rest[i + delimiter.len_utf8()..];
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return Ok(fields);
                }
            }
        }
    }
}

/// ThreatFox in any of its JSON shapes: JSON Lines (one IOC object per line), the carrier
/// snapshot `{"iocs": [...]}`, the API answer `{"data": [...]}`, or the full export
/// `{"<id>": [{...}], ...}`. Field names of both the API (`ioc_value`, `ioc_type`,
/// `threat_type`, `malware_printable`, `confidence_level`, `first_seen_utc`, ...) and the
/// carrier (`ioc`, `type`, `malware`, `confidence`, `first_seen`) are read. Hash IOCs
/// (`md5_hash`, `sha1_hash`, `sha256_hash`) are file records; a hash value that is not a
/// whole hash (the carrier elides the middle of some) is a reject. `line` in a reject is the line (JSON Lines) or the IOC's position (documents).
pub(crate) fn parse_threatfox(text: &str, defaults: &FeedDefaults) -> Parsed {
    let mut out = Parsed::default();
    out.add_source(defaults.source_record());
    let trimmed = text.trim_start();
    let whole: Option<Value> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str(text).ok()
    } else {
        None
    };
    match whole {
        Some(doc) => {
            let items: Vec<&Value> = match &doc {
                Value::Array(a) => a.iter().collect(),
                Value::Object(o) => {
                    if let Some(Value::Array(a)) = o.get("iocs").or_else(|| o.get("data")) {
                        a.iter().collect()
                    } else {
                        o.values()
                            .flat_map(|v| v.as_array().into_iter().flatten())
                            .collect()
                    }
                }
                _ => Vec::new(),
            };
            if items.is_empty() && doc.get("ioc").is_some() {
                threatfox_item(&doc, 1, defaults, &mut out);
            }
            for (i, item) in items.into_iter().enumerate() {
                threatfox_item(item, i as u64 + 1, defaults, &mut out);
            }
        }
        None => {
            for (no, line) in numbered_lines(text) {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => threatfox_item(&v, no, defaults, &mut out),
                    Err(e) => out.reject(no, format!("not a JSON object: {e}")),
                }
            }
        }
    }
    out
}

fn threatfox_item(v: &Value, line: u64, d: &FeedDefaults, out: &mut Parsed) {
    let s = |keys: &[&str]| -> Option<&str> {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let Some(ioc) = s(&["ioc", "ioc_value", "value"]) else {
        out.reject(line, "no \"ioc\" field");
        return;
    };
    let ioc_type = s(&["type", "ioc_type"]).unwrap_or("").to_ascii_lowercase();
    let target = match ioc_type.as_str() {
        "domain" | "ip:port" | "url" | "ip" | "hostname" => parse_target(&refang(ioc)),
        "md5_hash" | "sha1_hash" | "sha256_hash" => stated_file_hash(ioc),
        _ => {
            out.skipped += 1;
            return;
        }
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => {
            out.reject(line, format!("{ioc:?}: {e}"));
            return;
        }
    };
    let family = s(&["malware_printable", "malware"]).and_then(family_value);
    let stated = s(&["threat_type"]).map(classify);
    if stated == Some(Some(taxonomy::BENIGN)) {
        out.skipped += 1;
        return;
    }
    let family_type = family.and_then(taxonomy::normalize);
    let threat_type = match stated.flatten() {
        Some(t) => t,
        // ThreatFox's address IOCs are botnet C&C servers whatever the family (an AsyncRAT
        // `ip:port` is its C&C); URLs deliver payloads; domains take the family's type.
        None => match ioc_type.as_str() {
            "ip:port" | "ip" => taxonomy::C2,
            "url" => family_type
                .filter(|t| *t != taxonomy::MALWARE)
                .unwrap_or(taxonomy::MALICIOUS_SOURCE),
            _ => family_type.unwrap_or(d.threat_type.as_str()),
        },
    }
    .to_owned();
    let first = match s(&["first_seen_utc", "first_seen"]).map(|t| (t, parse_time(t))) {
        Some((_, Some(t))) => t,
        Some((t, None)) => {
            out.reject(line, format!("first_seen: cannot read time {t:?}"));
            return;
        }
        None => d.observed_at,
    };
    let last = s(&["last_seen_utc", "last_seen"])
        .and_then(parse_time)
        .unwrap_or(first)
        .max(first);
    let confidence = v
        .get("confidence_level")
        .or_else(|| v.get("confidence"))
        .and_then(confidence_of)
        .or(d.confidence);
    let reference = s(&["reference"])
        .map(str::to_owned)
        .or_else(|| d.reference.clone());
    out.evidence.push(d.claimed(
        target,
        Claim {
            threat_type,
            label: family,
            first_seen: first,
            last_seen: last,
            confidence,
            reference,
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        let f = split_record(r#""a","b,c","d""e",f"#, ',').unwrap();
        assert_eq!(f, ["a", "b,c", "d\"e", "f"]);
        assert!(split_record(r#""a"x,b"#, ',').is_err());
        assert_eq!(
            glued_after_end_banner(" END 28 entries\"2023\",\"x\""),
            Some("\"2023\",\"x\"")
        );
        assert_eq!(glued_after_end_banner(" END 28 entries"), None);
    }

    #[test]
    fn mapping_rejects_unknown_keys() {
        let m: Result<CsvMapping, _> = serde_json::from_str(r#"{"url": "u", "colour": 1}"#);
        assert!(m.is_err());
        let m: CsvMapping = serde_json::from_str(r#"{"url": "u", "family": 3}"#).unwrap();
        assert_eq!(m.family, Some(Column::Index(3)));
    }
}
