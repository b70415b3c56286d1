//! One file (or one MISP feed directory) into the store, in one transaction.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};

use threatintel_model::{DomainName, Evidence, IpNetwork, Reliability, Source, Timestamp};
use threatintel_parse::context::{
    parse_certificates, parse_cof_line, parse_eve_line, parse_event_line, parse_rdap_domain_for,
    parse_whois_for, PdnsRecord,
};
use threatintel_parse::feed::{
    parse_misp_event, parse_misp_manifest, parse_stix, parse_threatfox, parse_top_list,
    parse_warninglist, CsvMapping, CsvParser, CsvPreset, FeedDefaults, FeedFormat, LineContext,
    Parsed, PlainParser, TopListOptions,
};
use threatintel_parse::Reject;
use threatintel_store::{FeedState, Store, StoreError, StoreWriter};

use crate::format::{detect, ContextFormat, InputFormat};
use crate::IngestError;

/// How many bytes detection looks at.
const HEAD: usize = 16 * 1024;

/// What the caller knows about a file that the file may not say.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `None`: detect from the content.
    pub format: Option<InputFormat>,
    /// Source the records are attributed to; default: the file's stem (`maltrail` for trails).
    pub source: Option<String>,
    /// Reliability of that source; default: what the store already says, else C.
    pub reliability: Option<Reliability>,
    /// Threat type of records that carry none; default: the format's (URLhaus: malicious
    /// download source, ...) or `Malware` for plain lists.
    pub threat_type: Option<String>,
    /// First/last seen of records without times of their own: when the feed was fetched.
    pub observed_at: Timestamp,
    /// Column mapping for a generic CSV.
    pub csv_mapping: Option<CsvMapping>,
    /// A configured feed's refresh, recorded in the same transaction as its records.
    pub feed_state: Option<FeedState>,
    /// Victim industry by address, for security events (`[[events.industries]]`).
    pub industries: Vec<(IpNetwork, String)>,
}

impl ImportOptions {
    pub fn new(observed_at: Timestamp) -> Self {
        Self {
            format: None,
            source: None,
            reliability: None,
            threat_type: None,
            observed_at,
            csv_mapping: None,
            feed_state: None,
            industries: Vec::new(),
        }
    }
}

/// Progress of one import, for a progress bar. Reported from the thread that reads the input.
pub trait Progress: Send {
    fn begin(&mut self, _path: &Path, _format: InputFormat, _bytes: u64) {}
    /// `bytes` read so far and `records` handled so far.
    fn advance(&mut self, _bytes: u64, _records: u64) {}
    fn end(&mut self) {}
}

/// No progress display.
pub struct NoProgress;
impl Progress for NoProgress {}

/// One record that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    pub line: u64,
    pub reason: String,
}

/// What one import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub path: PathBuf,
    pub format: InputFormat,
    /// Records read: imported, rejected or skipped.
    pub read: u64,
    pub added: u64,
    pub updated: u64,
    pub rejected: u64,
    /// Valid records that carry nothing the store holds (hashes, e-mail addresses, ...).
    pub skipped: u64,
    pub rejects: Vec<RejectedRecord>,
}

/// Records buffered before they go to the store together (sorted by the backend).
const BATCH: usize = 200_000;

/// What the reading thread hands the writing one, in input order.
enum Write {
    /// Records of the input, with the line of the first (for errors).
    Batch(Vec<Evidence>, u64),
    /// A source record the input does not contain as such (not counted as read).
    Source(Source),
}

/// The reading side of an import: batches records for the writer and keeps the counts of what
/// it read. A send fails only when the writer stopped on an error of its own, which it reports.
struct Sink {
    out: SyncSender<Write>,
    batch: Vec<Evidence>,
    /// Line of the first record in `batch`, for errors.
    batch_line: u64,
    summary: ImportSummary,
}

/// Why the reading side stopped.
enum ReadError {
    Input(IngestError),
    WriterStopped,
}

impl From<IngestError> for ReadError {
    fn from(e: IngestError) -> Self {
        ReadError::Input(e)
    }
}

impl Sink {
    fn send(&self, write: Write) -> Result<(), ReadError> {
        self.out.send(write).map_err(|_| ReadError::WriterStopped)
    }

    fn push(&mut self, evidence: Evidence, line: u64) -> Result<(), ReadError> {
        self.summary.read += 1;
        if self.batch.is_empty() {
            self.batch_line = line;
        }
        self.batch.push(evidence);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ReadError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.send(Write::Batch(batch, self.batch_line))
    }

