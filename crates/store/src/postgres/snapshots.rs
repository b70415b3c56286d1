//! Read snapshots kept on pooled connections between reports, as the SQLite store keeps its
//! own (`sqlite/snapshots.rs`, same [`SNAPSHOT_MAX_AGE`] and [`SWEEP_EVERY`](crate::SWEEP_EVERY)).
//!
//! Beginning and ending a read transaction are a round trip each, as many as a report's reads:
//! so a connection given back to the pool keeps its transaction open, and the next reader
//! reuses that snapshot while it is younger than [`SNAPSHOT_MAX_AGE`] and nothing has been
//! committed through this store since. A commit through the store is seen by the very next
//! reader; one by another process within [`SNAPSHOT_MAX_AGE`]. An open snapshot holds back
//! vacuum and DDL, so a sweeper thread, started with the first reader, ends the snapshots of
//! idle connections every [`SWEEP_EVERY`](crate::SWEEP_EVERY); it stops when the store is dropped. If it cannot be
//! started, snapshots are not kept.
//!
//! [`Shared`] also holds the readers' filter of stored names (`name_filter.rs`). While one is
//! kept, a snapshot reads its commit generation as it begins (in the same round trip), and what
//! every snapshot of a generation sees alike (zones' ancestors' kind bits, the IP prefixes in
//! use) is kept for the readers of that generation ([`GenerationReads`]): a report on a zone
//! the filter lacks sends no statement, and one on a zone it may hold one (`zone.rs`). While
//! the last snapshot begun could still be reused, a zone the filter lacks needs no reader at
//! all ([`Shared::knows_nothing_of`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::types::ToSql;
use ::postgres::SimpleQueryMessage;
use r2d2::Pool;

use super::{corrupt, Conn, Manager};
use crate::keys::{kind, parent_key};
use crate::name_filter::{
    NameFilter, NameSource, NamesSince, NewNames, SharedFilter, GENERATION_AND_LAST_ID, NAMES_SINCE,
};
use crate::sweeper::{Sweeper, SNAPSHOT_MAX_AGE};
use crate::{Result, StoreError};

/// How a reader's transaction begins: one snapshot, and generic plans (see `PgReader::begin`).
macro_rules! begin_read {
    () => {
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
         SET LOCAL plan_cache_mode = force_generic_plan"
    };
}
const BEGIN_READ: &str = begin_read!();

/// [`BEGIN_READ`], then the snapshot's commit generation, while a filter of stored names is
/// kept.
const BEGIN_READ_GENERATION: &str =
    concat!(begin_read!(), "; SELECT generation FROM commit_marker");

/// Ancestors whose kind bits are kept, at most; past it they are read again.
const MAX_ANCESTORS_KEPT: usize = 4096;

/// A connection's read transaction, while one is open.
#[derive(Clone, Copy)]
pub(super) enum Snapshot {
    /// Reusable: when it began, the store's commit count then, and its commit generation
    /// when it was read (only while a filter of stored names is kept).
    Kept(Instant, u64, Option<i64>),
    /// A statement failed in it: the transaction is aborted, to be rolled back.
    Spoiled,
}

impl Conn {
    /// Begins a transaction with `begin` (statements without results), after rolling back the
    /// read transaction the connection keeps. A connection that fails here is not reused.
    pub(super) fn begin(&mut self, begin: &str) -> Result<()> {
        let sql = self.after_snapshot(begin);
        self.client.batch_execute(&sql).inspect_err(|_| {
            self.broken = true;
        })?;
        Ok(())
    }

    /// [`begin`](Self::begin) with statements whose results are wanted.
    fn begin_query(&mut self, begin: &str) -> Result<Vec<SimpleQueryMessage>> {
        let sql = self.after_snapshot(begin);
        Ok(self.client.simple_query(&sql).inspect_err(|_| {
            self.broken = true;
        })?)
    }

    /// `begin`, after a rollback of the read transaction the connection keeps, if any.
    fn after_snapshot(&mut self, begin: &str) -> String {
        match self.snapshot.take() {
            Some(_) => format!("ROLLBACK; {begin}"),
            None => begin.to_owned(),
        }
    }

    /// Ends the read transaction, if one is open.
    fn end_snapshot(&mut self) {
        if self.snapshot.take().is_some() {
            self.end("ROLLBACK");
        }
    }

    /// Marks the read transaction, if one is open, as not to be reused.
    pub(super) fn spoil(&mut self) {
        if self.snapshot.is_some() {
            self.snapshot = Some(Snapshot::Spoiled);
        }
    }

    fn stale(&self) -> bool {
        match self.snapshot {
            Some(Snapshot::Kept(began, ..)) => began.elapsed() >= SNAPSHOT_MAX_AGE,
            Some(Snapshot::Spoiled) => true,
            None => false,
        }
    }
}

