//! The embedded backend: one SQLite file in WAL mode, a pool of reader connections (which keep
//! their snapshots briefly, see [`crate::snapshots`]) and one writer connection. Schema and key
//! layout: `schema.sql` and the migrations after it (`schema_2.sql`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use chrono::{TimeZone, Utc};
use parking_lot::{Mutex, MutexGuard};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use threatintel_model::{
    mask, Allowlist, AllowlistEntry, Certificate, DomainName, DomainQuery, Evidence,
    IndicatorRecord, IpIntel, IpNetwork, Resolution, SecurityEvent, Source, Timestamp, WhoisRecord,
};

use crate::known_zone::KnownZone;
use crate::layout::{
    allowlist_kind, allowlist_kind_str, ip_bytes, ip_from_bytes, key, key_end, kind, matching,
    matching_str, name_from_key, newest_first, outcome, reliability, risk, scope_range,
    sorted_keyed,
};
use crate::snapshots::{PooledReader, ReaderPool};
use crate::{
    AllowlistHit, EventTotal, FeedState, IndicatorHit, PutOutcome, ResolvedIp, Result,
    SourceSummary, Store, StoreError, StoreReader, StoreStats, StoreWriter, WriteSummary,
};

/// Page cache of the writer connection, in MiB, unless configured.
pub const DEFAULT_WRITE_CACHE_MIB: u32 = 256;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[include_str!("schema.sql"), include_str!("schema_2.sql")];

/// Page size of a new store: fewer, larger pages make bulk inserts and range scans cheaper.
/// SQLite keeps an existing file's page size.
const PAGE_SIZE: u32 = 16384;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

fn ts(secs: i64) -> Result<Timestamp> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("time {secs} out of range")))
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

const INDICATOR_COLUMNS: &str = "n.rev, i.zone, s.name, i.threat_type, i.label, i.risk, i.scenario, \
     i.attack_stage, i.first_seen, i.last_seen, i.confidence, i.reference, s.reliability, i.sightings, i.via_url";

fn indicator_hit(row: &Row<'_>) -> Result<IndicatorHit> {
    let label: String = row.get(4)?;
    Ok(IndicatorHit {
        record: IndicatorRecord {
            name: name_from_key(&row.get::<_, String>(0)?)?,
            zone: row.get(1)?,
            source: row.get(2)?,
            threat_type: row.get(3)?,
            label: (!label.is_empty()).then_some(label),
            risk: risk(row.get(5)?)?,
            scenario: row.get(6)?,
            attack_stage: row.get(7)?,
            first_seen: ts(row.get(8)?)?,
            last_seen: ts(row.get(9)?)?,
            confidence: row.get(10)?,
            reference: row.get(11)?,
            via_url: row.get(14)?,
        },
        reliability: reliability(&row.get::<_, String>(12)?)?,
        sightings: row.get::<_, i64>(13)? as u64,
    })
}

fn allowlist_hit(row: &Row<'_>) -> Result<AllowlistHit> {
    let matching = matching(&row.get::<_, String>(2)?)?;
    Ok(AllowlistHit {
        entry: AllowlistEntry {
            name: name_from_key(&row.get::<_, String>(0)?)?,
            list: row.get(1)?,
            matching,
            rank: row.get(3)?,
        },
        kind: allowlist_kind(&row.get::<_, String>(4)?)?,
    })
}

const ALLOWLIST_COLUMNS: &str = "n.rev, l.name, e.matching, e.rank, l.kind";

// The report's queries, built once: a statement is looked up in the cache by its text.
static INDICATORS_AT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INDICATOR_COLUMNS} FROM names n JOIN indicators i ON i.name_id = n.id \
         JOIN sources s ON s.id = i.source_id WHERE n.rev = ?1"
    )
});
static INDICATORS_BELOW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INDICATOR_COLUMNS} FROM names n JOIN indicators i ON i.name_id = n.id \
         JOIN sources s ON s.id = i.source_id WHERE n.rev >= ?1 AND n.rev < ?2 AND n.kinds & {INDICATOR_KINDS} != 0"
    )
});
/// The kinds of a name with indicator records.
const INDICATOR_KINDS: i64 = kind::INDICATOR | kind::ZONE_INDICATOR;
static ALLOWLIST_AT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ALLOWLIST_COLUMNS} FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
         JOIN allowlists l ON l.id = e.list_id WHERE n.rev = ?1 AND l.enabled = 1"
    )
});
static ALLOWLIST_BELOW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ALLOWLIST_COLUMNS} FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
         JOIN allowlists l ON l.id = e.list_id \
         WHERE n.rev >= ?1 AND n.rev < ?2 AND n.kinds & {} != 0 AND l.enabled = 1",
        kind::ALLOWLIST
    )
});
static COUNT_NAMES_BELOW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT count(*) FROM names WHERE rev > ?1 AND rev < ?2 AND kinds & {} != 0",
        kind::COUNTED
    )
});
static NAMES_BELOW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT rev FROM names WHERE rev > ?1 AND rev < ?2 AND kinds & {} != 0 ORDER BY rev LIMIT ?3",
        kind::COUNTED
    )
});

fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