    /// Puts a source record the input does not contain as such (a feed's own source, or one a
    /// document names), before the records that follow.
    fn put_source(&mut self, source: Source) -> Result<(), ReadError> {
        self.flush()?;
        self.send(Write::Source(source))
    }

    /// A valid record of a kind the store does not hold.
    fn skip(&mut self) {
        self.summary.read += 1;
        self.summary.skipped += 1;
    }

    fn reject(&mut self, reject: Reject) {
        self.summary.read += 1;
        self.summary.rejected += 1;
        self.summary.rejects.push(RejectedRecord {
            line: reject.line,
            reason: reject.reason,
        });
    }

    fn take(
        &mut self,
        result: Result<Option<Evidence>, Reject>,
        line: u64,
    ) -> Result<(), ReadError> {
        match result {
            Ok(Some(e)) => self.push(e, line),
            Ok(None) => Ok(()),
            Err(r) => {
                self.reject(r);
                Ok(())
            }
        }
    }

    /// A whole-document parse: sources first, then the records, then the rejects.
    fn parsed(&mut self, parsed: Parsed) -> Result<(), ReadError> {
        self.summary.skipped += parsed.skipped;
        self.summary.read += parsed.skipped;
        for source in parsed.sources {
            self.put_source(source)?;
        }
        for e in parsed.evidence {
            self.push(e, 0)?;
        }
        for r in parsed.rejects {
            self.reject(r);
        }
        Ok(())
    }
}

fn store_err(path: &Path, line: u64) -> impl FnOnce(StoreError) -> IngestError + '_ {
    move |source| IngestError::Store {
        path: path.to_owned(),
        line,
        source,
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Imports `path` (a file, or a MISP feed directory with its `manifest.json`) in one transaction.
pub fn import_file(
    store: &dyn Store,
    path: &Path,
    options: &ImportOptions,
    progress: &mut dyn Progress,
) -> Result<ImportSummary, IngestError> {
    let manifest = path.join("manifest.json");
    let (format, bytes) = if path.is_dir() && manifest.is_file() {
        (InputFormat::Feed(FeedFormat::MispManifest), dir_size(path))
    } else {
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        let format = match options.format {
            Some(f) => f,
            None => {
                let mut head = Vec::with_capacity(HEAD);
                File::open(path)
                    .map_err(io_err(path))?
                    .take(HEAD as u64)
                    .read_to_end(&mut head)
                    .map_err(io_err(path))?;
                let name = path.to_string_lossy();
                detect(&name, &head).ok_or_else(|| IngestError::UnknownFormat {
                    path: path.to_owned(),
                    known: InputFormat::names(),
                })?
            }
        };
        (format, meta.len())
    };
    progress.begin(path, format, bytes);
    let existing = existing_reliability(store, options)?;
    let mut writer = store.writer().map_err(store_err(path, 0))?;
    let defaults = defaults(path, format, options, existing);
    // The input is read and parsed on a thread of its own while this one writes.
    let (out, batches) = std::sync::mpsc::sync_channel(1);
    let (read, written) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut sink = Sink {
                out,
                batch: Vec::with_capacity(BATCH),
                batch_line: 0,
                summary: ImportSummary {
                    path: path.to_owned(),
                    format,
                    read: 0,
                    added: 0,
                    updated: 0,
                    rejected: 0,
                    skipped: 0,
                    rejects: Vec::new(),
                },
            };
            read_input(path, format, &defaults, options, progress, &mut sink)?;
            sink.flush()?;
            Ok(sink.summary)
        });
        let written = write_all(writer.as_mut(), batches, path);
        let read = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (read, written)
    });
    // A writer error stops the reader too: it is the one to report.
    let (added, updated) = written?;
    let mut summary = match read {
        Ok(summary) => summary,
        Err(ReadError::Input(e)) => return Err(e),
        // The writer drops the channel only on an error, returned above.
        Err(ReadError::WriterStopped) => unreachable!("the writer finished without an error"),
    };
    summary.added = added;
    summary.updated = updated;
    if let Some(state) = &options.feed_state {
        writer.put_feed_state(state).map_err(store_err(path, 0))?;
    }
    progress.end();
    writer.commit().map_err(store_err(path, 0))?;
    Ok(summary)
}

