//! The SQLite store's reader connections, each keeping its read snapshot between reports.
//!
//! Starting and ending a read transaction costs SQLite three system calls (a lock on the WAL
//! index, a file-size check, the unlock): about a tenth of the API server's CPU per report. So
//! a connection given back to the pool keeps its transaction open, and the next report reuses
//! that snapshot while it is younger than [`SNAPSHOT_MAX_AGE`] and nothing has been committed
//! through this store since. A commit through the store is therefore seen by the very next
//! report; a commit by another process (a `threatintel import` next to a running server) within
//! [`SNAPSHOT_MAX_AGE`].
//!
//! The kind bits of the public suffixes reports ask about, and the sources' names and
//! reliabilities, outlive a snapshot: the next one keeps them unless SQLite's `data_version`
//! shows that another connection committed since they were read (readers never write), so a
//! report that starts a snapshot does not read them again, and a record's row (an indicator,
//! an address or file record) is read without a join to its source.
//! The pool also holds the readers' filter of stored names (`name_filter.rs`), which speaks for
//! the snapshots of its commit generation and earlier ones.
//!
//! An open snapshot holds back WAL checkpoints, so a sweeper thread, started with the first
//! reader, ends the snapshots of idle connections every [`SWEEP_EVERY`](crate::SWEEP_EVERY): an idle server holds
//! none. It stops when the store is dropped. If it cannot be started, snapshots are not kept.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rusqlite::{params, Connection};

use threatintel_model::Reliability;

use super::statements::{PreparedConnection, Statements};

use crate::name_filter::{
    NameFilter, NameSource, NamesSince, NewNames, SharedFilter, ZoneNames, GENERATION_AND_LAST_ID,
    NAMES_SINCE,
};
use crate::sweeper::{Sweeper, SNAPSHOT_MAX_AGE};
use crate::Result;

/// Idle reader connections, and how many commits went through the store.
pub(crate) struct ReaderPool {
    path: PathBuf,
    open: fn(&Path) -> Result<Connection>,
    idle: Mutex<Vec<PooledReader>>,
    commits: AtomicU64,
    sweeper: Sweeper,
    names: Arc<SharedFilter<StoredNames>>,
}

/// The names of the store at `path`, which `open` opens: the filter's source.
pub(crate) struct StoredNames {
    pub path: PathBuf,
    pub open: fn(&Path) -> Result<Connection>,
}