static EVERY_INDICATOR: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INDICATOR_COLUMNS} FROM names n JOIN indicators i ON i.name_id = n.id \
         JOIN sources s ON s.id = i.source_id WHERE n.kinds & {INDICATOR_KINDS} != 0 ORDER BY n.rev"
    )
});
static EVERY_ALLOWLIST_ENTRY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ALLOWLIST_COLUMNS} FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
         JOIN allowlists l ON l.id = e.list_id \
         WHERE n.kinds & {} != 0 AND l.enabled = 1 ORDER BY n.rev",
        kind::ALLOWLIST
    )
});

/// Hands each row of `sql` to `visit`, mapped, until the rows end or `visit` breaks.
fn each_row<T>(
    conn: &Connection,
    sql: &str,
    map: impl Fn(&Row<'_>) -> Result<T>,
    visit: &mut dyn FnMut(T) -> ControlFlow<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        if visit(map(row)?).is_break() {
            break;
        }
    }
    Ok(())
}

impl Store for SqliteStore {
    fn reader(&self) -> Result<Box<dyn StoreReader + '_>> {
        Ok(Box::new(SqliteReader {
            readers: &self.readers,
            pooled: Some(self.readers.checkout()?),
            known: RefCell::new(None),
        }))
    }

    fn writer(&self) -> Result<Box<dyn StoreWriter + '_>> {
        let conn = self.writer.lock();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteWriter {
            conn,
            readers: &self.readers,
            open: true,
            sources: HashMap::new(),
            lists: HashMap::new(),
            next_name_id: None,
            summary: WriteSummary::default(),
        }))
    }
}

/// A read transaction on a pooled connection; the connection goes back to the pool on drop.
struct SqliteReader<'a> {
    readers: &'a ReaderPool,
    pooled: Option<PooledReader>,
    /// The zone of the last `knows_zone`, when it was small enough to keep.
    known: RefCell<Option<KnownZone>>,
}

impl Drop for SqliteReader<'_> {
    fn drop(&mut self) {
        if let Some(pooled) = self.pooled.take() {
            self.readers.give_back(pooled);
        }
    }
}

