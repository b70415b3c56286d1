//! One file (or one MISP feed directory) into the store, in one transaction: detect the format,
//! read the input with [`threatintel_parse::read`] on a thread of its own, write its records in
//! batches on the calling one.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use threatintel_model::{Evidence, IpNetwork, Reliability, Source, Timestamp};
use threatintel_parse::feed::{parse_misp_manifest, CsvMapping};
use threatintel_parse::limits::MAX_DOCUMENT;
use threatintel_parse::{detect, read, Context, Format, ReadError, Reject, Sink, Stopped};
use threatintel_store::{FeedState, Store, StoreError, StoreWriter, WriteSummary};

use crate::IngestError;

/// How many bytes detection looks at.
const HEAD: usize = 16 * 1024;

/// What the caller knows about a file that the file may not say.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `None`: detect from the content.
    pub format: Option<Format>,
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
    /// Bytes a gzip input may expand to; `None`: [`default_expanded_limit`] of its size.
    pub expanded_limit: Option<u64>,
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
            expanded_limit: None,
        }
    }
}

/// What a gzip input of `compressed` bytes may expand to: 200 times its size (text feeds and
/// logs compress 5-30 times; deflate can reach 1000), and at least 1 GiB. A larger expansion
/// is refused as a gzip bomb.
pub fn default_expanded_limit(compressed: u64) -> u64 {
    compressed.saturating_mul(200).max(1 << 30)
}

/// Progress of one import, for a progress bar. Reported from the thread that reads the input.
pub trait Progress: Send {
    fn begin(&mut self, _path: &Path, _format: Format, _bytes: u64) {}
    /// `bytes` read so far and `records` handled so far.
    fn advance(&mut self, _bytes: u64, _records: u64) {}
    /// Every rejected record, as it is found ([`ImportSummary::rejects`] keeps only the first).
    fn rejected(&mut self, _reject: &RejectedRecord) {}
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
    pub format: Format,
    /// Records read: imported, rejected or skipped.
    pub read: u64,
    pub added: u64,
    pub updated: u64,
    pub rejected: u64,
    /// Valid records that carry nothing the store holds (hashes, e-mail addresses, ...).
    pub skipped: u64,
    /// The first [`KEPT_REJECTS`] rejects ([`Progress::rejected`] sees them all).
    pub rejects: Vec<RejectedRecord>,
}

/// Rejects an [`ImportSummary`] keeps.
pub const KEPT_REJECTS: usize = 10_000;

/// Records (or rejects) between two progress reports.
const PROGRESS_EVERY: u64 = 8192;

/// What the reading thread hands the writing one, in input order.
enum Write {
    /// Records of the input, with the line of the first (for errors).
    Batch(Vec<Evidence>, u64),
    /// A source record the input does not contain as such (not counted as read).
    Source(Source),
}

/// The reading side of an import: batches records for the writer and keeps the counts of what
/// it read. A send fails only when the writer stopped on an error of its own, which it reports.
struct Batches<'a> {
    out: SyncSender<Write>,
    batch: Vec<Evidence>,
    /// Line of the first record in `batch`, for errors.
    batch_line: u64,
    summary: ImportSummary,
    progress: &'a mut dyn Progress,
    /// Bytes of the file read so far.
    bytes: &'a Cell<u64>,
    /// Records a batch holds: the writer's [`StoreWriter::batch_records`], as of the last
    /// batch it took. At most three batches exist at once (one filling, one in the channel,
    /// one being written; PostgreSQL holds a fourth, staged while the one before is written),
    /// so this bounds what an import holds beside the store's write cache: about 70 MB for a
    /// plain list's 50k records (`scripts/import-memory.py`).
    batch_records: &'a AtomicUsize,
}