impl NameSource for StoredNames {
    fn read_filter(&self) -> Result<Option<NameFilter>> {
        let conn = (self.open)(&self.path)?;
        conn.execute_batch("BEGIN")?;
        let (generation, last_id) = generation_and_last_id(&conn)?;
        let names: i64 = conn.query_row("SELECT names FROM row_counts", [], |r| r.get(0))?;
        let Some(mut filter) =
            NameFilter::for_store(u64::try_from(names).unwrap_or(0), generation, last_id)
        else {
            return Ok(None);
        };
        let mut stmt = conn.prepare("SELECT rev FROM names")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            filter.insert(row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?);
        }
        Ok(Some(filter))
    }

    fn read_since(&self, after_id: i64, limit: u64) -> Result<Option<NamesSince>> {
        let conn = (self.open)(&self.path)?;
        conn.execute_batch("BEGIN")?;
        let (generation, last_id) = generation_and_last_id(&conn)?;
        let mut stmt = conn.prepare(NAMES_SINCE)?;
        let keys: Vec<String> = stmt
            .query_map(params![after_id, limit.saturating_add(1) as i64], |r| {
                r.get(0)
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(NamesSince::within(limit, generation, last_id, keys))
    }
}

/// The commit generation and the largest name id of `conn`'s snapshot.
fn generation_and_last_id(conn: &Connection) -> Result<(i64, i64)> {
    Ok(conn.query_row(GENERATION_AND_LAST_ID, [], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Sources by id: their name and reliability.
pub(crate) type SourceNames = HashMap<i64, (String, Reliability)>;

/// A reader connection and the read transaction it may hold.
pub(crate) struct PooledReader {
    conn: PreparedConnection,
    /// When the open read transaction began, and the store's commit count then.
    snapshot: Option<(Instant, u64)>,
    /// The IP prefix lengths in use as this snapshot sees them, once read: the reports that
    /// share the snapshot share them.
    prefixes: RefCell<Option<Vec<(usize, u8)>>>,
    /// The kind bits of the zones' ancestors `knows_zone` read, by key: they are public
    /// suffixes (`com.`), which most reports ask about again. Read in snapshots that all saw
    /// the database as of `data_version` [`Self::kept_version`].
    suffix_kinds: RefCell<HashMap<String, i64>>,
    /// Every source's name and reliability by id, once read.
    sources: RefCell<Option<SourceNames>>,
    /// The `data_version` of the snapshots `suffix_kinds` and `sources` were read in.
    kept_version: Option<i64>,
    /// The open snapshot's commit generation, once read. (`data_version` numbers only compare
    /// within a connection; the filter of stored names, shared by all, needs the generation.)
    generation: Cell<Option<i64>>,
}

impl PooledReader {
    /// Runs `f` with the connection's prepared statements.
    pub fn with<T>(&self, f: impl FnOnce(&Statements<'_>) -> T) -> T {
        self.conn.with(f)
    }

    /// The snapshot's IP prefix lengths in use (`None` until read).
    pub fn prefixes(&self) -> &RefCell<Option<Vec<(usize, u8)>>> {
        &self.prefixes
    }

    /// The kind bits of the zones' ancestors read so far, as this snapshot sees them.
    pub fn suffix_kinds(&self) -> &RefCell<HashMap<String, i64>> {
        &self.suffix_kinds
    }

    /// Every source's name and reliability by id, once read, as this snapshot sees them.
    pub fn sources(&self) -> &RefCell<Option<SourceNames>> {
        &self.sources
    }

    /// The open snapshot's commit generation (`commit_marker`), read once per snapshot.
    pub fn generation(&self) -> Result<i64> {
        if let Some(generation) = self.generation.get() {
            return Ok(generation);
        }
        let generation = self.with(|conn| -> Result<i64> {
            Ok(conn
                .prepare_cached("SELECT generation FROM commit_marker")?
                .query_row([], |r| r.get(0))?)
        })?;
        self.generation.set(Some(generation));
        Ok(generation)
    }

    /// Ends the read transaction, if one is open.
    fn end_snapshot(&mut self) -> Result<()> {
        if !self.conn.conn().is_autocommit() {
            self.with(|conn| -> Result<usize> { Ok(conn.prepare_cached("COMMIT")?.execute([])?) })?;
        }
        self.snapshot = None;
        self.prefixes.take();
        self.generation.set(None);
        Ok(())
    }

    /// Begins a read transaction, and drops the kept kind bits when another connection has
    /// committed since they were read. `PRAGMA data_version` reads the database, so it runs in
    /// the new snapshot and speaks of what that snapshot sees.
    fn begin_snapshot(&mut self, commits: u64) -> Result<()> {
        let version: i64 = self.with(|conn| -> Result<i64> {
            conn.prepare_cached("BEGIN")?.execute([])?;
            Ok(conn
                .prepare_cached("PRAGMA data_version")?
                .query_row([], |r| r.get(0))?)
        })?;
        self.snapshot = Some((Instant::now(), commits));
        self.generation.set(None);
        if self.kept_version != Some(version) {
            self.suffix_kinds.get_mut().clear();
            self.sources.get_mut().take();
            self.kept_version = Some(version);
        }
        Ok(())
    }

    fn fresh(&self, commits: u64) -> bool {
        self.snapshot.is_some_and(|(began, seen)| {
            seen == commits
                && began.elapsed() < SNAPSHOT_MAX_AGE
                && !self.conn.conn().is_autocommit()
        })
    }
}

impl ReaderPool {
    /// A pool of connections to `path`, each opened by `open` when none is idle.
    pub fn new(path: &Path, open: fn(&Path) -> Result<Connection>) -> Arc<Self> {
        Arc::new(Self {
            path: path.to_owned(),
            open,
            idle: Mutex::new(Vec::new()),
            commits: AtomicU64::new(0),
            sweeper: Sweeper::new(),
            names: Arc::new(SharedFilter::new(StoredNames {
                path: path.to_owned(),
                open,
            })),
        })
    }

    /// Called after every commit through the store, which began at commit `generation` and
    /// added `new` names: later reports take a new snapshot.
    pub fn committed(&self, generation: i64, new: NewNames) {
        self.names.committed(generation, new);
        self.commits.fetch_add(1, Ordering::Release);
    }

    /// Whether a write transaction should keep the names it adds for the readers' filter.
    pub fn keeps_new_names(&self) -> bool {
        self.names.wanted()
    }

    /// Whether the filter of stored names shows that no name with the key `zone_key`, or below
    /// it, is stored as `reader`'s snapshot sees the store ([`SharedFilter::zone_names`]).
    pub fn lacks(&self, zone_key: &str, reader: &PooledReader) -> Result<bool> {
        Ok(self.names.zone_names(zone_key, || reader.generation())? == ZoneNames::None)
    }

    /// Builds the filter of stored names now, on this thread.
    pub fn build_name_filter(&self) -> Result<()> {
        self.names.build()
    }

    /// A connection inside a read transaction that sees every commit made through this store.
    pub fn checkout(self: &Arc<Self>) -> Result<PooledReader> {
        let idle = self.idle.lock().pop();
        let mut reader = match idle {
            Some(reader) => reader,
            None => {
                self.sweeper.start("sqlite-snapshots", self, Self::sweep);
                PooledReader {
                    conn: PreparedConnection::open((self.open)(&self.path)?),
                    snapshot: None,
                    prefixes: RefCell::new(None),
                    suffix_kinds: RefCell::default(),
                    sources: RefCell::new(None),
                    kept_version: None,
                    generation: Cell::new(None),
                }
            }
        };
        // Read before the transaction begins: a commit racing with it only costs a refresh.
        let commits = self.commits.load(Ordering::Acquire);
        if reader.fresh(commits) {
            return Ok(reader);
        }
        reader.end_snapshot()?;
        reader.begin_snapshot(commits)?;
        Ok(reader)
    }

    /// Takes a connection back, its snapshot kept for the next report when the sweeper runs.
    pub fn give_back(&self, mut reader: PooledReader) {
        if !self.sweeper.running() && reader.end_snapshot().is_err() {
            // A connection that cannot end its transaction is closed.
            return;
        }
        self.idle.lock().push(reader);
    }

    /// Ends the snapshots of every idle connection (before a checkpoint).
    pub fn end_idle_snapshots(&self) {
        self.idle
            .lock()
            .retain_mut(|reader| reader.end_snapshot().is_ok());
    }

    /// Ends idle snapshots older than [`SNAPSHOT_MAX_AGE`]; closes connections that cannot.
    fn sweep(&self) {
        self.idle.lock().retain_mut(|reader| {
            let stale = reader
                .snapshot
                .is_some_and(|(began, _)| began.elapsed() >= SNAPSHOT_MAX_AGE);
            !stale || reader.end_snapshot().is_ok()
        });
    }
}
