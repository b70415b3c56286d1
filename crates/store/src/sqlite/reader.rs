//! The SQLite reader: a read transaction on a pooled connection, answering the report's reads
//! with cached statements and skipping those the known zone shows would find nothing.

use std::cell::{Ref, RefCell};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::{Arc, LazyLock};

use chrono::{TimeZone, Utc};
use rusqlite::types::{FromSqlResult, ValueRef};
use rusqlite::{params, OptionalExtension, Row};
use threatintel_model::{
    mask, AllowlistEntry, Certificate, DnsRelation, DomainName, DomainQuery, FileHash, FileRecord,
    IndicatorRecord, IpIntel, IpNetwork, IpRecord, NetworkAllowEntry, NetworkRegistration,
    Reliability, Source, Timestamp, WhoisRecord,
};

use super::snapshots::{PooledReader, ReaderPool, SourceNames};
use super::statements::Statements;
use crate::codec::{
    allowlist_kind, file_hashes, file_names, file_record_order, intel_of, ip_bytes, ip_from_bytes,
    ip_record_order, listed_children_sql, matching, network_allow_order,
    network_registration_order, newest_first, relation, reliability, risk, summed_per_address,
    tld_listings_sql, whois_listed_sql, ALLOWLIST_COLUMNS, LOOKUP_COLUMNS, OVERVIEW_FAMILIES,
    OVERVIEW_THREAT_TYPES, PHISHING_LABELS, RELATION_COLUMNS, RELATION_ORDER, SHARED_ZONES,
    TOP_SITES,
};
use crate::counts::COUNTED;
use crate::keys::{key, key_end, kind, name_from_key, parent_key};
use crate::known_zone::{KnownZone, LastZone};
use crate::{
    AllowlistHit, CommitMarker, EventTotal, FeedState, FileRecordHit, ImportDay, IndicatorHit,
    IpRecordHit, ListedShare, LookupState, NameModelInputs, NetworkAllowHit, ResolvedIp,
    ResolvedName, Result, SourceSummary, StoreError, StoreOverview, StoreReader, StoreStats,
};

fn ts(secs: i64) -> Result<Timestamp> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("time {secs} out of range")))
}

/// Column `i` of `row` borrowed from the row as `read` takes it: for a value parsed, not kept.
fn borrowed<'r, T>(
    row: &'r Row<'_>,
    i: usize,
    read: impl FnOnce(&ValueRef<'r>) -> FromSqlResult<T>,
) -> Result<T> {
    read(&row.get_ref(i)?).map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

/// Column `i` of `row` as text borrowed from the row.
fn text<'r>(row: &'r Row<'_>, i: usize) -> Result<&'r str> {
    borrowed(row, i, ValueRef::as_str)
}

/// The columns an [`IndicatorHit`] is read from (names `n`, indicators `i`), its source's
/// name and reliability then found in the connection's [`SourceNames`] by id: no join.
const INDICATOR_ROW: &str = "n.rev, i.zone, i.source_id, i.threat_type, i.label, i.risk, \
     i.scenario, i.attack_stage, i.first_seen, i.last_seen, i.confidence, i.reference, \
     i.sightings, i.via_url";

/// The source whose id is column `i` of `row`, found among `sources`: the rows of records
/// (indicators, address and file records) carry their source's id, never a join to it.
fn source_at<'s>(
    row: &Row<'_>,
    i: usize,
    sources: &'s SourceNames,
) -> Result<&'s (String, Reliability)> {
    let id: i64 = row.get(i)?;
    sources
        .get(&id)
        .ok_or_else(|| StoreError::Corrupt(format!("a record of source {id}, which is not stored")))
}

/// An indicator's row ([`INDICATOR_ROW`]), named `name`.
fn indicator_hit(row: &Row<'_>, name: DomainName, sources: &SourceNames) -> Result<IndicatorHit> {
    let label: String = row.get(4)?;
    let (source, reliability) = source_at(row, 2, sources)?;
    Ok(IndicatorHit {
        record: IndicatorRecord {
            name,
            zone: row.get(1)?,
            source: source.clone(),
            threat_type: row.get(3)?,
            label: (!label.is_empty()).then_some(label),
            risk: risk(row.get(5)?)?,
            scenario: row.get(6)?,
            attack_stage: row.get(7)?,
            first_seen: ts(row.get(8)?)?,
            last_seen: ts(row.get(9)?)?,
            confidence: row.get(10)?,
            reference: row.get(11)?,
            via_url: row.get(13)?,
        },
        reliability: *reliability,
        sightings: row.get::<_, i64>(12)? as u64,
    })
}