impl<'a> Batches<'a> {
    fn new(
        out: SyncSender<Write>,
        path: &Path,
        format: Format,
        progress: &'a mut dyn Progress,
        bytes: &'a Cell<u64>,
        batch_records: &'a AtomicUsize,
    ) -> Self {
        Self {
            out,
            batch: Vec::with_capacity(batch_records.load(Ordering::Relaxed)),
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
            progress,
            bytes,
            batch_records,
        }
    }

    fn send(&self, write: Write) -> Result<(), Stopped> {
        self.out.send(write).map_err(|_| Stopped)
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = Vec::with_capacity(self.batch_size());
        let batch = std::mem::replace(&mut self.batch, next);
        self.send(Write::Batch(batch, self.batch_line))
    }

    fn batch_size(&self) -> usize {
        self.batch_records.load(Ordering::Relaxed)
    }

    /// Counts one record read, reporting progress now and then.
    fn count(&mut self) {
        self.summary.read += 1;
        if self.summary.read % PROGRESS_EVERY == 0 {
            self.progress.advance(self.bytes.get(), self.summary.read);
        }
    }
}

impl Sink for Batches<'_> {
    fn source(&mut self, source: Source) -> Result<(), Stopped> {
        self.flush()?;
        self.send(Write::Source(source))
    }

    fn evidence(&mut self, evidence: Evidence, line: u64) -> Result<(), Stopped> {
        self.count();
        if self.batch.is_empty() {
            self.batch_line = line;
        }
        self.batch.push(evidence);
        if self.batch.len() >= self.batch_size() {
            self.flush()?;
        }
        Ok(())
    }

    fn reject(&mut self, reject: Reject) {
        self.count();
        self.summary.rejected += 1;
        let reject = RejectedRecord {
            line: reject.line,
            reason: reject.reason,
        };
        self.progress.rejected(&reject);
        if self.summary.rejects.len() < KEPT_REJECTS {
            self.summary.rejects.push(reject);
        }
    }

    fn skip(&mut self, records: u64) {
        self.summary.read += records;
        self.summary.skipped += records;
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
    let feed_dir = path.is_dir() && path.join("manifest.json").is_file();
    let (format, bytes) = if feed_dir {
        (Format::MispManifest, dir_size(path))
    } else {
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        let format = match options.format {
            Some(f) => f,
            None => detect_file(path, options)?,
        };
        (format, meta.len())
    };
    progress.begin(path, format, bytes);
    let reliability = match options.reliability {
        Some(r) => r,
        None => existing_reliability(store, options)?.unwrap_or(Reliability::C),
    };
    let mut context = Context::for_file(
        format,
        &path.to_string_lossy(),
        options.source.clone(),
        reliability,
        options.threat_type.clone(),
        options.observed_at,
    );
    context.csv_mapping = options.csv_mapping.clone();
    context.industries = options.industries.clone();
    let mut writer = store.writer().map_err(store_err(path, 0))?;
    // The input is read and parsed on a thread of its own while this one writes.
    let (out, batches) = std::sync::mpsc::sync_channel(1);
    let batch_records = AtomicUsize::new(writer.batch_records());
    let (read, written) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let read_bytes = Cell::new(0);
            let mut sink = Batches::new(out, path, format, progress, &read_bytes, &batch_records);
            let result = if feed_dir {
                read_misp_feed(path, &context, &mut sink)
            } else {
                read_file(path, format, options.expanded_limit, &context, &mut sink)
            };
            let result = result.and_then(|()| Ok(sink.flush()?));
            sink.progress.advance(read_bytes.get(), sink.summary.read);
            result.map(|()| sink.summary)
        });
        let written = write_all(writer.as_mut(), batches, path, &batch_records);
        let read = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (read, written)
    });
    // A writer error stops the reader too: it is the one to report.
    let (added, updated) = written?;
    let mut summary = match read {
        Ok(summary) => summary,
        Err(Failed::Input(e)) => return Err(e),
        // The writer drops the channel only on an error, returned above.
        Err(Failed::WriterStopped) => unreachable!("the writer finished without an error"),
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

/// Reads the file at `path` in `format` into `sink`.
fn read_file(
    path: &Path,
    format: Format,
    expanded_limit: Option<u64>,
    context: &Context,
    sink: &mut Batches<'_>,
) -> Result<(), Failed> {
    let mut input = open(path, expanded_limit, sink.bytes)?;
    read(format, &mut input, context, sink).map_err(|e| read_error(path, e))
}

/// The format of the file at `path` from its name and first bytes (expanded, when gzip).
fn detect_file(path: &Path, options: &ImportOptions) -> Result<Format, IngestError> {
    let mut head = Vec::with_capacity(HEAD);
    open(path, options.expanded_limit, &Cell::new(0))?
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .map_err(io_err(path))?;
    let name = path.to_string_lossy();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    detect(name, &head).ok_or_else(|| IngestError::UnknownFormat {
        path: path.to_owned(),
        known: Format::names(),
    })
}

/// The file at `path` as a buffered reader, counting the bytes read from the file into `read`;
/// gzip (told by its magic bytes) is expanded, at most to `expanded_limit` bytes.
fn open<'a>(
    path: &Path,
    expanded_limit: Option<u64>,
    read: &'a Cell<u64>,
) -> Result<Box<dyn BufRead + 'a>, IngestError> {
    let file = File::open(path).map_err(io_err(path))?;
    let size = file.metadata().map_err(io_err(path))?.len();
    let mut file = BufReader::with_capacity(1 << 20, Counted { inner: file, read });
    let gzip = file
        .fill_buf()
        .map_err(io_err(path))?
        .starts_with(&[0x1f, 0x8b]);
    if !gzip {
        return Ok(Box::new(file));
    }
    let limit = expanded_limit.unwrap_or_else(|| default_expanded_limit(size));
    let expanded = flate2::bufread::MultiGzDecoder::new(file);
    Ok(Box::new(BufReader::with_capacity(
        1 << 20,
        Capped {
            inner: expanded,
            left: limit,
            limit,
        },
    )))
}

