//! The embedded backend: one SQLite file in WAL mode, a pool of reader connections (which keep
//! their snapshots briefly, see [`snapshots`], and their prepared statements, see
//! [`statements`]) and one writer connection. Schema and key
//! layout: `schema.sql` and the migrations after it (`schema_2.sql` ... `schema_9.sql`).
//!
//! `reader.rs` answers the report's reads (skipping those the crate's `known_zone` shows would find
//! nothing, and a zone's names when [`name_filter`](crate::name_filter) shows it holds none); `writer.rs` is the
//! write transaction with its bulk path for indicators.

mod reader;
mod snapshots;
mod statements;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

use self::reader::SqliteReader;
use self::snapshots::ReaderPool;
#[cfg(test)]
pub(crate) use self::snapshots::StoredNames;
use self::writer::SqliteWriter;
use crate::{Result, Store, StoreError, StoreReader, StoreWriter};

/// Page cache of the writer connection, in MiB, unless configured.
pub const DEFAULT_WRITE_CACHE_MIB: u32 = 256;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("schema_2.sql"),
    include_str!("schema_3.sql"),
    include_str!("schema_4.sql"),
    include_str!("schema_5.sql"),
    include_str!("schema_6.sql"),
    include_str!("schema_7.sql"),
    include_str!("schema_8.sql"),
    include_str!("schema_9.sql"),
];

/// Page size of a new store: fewer, larger pages make bulk inserts and range scans cheaper.
/// SQLite keeps an existing file's page size.
const PAGE_SIZE: u32 = 16384;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

fn configure(conn: &Connection) -> Result<()> {
    // The page size only takes effect on a new file, and only before WAL mode is set.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA busy_timeout = 10000;
         PRAGMA cache_size = -65536;
         PRAGMA mmap_size = 1073741824;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The embedded store. Cheap to share behind an `Arc`; reads run in parallel.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Arc<ReaderPool>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store file at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_cache(path, DEFAULT_WRITE_CACHE_MIB)
    }

    /// [`open`](Self::open) with the writer's page cache in MiB: imports insert at random key
    /// positions, and a cache that holds the indexes' pages makes large imports faster.
    pub fn open_with_cache(path: &Path, write_cache_mib: u32) -> Result<Self> {
        let open_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: path.display().to_string(),
            source: e,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(Box::new(e)))?;
        }
        let mut writer = Connection::open(path).map_err(|e| open_err(Box::new(e)))?;
        configure(&writer)?;
        writer.pragma_update(
            None,
            "cache_size",
            -1024 * i64::from(write_cache_mib.max(2)),
        )?;
        migrate(&mut writer, path)?;
        checkpoint(&writer);
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: ReaderPool::new(path, open_reader),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Schema version of the open store.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .writer
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

/// Copies the pages the write-ahead log holds into the database file, as far as no reader
/// still needs them, without waiting for anyone (`PASSIVE`). Once every page is copied, new
/// read transactions ignore the log and read the file through the memory map; until then each
/// page read looks in the log's index first and reads through the shared page cache, several
/// times the CPU of a report (a store just imported into, with a log of 150 MB, cost a report
/// of an unknown name 4x the CPU). SQLite checkpoints by itself after commits, but not past a
/// snapshot a reader holds, so an import ends, and a store opens, with this one. Best effort:
/// a log that cannot be copied now is copied by a later checkpoint.
fn checkpoint(conn: &Connection) {
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.readers.end_idle_snapshots();
        checkpoint(&self.writer.lock());
    }
}

/// A read-only connection for the reader pool.
fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::SchemaTooNew {
            path: path.display().to_string(),
            found,
            known,
        });
    }
    let tx = conn.transaction()?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

impl Store for SqliteStore {
    fn reader(&self) -> Result<Box<dyn StoreReader + '_>> {
        Ok(Box::new(SqliteReader::new(&self.readers)?))
    }

    fn prepare_reads(&self) -> Result<()> {
        self.readers.build_name_filter()
    }

    fn writer(&self) -> Result<Box<dyn StoreWriter + '_>> {
        Ok(Box::new(SqliteWriter::begin(
            self.writer.lock(),
            &self.readers,
        )?))
    }
}
