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
use std::sync::mpsc::sync_channel;

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

/// Bytes of a log handed to a scanning thread at a time (whole lines), and chunks queued for
/// (and from) each.
const CHUNK: usize = 1 << 20;
const CHUNKS_IN_FLIGHT: usize = 4;

/// Scans logs against a matcher, accumulating hits across them.
pub struct Scanner<'m> {
    judge: LineJudge<'m>,
    hits: BTreeMap<DomainName, Hit>,
    logs: Vec<LogSummary>,
}

/// What a run of lines gave: counts, and the malformed lines and hits in line order (with
/// their line number within the run, from 1).
#[derive(Default)]
struct Lines {
    lines: u64,
    queries: u64,
    events: Vec<(u64, Event)>,
}

enum Event {
    Malformed(String),
    Hit {
        name: DomainName,
        listed: Listing,
        time: Option<Timestamp>,
        client: String,
    },
}

/// Judges the lines of a log: what every scanning thread shares.
struct LineJudge<'m> {
    matcher: &'m Matcher,
    options: ScanOptions,
}

impl<'m> Scanner<'m> {
    pub fn new(matcher: &'m Matcher, options: ScanOptions) -> Self {
        Self {
            judge: LineJudge { matcher, options },
            hits: BTreeMap::new(),
            logs: Vec::new(),
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
    ///
    /// The first lines detect the format and are scanned here; the rest is read a chunk of
    /// whole lines at a time and scanned on scoped threads (chunk `k` by thread `k mod n`,
    /// each starting from the reader state the lines before it left, see
    /// [`LineReader::follow`]), whose results are summed in order by reading the threads in
    /// turn: the same summary and hits as one thread reading every line.
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
        let format = self
            .judge
            .options
            .format
            .or(detected)
            .unwrap_or(LogFormat::Plain);
        let mut reader = LineReader::new(format, self.judge.options.now.year());
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
        let head = self
            .judge
            .lines(&mut reader, head.iter().map(Vec::as_slice));
        add(&mut summary, &mut self.hits, head);

        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
        let judge = &self.judge;
        let hits = &mut self.hits;
        std::thread::scope(|scope| {
            let mut chunk_senders = Vec::with_capacity(threads);
            let mut result_receivers = Vec::with_capacity(threads);
            for _ in 0..threads {
                let (chunk_tx, chunk_rx) = sync_channel::<(LineReader, Vec<u8>)>(CHUNKS_IN_FLIGHT);
                let (result_tx, result_rx) = sync_channel(CHUNKS_IN_FLIGHT);
                scope.spawn(move || {
                    for (mut reader, chunk) in chunk_rx {
                        let lines = judge.lines(&mut reader, lines_of(&chunk));
                        if result_tx.send(lines).is_err() {
                            return;
                        }
                    }
                });
                chunk_senders.push(chunk_tx);
                result_receivers.push(result_rx);
            }
            let summary = &mut summary;
            let sums = scope.spawn(move || {
                for results in result_receivers.iter().cycle() {
                    // Closed: every chunk was read (or reading failed, reported after).
                    let Ok(lines) = results.recv() else {
                        return;
                    };
                    add(summary, hits, lines);
                }
            });
            let read = (|| -> std::io::Result<()> {
                for senders in chunk_senders.iter().cycle() {
                    let mut chunk = Vec::with_capacity(CHUNK + 4096);
                    while chunk.len() < CHUNK {
                        let available = input.fill_buf()?;
                        if available.is_empty() {
                            break;
                        }
                        let take = available.len().min(CHUNK - chunk.len());
                        chunk.extend_from_slice(&available[..take]);
                        input.consume(take);
                    }
                    // The chunk ends with a whole line.
                    input.read_until(b'\n', &mut chunk)?;
                    if chunk.is_empty() {
                        return Ok(());
                    }
                    let start = reader.clone();
                    reader.follow(&chunk);
                    if senders.send((start, chunk)).is_err() {
                        return Ok(());
                    }
                }
                Ok(())
            })();
            drop(chunk_senders);
            sums.join().expect("the sums do not panic");
            read
        })?;
        Ok(summary)
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

impl LineJudge<'_> {
    /// Reads and judges `lines` in order.
    fn lines<'a>(&self, reader: &mut LineReader, lines: impl Iterator<Item = &'a [u8]>) -> Lines {
        let mut out = Lines::default();
        let mut name = String::new();
        for bytes in lines {
            out.lines += 1;
            if let Some(event) = self.line(reader, bytes, &mut name, &mut out.queries) {
                out.events.push((out.lines, event));
            }
        }
        out
    }

    /// A line's malformation or hit; counts its query.
    fn line(
        &self,
        reader: &mut LineReader,
        bytes: &[u8],
        name: &mut String,
        queries: &mut u64,
    ) -> Option<Event> {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Some(Event::Malformed("not UTF-8".into()));
        };
        let query = match reader.read(text) {
            Line::Query(query) => query,
            Line::Other => return None,
            Line::Malformed(why) => return Some(Event::Malformed(why)),
        };
        *queries += 1;
        // Names are matched as DNS compares them: case-insensitively, without the root dot.
        let raw = query.name.strip_suffix('.').unwrap_or(query.name);
        name.clear();
        name.push_str(raw);
        name.make_ascii_lowercase();
        if !self.matcher.may_match(name) {
            return None;
        }
        let name = DomainName::parse(name).ok()?;
        let time = if query.time.is_empty() {
            None
        } else {
            match reader.time(query.time) {
                Some(t) => Some(t),
                None => {
                    return Some(Event::Malformed(format!(
                        "unreadable time {:?}",
                        query.time
                    )))
                }
            }
        };
        if let (Some(since), Some(t)) = (self.options.since, time) {
            if t < since {
                return None;
            }
        }
        let at = self.options.at.or(time).unwrap_or(self.options.now);
        let verdict = self.matcher.judge(&name, at);
        let mut selection = Selection::new(at);
        selection.min_level = self.options.min_level;
        let listed = listing(self.matcher.config(), &selection, &verdict).ok()?;
        Some(Event::Hit {
            name,
            listed,
            time,
            client: query.client.to_owned(),
        })
    }
}