/// A reader that counts the bytes it hands out.
struct Counted<'a, R> {
    inner: R,
    read: &'a Cell<u64>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// An expanding reader that fails once it has given `limit` bytes and has more.
struct Capped<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more than allowed tells a bomb from an input of exactly the limit.
            return match self.inner.read(&mut [0])? {
                0 => Ok(0),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::FileTooLarge,
                    ExpandedTooLarge(self.limit),
                )),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// The error a [`Capped`] reader fails with.
#[derive(Debug, thiserror::Error)]
#[error("gzip input expands beyond {0} bytes")]
struct ExpandedTooLarge(u64);

/// Why the reading side stopped.
enum Failed {
    Input(IngestError),
    /// The writer stopped on an error of its own, which it reports.
    WriterStopped,
}

impl From<IngestError> for Failed {
    fn from(e: IngestError) -> Self {
        Failed::Input(e)
    }
}

impl From<Stopped> for Failed {
    fn from(_: Stopped) -> Self {
        Failed::WriterStopped
    }
}

/// An error reading the input of `path`, as the import reports it.
fn read_error(path: &Path, e: ReadError) -> Failed {
    let path = path.to_owned();
    Failed::Input(match e {
        ReadError::Io(source) => match source.get_ref().and_then(|e| e.downcast_ref()) {
            Some(ExpandedTooLarge(limit)) => IngestError::GzipBomb {
                path,
                limit: *limit,
            },
            None => IngestError::Io { path, source },
        },
        ReadError::Stopped => return Failed::WriterStopped,
        ReadError::NeedsMapping => IngestError::NeedsMapping { path },
        other => IngestError::Unusable {
            path,
            reason: other.to_string(),
        },
    })
}