/// Writes what the reading side sends until it is done: records added and updated.
fn write_all(
    writer: &mut dyn StoreWriter,
    batches: Receiver<Write>,
    path: &Path,
) -> Result<(u64, u64), IngestError> {
    let (mut added, mut updated) = (0, 0);
    for write in batches {
        match write {
            Write::Batch(batch, line) => {
                let summary = writer.put_batch(&batch).map_err(store_err(path, line))?;
                added += summary.added;
                updated += summary.updated;
            }
            Write::Source(source) => {
                writer
                    .put(&Evidence::Source(source))
                    .map_err(store_err(path, 0))?;
            }
        }
    }
    Ok((added, updated))
}

/// Parses the input in its format into `sink`.
fn read_input(
    path: &Path,
    format: InputFormat,
    defaults: &FeedDefaults,
    options: &ImportOptions,
    progress: &mut dyn Progress,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    match format {
        InputFormat::Native => for_each_line(
            path,
            progress,
            |line, no, sink| {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    return Ok(());
                }
                match serde_json::from_str::<Evidence>(line) {
                    Ok(e) => sink.push(e, no),
                    Err(e) => {
                        sink.reject(Reject {
                            line: no,
                            reason: e.to_string(),
                        });
                        Ok(())
                    }
                }
            },
            sink,
        ),
        InputFormat::Feed(feed) => import_feed(path, feed, defaults, options, progress, sink),
        InputFormat::Context(context) => {
            import_context(path, context, defaults, options, progress, sink)
        }
    }
}

/// The stored reliability of the source the options name, if any and not overridden.
fn existing_reliability(
    store: &dyn Store,
    options: &ImportOptions,
) -> Result<Option<Reliability>, IngestError> {
    let (Some(name), None) = (&options.source, options.reliability) else {
        return Ok(None);
    };
    let sources =
        store
            .reader()
            .and_then(|r| r.sources())
            .map_err(|source| IngestError::Store {
                path: PathBuf::new(),
                line: 0,
                source,
            })?;
    Ok(sources
        .into_iter()
        .find(|s| &s.source.name == name)
        .map(|s| s.source.reliability))
}

fn defaults(
    path: &Path,
    format: InputFormat,
    options: &ImportOptions,
    existing: Option<Reliability>,
) -> FeedDefaults {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    let reliability = options.reliability.or(existing).unwrap_or(Reliability::C);
    let mut defaults = if format == InputFormat::Feed(FeedFormat::MaltrailTrails) {
        let source = options.source.clone().unwrap_or_else(|| "maltrail".into());
        FeedDefaults::maltrail(source, &path.to_string_lossy(), options.observed_at)
    } else {
        let threat_type = match (&options.threat_type, format) {
            (Some(t), _) => t.clone(),
            (None, InputFormat::Feed(f)) if csv_preset(f).is_some() => String::new(),
            (None, _) => "Malware".into(),
        };
        FeedDefaults::new(
            options.source.clone().unwrap_or(stem),
            &threat_type,
            options.observed_at,
        )
    };
    if let (Some(t), InputFormat::Feed(FeedFormat::MaltrailTrails)) = (&options.threat_type, format)
    {
        defaults = FeedDefaults {
            threat_type: t.clone(),
            ..defaults
        };
    }
    defaults.with_reliability(reliability)
}

fn csv_preset(format: FeedFormat) -> Option<CsvPreset> {
    Some(match format {
        FeedFormat::UrlhausCsv => CsvPreset::Urlhaus,
        FeedFormat::FeodoCsv => CsvPreset::Feodo,
        FeedFormat::PhishTankCsv => CsvPreset::PhishTank,
        FeedFormat::TweetFeedCsv => CsvPreset::TweetFeed,
        _ => return None,
    })
}