/// Every (octets, prefix) some address table holds, longest prefix first per address length.
fn stored_prefixes(conn: &Statements<'_>) -> Result<Vec<(usize, u8)>> {
    collect(
        conn,
        "SELECT octets, prefix FROM ip_prefixes ORDER BY octets, prefix DESC",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Whether `table` (keyed by masked address, then prefix length) may hold one of `networks`,
/// the networks containing `ip`, longest prefix first. Each one's address lies between `ip`
/// masked to the widest of them and `ip` itself, so when the table holds nothing in that range
/// none is there: one probe instead of one per network. (A longer address inside the range
/// only makes the answer a conservative yes.)
fn may_hold(
    conn: &Statements<'_>,
    table: &str,
    ip: IpAddr,
    networks: &[IpNetwork],
) -> Result<bool> {
    let Some(widest) = networks.last() else {
        return Ok(false);
    };
    let sql =
        format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE network >= ?1 AND network <= ?2)");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![ip_bytes(widest.addr()), ip_bytes(ip)], |r| r.get(0))?)
}

/// The address records of exactly `network`.
fn ip_records_of(
    conn: &Statements<'_>,
    network: IpNetwork,
    sources: &SourceNames,
) -> Result<Vec<IpRecordHit>> {
    collect(
        conn,
        "SELECT source_id, threat_type, label, risk, scenario, first_seen, last_seen, \
         confidence, reference, sightings FROM ip_records WHERE network = ?1 AND prefix = ?2",
        params![ip_bytes(network.addr()), network.prefix()],
        |r| {
            let label: String = r.get(2)?;
            let (source, reliability) = source_at(r, 0, sources)?;
            Ok(IpRecordHit {
                record: IpRecord {
                    network,
                    source: source.clone(),
                    threat_type: r.get(1)?,
                    label: (!label.is_empty()).then_some(label),
                    risk: risk(r.get(3)?)?,
                    scenario: r.get(4)?,
                    first_seen: ts(r.get(5)?)?,
                    last_seen: ts(r.get(6)?)?,
                    confidence: r.get(7)?,
                    reference: r.get(8)?,
                },
                reliability: *reliability,
                sightings: r.get::<_, i64>(9)? as u64,
            })
        },
    )
}

/// The addresses the names whose ids are `ids` resolved to between `since` and `until`, with
/// their first and last sightings and counts summed over the names, in address order: what
/// `resolved_ips` reads of a key range, probed name by name.
fn resolved_ips_of(
    conn: &Statements<'_>,
    ids: &[i64],
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<ResolvedIp>> {
    let mut rows = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT ip, first_seen, last_seen, count FROM resolutions \
         WHERE name_id = ?1 AND last_seen >= ?2 AND first_seen <= ?3",
    )?;
    for id in ids {
        let mut found = stmt.query(params![id, since.timestamp(), until.timestamp()])?;
        while let Some(r) = found.next()? {
            rows.push(resolved_ip(r)?);
        }
    }
    Ok(summed_per_address(rows))
}

/// A resolution's address, sightings and count from columns 0-3.
fn resolved_ip(r: &Row<'_>) -> Result<ResolvedIp> {
    Ok(ResolvedIp {
        ip: ip_from_bytes(borrowed(r, 0, ValueRef::as_blob)?)?,
        first_seen: ts(r.get(1)?)?,
        last_seen: ts(r.get(2)?)?,
        count: r.get::<_, i64>(3)? as u64,
    })
}

/// The records on the file a hash is linked to: one probe of `file_hashes`, then the file's
/// row and its records.
const FILE_RECORDS: &str = "SELECT f.md5, f.sha1, f.sha256, r.source_id, r.threat_type, \
     r.label, r.risk, r.scenario, r.file_type, r.size, r.file_names, r.first_seen, r.last_seen, \
     r.confidence, r.reference, r.sightings FROM file_hashes h JOIN files f ON f.id = h.file_id \
     JOIN file_records r ON r.file_id = h.file_id WHERE h.hash = ?1";

fn file_record_hit(r: &Row<'_>, sources: &SourceNames) -> Result<FileRecordHit> {
    let label: String = r.get(5)?;
    let (source, reliability) = source_at(r, 3, sources)?;
    Ok(FileRecordHit {
        record: FileRecord {
            hashes: file_hashes(r.get(0)?, r.get(1)?, r.get(2)?)?,
            source: source.clone(),
            threat_type: r.get(4)?,
            label: (!label.is_empty()).then_some(label),
            risk: risk(r.get(6)?)?,
            scenario: r.get(7)?,
            file_type: r.get(8)?,
            size: r.get::<_, Option<i64>>(9)?.map(|s| s as u64),
            file_names: file_names(text(r, 10)?)?,
            first_seen: ts(r.get(11)?)?,
            last_seen: ts(r.get(12)?)?,
            confidence: r.get(13)?,
            reference: r.get(14)?,
        },
        reliability: *reliability,
        sightings: r.get::<_, i64>(15)? as u64,
    })
}

/// An allowlist entry's row ([`ALLOWLIST_COLUMNS`]), named `name`.
fn allowlist_hit(row: &Row<'_>, name: DomainName) -> Result<AllowlistHit> {
    let matching = matching(text(row, 2)?)?;
    Ok(AllowlistHit {
        entry: AllowlistEntry {
            name,
            list: row.get(1)?,
            matching,
            rank: row.get(3)?,
        },
        kind: allowlist_kind(text(row, 4)?)?,
    })
}

// The report's queries, built once: a statement is looked up in the cache by its text.
static INDICATORS_AT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INDICATOR_ROW} FROM names n JOIN indicators i ON i.name_id = n.id WHERE n.rev = ?1"
    )
});
/// The first `?3` indicator records in `?1 <= n.rev < ?2`, in key order.
static INDICATORS_BELOW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INDICATOR_ROW} FROM names n JOIN indicators i ON i.name_id = n.id \
         WHERE n.rev >= ?1 AND n.rev < ?2 AND n.kinds & {INDICATOR_KINDS} != 0 \
         ORDER BY n.rev LIMIT ?3"
    )
});
/// The indicator records of the name whose id is `?1` (column 0 NULL: the caller knows the
/// name).
static INDICATORS_OF_ID: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM indicators i WHERE i.name_id = ?1",
        INDICATOR_ROW.replacen("n.rev", "NULL", 1)
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
         WHERE n.rev >= ?1 AND n.rev < ?2 AND n.kinds & {} != 0 AND l.enabled = 1 LIMIT ?3",
        kind::ALLOWLIST
    )
});
/// The allowlist entries of the name whose id is `?1` (column 0 NULL: the caller knows the
/// name).
static ALLOWLIST_OF_ID: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM allowlist_entries e JOIN allowlists l ON l.id = e.list_id \
         WHERE e.name_id = ?1 AND l.enabled = 1",
        ALLOWLIST_COLUMNS.replacen("n.rev", "NULL", 1)
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

