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

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use r2d2::Pool;

use super::{Conn, Manager};
use crate::sweeper::{Sweeper, SNAPSHOT_MAX_AGE};
use crate::Result;

/// How a reader's transaction begins: one snapshot, and generic plans (see `PgReader::begin`).
const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
                          SET LOCAL plan_cache_mode = force_generic_plan";

/// A connection's read transaction, while one is open.
#[derive(Clone, Copy)]
pub(super) enum Snapshot {
    /// Reusable: when it began, and the store's commit count then.
    Kept(Instant, u64),
    /// A statement failed in it: the transaction is aborted, to be rolled back.
    Spoiled,
}

impl Conn {
    /// Begins a transaction with `begin` (statements without results), after rolling back the
    /// read transaction the connection keeps. A connection that fails here is not reused.
    pub(super) fn begin(&mut self, begin: &str) -> Result<()> {
        let sql = match self.snapshot.take() {
            Some(_) => format!("ROLLBACK; {begin}"),
            None => begin.to_owned(),
        };
        self.client.batch_execute(&sql).inspect_err(|_| {
            self.broken = true;
        })?;
        Ok(())
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
            Some(Snapshot::Kept(began, _)) => began.elapsed() >= SNAPSHOT_MAX_AGE,
            Some(Snapshot::Spoiled) => true,
            None => false,
        }
    }
}

/// The store's pool, how many commits went through the store, the sweeper, the tables known
/// to have planner statistics, and whether names are known to be stored.
pub(super) struct Shared {
    pub(super) pool: Pool<Manager>,
    commits: AtomicU64,
    sweeper: Sweeper,
    /// Tables a writer found or gave statistics (a table keeps them once it has them).
    pub(super) with_statistics: parking_lot::Mutex<HashSet<&'static str>>,
    /// Whether a writer found names stored
    /// ([`PgWriter::names_stored`](super::writer::PgWriter::names_stored)).
    pub(super) names_stored: AtomicBool,
}

impl Shared {
    pub fn new(pool: Pool<Manager>) -> Arc<Self> {
        Arc::new(Self {
            pool,
            commits: AtomicU64::new(0),
            sweeper: Sweeper::new(),
            with_statistics: parking_lot::Mutex::default(),
            names_stored: AtomicBool::new(false),
        })
    }

    /// Called after every commit through the store: later readers take a new snapshot.
    pub fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Release);
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
        if let Some(Snapshot::Kept(began, seen)) = conn.snapshot {
            if seen == commits && began.elapsed() < SNAPSHOT_MAX_AGE {
                return Ok(());
            }
        }
        conn.begin(BEGIN_READ)?;
        conn.snapshot = Some(Snapshot::Kept(Instant::now(), commits));
        Ok(())
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