fn import_feed(
    path: &Path,
    feed: FeedFormat,
    defaults: &FeedDefaults,
    options: &ImportOptions,
    progress: &mut dyn Progress,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    match feed {
        FeedFormat::DomainList
        | FeedFormat::HostsFile
        | FeedFormat::Adblock
        | FeedFormat::MaltrailTrails => {
            sink.put_source(defaults.source_record())?;
            let parser = PlainParser::new(defaults.clone());
            let mut ctx = LineContext::default();
            for_each_line(
                path,
                progress,
                |line, no, sink| {
                    let mut result = Ok(());
                    parser.parse_line_each(line, no, &mut ctx, &mut |r| {
                        if result.is_ok() {
                            result = sink.take(r.map(Some), no);
                        }
                    });
                    result
                },
                sink,
            )
        }
        FeedFormat::UrlhausCsv
        | FeedFormat::FeodoCsv
        | FeedFormat::PhishTankCsv
        | FeedFormat::TweetFeedCsv
        | FeedFormat::Csv => {
            let mut parser = match (csv_preset(feed), &options.csv_mapping) {
                (_, Some(mapping)) => CsvParser::new(mapping.clone(), defaults.clone()),
                (Some(preset), None) => CsvParser::preset(preset, defaults.clone()),
                (None, None) => {
                    return Err(IngestError::NeedsMapping {
                        path: path.to_owned(),
                    }
                    .into())
                }
            };
            sink.put_source(parser_source(defaults, csv_preset(feed)))?;
            for_each_line(
                path,
                progress,
                |line, no, sink| sink.take(parser.push_line(line, no), no),
                sink,
            )?;
            sink.summary.skipped += parser.skipped();
            sink.summary.read += parser.skipped();
            Ok(())
        }
        FeedFormat::MispManifest => import_misp_feed(path, defaults, progress, sink),
        _ => {
            let text = read_text(path)?;
            progress.advance(text.len() as u64, 0);
            let list_name = || defaults.source.clone();
            match feed {
                FeedFormat::Stix => sink.parsed(parse_stix(&text, defaults)),
                FeedFormat::MispEvent => sink.parsed(parse_misp_event(&text, None, defaults)),
                FeedFormat::ThreatFoxJson | FeedFormat::ThreatFoxJsonl => {
                    sink.parsed(parse_threatfox(&text, defaults))
                }
                FeedFormat::RankedTopList | FeedFormat::TopList => {
                    sink.parsed(parse_top_list(&text, &TopListOptions::new(list_name())))
                }
                FeedFormat::MispWarninglist => {
                    let out = parse_warninglist(&text, options.source.as_deref());
                    let skipped = out.skipped + (out.networks.len() + out.patterns.len()) as u64;
                    let rejects = out.rejects.clone();
                    for e in out.into_evidence() {
                        sink.push(e, 0)?;
                    }
                    sink.summary.skipped += skipped;
                    sink.summary.read += skipped;
                    for r in rejects {
                        sink.reject(r);
                    }
                    Ok(())
                }
                other => Err(IngestError::Unusable {
                    path: path.to_owned(),
                    reason: format!("{other} is not importable on its own"),
                }
                .into()),
            }
        }
    }
}