/// The names of the store: the filter's source.
pub(super) struct StoredNames {
    pool: Pool<Manager>,
}

impl NameSource for StoredNames {
    fn read_filter(&self) -> Result<Option<NameFilter>> {
        self.in_snapshot(|client, generation, last_id| {
            let names: i64 = client
                .query_one("SELECT names FROM row_counts", &[])?
                .try_get(0)?;
            let Some(mut filter) =
                NameFilter::for_store(u64::try_from(names).unwrap_or(0), generation, last_id)
            else {
                return Ok(None);
            };
            let mut rows =
                client.query_raw("SELECT rev FROM names", std::iter::empty::<&dyn ToSql>())?;
            while let Some(row) = rows.next()? {
                filter.insert(row.try_get(0)?);
            }
            Ok(Some(filter))
        })
    }

    fn read_since(&self, after_id: i64, limit: u64) -> Result<Option<NamesSince>> {
        self.in_snapshot(|client, generation, last_id| {
            let rows =
                client.query(NAMES_SINCE, &[&after_id, &(limit.saturating_add(1) as i64)])?;
            let keys = rows
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<Vec<String>, _>>()?;
            Ok(NamesSince::within(limit, generation, last_id, keys))
        })
    }
}

impl StoredNames {
    /// `read` in a snapshot of its own, with the snapshot's commit generation and largest name
    /// id.
    fn in_snapshot<T>(
        &self,
        read: impl FnOnce(&mut ::postgres::Client, i64, i64) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.pool.get()?;
        conn.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let client = &mut conn.client;
        let result = client
            .query_one(GENERATION_AND_LAST_ID, &[])
            .map_err(StoreError::from)
            .and_then(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, i64>(1)?)))
            .and_then(|(generation, last_id)| read(client, generation, last_id));
        conn.end("ROLLBACK");
        result
    }
}

/// What every snapshot of commit `generation` sees alike, kept for the readers: the kind bits
/// and ids of zones' ancestors (`None`: not stored), and the IP prefixes in use.
#[derive(Default)]
pub(super) struct GenerationReads {
    generation: i64,
    ancestors: HashMap<String, Option<(i64, i64)>>,
    prefixes: Option<Vec<(usize, u8)>>,
}

impl GenerationReads {
    /// The kind bits and id of the ancestor `key` kept for snapshots of `generation`
    /// (`Some(None)`: not stored); `None` when none is kept.
    fn ancestor(&self, generation: i64, key: &str) -> Option<Option<(i64, i64)>> {
        if self.generation != generation {
            return None;
        }
        self.ancestors.get(key).copied()
    }

    /// Ready to keep what snapshots of `generation` read, unless it is older than what is kept.
    fn move_to(&mut self, generation: i64) {
        if generation > self.generation {
            *self = Self {
                generation,
                ..Self::default()
            };
        }
    }
}

/// The store's pool, how many commits went through the store, the sweeper, the tables known
/// to have planner statistics, whether names are known to be stored, and the readers' filter of
/// stored names.
pub(super) struct Shared {
    pub(super) pool: Pool<Manager>,
    commits: AtomicU64,
    sweeper: Sweeper,
    /// Tables a writer found or gave statistics (a table keeps them once it has them).
    pub(super) with_statistics: parking_lot::Mutex<HashSet<&'static str>>,
    /// Whether a writer found names stored
    /// ([`PgWriter::names_stored`](super::writer::PgWriter::names_stored)).
    pub(super) names_stored: AtomicBool,
    /// The readers' filter of stored names.
    pub(super) names: Arc<SharedFilter<StoredNames>>,
    reads: parking_lot::Mutex<GenerationReads>,
    /// The last snapshot begun with its generation read: when, the commits through the store
    /// then, and its generation. While a reader could still reuse it, what it shows of a zone
    /// the filter lacks can be told without a reader ([`knows_nothing_of`](Self::knows_nothing_of)).
    observed: parking_lot::Mutex<Option<(Instant, u64, i64)>>,
}

impl Shared {
    pub fn new(pool: Pool<Manager>) -> Arc<Self> {
        Arc::new(Self {
            commits: AtomicU64::new(0),
            sweeper: Sweeper::new(),
            with_statistics: parking_lot::Mutex::default(),
            names_stored: AtomicBool::new(false),
            names: Arc::new(SharedFilter::new(StoredNames { pool: pool.clone() })),
            reads: parking_lot::Mutex::default(),
            observed: parking_lot::Mutex::default(),
            pool,
        })
    }

    /// Called after every commit through the store, which began at commit `generation` and
    /// added `new` names: later readers take a new snapshot.
    pub fn committed(&self, generation: i64, new: NewNames) {
        self.names.committed(generation, new);
        self.commits.fetch_add(1, Ordering::Release);
    }

