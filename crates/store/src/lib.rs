//! The evidence store. [`Store`] is what the report engine and the importers see; it carries
//! no database types, so backends (embedded SQLite here, PostgreSQL for scale-out) are
//! interchangeable. Writes go through a [`StoreWriter`]: one transaction that either commits
//! whole or leaves the store as it was.

/// The writer's `put_<kind>` call for `evidence`'s kind: each backend's writer has one method
/// per kind of evidence, under the same names, which `put` dispatches to.
macro_rules! put_by_kind {
    ($writer:expr, $evidence:expr) => {
        match $evidence {
            Evidence::Source(s) => $writer.put_source(s),
            Evidence::Indicator(r) => $writer.put_indicator(r),
            Evidence::Allowlist(l) => $writer.put_allowlist(l),
            Evidence::AllowlistEntry(e) => $writer.put_allowlist_entry(e),
            Evidence::Whois(w) => $writer.put_whois(w),
            Evidence::Certificate(c) => $writer.put_certificate(c),
            Evidence::Resolution(r) => $writer.put_resolution(r),
            Evidence::Relation(r) => $writer.put_relation(r),
            Evidence::IpIntel(i) => $writer.put_ip_intel(i),
            Evidence::Event(e) => $writer.put_event(e),
            Evidence::IpRecord(r) => $writer.put_ip_record(r),
            Evidence::NetworkAllowEntry(e) => $writer.put_network_allow_entry(e),
            Evidence::FileRecord(r) => $writer.put_file_record(r),
            Evidence::NetworkRegistration(r) => $writer.put_network_registration(r),
        }
    };
}

mod codec;
mod counts;
mod keys;
mod known_zone;
mod name_filter;
mod postgres;
mod sqlite;
mod sweeper;

use std::net::IpAddr;
use std::ops::ControlFlow;

use serde::Serialize;

use threatintel_model::{
    AllowlistEntry, AllowlistKind, Certificate, DnsRelation, DomainName, DomainQuery, Evidence,
    FileHash, FileRecord, IndicatorRecord, IpIntel, IpRecord, NetworkAllowEntry,
    NetworkRegistration, Reliability, Source, Timestamp, WhoisRecord,
};

pub use self::postgres::{PostgresStore, DEFAULT_POOL_SIZE};
pub use keys::key as name_key;
pub use sqlite::{SqliteStore, DEFAULT_WRITE_CACHE_MIB};
pub use sweeper::{SNAPSHOT_MAX_AGE, SWEEP_EVERY};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("source {0:?} is not in the store; add the source before its records")]
    UnknownSource(String),
    #[error("allowlist {0:?} is not in the store; add the list before its entries")]
    UnknownAllowlist(String),
    #[error("the store at {path} was written by a newer threatintel (schema {found}, this build knows {known})")]
    SchemaTooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An error writing a batch the writer took before the call that reports it
    /// ([`StoreWriter::put_batch_owned`]).
    #[error("{0} (writing an earlier batch)")]
    InEarlierBatch(#[source] Box<StoreError>),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An indicator record with the reliability of its source, as the verdict needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorHit {
    pub record: IndicatorRecord,
    pub reliability: Reliability,
    /// How many times the record was imported or re-sighted.
    pub sightings: u64,
}

/// An allowlist entry of an enabled list, with the list's kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowlistHit {
    pub entry: AllowlistEntry,
    pub kind: AllowlistKind,
}

/// An address or network record with the reliability of its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpRecordHit {
    pub record: IpRecord,
    pub reliability: Reliability,
    /// How many times the record was imported or re-sighted.
    pub sightings: u64,
}

/// A file record with the reliability of its source. Its `hashes` are every hash the store
/// links to the file (the first of each kind), not only those the record came with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRecordHit {
    pub record: FileRecord,
    pub reliability: Reliability,
    /// How many times the record was imported or re-sighted.
    pub sightings: u64,
}

/// A network on an enabled allowlist, with the list's kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkAllowHit {
    pub entry: NetworkAllowEntry,
    pub kind: AllowlistKind,
}