/// Writes what the reading side sends until it is done: records added and updated. The store
/// may write a batch while the next one is read ([`StoreWriter::put_batch_owned`]): an error
/// it reports for the batch before is reported at that batch's line.
fn write_all(
    writer: &mut dyn StoreWriter,
    batches: Receiver<Write>,
    path: &Path,
    batch_records: &AtomicUsize,
) -> Result<(u64, u64), IngestError> {
    let mut written = WriteSummary::default();
    // The line of the last batch the store took.
    let mut line = 0;
    let at = |line, earlier| {
        move |e| match e {
            StoreError::InEarlierBatch(e) => store_err(path, earlier)(*e),
            e => store_err(path, line)(e),
        }
    };
    let mut writes = batches.into_iter().peekable();
    while let Some(write) = writes.next() {
        match write {
            Write::Batch(mut batch, first) => {
                // Batches read before the writer asked for larger ones go together.
                while batch.len() < batch_records.load(Ordering::Relaxed) {
                    match writes.next_if(|next| matches!(next, Write::Batch(..))) {
                        Some(Write::Batch(more, _)) => batch.extend(more),
                        _ => break,
                    }
                }
                let earlier = std::mem::replace(&mut line, first);
                written += writer.put_batch_owned(batch).map_err(at(line, earlier))?;
                batch_records.store(writer.batch_records(), Ordering::Relaxed);
            }
            Write::Source(source) => {
                writer.put(&Evidence::Source(source)).map_err(at(0, line))?;
            }
        }
    }
    written += writer.finish_batches().map_err(at(line, line))?;
    Ok((written.added, written.updated))
}

/// The stored reliability of the source the options name, if any.
fn existing_reliability(
    store: &dyn Store,
    options: &ImportOptions,
) -> Result<Option<Reliability>, IngestError> {
    let Some(name) = &options.source else {
        return Ok(None);
    };
    let source = store
        .reader()
        .and_then(|r| r.source(name))
        .map_err(store_err(Path::new(""), 0))?;
    Ok(source.map(|s| s.reliability))
}

