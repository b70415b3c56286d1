//! Retro-hunting: DNS logs judged against the store.
//!
//! A [`Matcher`] is built once from the store, then each log is streamed through it line by
//! line (gzip or plain, the format detected from its first lines unless given). A queried name
//! is a hit when the export would list it at the line's time (or at `--at`): the same verdict,
//! the same rules (an allowlisted name, a shared service only reported through URLs, decayed
//! records are not hits). Hits are summed per name (verdict, clients, count, first and last
//! time) and per client. A line that cannot be read is counted with its number, never fatal.

pub mod logs;
pub mod matcher;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::Datelike;
use flate2::read::MultiGzDecoder;
use serde::Serialize;
use threatintel_model::{DomainName, ThreatLevel, Timestamp};

pub use logs::{Line, LineReader, LogFormat, Query, UnknownLogFormat};
pub use matcher::Matcher;

use crate::select::{listing, Listing, Selection};
use crate::ExportError;

/// How many malformed lines of a log are kept with their number (all are counted).
const MALFORMED_KEPT: usize = 100;
/// Lines read to detect a log's format.
const DETECT_LINES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// The log format, or `None` to detect it per file.
    pub format: Option<LogFormat>,
    /// Judge every line at this time instead of its own.
    pub at: Option<Timestamp>,
    /// The time of the scan: lines without a time are judged then, and syslog times (no year)
    /// take its year.
    pub now: Timestamp,
    /// Only lines at or after this time.
    pub since: Option<Timestamp>,
    pub min_level: ThreatLevel,
}

impl ScanOptions {
    pub fn new(now: Timestamp) -> Self {
        Self {
            format: None,
            at: None,
            now,
            since: None,
            min_level: ThreatLevel::Medium,
        }
    }
}

/// What was read from one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSummary {
    pub path: PathBuf,
    pub format: LogFormat,
    pub gzip: bool,
    pub lines: u64,
    pub queries: u64,
    pub hits: u64,
    pub malformed: u64,
    /// The first malformed lines: `(line number, what was wrong)`.
    pub malformed_lines: Vec<(u64, String)>,
}

/// A name that was queried while listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub name: DomainName,
    /// The most severe verdict among the queries' times.
    pub verdict: Listing,
    pub count: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Queries per client.
    pub clients: BTreeMap<String, u64>,
}

/// A client that asked for listed names ("which machine is infected").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientSummary {
    pub client: String,
    pub hits: u64,
    pub names: BTreeSet<DomainName>,
    pub worst: ThreatLevel,
}

/// The result of a scan: per log, per name (worst first), per client (most hits first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    pub logs: Vec<LogSummary>,
    pub hits: Vec<Hit>,
    pub clients: Vec<ClientSummary>,
}

/// Scans logs against a matcher, accumulating hits across them.
pub struct Scanner<'m> {
    matcher: &'m Matcher,
    options: ScanOptions,
    hits: BTreeMap<DomainName, Hit>,
    logs: Vec<LogSummary>,
    name: String,
}

impl<'m> Scanner<'m> {
    pub fn new(matcher: &'m Matcher, options: ScanOptions) -> Self {
        Self {
            matcher,
            options,
            hits: BTreeMap::new(),
            logs: Vec::new(),
            name: String::new(),
        }
    }