/// Security events summed per (victim industry, attack stage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventTotal {
    pub industry: String,
    pub stage: String,
    pub count: u64,
    pub last: Timestamp,
}

/// A distinct address a name (or zone) resolved to, with its observation window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedIp {
    pub ip: IpAddr,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
}

/// A name that resolved to an address, with its observation window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedName {
    pub name: DomainName,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
}

/// Row counts per kind of record (each table's rows; records updated in place count once).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub names: u64,
    pub sources: u64,
    pub indicators: u64,
    pub allowlists: u64,
    pub allowlist_entries: u64,
    pub whois_records: u64,
    pub certificates: u64,
    pub resolutions: u64,
    pub ip_intel: u64,
    pub events: u64,
}

/// What the console's dashboard shows of the store as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreOverview {
    /// (threat type code, indicator records), most first, then by code.
    pub by_threat_type: Vec<(String, u64)>,
    /// (family label, indicator records), most first, then by label; at most the `top` asked.
    pub top_families: Vec<(String, u64)>,
    /// Imports per UTC day since the day asked, oldest first; days without one are left out.
    pub imports_by_day: Vec<ImportDay>,
}

/// The imports of one day: commits that named a source (files, feeds, lookups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportDay {
    /// 00:00 UTC of the day.
    pub day: Timestamp,
    pub imports: u64,
    /// Records the imports added or updated.
    pub records: u64,
}

/// What the heuristic judge learns from the store as a whole (read once, when a report engine
/// first needs it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NameModelInputs {
    /// Names on top-site lists, enabled or not, with their best rank, in key order.
    pub top_sites: Vec<(DomainName, Option<u32>)>,
    /// Names on disabled curated lists (shared infrastructure: dynamic DNS, free hosting), in
    /// key order.
    pub shared_zones: Vec<DomainName>,
    /// Every zone listing (`*.zone` record), in key order.
    pub zone_listings: Vec<IndicatorHit>,
    /// Distinct labels of phishing records (the brands feeds name as targets), in byte order.
    pub phishing_labels: Vec<String>,
    /// Per top-level domain, how many names the store holds and how many carry malicious
    /// records of their own, in byte order of the TLD.
    pub tld_listings: Vec<ListedShare>,
    /// Per name server of the newest WHOIS/RDAP record of each domain, how many domains it
    /// serves and how many of those have malicious records on them or below; only name
    /// servers of at least one such domain, in byte order.
    pub nameserver_listings: Vec<ListedShare>,
    /// Per zone of at least two labels with at least [`LISTED_CHILDREN_MIN`] direct children
    /// (names one label below it) that carry malicious records of their own: how many direct
    /// children the store holds and how many of them are listed, `key` the zone's name, in
    /// key order. The minimum keeps the result small on a store of any size.
    pub listed_children: Vec<ListedShare>,
}

/// The fewest listed direct children for which [`NameModelInputs::listed_children`] reports a
/// zone.
pub const LISTED_CHILDREN_MIN: u64 = 3;

/// How many of the names under one key (a TLD, a name server) the store lists as malicious.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListedShare {
    pub key: String,
    pub names: u64,
    pub listed: u64,
}

impl NameModelInputs {
    /// The name servers' shares from (newest WHOIS record, whether its domain is listed)
    /// pairs: what both backends read, aggregated alike.
    pub(crate) fn nameserver_shares(
        records: impl IntoIterator<Item = (WhoisRecord, bool)>,
    ) -> Vec<ListedShare> {
        let mut by_server: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        for (record, listed) in records {
            let mut servers: Vec<String> = record
                .nameservers
                .iter()
                .map(|s| s.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            servers.sort();
            servers.dedup();
            for server in servers {
                let counts = by_server.entry(server).or_default();
                counts.0 += 1;
                counts.1 += u64::from(listed);
            }
        }
        by_server
            .into_iter()
            .filter(|(_, (_, listed))| *listed > 0)
            .map(|(key, (names, listed))| ListedShare { key, names, listed })
            .collect()
    }
}

/// What the last successful refresh of a feed fetched, for conditional requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedState {
    pub name: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub refreshed_at: Timestamp,
}