/// Context records: registration data and certificates are whole documents; passive DNS and
/// events stream line by line.
fn import_context(
    path: &Path,
    format: ContextFormat,
    defaults: &FeedDefaults,
    options: &ImportOptions,
    progress: &mut dyn Progress,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let observed = options.observed_at;
    // The queried name, when the file is named after it (`example.com.whois.txt`).
    let queried = || {
        let name = path.file_name()?.to_string_lossy().into_owned();
        let name = name
            .split(".whois")
            .next()
            .unwrap_or(&name)
            .trim_end_matches(".json")
            .trim_end_matches(".txt");
        DomainName::parse(name).ok()
    };
    match format {
        ContextFormat::Whois => {
            let parsed = parse_whois_for(&read_text(path)?, queried().as_ref(), observed);
            match parsed.record {
                Some(record) => sink.push(Evidence::Whois(Box::new(record)), 1),
                None if parsed.not_found => {
                    sink.reject(Reject {
                        line: 1,
                        reason: "the WHOIS answer says the domain is not registered".into(),
                    });
                    Ok(())
                }
                None => {
                    let why = if parsed.warnings.is_empty() {
                        "no domain found".into()
                    } else {
                        parsed.warnings.join("; ")
                    };
                    sink.reject(Reject {
                        line: 1,
                        reason: format!("not a usable WHOIS answer: {why}"),
                    });
                    Ok(())
                }
            }
        }
        ContextFormat::Rdap => {
            match parse_rdap_domain_for(&read_text(path)?, queried().as_ref(), observed) {
                Ok(record) => sink.push(Evidence::Whois(Box::new(record)), 1),
                Err(e) => {
                    sink.reject(Reject {
                        line: 1,
                        reason: e.to_string(),
                    });
                    Ok(())
                }
            }
        }
        ContextFormat::Certificate => {
            let bytes = std::fs::read(path).map_err(io_err(path))?;
            match parse_certificates(&bytes, observed, &path.to_string_lossy()) {
                Ok(certificates) => {
                    for (i, cert) in certificates.into_iter().enumerate() {
                        sink.push(Evidence::Certificate(Box::new(cert)), i as u64 + 1)?;
                    }
                    Ok(())
                }
                Err(e) => {
                    sink.reject(Reject {
                        line: 1,
                        reason: e.to_string(),
                    });
                    Ok(())
                }
            }
        }
        ContextFormat::PassiveDns => for_each_line(
            path,
            progress,
            |line, no, sink| {
                if line.trim().is_empty() {
                    return Ok(());
                }
                match parse_cof_line(line) {
                    Ok(records) => {
                        for record in records {
                            match record {
                                PdnsRecord::Resolution(r) => {
                                    sink.push(Evidence::Resolution(r), no)?
                                }
                                // CNAME and NS relations have no table yet.
                                PdnsRecord::Relation(_) => sink.skip(),
                            }
                        }
                        Ok(())
                    }
                    Err(e) => {
                        sink.reject(Reject {
                            line: no,
                            reason: e.to_string(),
                        });
                        Ok(())
                    }
                }
            },
            sink,
        ),
        ContextFormat::SuricataEve | ContextFormat::Events => {
            sink.put_source(defaults.source_record())?;
            let source = defaults.source.as_str();
            for_each_line(
                path,
                progress,
                |line, no, sink| {
                    let events = match format {
                        ContextFormat::SuricataEve => {
                            parse_eve_line(line, source, &options.industries).map(|events| {
                                events.into_iter().map(|e| e.event).collect::<Vec<_>>()
                            })
                        }
                        _ => parse_event_line(line, source).map(|e| e.into_iter().collect()),
                    };
                    match events {
                        Ok(events) => {
                            for event in events {
                                sink.push(Evidence::Event(event), no)?;
                            }
                            Ok(())
                        }
                        Err(e) => {
                            sink.reject(Reject {
                                line: no,
                                reason: e.to_string(),
                            });
                            Ok(())
                        }
                    }
                },
                sink,
            )
        }
    }
}

/// The source record of a CSV feed: the preset's threat type when the defaults have none.
fn parser_source(defaults: &FeedDefaults, preset: Option<CsvPreset>) -> Source {
    let mut source = defaults.source_record();
    if defaults.threat_type.is_empty() {
        source.default_threat_type = preset.map(|p| p.default_threat_type().to_owned());
    }
    source
}

/// A MISP feed directory: the manifest, then every event file it lists, in one transaction.
fn import_misp_feed(
    dir: &Path,
    defaults: &FeedDefaults,
    progress: &mut dyn Progress,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let manifest = read_text(&dir.join("manifest.json"))?;
    let (entries, rejects) = parse_misp_manifest(&manifest);
    for r in rejects {
        sink.reject(r);
    }
    let mut bytes = 0;
    for entry in &entries {
        let file = dir.join(format!("{}.json", entry.uuid));
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                sink.reject(Reject {
                    line: 0,
                    reason: format!("event {} listed in manifest.json: {e}", entry.uuid),
                });
                continue;
            }
        };
        bytes += text.len() as u64;
        sink.parsed(parse_misp_event(&text, Some(entry), defaults))?;
        progress.advance(bytes, sink.summary.read);
    }
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn read_text(path: &Path) -> Result<String, IngestError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    String::from_utf8(bytes).map_err(|e| IngestError::Unusable {
        path: path.to_owned(),
        reason: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })
}

/// Calls `f` with every line (without its line ending) and its 1-based number, streaming: memory
/// stays flat whatever the file's size. A line that is not UTF-8 is a reject.
fn for_each_line(
    path: &Path,
    progress: &mut dyn Progress,
    mut f: impl FnMut(&str, u64, &mut Sink) -> Result<(), ReadError>,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(io_err(path))?);
    let mut buf = Vec::with_capacity(1024);
    let (mut no, mut bytes) = (0u64, 0u64);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        no += 1;
        bytes += n as u64;
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        match std::str::from_utf8(&buf) {
            Ok(line) => f(line, no, sink)?,
            Err(e) => sink.reject(Reject {
                line: no,
                reason: format!("not UTF-8 (invalid byte at column {})", e.valid_up_to() + 1),
            }),
        }
        if no % 8192 == 0 {
            progress.advance(bytes, sink.summary.read);
        }
    }
    progress.advance(bytes, sink.summary.read);
    Ok(())
}