    /// Whether a write transaction should keep the names it adds for the readers' filter.
    pub fn keeps_new_names(&self) -> bool {
        self.names.wanted()
    }

    /// Builds the filter of stored names now, on this thread.
    pub fn build_name_filter(&self) -> Result<()> {
        self.names.build()
    }

    /// The commit generation of `conn`'s snapshot, when it was read (while a filter of stored
    /// names is kept).
    pub fn generation_of(&self, conn: &Conn) -> Option<i64> {
        let generation = match conn.snapshot {
            Some(Snapshot::Kept(_, _, generation)) => generation,
            _ => None,
        };
        if generation.is_none() {
            // No filter when the snapshot began (or none since): after enough such reads one
            // is built, on a thread of its own.
            self.names.fall_behind();
        }
        generation
    }

    /// The kind bits and ids of `ancestors` as snapshots of commit `generation` see them, those
    /// kept for it, the others read by `read` (the stored ones among the keys it is given).
    pub fn ancestor_kinds(
        &self,
        generation: i64,
        ancestors: &[&String],
        read: impl FnOnce(&[&str]) -> Result<Vec<(String, i64, i64)>>,
    ) -> Result<Vec<Option<(i64, i64)>>> {
        let missing: Vec<&str> = {
            let kept = self.reads.lock();
            ancestors
                .iter()
                .filter(|a| kept.ancestor(generation, a).is_none())
                .map(|a| a.as_str())
                .collect()
        };
        let read = if missing.is_empty() {
            Vec::new()
        } else {
            read(&missing)?
        };
        let mut kept = self.reads.lock();
        kept.move_to(generation);
        if kept.ancestors.len() > MAX_ANCESTORS_KEPT {
            kept.ancestors.clear();
        }
        let fresh = |key: &str| {
            read.iter()
                .find(|(rev, ..)| rev == key)
                .map(|&(_, kinds, id)| (kinds, id))
        };
        Ok(ancestors
            .iter()
            .map(|a| {
                if missing.contains(&a.as_str()) {
                    let found = fresh(a);
                    if kept.generation == generation {
                        kept.ancestors.insert((*a).clone(), found);
                    }
                    found
                } else {
                    kept.ancestors.get(*a).copied().flatten()
                }
            })
            .collect())
    }

    /// The IP prefixes in use (longest first per address length) as snapshots of commit
    /// `generation` see them: kept for it, or read by `read`.
    pub fn prefixes(
        &self,
        generation: i64,
        read: impl FnOnce() -> Result<Vec<(usize, u8)>>,
    ) -> Result<Vec<(usize, u8)>> {
        {
            let kept = self.reads.lock();
            if kept.generation == generation {
                if let Some(prefixes) = &kept.prefixes {
                    return Ok(prefixes.clone());
                }
            }
        }
        let prefixes = read()?;
        let mut kept = self.reads.lock();
        kept.move_to(generation);
        if kept.generation == generation {
            kept.prefixes = Some(prefixes.clone());
        }
        Ok(prefixes)
    }

    /// Whether readers may leave their snapshot open for the next one.
    pub fn keeps_snapshots(&self) -> bool {
        self.sweeper.running()
    }

    /// Puts `conn` in a read snapshot that sees every commit made through this store: the one
    /// it keeps, while fresh, else a new one.
    pub fn begin_read(self: &Arc<Self>, conn: &mut Conn) -> Result<()> {
        self.sweeper.start("postgres-snapshots", self, Self::sweep);
        // Read before the transaction begins: a commit racing with it only costs a refresh.
        let commits = self.commits.load(Ordering::Acquire);
        if let Some(Snapshot::Kept(began, seen, _)) = conn.snapshot {
            if seen == commits && began.elapsed() < SNAPSHOT_MAX_AGE {
                return Ok(());
            }
        }
        let generation = if self.names.wanted() {
            let messages = conn.begin_query(BEGIN_READ_GENERATION)?;
            let generation = messages
                .iter()
                .find_map(|m| match m {
                    SimpleQueryMessage::Row(row) => row.get(0),
                    _ => None,
                })
                .and_then(|g| g.parse::<i64>().ok());
            if generation.is_none() {
                // The transaction is open: the next reader rolls it back.
                conn.snapshot = Some(Snapshot::Spoiled);
                return Err(corrupt("the commit marker"));
            }
            generation
        } else {
            conn.begin(BEGIN_READ)?;
            None
        };
        let began = Instant::now();
        if let Some(generation) = generation {
            *self.observed.lock() = Some((began, commits, generation));
        }
        conn.snapshot = Some(Snapshot::Kept(began, commits, generation));
        Ok(())
    }