/// Which write the store's content is: the number of committed write transactions and when the
/// last one committed (`None` before the first). A reader sees the marker of its snapshot, so
/// an unchanged marker means unchanged content (exports derive their ETag from it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CommitMarker {
    pub generation: u64,
    pub committed_at: Option<Timestamp>,
}

/// The last live lookup of one topic about a name (what the enricher of `threatintel-enrich`
/// fetched, when, from where, and how it ended), kept so that TTLs, negative answers and
/// backoff survive a restart. Identity: (`name`, `topic`); the newest state replaces the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookupState {
    pub name: DomainName,
    /// What was looked up (`registration`, `dns`, `tls`).
    pub topic: String,
    /// How (`rdap`, `whois`, `dns`, `tls`).
    pub kind: String,
    pub at: Timestamp,
    pub server: String,
    pub outcome: String,
    pub error: Option<String>,
    pub records: u64,
    pub latency_ms: u64,
    /// When the name is due again.
    pub next_due: Timestamp,
    /// Consecutive failures so far.
    pub failures: u32,
}

/// A source with what the store holds from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSummary {
    pub source: Source,
    pub indicators: u64,
    pub last_import: Option<Timestamp>,
}

/// What a [`StoreWriter::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Added,
    Updated,
}

/// Counts of one committed write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub added: u64,
    pub updated: u64,
}

impl std::ops::AddAssign for WriteSummary {
    fn add_assign(&mut self, other: Self) {
        self.added += other.added;
        self.updated += other.updated;
    }
}

impl WriteSummary {
    /// Counts one put.
    pub(crate) fn count(&mut self, outcome: PutOutcome) {
        match outcome {
            PutOutcome::Added => self.added += 1,
            PutOutcome::Updated => self.updated += 1,
        }
    }
}

/// Records a batch holds unless its writer asks for more ([`StoreWriter::batch_records`]).
pub const BATCH_RECORDS: usize = 50_000;

/// One write transaction. Records become visible to readers only on [`commit`](Self::commit);
/// dropping the writer (an error, a panic, a cancelled import) rolls everything back.
pub trait StoreWriter {
    fn put(&mut self, evidence: &Evidence) -> Result<PutOutcome>;
    /// Puts many records; a backend may reorder them for speed, except that sources and
    /// allowlists come before the records that name them and records with the same identity
    /// keep their order (the last one's values win, as with [`put`](Self::put)).
    fn put_batch(&mut self, batch: &[Evidence]) -> Result<WriteSummary> {
        let mut summary = WriteSummary::default();
        for evidence in batch {
            summary.count(self.put(evidence)?);
        }
        Ok(summary)
    }
    /// Puts a batch as [`put_batch`](Self::put_batch) does, but may return before it is
    /// written (PostgreSQL writes it on a thread of its own while the caller reads and stages
    /// the next). What the batches written meanwhile did is returned by the next call of this
    /// method or of [`finish_batches`](Self::finish_batches); an error writing one, by
    /// whichever call comes next, as [`StoreError::InEarlierBatch`].
    fn put_batch_owned(&mut self, batch: Vec<Evidence>) -> Result<WriteSummary> {
        self.put_batch(&batch)
    }
    /// Waits until every batch [`put_batch_owned`](Self::put_batch_owned) took is written:
    /// what those not yet reported did.
    fn finish_batches(&mut self) -> Result<WriteSummary> {
        Ok(WriteSummary::default())
    }
    /// How many records the writer would like in the next batch: [`BATCH_RECORDS`], or a
    /// multiple of it where the batches written so far show that larger ones cost the store
    /// less per record (PostgreSQL's, when most of a batch's names were stored already).
    fn batch_records(&self) -> usize {
        BATCH_RECORDS
    }
    /// Records a feed's refresh; committed (or rolled back) with the records it brought.
    fn put_feed_state(&mut self, state: &FeedState) -> Result<()>;
    /// Records a live lookup (replacing the last one of its name and topic); committed (or
    /// rolled back) with the evidence it brought.
    fn put_lookup(&mut self, state: &LookupState) -> Result<()>;
    fn commit(self: Box<Self>) -> Result<WriteSummary>;
}

