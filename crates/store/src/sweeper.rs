//! The thread that ends idle read snapshots, shared by both backends' reader pools
//! (`sqlite/snapshots.rs`, `postgres/snapshots.rs`): started with a pool's first reader, it
//! sweeps the pool every [`SWEEP_EVERY`] and stops when the pool is dropped. A pool keeps
//! snapshots between readers only while its sweeper runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once, Weak};
use std::time::Duration;

/// How long a report may reuse a read snapshot; bounds how stale a report can be.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(10);
/// How often idle connections' snapshots are ended.
pub const SWEEP_EVERY: Duration = Duration::from_millis(100);

pub(crate) struct Sweeper {
    started: Once,
    running: AtomicBool,
}

impl Sweeper {
    pub const fn new() -> Self {
        Self {
            started: Once::new(),
            running: AtomicBool::new(false),
        }
    }

    /// Starts the thread `name` sweeping `pool` with `sweep`, once; a pool whose thread could
    /// not be started does not keep snapshots.
    pub fn start<P: Send + Sync + 'static>(&self, name: &str, pool: &Arc<P>, sweep: fn(&P)) {
        self.started.call_once(|| {
            let pool: Weak<P> = Arc::downgrade(pool);
            let started = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || loop {
                    std::thread::sleep(SWEEP_EVERY);
                    match pool.upgrade() {
                        Some(pool) => sweep(&pool),
                        None => return,
                    }
                });
            self.running.store(started.is_ok(), Ordering::Relaxed);
        });
    }

    /// Whether the thread runs, so that snapshots may be kept.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }
}