/// A MISP feed directory: the manifest, then every event file it lists, in one transaction.
/// An event file that cannot be read is a reject.
fn read_misp_feed(dir: &Path, context: &Context, sink: &mut Batches<'_>) -> Result<(), Failed> {
    let manifest = dir.join("manifest.json");
    let mut text = String::new();
    open(&manifest, None, sink.bytes)?
        .take(MAX_DOCUMENT)
        .read_to_string(&mut text)
        .map_err(io_err(&manifest))?;
    let (entries, rejects) = parse_misp_manifest(&text);
    rejects.into_iter().for_each(|r| sink.reject(r));
    for entry in entries {
        let file = dir.join(format!("{}.json", entry.uuid));
        let uuid = entry.uuid.clone();
        let context = Context {
            manifest_entry: Some(entry),
            ..context.clone()
        };
        match read_file(&file, Format::MispEvent, None, &context, sink) {
            Ok(()) => {}
            Err(Failed::Input(e)) => sink.reject(Reject::new(
                0,
                format!("event {uuid} listed in manifest.json: {e}"),
            )),
            Err(stopped) => return Err(stopped),
        }
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::mpsc::sync_channel;

    use threatintel_store::{
        FeedState, LookupState, PutOutcome, Result, StoreError, StoreWriter, WriteSummary,
    };

    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use threatintel_model::{Evidence, Reliability, Source};
    use threatintel_parse::{Format, Sink};

    use super::{write_all, Batches, Write};
    use crate::{IngestError, NoProgress};

    /// A writer that notes what it is given (a batch's size, or 0 for a put) and asks for
    /// `wants` records a batch. With `fails_late`, it takes batches as a pipelining store
    /// does: the second fails as the first's error would come, with the next call.
    #[derive(Default)]
    struct Noting {
        given: Vec<usize>,
        wants: usize,
        fails_late: bool,
    }

    impl StoreWriter for Noting {
        fn put(&mut self, _: &Evidence) -> Result<PutOutcome> {
            self.given.push(0);
            Ok(PutOutcome::Added)
        }

        fn put_batch_owned(&mut self, batch: Vec<Evidence>) -> Result<WriteSummary> {
            self.given.push(batch.len());
            if self.fails_late && self.given.len() > 1 {
                return Err(StoreError::InEarlierBatch(Box::new(StoreError::Corrupt(
                    "first".into(),
                ))));
            }
            Ok(WriteSummary::default())
        }

        fn batch_records(&self) -> usize {
            self.wants
        }

        fn put_feed_state(&mut self, _: &FeedState) -> Result<()> {
            Ok(())
        }

        fn put_lookup(&mut self, _: &LookupState) -> Result<()> {
            Ok(())
        }

        fn commit(self: Box<Self>) -> Result<WriteSummary> {
            Ok(WriteSummary::default())
        }
    }

    fn record(line: u64) -> Evidence {
        Evidence::Source(Source {
            name: format!("s{line}"),
            reliability: Reliability::C,
            default_threat_type: None,
        })
    }

    #[test]
    fn batches_take_the_size_the_writer_last_asked_for() {
        let (out, batches) = sync_channel(16);
        let (bytes, batch_records) = (Cell::new(0), AtomicUsize::new(3));
        let mut progress = NoProgress;
        let mut sink = Batches::new(
            out,
            Path::new("feed.txt"),
            Format::DomainList,
            &mut progress,
            &bytes,
            &batch_records,
        );
        for line in 1..=4 {
            sink.evidence(record(line), line).unwrap();
        }
        batch_records.store(2, Ordering::Relaxed);
        for line in 5..=7 {
            sink.evidence(record(line), line).unwrap();
        }
        sink.flush().unwrap();
        drop(sink);
        let sizes: Vec<(usize, u64)> = batches
            .iter()
            .map(|write| match write {
                Write::Batch(batch, line) => (batch.len(), line),
                Write::Source(_) => panic!("no source was read"),
            })
            .collect();
        assert_eq!(sizes, [(3, 1), (2, 4), (2, 6)]);
    }

    #[test]
    fn batches_sent_before_the_writer_asked_for_larger_ones_are_written_together() {
        let (send, batches) = sync_channel(8);
        let batch = |lines: std::ops::Range<u64>| {
            Write::Batch(lines.clone().map(record).collect(), lines.start)
        };
        for write in [batch(1..3), batch(3..5), batch(5..7), batch(7..9)] {
            send.send(write).unwrap();
        }
        send.send(Write::Source(match record(9) {
            Evidence::Source(source) => source,
            _ => unreachable!(),
        }))
        .unwrap();
        send.send(batch(10..12)).unwrap();
        drop(send);
        let mut writer = Noting {
            wants: 5,
            ..Noting::default()
        };
        // The batches were read for 2 records each; once the writer took the first, it asks for 5.
        let batch_records = AtomicUsize::new(2);
        write_all(&mut writer, batches, Path::new("feed.txt"), &batch_records).unwrap();
        // Joined up to at least 5 records, never across a source.
        assert_eq!(writer.given, [2, 6, 0, 2]);
    }

    #[test]
    fn an_error_the_store_reports_late_is_reported_at_its_batch() {
        let (send, batches) = sync_channel(2);
        send.send(Write::Batch(vec![record(1)], 1)).unwrap();
        send.send(Write::Batch(vec![record(2)], 2)).unwrap();
        drop(send);
        let mut writer = Noting {
            wants: 1,
            fails_late: true,
            ..Noting::default()
        };
        let batch_records = AtomicUsize::new(1);
        match write_all(&mut writer, batches, Path::new("feed.txt"), &batch_records) {
            Err(IngestError::Store { line, source, .. }) => {
                assert_eq!(line, 1);
                assert!(matches!(source, StoreError::Corrupt(_)), "{source}");
            }
            other => panic!("{other:?}"),
        }
    }
}