/// Access to the evidence: one writer at a time, any number of readers.
pub trait Store: Send + Sync {
    /// Starts a write transaction (one writer at a time; others wait).
    fn writer(&self) -> Result<Box<dyn StoreWriter + '_>>;
    /// Whether calls block in a way an async runtime must be told about (the PostgreSQL client
    /// drives its own runtime, which cannot nest in a caller's). SQLite calls are short and do not.
    fn runs_own_runtime(&self) -> bool {
        false
    }
    /// How many readers can work at once when the store bounds it (PostgreSQL: its pooled
    /// connections), so that callers queue for a turn instead of blocking threads on the pool.
    fn parallel_reads(&self) -> Option<usize> {
        None
    }
    /// Opens a read snapshot: every read through it sees the store as of its first read, and
    /// no write committed meanwhile. A report reads through one snapshot.
    fn reader(&self) -> Result<Box<dyn StoreReader + '_>>;
    /// Builds now what makes reads faster and takes a while to build, which would otherwise be
    /// built in the background once reads ask for it (both backends: the filter of stored
    /// names that answers for names of zones the store does not hold). A server calls it before
    /// it listens.
    fn prepare_reads(&self) -> Result<()> {
        Ok(())
    }
    /// Whether the store surely holds nothing [`StoreReader::knows_zone`] would find for
    /// `zone`, told without a reader and as fresh as a reader's snapshot could be; `false`
    /// when it cannot tell so. A caller answers such a name without a reader (PostgreSQL: no
    /// pooled connection, no thread of the blocking pool).
    fn knows_nothing_of(&self, _zone: &DomainName) -> bool {
        false
    }
}

/// Reads of one consistent snapshot (see [`Store::reader`]).
pub trait StoreReader {
    /// Whether the store holds any evidence on `zone` or a name below it, or a zone listing on
    /// one of its ancestors. The report's fast path for unknown names.
    fn knows_zone(&self, zone: &DomainName) -> Result<bool>;

    /// Indicator records on exactly these names (zone listings included).
    fn indicators_at(&self, names: &[DomainName]) -> Result<Vec<IndicatorHit>>;
    /// Indicator records on `zone` and every name below it.
    fn indicators_below(&self, zone: &DomainName) -> Result<Vec<IndicatorHit>>;
    /// The first `limit` records [`indicators_below`](Self::indicators_below) returns, in key
    /// order of their names: what a report reads of a zone, whatever the zone holds.
    fn indicators_below_first(&self, zone: &DomainName, limit: usize) -> Result<Vec<IndicatorHit>>;

    /// Entries of enabled allowlists on exactly these names.
    fn allowlist_at(&self, names: &[DomainName]) -> Result<Vec<AllowlistHit>>;
    /// Entries of enabled allowlists on `zone` and every name below it.
    fn allowlist_below(&self, zone: &DomainName) -> Result<Vec<AllowlistHit>>;

    /// Distinct names strictly below `zone` seen in resolutions, certificates, indicators or events.
    fn count_names_below(&self, zone: &DomainName) -> Result<u64>;
    /// The names [`count_names_below`](Self::count_names_below) counts, in key order, at most `limit`.
    fn names_below(&self, zone: &DomainName, limit: usize) -> Result<Vec<DomainName>>;

    /// The newest WHOIS/RDAP record of `domain`.
    fn latest_whois(&self, domain: &DomainName) -> Result<Option<WhoisRecord>>;
    /// Every WHOIS/RDAP record of `domain`, newest first.
    fn whois_history(&self, domain: &DomainName) -> Result<Vec<WhoisRecord>>;
    /// Every certificate that covers `name` (exactly or by a wildcard), most recently seen first.
    fn certificates(&self, name: &DomainName) -> Result<Vec<Certificate>>;
    /// The most recently seen certificate that covers `name`.
    fn latest_certificate(&self, name: &DomainName) -> Result<Option<Certificate>> {
        Ok(self.certificates(name)?.into_iter().next())
    }