static ZONE_LISTINGS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INDICATOR_ROW} FROM indicators i JOIN names n ON n.id = i.name_id \
         WHERE i.zone = 1 \
         ORDER BY n.rev, i.source_id, i.threat_type, i.label"
    )
});

static EVERY_INDICATOR: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INDICATOR_ROW} FROM names n JOIN indicators i ON i.name_id = n.id \
         WHERE n.kinds & {INDICATOR_KINDS} != 0 ORDER BY n.rev"
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

fn collect<T>(
    conn: &Statements<'_>,
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

/// A read's statements: by the name's key (`?1`, or a key range), and, where the read has one,
/// by the name's id (`?1`) for a name the known zone holds. A row is mapped with its name's
/// key: the key asked for, the known zone's for a probe by id, column 0 in a key range.
#[derive(Clone, Copy)]
struct Lookup<'a> {
    by_key: &'a str,
    by_id: Option<&'a str>,
}

/// A read transaction on a pooled connection; the connection goes back to the pool on drop.
pub(super) struct SqliteReader<'a> {
    readers: &'a ReaderPool,
    pooled: Option<PooledReader>,
    /// The zone of the last `knows_zone`, when it was small enough to keep.
    known: LastZone,
    /// Which of [`REPORTED_ADDRESS_TABLES`] may hold a network containing the last address an
    /// IP report asked about ([`may_hold`], asked of the three in one statement).
    holding: RefCell<Option<(IpAddr, [bool; 3])>>,
}

/// The most ancestors' kind bits a connection keeps (public suffixes: a few hundred at most in
/// practice); past it the kept ones are dropped.
const MAX_SUFFIX_KINDS_KEPT: usize = 4096;

/// The tables an IP report reads, in the order of [`SqliteReader::holding`].
const REPORTED_ADDRESS_TABLES: [&str; 3] =
    ["ip_records", "allowlist_networks", "network_registrations"];

impl Drop for SqliteReader<'_> {
    fn drop(&mut self) {
        if let Some(pooled) = self.pooled.take() {
            self.readers.give_back(pooled);
        }
    }
}

impl<'a> SqliteReader<'a> {
    pub(super) fn new(readers: &'a Arc<ReaderPool>) -> Result<Self> {
        Ok(Self {
            readers,
            pooled: Some(readers.checkout()?),
            known: LastZone::default(),
            holding: RefCell::new(None),
        })
    }

    /// The networks of the prefix lengths in use that contain `ip`, longest prefix first.
    fn networks_containing(&self, conn: &Statements<'_>, ip: IpAddr) -> Result<Vec<IpNetwork>> {
        // Read once per snapshot: the pooled connection keeps them while it keeps the snapshot.
        let pooled = self.pooled.as_ref().expect("present until drop");
        let mut cached = pooled.prefixes().borrow_mut();
        let prefixes = match &mut *cached {
            Some(prefixes) => prefixes,
            None => cached.insert(stored_prefixes(conn)?),
        };
        let octets = if ip.is_ipv4() { 4 } else { 16 };
        prefixes
            .iter()
            .filter(|(o, _)| *o == octets)
            .map(|&(_, prefix)| {
                IpNetwork::new(ip, prefix)
                    .map_err(|e| StoreError::Corrupt(format!("stored prefix: {e}")))
            })
            .collect()
    }