impl SqliteReader<'_> {
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        f(self.pooled.as_ref().expect("present until drop").conn())
    }

    /// Whether the known zone shows that no name in `lo..hi` carries one of `kinds`.
    fn known_none_in(&self, lo: &str, hi: &str, kinds: i64) -> bool {
        let known = self.known.borrow();
        known.as_ref().is_some_and(|z| z.none_in(lo, hi, kinds))
    }

    /// Whether the known zone shows that the name `key` carries none of `kinds`.
    fn known_none_at(&self, key: &str, kinds: i64) -> bool {
        let known = self.known.borrow();
        known.as_ref().is_some_and(|z| z.none_at(key, kinds))
    }

    /// The rows `sql` (`n.rev = ?1`) finds for each of `names` that may carry one of `kinds`,
    /// in the order of `names`.
    fn rows_at<T>(
        &self,
        sql: &str,
        names: &[DomainName],
        kinds: i64,
        map: impl Fn(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.read(|conn| {
            let mut out = Vec::new();
            for k in names.iter().map(key) {
                if !self.known_none_at(&k, kinds) {
                    out.extend(collect(conn, sql, [k], &map)?);
                }
            }
            Ok(out)
        })
    }

    /// The rows `sql` (`n.rev >= ?1 AND n.rev < ?2`) finds in `zone` and below it, unless no
    /// name there carries one of `kinds`.
    fn rows_below<T>(
        &self,
        sql: &str,
        zone: &DomainName,
        kinds: i64,
        map: impl Fn(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let k = key(zone);
        let end = key_end(&k);
        if self.known_none_in(&k, &end, kinds) {
            return Ok(Vec::new());
        }
        self.read(|conn| collect(conn, sql, params![k, end], map))
    }

    /// `use_children` applied to the keys, in order, of the names strictly below `zone` that
    /// count as its children, when the known zone covers `zone`.
    fn known_children<T>(
        &self,
        zone: &DomainName,
        use_children: impl FnOnce(&mut dyn Iterator<Item = &str>) -> T,
    ) -> Option<T> {
        let k = key(zone);
        let end = key_end(&k);
        let known = self.known.borrow();
        let mut children = known
            .as_ref()?
            .names_in(&k, &end)?
            .filter(|(name, kinds)| *name != k && kinds & kind::COUNTED != 0)
            .map(|(name, _)| name);
        Some(use_children(&mut children))
    }

    /// WHOIS records of `domain`, newest first; `limit` < 0 means all.
    fn whois(&self, domain: &DomainName, limit: i64) -> Result<Vec<WhoisRecord>> {
        let k = key(domain);
        if self.known_none_at(&k, kind::WHOIS) {
            return Ok(Vec::new());
        }
        self.read(|conn| {
            collect(
                conn,
                "SELECT w.record FROM names n JOIN whois w ON w.name_id = n.id WHERE n.rev = ?1 \
                 ORDER BY w.observed_at DESC LIMIT ?2",
                params![k, limit],
                |r| Ok(serde_json::from_str(&r.get::<_, String>(0)?)?),
            )
        })
    }
}

impl StoreReader for SqliteReader<'_> {
    /// Reads the zone's names (up to [`KnownZone::MAX_NAMES`]) and its ancestors' kinds, and
    /// keeps them for the reads that follow.
    fn knows_zone(&self, zone: &DomainName) -> Result<bool> {
        let k = key(zone);
        let known = self.read(|conn| {
            let names: Vec<(String, i64)> = collect(
                conn,
                "SELECT rev, kinds FROM names WHERE rev >= ?1 AND rev < ?2 ORDER BY rev LIMIT ?3",
                params![k, key_end(&k), KnownZone::MAX_NAMES as i64 + 1],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if names.len() > KnownZone::MAX_NAMES {
                return Ok(None);
            }
            let mut above = conn.prepare_cached("SELECT kinds FROM names WHERE rev = ?1")?;
            let ancestors = zone
                .ancestors()
                .map(|ancestor| {
                    let k = key(&ancestor);
                    let kinds: Option<i64> = above.query_row([&k], |r| r.get(0)).optional()?;
                    Ok((k, kinds.unwrap_or(0)))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(KnownZone::new(k, names, ancestors)))
        })?;
        // A zone with more names than are kept is known.
        let knows = known.as_ref().is_none_or(|z| z.knows(kind::ABOVE));
        *self.known.borrow_mut() = known;
        Ok(knows)
    }

    fn indicators_at(&self, names: &[DomainName]) -> Result<Vec<IndicatorHit>> {
        self.rows_at(&INDICATORS_AT, names, INDICATOR_KINDS, indicator_hit)
    }

    fn indicators_below(&self, zone: &DomainName) -> Result<Vec<IndicatorHit>> {
        self.rows_below(&INDICATORS_BELOW, zone, INDICATOR_KINDS, indicator_hit)
    }

    fn allowlist_at(&self, names: &[DomainName]) -> Result<Vec<AllowlistHit>> {
        self.rows_at(&ALLOWLIST_AT, names, kind::ALLOWLIST, allowlist_hit)
    }

    fn allowlist_below(&self, zone: &DomainName) -> Result<Vec<AllowlistHit>> {
        self.rows_below(&ALLOWLIST_BELOW, zone, kind::ALLOWLIST, allowlist_hit)
    }

    fn count_names_below(&self, zone: &DomainName) -> Result<u64> {
        if let Some(count) = self.known_children(zone, |children| children.count()) {
            return Ok(count as u64);
        }
        let k = key(zone);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&COUNT_NAMES_BELOW)?;
            Ok(stmt.query_row(params![k, key_end(&k)], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    fn names_below(&self, zone: &DomainName, limit: usize) -> Result<Vec<DomainName>> {
        let known = self.known_children(zone, |children| {
            children.take(limit).map(name_from_key).collect()
        });
        if let Some(names) = known {
            return names;
        }
        let k = key(zone);
        self.read(|conn| {
            collect(
                conn,
                &NAMES_BELOW,
                params![k, key_end(&k), limit.min(i64::MAX as usize) as i64],
                |r| name_from_key(&r.get::<_, String>(0)?),
            )
        })
    }

    fn latest_whois(&self, domain: &DomainName) -> Result<Option<WhoisRecord>> {
        Ok(self.whois(domain, 1)?.pop())
    }

    fn whois_history(&self, domain: &DomainName) -> Result<Vec<WhoisRecord>> {
        self.whois(domain, -1)
    }

    fn certificates(&self, name: &DomainName) -> Result<Vec<Certificate>> {
        let exact = key(name);
        let parent = name.parent().map(|p| key(&p));
        let none_by_wildcard = parent
            .as_ref()
            .is_none_or(|p| self.known_none_at(p, kind::CERTIFICATE_WILDCARD));
        if none_by_wildcard && self.known_none_at(&exact, kind::CERTIFICATE) {
            return Ok(Vec::new());
        }
        let parent = parent.unwrap_or_default();
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT c.record FROM names n \
                 JOIN certificate_names cn ON cn.name_id = n.id AND cn.wildcard = 0 \
                 JOIN certificates c ON c.id = cn.cert_id WHERE n.rev = ?1 \
                 UNION ALL \
                 SELECT c.record FROM names n \
                 JOIN certificate_names cn ON cn.name_id = n.id AND cn.wildcard = 1 \
                 JOIN certificates c ON c.id = cn.cert_id WHERE n.rev = ?2",
            )?;
            let mut all: Vec<Certificate> = Vec::new();
            let mut rows = stmt.query(params![exact, parent])?;
            while let Some(row) = rows.next()? {
                all.push(serde_json::from_str(&row.get::<_, String>(0)?)?);
            }
            Ok(newest_first(all))
        })
    }

    fn resolved_ips(
        &self,
        scope: &DomainQuery,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<ResolvedIp>> {
        let (lo, hi) = scope_range(scope);
        if self.known_none_in(&lo, &hi, kind::RESOLUTION) {
            return Ok(Vec::new());
        }
        self.read(|conn| {
            collect(
                conn,
                "SELECT r.ip, min(r.first_seen), max(r.last_seen), sum(r.count) \
                 FROM names n JOIN resolutions r ON r.name_id = n.id \
                 WHERE n.rev >= ?1 AND n.rev < ?2 AND r.last_seen >= ?3 AND r.first_seen <= ?4 \
                 GROUP BY r.ip ORDER BY r.ip",
                params![lo, hi, since.timestamp(), until.timestamp()],
                |r| {
                    Ok(ResolvedIp {
                        ip: ip_from_bytes(&r.get::<_, Vec<u8>>(0)?)?,
                        first_seen: ts(r.get(1)?)?,
                        last_seen: ts(r.get(2)?)?,
                        count: r.get::<_, i64>(3)? as u64,
                    })
                },
            )
        })
    }

    fn ip_intel(&self, ips: &[IpAddr]) -> Result<Vec<(IpAddr, IpIntel)>> {
        if ips.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|conn| {
            let prefixes: Vec<(usize, u8)> =
                collect(conn, "SELECT octets, prefix FROM ip_prefixes", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let mut out = Vec::new();
            for &ip in ips {
                let octets = if ip.is_ipv4() { 4 } else { 16 };
                for &(_, prefix) in prefixes.iter().filter(|(o, _)| *o == octets) {
                    let network = IpNetwork::new(ip, prefix)
                        .map_err(|e| StoreError::Corrupt(format!("stored prefix: {e}")))?;
                    let hits = collect(
                        conn,
                        "SELECT s.name, p.risk, p.threat_type FROM ip_intel p JOIN sources s ON s.id = p.source_id \
                         WHERE p.network = ?1 AND p.prefix = ?2",
                        params![ip_bytes(mask(ip, prefix)), prefix],
                        |r| {
                            Ok(IpIntel {
                                network,
                                source: r.get(0)?,
                                risk: risk(r.get(1)?)?,
                                threat_type: r.get(2)?,
                            })
                        },
                    )?;
                    out.extend(hits.into_iter().map(|hit| (ip, hit)));
                }
            }
            Ok(out)
        })
    }

    fn event_totals(&self, scope: &DomainQuery, until: Timestamp) -> Result<Vec<EventTotal>> {
        let (lo, hi) = scope_range(scope);
        if self.known_none_in(&lo, &hi, kind::EVENT) {
            return Ok(Vec::new());
        }
        self.read(|conn| {
            collect(
                conn,
                "SELECT e.industry, e.stage, sum(e.count), max(e.time) \
                 FROM names n JOIN events e ON e.name_id = n.id \
                 WHERE n.rev >= ?1 AND n.rev < ?2 AND n.kinds & 16 != 0 AND e.time <= ?3 \
                 GROUP BY e.industry, e.stage ORDER BY e.industry, e.stage",
                params![lo, hi, until.timestamp()],
                |r| {
                    Ok(EventTotal {
                        industry: r.get(0)?,
                        stage: r.get(1)?,
                        count: r.get::<_, i64>(2)? as u64,
                        last: ts(r.get(3)?)?,
                    })
                },
            )
        })
    }

    fn sources(&self) -> Result<Vec<SourceSummary>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT s.name, s.reliability, s.default_threat_type, s.last_import, coalesce(c.n, 0) \
                 FROM sources s LEFT JOIN (SELECT source_id, count(*) AS n FROM indicators GROUP BY source_id) c \
                 ON c.source_id = s.id ORDER BY s.name",
                [],
                |r| {
                    Ok(SourceSummary {
                        source: Source {
                            name: r.get(0)?,
                            reliability: reliability(&r.get::<_, String>(1)?)?,
                            default_threat_type: r.get(2)?,
                        },
                        last_import: r.get::<_, Option<i64>>(3)?.map(ts).transpose()?,
                        indicators: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
        })
    }

    fn each_indicator(&self, visit: &mut dyn FnMut(IndicatorHit) -> ControlFlow<()>) -> Result<()> {
        self.read(|conn| each_row(conn, &EVERY_INDICATOR, indicator_hit, visit))
    }

    fn each_allowlist_entry(
        &self,
        visit: &mut dyn FnMut(AllowlistHit) -> ControlFlow<()>,
    ) -> Result<()> {
        self.read(|conn| each_row(conn, &EVERY_ALLOWLIST_ENTRY, allowlist_hit, visit))
    }

    fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        self.read(|conn| {
            let row: Option<(Option<String>, Option<String>, i64)> = conn
                .prepare_cached(
                    "SELECT etag, last_modified, refreshed_at FROM feed_state WHERE name = ?1",
                )?
                .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            row.map(|(etag, last_modified, at)| {
                Ok(FeedState {
                    name: name.to_owned(),
                    etag,
                    last_modified,
                    refreshed_at: ts(at)?,
                })
            })
            .transpose()
        })
    }

    fn stats(&self) -> Result<StoreStats> {
        self.read(|conn| {
            let count = |table: &str| -> Result<u64> {
                Ok(
                    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                        r.get::<_, i64>(0)
                    })? as u64,
                )
            };
            Ok(StoreStats {
                names: count("names")?,
                sources: count("sources")?,
                indicators: count("indicators")?,
                allowlists: count("allowlists")?,
                allowlist_entries: count("allowlist_entries")?,
                whois_records: count("whois")?,
                certificates: count("certificates")?,
                resolutions: count("resolutions")?,
                ip_intel: count("ip_intel")?,
                events: count("events")?,
            })
        })
    }
}