    /// Distinct addresses the name (or every name of the zone) resolved to, last seen in `[since, until]`.
    fn resolved_ips(
        &self,
        scope: &DomainQuery,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<ResolvedIp>>;
    /// The CNAME, NS and MX records of exactly `name`, by kind then target.
    fn relations(&self, name: &DomainName) -> Result<Vec<DnsRelation>>;
    /// The last live lookup of each topic about exactly `name`, by topic.
    fn lookups(&self, name: &DomainName) -> Result<Vec<LookupState>>;

    /// Intelligence on every network that contains one of `ips`, paired with that address.
    fn ip_intel(&self, ips: &[IpAddr]) -> Result<Vec<(IpAddr, IpIntel)>>;
    /// The first `limit` names, in name key order, that resolved to `ip` (reverse passive DNS).
    fn names_resolving_to(&self, ip: IpAddr, limit: usize) -> Result<Vec<ResolvedName>>;
    /// The registration of every network that contains `ip`, most specific first.
    fn network_registrations(&self, ip: IpAddr) -> Result<Vec<NetworkRegistration>>;
    /// Every address record whose network contains `ip`, most specific network first, then by
    /// (source, threat type, label).
    fn ip_records(&self, ip: IpAddr) -> Result<Vec<IpRecordHit>>;
    /// Every network of an enabled allowlist that contains `ip`, most specific first, then by
    /// list name.
    fn network_allowlist(&self, ip: IpAddr) -> Result<Vec<NetworkAllowHit>>;

    /// Every record on the file `hash` names (by any hash linked to it), by source, threat type
    /// and label; empty for an unknown hash.
    fn file_records(&self, hash: &FileHash) -> Result<Vec<FileRecordHit>>;

    /// Security events on the name (or zone) up to `until`, summed per industry and stage.
    fn event_totals(&self, scope: &DomainQuery, until: Timestamp) -> Result<Vec<EventTotal>>;

    /// Every source with its indicator count (maintained on commit: one read of the sources).
    fn sources(&self) -> Result<Vec<SourceSummary>>;
    /// The source called `name`, when the store has one (one key lookup).
    fn source(&self, name: &str) -> Result<Option<Source>>;
    /// Whether the store holds no name at all (one key lookup: what a health check and the
    /// demo-data check at start ask, where counting every table would take seconds on a
    /// large store).
    fn is_empty(&self) -> Result<bool>;
    /// The store-wide inputs of the heuristic judge (a scan of the lists and zone listings).
    fn name_model_inputs(&self) -> Result<NameModelInputs>;
    /// The rows of each kind (counts maintained on commit: one row read, whatever the size).
    fn stats(&self) -> Result<StoreStats>;
    /// Indicator records per threat type, the `top` families, and the imports of each day
    /// from `since` (the counts maintained per threat type and label, a range of the import
    /// history).
    fn overview(&self, top: usize, since: Timestamp) -> Result<StoreOverview>;
    fn feed_state(&self, name: &str) -> Result<Option<FeedState>>;
    /// The marker of the last commit this reader sees (one row).
    fn commit_marker(&self) -> Result<CommitMarker>;

    /// Every indicator record (zone listings included), in name key order ([`name_key`]: a
    /// zone before the names below it, its subtree contiguous), handed to `visit` one at a time
    /// and never collected; `visit` stops the walk with `Break`. For exports and matchers that
    /// judge every name.
    fn each_indicator(&self, visit: &mut dyn FnMut(IndicatorHit) -> ControlFlow<()>) -> Result<()>;
    /// Every entry of an enabled allowlist, in name key order, as
    /// [`each_indicator`](Self::each_indicator).
    fn each_allowlist_entry(
        &self,
        visit: &mut dyn FnMut(AllowlistHit) -> ControlFlow<()>,
    ) -> Result<()>;
}