    /// [`networks_containing`](Self::networks_containing) `ip`, or none when [`may_hold`]
    /// shows that `table` holds none of them.
    fn networks_in(
        &self,
        conn: &Statements<'_>,
        table: &str,
        ip: IpAddr,
    ) -> Result<Vec<IpNetwork>> {
        let networks = self.networks_containing(conn, ip)?;
        let holds = match REPORTED_ADDRESS_TABLES.iter().position(|t| *t == table) {
            Some(i) => self.holding(conn, ip, &networks)?[i],
            None => may_hold(conn, table, ip, &networks)?,
        };
        Ok(if holds { networks } else { Vec::new() })
    }

    /// [`may_hold`] of each of [`REPORTED_ADDRESS_TABLES`] for `ip`, in one statement the
    /// first time (an IP report reads all three about one address).
    fn holding(
        &self,
        conn: &Statements<'_>,
        ip: IpAddr,
        networks: &[IpNetwork],
    ) -> Result<[bool; 3]> {
        if let Some((cached, holds)) = *self.holding.borrow() {
            if cached == ip {
                return Ok(holds);
            }
        }
        let Some(widest) = networks.last() else {
            return Ok([false; 3]);
        };
        static SQL: LazyLock<String> = LazyLock::new(|| {
            let exists = REPORTED_ADDRESS_TABLES.map(|table| {
                format!("EXISTS (SELECT 1 FROM {table} WHERE network >= ?1 AND network <= ?2)")
            });
            format!("SELECT {}", exists.join(", "))
        });
        let holds = conn
            .prepare_cached(&SQL)?
            .query_row(params![ip_bytes(widest.addr()), ip_bytes(ip)], |r| {
                Ok([r.get(0)?, r.get(1)?, r.get(2)?])
            })?;
        *self.holding.borrow_mut() = Some((ip, holds));
        Ok(holds)
    }

    /// An indicator's row, of the name whose key is `key`, its source found among the
    /// connection's [`sources`](Self::sources).
    fn indicator_hit(&self, row: &Row<'_>, key: &str) -> Result<IndicatorHit> {
        indicator_hit(row, self.name_at(key)?, &*self.sources()?)
    }

    /// Every source's name and reliability by id: read once a snapshot, kept by the
    /// connection while no other connection commits.
    fn sources(&self) -> Result<Ref<'_, SourceNames>> {
        let kept = self.pooled.as_ref().expect("present until drop").sources();
        if kept.borrow().is_none() {
            let read = self.read(|conn| {
                collect(conn, "SELECT id, name, reliability FROM sources", [], |r| {
                    Ok((r.get(0)?, (r.get(1)?, reliability(text(r, 2)?)?)))
                })
            })?;
            *kept.borrow_mut() = Some(read.into_iter().collect());
        }
        Ok(Ref::map(kept.borrow(), |sources| {
            sources.as_ref().expect("read above")
        }))
    }

    /// Hands each row of `sql` (its name's key in column 0) to `visit`, mapped with that key,
    /// until the rows end or `visit` breaks.
    fn each_named_row<T>(
        &self,
        sql: &str,
        map: impl Fn(&Row<'_>, &str) -> Result<T>,
        visit: &mut dyn FnMut(T) -> ControlFlow<()>,
    ) -> Result<()> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                if visit(map(row, text(row, 0)?)?).is_break() {
                    break;
                }
            }
            Ok(())
        })
    }

    /// An allowlist entry's row, of the name whose key is `key`.
    fn allowlist_hit(&self, row: &Row<'_>, key: &str) -> Result<AllowlistHit> {
        allowlist_hit(row, self.name_at(key)?)
    }

    /// The name whose key is `key`: the known zone's own when it is that zone (most rows a
    /// report reads are), else parsed from the key.
    fn name_at(&self, key: &str) -> Result<DomainName> {
        match self.known.zone_at(key) {
            Some(zone) => Ok(zone),
            None => name_from_key(key),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Statements<'_>) -> Result<T>) -> Result<T> {
        self.pooled.as_ref().expect("present until drop").with(f)
    }

    /// The rows `sql.by_key` finds for each of `names` that may carry one of `kinds`, in the
    /// order of `names`; a name of the known zone is probed by its id (`sql.by_id`).
    fn rows_at<T>(
        &self,
        sql: Lookup<'_>,
        names: &[DomainName],
        kinds: i64,
        map: impl Fn(&Row<'_>, &str) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.read(|conn| {
            let mut out = Vec::new();
            for k in names.iter().map(|name| self.known.key_of(name)) {
                if self.known.none_at(&k, kinds) {
                    continue;
                }
                let named = |row: &Row<'_>| map(row, &k);
                out.extend(match sql.by_id.zip(self.known.id_at(&k)) {
                    Some((by_id, id)) => collect(conn, by_id, [id], named)?,
                    None => collect(conn, sql.by_key, [&k], named)?,
                });
            }
            Ok(out)
        })
    }

    /// The first `limit` rows `sql.by_key` (`?1 <= n.rev < ?2`, `LIMIT ?3`) finds in `zone` and
    /// below it, unless no name there carries one of `kinds`. When the
    /// known zone covers the zone, its names that carry `kinds` are probed by id instead
    /// (`sql.by_id`): no walk of the names' key range.
    fn rows_below<T>(
        &self,
        sql: Lookup<'_>,
        zone: &DomainName,
        kinds: i64,
        limit: usize,
        map: impl Fn(&Row<'_>, &str) -> Result<T>,
    ) -> Result<Vec<T>> {
        let k = self.known.key_of(zone);
        let end = key_end(&k);
        let covered = sql.by_id.zip(self.known.keyed_ids_in(&k, &end, kinds));
        self.read(|conn| match covered {
            Some((by_id, names)) => {
                let mut out = Vec::new();
                for (key, id) in names {
                    if out.len() >= limit {
                        break;
                    }
                    out.extend(collect(conn, by_id, [id], |row| map(row, &key))?);
                }
                out.truncate(limit);
                Ok(out)
            }
            None => {
                let limit = limit.min(i64::MAX as usize) as i64;
                collect(conn, sql.by_key, params![k, end, limit], |row| {
                    map(row, text(row, 0)?)
                })
            }
        })
    }

    /// WHOIS records of `domain`, newest first; `limit` < 0 means all.
    fn whois(&self, domain: &DomainName, limit: i64) -> Result<Vec<WhoisRecord>> {
        let k = self.known.key_of(domain);
        if self.known.none_at(&k, kind::WHOIS) {
            return Ok(Vec::new());
        }
        self.read(|conn| {
            collect(
                conn,
                "SELECT w.record FROM names n JOIN whois w ON w.name_id = n.id WHERE n.rev = ?1 \
                 ORDER BY w.observed_at DESC LIMIT ?2",
                params![k, limit],
                |r| Ok(serde_json::from_str(text(r, 0)?)?),
            )
        })
    }
}