/// A write transaction on the writer connection (`BEGIN IMMEDIATE` .. `COMMIT`).
struct SqliteWriter<'a> {
    conn: MutexGuard<'a, Connection>,
    /// Told of the commit, so that readers take a new snapshot.
    readers: &'a ReaderPool,
    open: bool,
    sources: HashMap<String, i64>,
    lists: HashMap<String, i64>,
    /// The next id `names` hands out, read from `name_counter` on first use, written back on commit.
    next_name_id: Option<i64>,
    summary: WriteSummary,
}

impl Drop for SqliteWriter<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report to: a failed rollback leaves SQLite to roll back on next open.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The id `sql` finds for `name`, remembered in `cache` for the rest of the transaction.
fn cached_id(
    conn: &Connection,
    cache: &mut HashMap<String, i64>,
    sql: &str,
    name: &str,
) -> Result<Option<i64>> {
    if let Some(id) = cache.get(name) {
        return Ok(Some(*id));
    }
    let id: Option<i64> = conn
        .prepare_cached(sql)?
        .query_row([name], |r| r.get(0))
        .optional()?;
    if let Some(id) = id {
        cache.insert(name.to_owned(), id);
    }
    Ok(id)
}

/// The id of source `name`, remembered in `cache` for the rest of the transaction.
fn source_id_in(conn: &Connection, cache: &mut HashMap<String, i64>, name: &str) -> Result<i64> {
    cached_id(conn, cache, "SELECT id FROM sources WHERE name = ?1", name)?
        .ok_or_else(|| StoreError::UnknownSource(name.to_owned()))
}