/// The lines of `bytes`, each with its `\n` (the last may have none), as `split_inclusive`
/// gives them.
fn lines_of(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b'\n', bytes);
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let end = ends.next().map_or(bytes.len(), |e| e + 1);
        let line = &bytes[start..end];
        start = end;
        Some(line)
    })
}

/// Adds what a run of lines gave (the lines after those `summary` counts) to the summary and
/// the hits.
fn add(summary: &mut LogSummary, hits: &mut BTreeMap<DomainName, Hit>, lines: Lines) {
    let first = summary.lines;
    summary.lines += lines.lines;
    summary.queries += lines.queries;
    for (number, event) in lines.events {
        match event {
            Event::Malformed(why) => {
                summary.malformed += 1;
                if summary.malformed_lines.len() < MALFORMED_KEPT {
                    summary.malformed_lines.push((first + number, why));
                }
            }
            Event::Hit {
                name,
                listed,
                time,
                client,
            } => {
                summary.hits += 1;
                let hit = hits.entry(name.clone()).or_insert_with(|| Hit {
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
                *hit.clients.entry(client).or_default() += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lines_of;

    #[test]
    fn lines_are_split_as_split_inclusive_splits_them() {
        for text in ["", "\n", "a", "a\n", "a\nb", "a\n\nb\n", "\n\nx"] {
            let expected: Vec<&[u8]> = text.as_bytes().split_inclusive(|&b| b == b'\n').collect();
            assert_eq!(
                lines_of(text.as_bytes()).collect::<Vec<_>>(),
                expected,
                "{text:?}"
            );
        }
    }
}