impl StoreReader for SqliteReader<'_> {
    /// Reads the zone's names (up to [`KnownZone::MAX_NAMES`]; none when the filter of stored
    /// names shows there are none) and its ancestors' kinds, and keeps them for the reads that
    /// follow.
    fn knows_zone(&self, zone: &DomainName) -> Result<bool> {
        let k = key(zone);
        let pooled = self.pooled.as_ref().expect("present until drop");
        let absent = self.readers.lacks(&k, pooled)?;
        let known = self.read(|conn| {
            let names: Vec<(String, i64, i64)> = if absent {
                Vec::new()
            } else {
                collect(
                    conn,
                    "SELECT rev, kinds, id FROM names WHERE rev >= ?1 AND rev < ?2 ORDER BY rev \
                     LIMIT ?3",
                    params![k, key_end(&k), KnownZone::MAX_NAMES as i64 + 1],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?
            };
            if names.len() > KnownZone::MAX_NAMES {
                return Ok(None);
            }
            let mut read_before = pooled.suffix_kinds().borrow_mut();
            if read_before.len() > MAX_SUFFIX_KINDS_KEPT {
                read_before.clear();
            }
            // The ancestors' keys are the zone key's prefixes, one label shorter each.
            let ancestors = std::iter::successors(parent_key(&k), |a| parent_key(a))
                .map(|ancestor| {
                    let kinds = match read_before.get(ancestor) {
                        Some(&kinds) => kinds,
                        None => {
                            let kinds: Option<i64> = conn
                                .prepare_cached("SELECT kinds FROM names WHERE rev = ?1")?
                                .query_row([ancestor], |r| r.get(0))
                                .optional()?;
                            read_before.insert(ancestor.to_owned(), kinds.unwrap_or(0));
                            kinds.unwrap_or(0)
                        }
                    };
                    Ok((ancestor.to_owned(), kinds))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(KnownZone::new(zone, k, names, ancestors)))
        })?;
        Ok(self.known.keep(known))
    }

    fn indicators_at(&self, names: &[DomainName]) -> Result<Vec<IndicatorHit>> {
        let sql = Lookup {
            by_key: &INDICATORS_AT,
            by_id: Some(&INDICATORS_OF_ID),
        };
        self.rows_at(sql, names, INDICATOR_KINDS, |row, key| {
            self.indicator_hit(row, key)
        })
    }

    fn indicators_below(&self, zone: &DomainName) -> Result<Vec<IndicatorHit>> {
        self.indicators_below_first(zone, usize::MAX)
    }

    fn indicators_below_first(&self, zone: &DomainName, limit: usize) -> Result<Vec<IndicatorHit>> {
        let sql = Lookup {
            by_key: &INDICATORS_BELOW,
            by_id: Some(&INDICATORS_OF_ID),
        };
        self.rows_below(sql, zone, INDICATOR_KINDS, limit, |row, key| {
            self.indicator_hit(row, key)
        })
    }

    fn allowlist_at(&self, names: &[DomainName]) -> Result<Vec<AllowlistHit>> {
        let sql = Lookup {
            by_key: &ALLOWLIST_AT,
            by_id: Some(&ALLOWLIST_OF_ID),
        };
        self.rows_at(sql, names, kind::ALLOWLIST, |row, key| {
            self.allowlist_hit(row, key)
        })
    }

    fn allowlist_below(&self, zone: &DomainName) -> Result<Vec<AllowlistHit>> {
        let sql = Lookup {
            by_key: &ALLOWLIST_BELOW,
            by_id: Some(&ALLOWLIST_OF_ID),
        };
        self.rows_below(sql, zone, kind::ALLOWLIST, usize::MAX, |row, key| {
            self.allowlist_hit(row, key)
        })
    }

    fn count_names_below(&self, zone: &DomainName) -> Result<u64> {
        if let Some(count) = self.known.children(zone, |children| children.count()) {
            return Ok(count as u64);
        }
        let k = key(zone);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&COUNT_NAMES_BELOW)?;
            Ok(stmt.query_row(params![k, key_end(&k)], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    fn names_below(&self, zone: &DomainName, limit: usize) -> Result<Vec<DomainName>> {
        let known = self.known.children(zone, |children| {
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
                |r| name_from_key(text(r, 0)?),
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
        let exact = self.known.key_of(name);
        let parent = parent_key(&exact);
        if self.known.no_certificates(&exact, parent) {
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
                all.push(serde_json::from_str(text(row, 0)?)?);
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
        let (lo, hi) = self.known.scope_range(scope);
        if let Some(ids) = self.known.ids_in(&lo, &hi, kind::RESOLUTION) {
            return self.read(|conn| resolved_ips_of(conn, &ids, since, until));
        }
        self.read(|conn| {
            collect(
                conn,
                "SELECT r.ip, min(r.first_seen), max(r.last_seen), sum(r.count) \
                 FROM names n JOIN resolutions r ON r.name_id = n.id \
                 WHERE n.rev >= ?1 AND n.rev < ?2 AND r.last_seen >= ?3 AND r.first_seen <= ?4 \
                 GROUP BY r.ip ORDER BY r.ip",
                params![lo, hi, since.timestamp(), until.timestamp()],
                resolved_ip,
            )
        })
    }

    fn names_resolving_to(&self, ip: IpAddr, limit: usize) -> Result<Vec<ResolvedName>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT x.rev, r.first_seen, r.last_seen, r.count FROM resolved_names x \
                 JOIN names n ON n.rev = x.rev JOIN resolutions r ON r.name_id = n.id AND r.ip = x.ip \
                 WHERE x.ip = ?1 ORDER BY x.rev LIMIT ?2",
                params![ip_bytes(ip), limit.min(i64::MAX as usize) as i64],
                |r| {
                    Ok(ResolvedName {
                        name: name_from_key(text(r, 0)?)?,
                        first_seen: ts(r.get(1)?)?,
                        last_seen: ts(r.get(2)?)?,
                        count: r.get::<_, i64>(3)? as u64,
                    })
                },
            )
        })
    }

    fn relations(&self, name: &DomainName) -> Result<Vec<DnsRelation>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {RELATION_COLUMNS} FROM names n JOIN dns_relations r ON r.name_id = n.id \
                 WHERE n.rev = ?1 ORDER BY {RELATION_ORDER}"
            )
        });
        let sql = Lookup {
            by_key: &SQL,
            by_id: None,
        };
        self.rows_at(sql, std::slice::from_ref(name), kind::RELATION, |r, _| {
            relation(
                name,
                text(r, 0)?,
                text(r, 1)?,
                (ts(r.get(2)?)?, ts(r.get(3)?)?),
                r.get(4)?,
                r.get(5)?,
            )
        })
    }

    fn lookups(&self, name: &DomainName) -> Result<Vec<LookupState>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {LOOKUP_COLUMNS} FROM lookups WHERE rev = ?1 ORDER BY topic")
        });
        self.read(|conn| {
            collect(conn, &SQL, [key(name)], |r| {
                Ok(LookupState {
                    name: name.clone(),
                    topic: r.get(0)?,
                    kind: r.get(1)?,
                    at: ts(r.get(2)?)?,
                    server: r.get(3)?,
                    outcome: r.get(4)?,
                    error: r.get(5)?,
                    records: r.get::<_, i64>(6)? as u64,
                    latency_ms: r.get::<_, i64>(7)? as u64,
                    next_due: ts(r.get(8)?)?,
                    failures: r.get(9)?,
                })
            })
        })
    }

    fn ip_intel(&self, ips: &[IpAddr]) -> Result<Vec<(IpAddr, IpIntel)>> {
        if ips.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|conn| {
            let mut out = Vec::new();
            for &ip in ips {
                let networks = self.networks_containing(conn, ip)?;
                let intel = may_hold(conn, "ip_intel", ip, &networks)?;
                let records = may_hold(conn, "ip_records", ip, &networks)?;
                for network in networks {
                    let prefix = network.prefix();
                    if intel {
                        let sources = self.sources()?;
                        let hits = collect(
                            conn,
                            "SELECT source_id, risk, threat_type FROM ip_intel \
                             WHERE network = ?1 AND prefix = ?2",
                            params![ip_bytes(mask(ip, prefix)), prefix],
                            |r| {
                                Ok(IpIntel {
                                    network,
                                    source: source_at(r, 0, &sources)?.0.clone(),
                                    risk: risk(r.get(1)?)?,
                                    threat_type: r.get(2)?,
                                })
                            },
                        )?;
                        out.extend(hits.into_iter().map(|hit| (ip, hit)));
                    }
                    if records {
                        let records = ip_records_of(conn, network, &*self.sources()?)?;
                        out.extend(records.into_iter().map(|hit| (ip, intel_of(hit))));
                    }
                }
            }
            Ok(out)
        })
    }

    fn ip_records(&self, ip: IpAddr) -> Result<Vec<IpRecordHit>> {
        self.read(|conn| {
            let mut out = Vec::new();
            for network in self.networks_in(conn, "ip_records", ip)? {
                out.extend(ip_records_of(conn, network, &*self.sources()?)?);
            }
            ip_record_order(&mut out);
            Ok(out)
        })
    }

    fn network_registrations(&self, ip: IpAddr) -> Result<Vec<NetworkRegistration>> {
        self.read(|conn| {
            let mut out = Vec::new();
            for network in self.networks_in(conn, "network_registrations", ip)? {
                out.extend(collect(
                    conn,
                    "SELECT range, name, organisation, country, abuse_email, observed_at \
                     FROM network_registrations WHERE network = ?1 AND prefix = ?2",
                    params![ip_bytes(network.addr()), network.prefix()],
                    |r| {
                        Ok(NetworkRegistration {
                            network,
                            range: r.get(0)?,
                            name: r.get(1)?,
                            organisation: r.get(2)?,
                            country: r.get(3)?,
                            abuse_email: r.get(4)?,
                            observed_at: ts(r.get(5)?)?,
                        })
                    },
                )?);
            }
            network_registration_order(&mut out);
            Ok(out)
        })
    }

    fn file_records(&self, hash: &FileHash) -> Result<Vec<FileRecordHit>> {
        self.read(|conn| {
            let sources = self.sources()?;
            let mut out = collect(conn, FILE_RECORDS, [hash.to_bytes()], |r| {
                file_record_hit(r, &sources)
            })?;
            file_record_order(&mut out);
            Ok(out)
        })
    }

    fn network_allowlist(&self, ip: IpAddr) -> Result<Vec<NetworkAllowHit>> {
        self.read(|conn| {
            let mut out = Vec::new();
            for network in self.networks_in(conn, "allowlist_networks", ip)? {
                out.extend(collect(
                    conn,
                    "SELECT l.name, l.kind FROM allowlist_networks a JOIN allowlists l ON l.id = a.list_id \
                     WHERE a.network = ?1 AND a.prefix = ?2 AND l.enabled = 1",
                    params![ip_bytes(network.addr()), network.prefix()],
                    |r| {
                        Ok(NetworkAllowHit {
                            entry: NetworkAllowEntry {
                                list: r.get(0)?,
                                network,
                            },
                            kind: allowlist_kind(text(r, 1)?)?,
                        })
                    },
                )?);
            }
            network_allow_order(&mut out);
            Ok(out)
        })
    }

    fn event_totals(&self, scope: &DomainQuery, until: Timestamp) -> Result<Vec<EventTotal>> {
        let (lo, hi) = self.known.scope_range(scope);
        if self.known.none_in(&lo, &hi, kind::EVENT) {
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

    fn name_model_inputs(&self) -> Result<NameModelInputs> {
        self.read(|conn| {
            let names = |sql: &str| collect(conn, sql, [], |r| name_from_key(text(r, 0)?));
            Ok(NameModelInputs {
                top_sites: collect(
                    conn,
                    &format!("{TOP_SITES} GROUP BY n.rev ORDER BY n.rev"),
                    [],
                    |r| Ok((name_from_key(text(r, 0)?)?, r.get(1)?)),
                )?,
                shared_zones: names(&format!("{SHARED_ZONES} l.enabled = 0 ORDER BY n.rev"))?,
                zone_listings: collect(conn, &ZONE_LISTINGS, [], |row| {
                    self.indicator_hit(row, text(row, 0)?)
                })?,
                phishing_labels: collect(conn, PHISHING_LABELS, [], |r| Ok(r.get(0)?))?,
                tld_listings: collect(
                    conn,
                    &tld_listings_sql("substr(n.rev, 1, instr(n.rev, '.') - 1)", "i.zone = 0"),
                    [],
                    |r| {
                        Ok(ListedShare {
                            key: r.get(0)?,
                            names: r.get::<_, i64>(1)? as u64,
                            listed: r.get::<_, i64>(2)? as u64,
                        })
                    },
                )?,
                nameserver_listings: NameModelInputs::nameserver_shares(collect(
                    conn,
                    &whois_listed_sql("w.record", "i.zone = 0"),
                    [],
                    |r| Ok((serde_json::from_str(text(r, 0)?)?, r.get(1)?)),
                )?),
                listed_children: collect(conn, &listed_children_sql("i.zone = 0"), [], |r| {
                    Ok(ListedShare {
                        key: name_from_key(text(r, 0)?)?.as_str().to_owned(),
                        names: r.get::<_, i64>(1)? as u64,
                        listed: r.get::<_, i64>(2)? as u64,
                    })
                })?,
            })
        })
    }

    fn sources(&self) -> Result<Vec<SourceSummary>> {
        self.read(|conn| {
            collect(
                conn,
                "SELECT name, reliability, default_threat_type, last_import, indicators \
                 FROM sources ORDER BY name",
                [],
                |r| {
                    Ok(SourceSummary {
                        source: Source {
                            name: r.get(0)?,
                            reliability: reliability(text(r, 1)?)?,
                            default_threat_type: r.get(2)?,
                        },
                        last_import: r.get::<_, Option<i64>>(3)?.map(ts).transpose()?,
                        indicators: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
        })
    }

    fn source(&self, name: &str) -> Result<Option<Source>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, reliability, default_threat_type FROM sources WHERE name = ?1",
            )?;
            stmt.query_row([name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })
            .optional()?
            .map(|(name, grade, default_threat_type)| {
                Ok(Source {
                    name,
                    reliability: reliability(&grade)?,
                    default_threat_type,
                })
            })
            .transpose()
        })
    }

    fn is_empty(&self) -> Result<bool> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT NOT EXISTS (SELECT 1 FROM names)")?;
            Ok(stmt.query_row([], |r| r.get(0))?)
        })
    }

    fn each_indicator(&self, visit: &mut dyn FnMut(IndicatorHit) -> ControlFlow<()>) -> Result<()> {
        self.each_named_row(&EVERY_INDICATOR, |r, key| self.indicator_hit(r, key), visit)
    }

    fn each_allowlist_entry(
        &self,
        visit: &mut dyn FnMut(AllowlistHit) -> ControlFlow<()>,
    ) -> Result<()> {
        self.each_named_row(
            &EVERY_ALLOWLIST_ENTRY,
            |r, key| self.allowlist_hit(r, key),
            visit,
        )
    }

    fn commit_marker(&self) -> Result<CommitMarker> {
        self.read(|conn| {
            let (generation, at): (i64, Option<i64>) = conn
                .prepare_cached("SELECT generation, committed_at FROM commit_marker")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(CommitMarker {
                generation: generation as u64,
                committed_at: at.map(ts).transpose()?,
            })
        })
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

    fn overview(&self, top: usize, since: Timestamp) -> Result<StoreOverview> {
        self.read(|conn| {
            let counted = |r: &Row<'_>| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64));
            Ok(StoreOverview {
                by_threat_type: collect(conn, OVERVIEW_THREAT_TYPES, [], counted)?,
                top_families: collect(conn, OVERVIEW_FAMILIES, [top as i64], counted)?,
                imports_by_day: collect(
                    conn,
                    "SELECT at / 86400 * 86400 AS day, count(*), sum(records) FROM imports \
                     WHERE at >= ?1 GROUP BY day ORDER BY day",
                    [since.timestamp().div_euclid(86_400) * 86_400],
                    |r| {
                        Ok(ImportDay {
                            day: ts(r.get(0)?)?,
                            imports: r.get::<_, i64>(1)? as u64,
                            records: r.get::<_, i64>(2)? as u64,
                        })
                    },
                )?,
            })
        })
    }

    fn stats(&self) -> Result<StoreStats> {
        self.read(|conn| {
            let counts = conn
                .prepare_cached(&format!("SELECT {COUNTED} FROM row_counts"))?
                .query_row([], |r| {
                    let mut counts = [0; 10];
                    for (i, count) in counts.iter_mut().enumerate() {
                        *count = r.get::<_, i64>(i)? as u64;
                    }
                    Ok(counts)
                })?;
            Ok(StoreStats::from_order(counts))
        })
    }
}