/// Records a bulk statement writes at once (see `put_batch`).
const GROUP: usize = 64;

/// Parameters of one indicator row in [`INDICATOR_INSERT`].
const INDICATOR_PARAMS: usize = 13;

/// `INSERT INTO names` of [`GROUP`] rows (rev, id, kinds), ignoring names that exist.
static NAMES_INSERT_GROUP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT OR IGNORE INTO names (rev, id, kinds) VALUES {}",
        vec!["(?, ?, ?)"; GROUP].join(", ")
    )
});

/// `INSERT INTO indicators` of one row (`[0]`) and of [`GROUP`] rows (`[1]`), parameters as
/// [`bind_indicator`] binds them.
static INDICATOR_INSERT: LazyLock<[String; 2]> = LazyLock::new(|| {
    let rows = |n: usize| {
        let row = format!("({})", vec!["?"; INDICATOR_PARAMS].join(", "));
        format!(
            "INSERT INTO indicators (name_id, zone, source_id, threat_type, label, risk, scenario, \
             attack_stage, first_seen, last_seen, confidence, reference, via_url) VALUES {}",
            vec![row; n].join(", ")
        )
    };
    [rows(1), rows(GROUP)]
});

/// The re-sighting of an indicator with its identity, parameters as [`bind_indicator`] binds them.
const INDICATOR_UPDATE: &str =
    "UPDATE indicators SET risk = ?6, scenario = ?7, attack_stage = ?8, \
     first_seen = min(first_seen, ?9), last_seen = max(last_seen, ?10), confidence = ?11, \
     reference = ?12, via_url = via_url AND ?13, sightings = sightings + 1 \
     WHERE name_id = ?1 AND zone = ?2 AND source_id = ?3 AND threat_type = ?4 AND label = ?5";

/// Binds `rec` to parameters `offset + 1 ..= offset + 13` of `stmt`, in [`INDICATOR_INSERT`]'s order.
fn bind_indicator(
    stmt: &mut rusqlite::Statement<'_>,
    offset: usize,
    name_id: i64,
    source_id: i64,
    rec: &IndicatorRecord,
) -> Result<()> {
    stmt.raw_bind_parameter(offset + 1, name_id)?;
    stmt.raw_bind_parameter(offset + 2, rec.zone)?;
    stmt.raw_bind_parameter(offset + 3, source_id)?;
    stmt.raw_bind_parameter(offset + 4, &rec.threat_type)?;
    stmt.raw_bind_parameter(offset + 5, rec.label.as_deref().unwrap_or(""))?;
    stmt.raw_bind_parameter(offset + 6, rec.risk.code())?;
    stmt.raw_bind_parameter(offset + 7, &rec.scenario)?;
    stmt.raw_bind_parameter(offset + 8, &rec.attack_stage)?;
    stmt.raw_bind_parameter(offset + 9, rec.first_seen.timestamp())?;
    stmt.raw_bind_parameter(offset + 10, rec.last_seen.timestamp())?;
    stmt.raw_bind_parameter(offset + 11, rec.confidence)?;
    stmt.raw_bind_parameter(offset + 12, &rec.reference)?;
    stmt.raw_bind_parameter(offset + 13, rec.via_url)?;
    Ok(())
}

fn indicator_kinds(rec: &IndicatorRecord) -> i64 {
    if rec.zone {
        kind::ZONE_INDICATOR
    } else {
        kind::INDICATOR
    }
}