    /// Scans one log file (gzip when it starts with gzip's magic bytes).
    pub fn scan_file(&mut self, path: &Path) -> Result<&LogSummary, ExportError> {
        let read_error = |source| ExportError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = BufReader::with_capacity(1 << 16, File::open(path).map_err(read_error)?);
        let gzip = file
            .fill_buf()
            .map_err(read_error)?
            .starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn Read> = if gzip {
            Box::new(MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let summary = self
            .scan_reader(BufReader::with_capacity(1 << 16, input), path, gzip)
            .map_err(read_error)?;
        self.logs.push(summary);
        Ok(self.logs.last().expect("pushed"))
    }

    /// Scans a log from `input`; `path` names it in the summary.
    pub fn scan_reader(
        &mut self,
        mut input: impl BufRead,
        path: &Path,
        gzip: bool,
    ) -> std::io::Result<LogSummary> {
        // The first lines, kept to detect the format and then scanned like the rest.
        let mut head: Vec<Vec<u8>> = Vec::new();
        for _ in 0..DETECT_LINES {
            let mut line = Vec::new();
            if input.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            head.push(line);
        }
        let detected = LogFormat::detect(head.iter().filter_map(|l| std::str::from_utf8(l).ok()));
        let format = self.options.format.or(detected).unwrap_or(LogFormat::Plain);
        let mut reader = LineReader::new(format, self.options.now.year());
        let mut summary = LogSummary {
            path: path.to_owned(),
            format,
            gzip,
            lines: 0,
            queries: 0,
            hits: 0,
            malformed: 0,
            malformed_lines: Vec::new(),
        };
        for line in &head {
            self.line(&mut reader, line, &mut summary);
        }
        let mut line = Vec::with_capacity(512);
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            self.line(&mut reader, &line, &mut summary);
        }
        Ok(summary)
    }

    fn line(&mut self, reader: &mut LineReader, bytes: &[u8], summary: &mut LogSummary) {
        summary.lines += 1;
        let number = summary.lines;
        let malformed = |summary: &mut LogSummary, why: String| {
            summary.malformed += 1;
            if summary.malformed_lines.len() < MALFORMED_KEPT {
                summary.malformed_lines.push((number, why));
            }
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            malformed(summary, "not UTF-8".into());
            return;
        };
        let query = match reader.read(text) {
            Line::Query(query) => query,
            Line::Other => return,
            Line::Malformed(why) => return malformed(summary, why),
        };
        summary.queries += 1;
        // Names are matched as DNS compares them: case-insensitively, without the root dot.
        let raw = query.name.strip_suffix('.').unwrap_or(query.name);
        self.name.clear();
        self.name.push_str(raw);
        self.name.make_ascii_lowercase();
        if !self.matcher.may_match(&self.name) {
            return;
        }
        let Ok(name) = DomainName::parse(&self.name) else {
            return;
        };
        let time = if query.time.is_empty() {
            None
        } else {
            match reader.time(query.time) {
                Some(t) => Some(t),
                None => return malformed(summary, format!("unreadable time {:?}", query.time)),
            }
        };
        if let (Some(since), Some(t)) = (self.options.since, time) {
            if t < since {
                return;
            }
        }
        let at = self.options.at.or(time).unwrap_or(self.options.now);
        let verdict = self.matcher.judge(&name, at);
        let mut selection = Selection::new(at);
        selection.min_level = self.options.min_level;
        let Ok(listed) = listing(self.matcher.config(), &selection, &verdict) else {
            return;
        };
        summary.hits += 1;
        let hit = self.hits.entry(name.clone()).or_insert_with(|| Hit {
            name,
            verdict: listed.clone(),
            count: 0,
            first: None,
            last: None,
            clients: BTreeMap::new(),
        });
        if (listed.level, listed.confidence) > (hit.verdict.level, hit.verdict.confidence) {
            hit.verdict = listed;
        }
        hit.count += 1;
        hit.first = hit.first.min(time).or(time);
        hit.last = hit.last.max(time);
        *hit.clients.entry(query.client.to_owned()).or_default() += 1;
    }

    /// The hits of every log scanned, worst first, and the clients that asked.
    pub fn finish(self) -> ScanReport {
        let mut clients: BTreeMap<String, ClientSummary> = BTreeMap::new();
        for hit in self.hits.values() {
            for (client, n) in &hit.clients {
                let summary = clients
                    .entry(client.clone())
                    .or_insert_with(|| ClientSummary {
                        client: client.clone(),
                        hits: 0,
                        names: BTreeSet::new(),
                        worst: ThreatLevel::Unknown,
                    });
                summary.hits += n;
                summary.names.insert(hit.name.clone());
                summary.worst = summary.worst.max(hit.verdict.level);
            }
        }
        let mut hits: Vec<Hit> = self.hits.into_values().collect();
        hits.sort_by(|a, b| {
            (b.verdict.level, b.count)
                .cmp(&(a.verdict.level, a.count))
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut clients: Vec<ClientSummary> = clients.into_values().collect();
        clients.sort_by(|a, b| {
            (b.worst, b.hits)
                .cmp(&(a.worst, a.hits))
                .then_with(|| a.client.cmp(&b.client))
        });
        ScanReport {
            logs: self.logs,
            hits,
            clients,
        }
    }
}