    /// Whether a reader would find nothing of the zone whose key is `zone_key`: no name at or
    /// below it, and no ancestor with kinds that reach below ([`kind::ABOVE`]), told without a
    /// reader. It is what a reader reusing the last snapshot begun would see: told only while
    /// that snapshot could be reused (snapshots are kept, it is younger than
    /// [`SNAPSHOT_MAX_AGE`] and nothing was committed through the store since), the filter
    /// lacks the zone as of its generation or later, and the ancestors the filter may hold are
    /// kept for its generation. `false` otherwise.
    pub fn knows_nothing_of(&self, zone_key: &str) -> bool {
        let Some((began, commits, generation)) = *self.observed.lock() else {
            return false;
        };
        let reusable = self.keeps_snapshots()
            && began.elapsed() < SNAPSHOT_MAX_AGE
            && commits == self.commits.load(Ordering::Acquire);
        if !reusable || !self.names.filtered(zone_key).lacks_in(generation) {
            return false;
        }
        // The ancestors' keys are the zone key's prefixes, one label shorter each.
        let ancestors: Vec<&str> =
            std::iter::successors(parent_key(zone_key), |a| parent_key(a)).collect();
        let held = self.names.may_hold(&ancestors, generation);
        let kept = self.reads.lock();
        held.iter().all(|a| match kept.ancestor(generation, a) {
            Some(Some((kinds, _))) => kinds & kind::ABOVE == 0,
            Some(None) => true,
            None => false,
        })
    }

    /// Ends the reader's transaction on `conn` unless snapshots are kept.
    pub fn end_read(&self, conn: &mut Conn) {
        if !self.keeps_snapshots() {
            conn.end_snapshot();
        }
    }

    /// Ends the stale snapshots of idle connections (those a reader could not reuse).
    fn sweep(&self) {
        let mut idle = Vec::new();
        for _ in 0..self.pool.state().idle_connections {
            match self.pool.try_get() {
                Some(conn) => idle.push(conn),
                None => break,
            }
        }
        for conn in idle.iter_mut().filter(|c| c.stale()) {
            conn.end_snapshot();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use threatintel_model::{DomainName, Evidence, IndicatorRecord, RiskLevel, Source};

    use super::super::PostgresStore;
    use crate::name_filter::Filtered;
    use crate::Store;

    /// A schema of its own on the suite's PostgreSQL, dropped at the end.
    struct Schema(String);

    const URL: &str = "host=127.0.0.1 port=5432 dbname=test user=postgres";

    impl Drop for Schema {
        fn drop(&mut self) {
            if let Ok(mut client) = ::postgres::Client::connect(URL, ::postgres::NoTls) {
                let _ =
                    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0));
            }
        }
    }

    fn put(store: &PostgresStore, name: &str) {
        let mut writer = store.writer().unwrap();
        writer
            .put(&Evidence::Source(Source {
                name: "feed".into(),
                reliability: threatintel_model::Reliability::B,
                default_threat_type: None,
            }))
            .unwrap();
        writer
            .put(&Evidence::Indicator(IndicatorRecord {
                name: DomainName::parse(name).unwrap(),
                zone: false,
                source: "feed".into(),
                threat_type: "C&C Server".into(),
                label: None,
                risk: RiskLevel::High,
                scenario: None,
                attack_stage: None,
                first_seen: chrono::DateTime::UNIX_EPOCH,
                last_seen: chrono::DateTime::UNIX_EPOCH,
                confidence: None,
                reference: None,
                via_url: false,
            }))
            .unwrap();
        writer.commit().unwrap();
    }

    /// After another process's commits, the filter catches up with the names they added (by
    /// their ids) once enough reads went without it.
    #[test]
    fn a_filter_behind_another_process_catches_up() {
        let schema = Schema(format!("name_filter_test_{}", std::process::id()));
        let store = PostgresStore::connect(URL, Some(&schema.0)).unwrap();
        put(&store, "www.first.com");
        store.prepare_reads().unwrap();
        let names = &store.shared.names;
        assert_eq!(names.filtered("com.first."), Filtered::MayHold);
        let behind = names.filtered("net.later.");
        assert!(matches!(behind, Filtered::Lacks { .. }), "{behind:?}");

        let other = PostgresStore::connect(URL, Some(&schema.0)).unwrap();
        put(&other, "a.later.net");
        put(&other, "b.again.org");
        for _ in 0..=256 {
            names.fall_behind();
        }
        let started = std::time::Instant::now();
        while names.filtered("org.again.") != Filtered::MayHold {
            assert!(started.elapsed() < Duration::from_secs(10), "not caught up");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(names.filtered("net.later."), Filtered::MayHold);
        assert!(matches!(
            names.filtered("net.never."),
            Filtered::Lacks { .. }
        ));
    }
}