impl SqliteWriter<'_> {
    /// The id of `name`, creating it, with `kinds` added to its kind bits.
    fn name_id(&mut self, name: &DomainName, kinds: i64) -> Result<i64> {
        Ok(self.name_entry(&key(name), kinds)?.0)
    }

    /// The id of the name with key `rev` and whether this call created it, with `kinds` added
    /// to its kind bits. (Plain statements: an UPSERT with RETURNING costs SQLite an ephemeral table per row.)
    fn name_entry(&mut self, rev: &str, kinds: i64) -> Result<(i64, bool)> {
        let id = self.next_name_id()?;
        // Bulk imports mostly bring new names: try the insert first.
        let inserted = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO names (rev, id, kinds) VALUES (?1, ?2, ?3)")?
            .execute(params![rev, id, kinds])?;
        if inserted == 1 {
            self.next_name_id = Some(id + 1);
            return Ok((id, true));
        }
        self.existing_name(rev, kinds).map(|id| (id, false))
    }

    /// The id of the stored name `rev`, with `kinds` added to its kind bits.
    fn existing_name(&self, rev: &str, kinds: i64) -> Result<i64> {
        let (id, had): (i64, i64) = self
            .conn
            .prepare_cached("SELECT id, kinds FROM names WHERE rev = ?1")?
            .query_row([rev], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if had & kinds != kinds {
            self.conn
                .prepare_cached("UPDATE names SET kinds = ?2 WHERE rev = ?1")?
                .execute(params![rev, had | kinds])?;
        }
        Ok(id)
    }

    fn source_id(&mut self, name: &str) -> Result<i64> {
        source_id_in(&self.conn, &mut self.sources, name)
    }

    fn list_id(&mut self, name: &str) -> Result<i64> {
        cached_id(
            &self.conn,
            &mut self.lists,
            "SELECT id FROM allowlists WHERE name = ?1",
            name,
        )?
        .ok_or_else(|| StoreError::UnknownAllowlist(name.to_owned()))
    }

    fn put_source(&mut self, source: &Source) -> Result<PutOutcome> {
        let existed = self.source_id(&source.name).is_ok();
        let id: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO sources (name, reliability, default_threat_type) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET reliability = excluded.reliability, \
                 default_threat_type = excluded.default_threat_type RETURNING id",
            )?
            .query_row(
                params![
                    source.name,
                    source.reliability.to_string(),
                    source.default_threat_type
                ],
                |r| r.get(0),
            )?;
        self.sources.insert(source.name.clone(), id);
        Ok(outcome(!existed))
    }

    fn put_indicator(&mut self, rec: &IndicatorRecord) -> Result<PutOutcome> {
        let (name_id, new_name) = self.name_entry(&key(&rec.name), indicator_kinds(rec))?;
        self.put_indicator_at(rec, name_id, new_name)
    }

    /// `rec` under the name `name_id`: an update of the record with its identity, else an insert.
    fn put_indicator_at(
        &mut self,
        rec: &IndicatorRecord,
        name_id: i64,
        new_name: bool,
    ) -> Result<PutOutcome> {
        let source_id = self.source_id(&rec.source)?;
        // A name created just now cannot have records yet: skip the update attempt.
        let updated = !new_name && {
            let mut update = self.conn.prepare_cached(INDICATOR_UPDATE)?;
            bind_indicator(&mut update, 0, name_id, source_id, rec)?;
            update.raw_execute()? == 1
        };
        if !updated {
            let mut insert = self.conn.prepare_cached(&INDICATOR_INSERT[0])?;
            bind_indicator(&mut insert, 0, name_id, source_id, rec)?;
            insert.raw_execute()?;
        }
        Ok(outcome(!updated))
    }

    /// The next id `names` hands out.
    fn next_name_id(&mut self) -> Result<i64> {
        if let Some(id) = self.next_name_id {
            return Ok(id);
        }
        let id = self
            .conn
            .query_row("SELECT next_id FROM name_counter", [], |r| r.get(0))?;
        self.next_name_id = Some(id);
        Ok(id)
    }

    /// Ids of a [`GROUP`] of names (key, kind bits) and whether each was created here: one
    /// multi-row insert, then, only if some of the names existed, a lookup per name. (The ids
    /// offered to names that existed stay unused.)
    fn name_entries(&mut self, group: &[(&str, i64)]) -> Result<Vec<(i64, bool)>> {
        debug_assert_eq!(group.len(), GROUP);
        let first = self.next_name_id()?;
        let inserted = {
            let mut insert = self.conn.prepare_cached(&NAMES_INSERT_GROUP)?;
            for (i, &(rev, kinds)) in group.iter().enumerate() {
                insert.raw_bind_parameter(3 * i + 1, rev)?;
                insert.raw_bind_parameter(3 * i + 2, first + i as i64)?;
                insert.raw_bind_parameter(3 * i + 3, kinds)?;
            }
            insert.raw_execute()?
        };
        self.next_name_id = Some(first + GROUP as i64);
        let offered = (first..).take(GROUP);
        if inserted == GROUP {
            return Ok(offered.map(|id| (id, true)).collect());
        }
        group
            .iter()
            .zip(offered)
            .map(|(&(rev, kinds), offered)| {
                let id = self.existing_name(rev, kinds)?;
                Ok((id, id == offered))
            })
            .collect()
    }

    /// Indicators (with their name keys) in key order: a full [`GROUP`] with the bulk
    /// statements (the names in one, the indicators of the names it created in another, before
    /// the others, which may update them, go one by one), fewer one by one.
    fn put_indicator_group(&mut self, group: &[(&str, &IndicatorRecord)]) -> Result<()> {
        if group.len() < GROUP {
            for &(rev, rec) in group {
                let (name_id, new_name) = self.name_entry(rev, indicator_kinds(rec))?;
                let outcome = self.put_indicator_at(rec, name_id, new_name)?;
                self.count(outcome);
            }
            return Ok(());
        }
        let names: Vec<(&str, i64)> = group
            .iter()
            .map(|&(rev, rec)| (rev, indicator_kinds(rec)))
            .collect();
        let entries = self.name_entries(&names)?;
        let (fresh, known): (Vec<_>, Vec<_>) = group
            .iter()
            .zip(entries)
            .map(|(&(_, rec), (id, new))| (rec, id, new))
            .partition(|&(_, _, new)| new);
        if fresh.len() == GROUP {
            let mut insert = self.conn.prepare_cached(&INDICATOR_INSERT[1])?;
            for (i, &(rec, name_id, _)) in fresh.iter().enumerate() {
                let source_id = source_id_in(&self.conn, &mut self.sources, &rec.source)?;
                bind_indicator(&mut insert, i * INDICATOR_PARAMS, name_id, source_id, rec)?;
            }
            insert.raw_execute()?;
            self.summary.added += GROUP as u64;
        } else {
            for (rec, name_id, new) in fresh {
                let outcome = self.put_indicator_at(rec, name_id, new)?;
                self.count(outcome);
            }
        }
        for (rec, name_id, new) in known {
            let outcome = self.put_indicator_at(rec, name_id, new)?;
            self.count(outcome);
        }
        Ok(())
    }

    fn count(&mut self, outcome: PutOutcome) {
        match outcome {
            PutOutcome::Added => self.summary.added += 1,
            PutOutcome::Updated => self.summary.updated += 1,
        }
    }

    fn put_allowlist(&mut self, list: &Allowlist) -> Result<PutOutcome> {
        let existed = self.list_id(&list.name).is_ok();
        let id: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO allowlists (name, kind, enabled) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, enabled = excluded.enabled RETURNING id",
            )?
            .query_row(params![list.name, allowlist_kind_str(list.kind), list.enabled], |r| r.get(0))?;
        self.lists.insert(list.name.clone(), id);
        Ok(outcome(!existed))
    }

    fn put_allowlist_entry(&mut self, entry: &AllowlistEntry) -> Result<PutOutcome> {
        let list_id = self.list_id(&entry.list)?;
        let name_id = self.name_id(&entry.name, kind::ALLOWLIST)?;
        let added = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO allowlist_entries (name_id, list_id, matching, rank) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![name_id, list_id, matching_str(entry.matching), entry.rank])?;
        if added == 0 {
            self.conn
                .prepare_cached(
                    "UPDATE allowlist_entries SET rank = ?4 WHERE name_id = ?1 AND list_id = ?2 AND matching = ?3",
                )?
                .execute(params![name_id, list_id, matching_str(entry.matching), entry.rank])?;
        }
        Ok(outcome(added == 1))
    }

    fn put_whois(&mut self, rec: &WhoisRecord) -> Result<PutOutcome> {
        let name_id = self.name_id(&rec.domain, kind::WHOIS)?;
        let observed = rec.observed_at.timestamp();
        let existed = self
            .conn
            .prepare_cached("SELECT 1 FROM whois WHERE name_id = ?1 AND observed_at = ?2")?
            .exists(params![name_id, observed])?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO whois (name_id, observed_at, record) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![name_id, observed, serde_json::to_string(rec)?])?;
        Ok(outcome(!existed))
    }

    fn put_certificate(&mut self, cert: &Certificate) -> Result<PutOutcome> {
        let existing: Option<(i64, i64)> = self
            .conn
            .prepare_cached("SELECT id, last_seen FROM certificates WHERE sha256 = ?1")?
            .query_row([&cert.sha256], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let seen = cert.seen_at.timestamp();
        let id = match existing {
            Some((id, last_seen)) => {
                if seen > last_seen {
                    self.conn
                        .prepare_cached("UPDATE certificates SET record = ?2, last_seen = ?3 WHERE id = ?1")?
                        .execute(params![id, serde_json::to_string(cert)?, seen])?;
                }
                id
            }
            None => self
                .conn
                .prepare_cached(
                    "INSERT INTO certificates (sha256, record, last_seen) VALUES (?1, ?2, ?3) RETURNING id",
                )?
                .query_row(params![cert.sha256, serde_json::to_string(cert)?, seen], |r| r.get(0))?,
        };
        self.conn
            .prepare_cached(
                "INSERT INTO certificate_sightings (cert_id, seen_where, seen_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (cert_id, seen_where) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)",
            )?
            .execute(params![id, cert.seen_where, seen])?;
        for covered in &cert.covers {
            let (name_id, wildcard) = match covered {
                DomainQuery::Exact(n) => (self.name_id(n, kind::CERTIFICATE)?, false),
                DomainQuery::Wildcard(zone) => {
                    (self.name_id(zone, kind::CERTIFICATE_WILDCARD)?, true)
                }
            };
            self.conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO certificate_names (name_id, wildcard, cert_id) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![name_id, wildcard, id])?;
        }
        Ok(outcome(existing.is_none()))
    }

    fn put_resolution(&mut self, res: &Resolution) -> Result<PutOutcome> {
        let (name_id, new_name) = self.name_entry(&key(&res.name), kind::RESOLUTION)?;
        let ip = ip_bytes(res.ip);
        let (first, last, count) = (
            res.first_seen.timestamp(),
            res.last_seen.timestamp(),
            res.count as i64,
        );
        let updated = !new_name
            && self
                .conn
                .prepare_cached(
                    "UPDATE resolutions SET first_seen = min(first_seen, ?3), last_seen = max(last_seen, ?4), \
                     count = count + ?5 WHERE name_id = ?1 AND ip = ?2",
                )?
                .execute(params![name_id, ip, first, last, count])?
                == 1;
        if !updated {
            self.conn
                .prepare_cached(
                    "INSERT INTO resolutions (name_id, ip, first_seen, last_seen, count) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![name_id, ip, first, last, count])?;
        }
        Ok(outcome(!updated))
    }

    fn put_ip_intel(&mut self, intel: &IpIntel) -> Result<PutOutcome> {
        let source_id = self.source_id(&intel.source)?;
        let network = ip_bytes(intel.network.addr());
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO ip_prefixes (octets, prefix) VALUES (?1, ?2)")?
            .execute(params![network.len(), intel.network.prefix()])?;
        let existed = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM ip_intel WHERE network = ?1 AND prefix = ?2 AND source_id = ?3",
            )?
            .exists(params![network, intel.network.prefix(), source_id])?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO ip_intel (network, prefix, source_id, risk, threat_type) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                network,
                intel.network.prefix(),
                source_id,
                intel.risk.code(),
                intel.threat_type
            ])?;
        Ok(outcome(!existed))
    }

    fn put_event(&mut self, event: &SecurityEvent) -> Result<PutOutcome> {
        let source_id = self.source_id(&event.source)?;
        let name_id = self.name_id(&event.name, kind::EVENT)?;
        let existed = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM events WHERE name_id = ?1 AND time = ?2 AND stage = ?3 AND industry = ?4 \
                 AND source_id = ?5",
            )?
            .exists(params![name_id, event.time.timestamp(), event.stage, event.industry, source_id])?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO events (name_id, time, stage, industry, source_id, count) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                name_id,
                event.time.timestamp(),
                event.stage,
                event.industry,
                source_id,
                event.count as i64
            ])?;
        Ok(outcome(!existed))
    }
}

impl StoreWriter for SqliteWriter<'_> {
    /// In [`sorted`] order; runs of indicators go [`GROUP`] at a time through the bulk statements.
    fn put_batch(&mut self, batch: &[Evidence]) -> Result<WriteSummary> {
        let before = self.summary;
        let order = sorted_keyed(batch);
        let mut group: Vec<(&str, &IndicatorRecord)> = Vec::with_capacity(GROUP);
        for ((_, rev), evidence) in &order {
            if let Evidence::Indicator(rec) = evidence {
                group.push((rev, rec));
                if group.len() == GROUP {
                    self.put_indicator_group(&group)?;
                    group.clear();
                }
                continue;
            }
            self.put_indicator_group(&group)?;
            group.clear();
            self.put(evidence)?;
        }
        self.put_indicator_group(&group)?;
        Ok(WriteSummary {
            added: self.summary.added - before.added,
            updated: self.summary.updated - before.updated,
        })
    }

    fn put(&mut self, evidence: &Evidence) -> Result<PutOutcome> {
        let outcome = match evidence {
            Evidence::Source(s) => self.put_source(s),
            Evidence::Indicator(r) => self.put_indicator(r),
            Evidence::Allowlist(l) => self.put_allowlist(l),
            Evidence::AllowlistEntry(e) => self.put_allowlist_entry(e),
            Evidence::Whois(w) => self.put_whois(w),
            Evidence::Certificate(c) => self.put_certificate(c),
            Evidence::Resolution(r) => self.put_resolution(r),
            Evidence::IpIntel(i) => self.put_ip_intel(i),
            Evidence::Event(e) => self.put_event(e),
        }?;
        self.count(outcome);
        Ok(outcome)
    }

    fn put_feed_state(&mut self, state: &FeedState) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO feed_state (name, etag, last_modified, refreshed_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![state.name, state.etag, state.last_modified, state.refreshed_at.timestamp()])?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<WriteSummary> {
        let now = Utc::now().timestamp();
        let touched: Vec<i64> = self.sources.values().copied().collect();
        {
            let mut stmt = self
                .conn
                .prepare_cached("UPDATE sources SET last_import = ?2 WHERE id = ?1")?;
            for id in touched {
                stmt.execute(params![id, now])?;
            }
        }
        if let Some(next_id) = self.next_name_id {
            self.conn
                .prepare_cached("UPDATE name_counter SET next_id = ?1")?
                .execute([next_id])?;
        }
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        self.readers.committed();
        Ok(self.summary)
    }
}
