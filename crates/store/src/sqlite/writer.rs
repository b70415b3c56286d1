//! The SQLite writer: one `BEGIN IMMEDIATE` transaction on the writer connection; `put_batch`
//! writes runs of indicators [`GROUP`] at a time with multi-row statements.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::Utc;
use parking_lot::MutexGuard;
use rusqlite::{params, Connection, OptionalExtension};
use threatintel_model::{
    Allowlist, AllowlistEntry, Certificate, DnsRelation, DomainName, DomainQuery, Evidence,
    FileRecord, IndicatorRecord, IpIntel, IpNetwork, IpRecord, NetworkAllowEntry,
    NetworkRegistration, Resolution, SecurityEvent, Source, WhoisRecord,
};

use super::snapshots::ReaderPool;
use crate::codec::{
    allowlist_kind_str, file_links, file_names_text, ip_bytes, matching_str, merged_file_names,
    outcome, NETWORK_REGISTRATION_COLUMNS, NETWORK_REGISTRATION_MERGE,
};
use crate::counts::{self, Added};
use crate::keys::{key, kind, sorted_keyed};
use crate::name_filter::NewNames;
use crate::{FeedState, LookupState, PutOutcome, Result, StoreError, StoreWriter, WriteSummary};

/// A write transaction on the writer connection (`BEGIN IMMEDIATE` .. `COMMIT`).
pub(super) struct SqliteWriter<'a> {
    conn: MutexGuard<'a, Connection>,
    /// Told of the commit, so that readers take a new snapshot.
    readers: &'a ReaderPool,
    open: bool,
    sources: HashMap<String, i64>,
    lists: HashMap<String, i64>,
    /// The next id `names` hands out, read from `name_counter` on first use, written back on commit.
    next_name_id: Option<i64>,
    summary: WriteSummary,
    /// Rows added to the counted tables, added to `row_counts` on commit.
    added: Added<i64>,
    /// The names this transaction added, for the readers' filter of stored names.
    new_names: NewNames,
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

/// Adds a transaction's [`Added`] rows to `row_counts`.
static ADD_COUNTS: LazyLock<String> = LazyLock::new(|| counts::add_sql('?'));

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
    stmt.raw_bind_parameter(offset + 5, label_of(rec))?;
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

/// The label `rec` is stored and counted under (`""` for none).
fn label_of(rec: &IndicatorRecord) -> &str {
    rec.label.as_deref().unwrap_or("")
}

fn indicator_kinds(rec: &IndicatorRecord) -> i64 {
    if rec.zone {
        kind::ZONE_INDICATOR
    } else {
        kind::INDICATOR
    }
}

impl<'a> SqliteWriter<'a> {
    /// Begins the transaction on the writer connection `conn`; `readers` are told of its commit.
    pub(super) fn begin(conn: MutexGuard<'a, Connection>, readers: &'a ReaderPool) -> Result<Self> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Self {
            conn,
            readers,
            open: true,
            sources: HashMap::new(),
            lists: HashMap::new(),
            next_name_id: None,
            summary: WriteSummary::default(),
            added: Added::default(),
            new_names: NewNames::new(readers.keeps_new_names()),
        })
    }

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
            self.added.rows.names += 1;
            self.new_names.add(rev, id);
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
            self.added
                .indicators(source_id, &rec.threat_type, label_of(rec), 1);
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
        self.added.rows.names += inserted as u64;
        let offered = (first..).take(GROUP);
        if inserted == GROUP {
            for (&(rev, _), id) in group.iter().zip(first..) {
                self.new_names.add(rev, id);
            }
            return Ok(offered.map(|id| (id, true)).collect());
        }
        group
            .iter()
            .zip(offered)
            .map(|(&(rev, kinds), offered)| {
                let id = self.existing_name(rev, kinds)?;
                if id == offered {
                    self.new_names.add(rev, id);
                }
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
                self.summary.count(outcome);
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
            // The records' counts by runs of one source, threat type and label (a feed's group
            // is mostly one run), noted while binding has their fields in cache and counted
            // once the insert succeeded.
            let mut runs: Vec<(i64, &str, &str, u64)> = Vec::new();
            for (i, &(rec, name_id, _)) in fresh.iter().enumerate() {
                let source_id = source_id_in(&self.conn, &mut self.sources, &rec.source)?;
                bind_indicator(&mut insert, i * INDICATOR_PARAMS, name_id, source_id, rec)?;
                let (threat_type, label) = (rec.threat_type.as_str(), label_of(rec));
                match runs.last_mut() {
                    Some(run) if (run.0, run.1, run.2) == (source_id, threat_type, label) => {
                        run.3 += 1
                    }
                    _ => runs.push((source_id, threat_type, label, 1)),
                }
            }
            insert.raw_execute()?;
            for (source_id, threat_type, label, n) in runs {
                self.added.indicators(source_id, threat_type, label, n);
            }
            self.summary.added += GROUP as u64;
        } else {
            for (rec, name_id, new) in fresh {
                let outcome = self.put_indicator_at(rec, name_id, new)?;
                self.summary.count(outcome);
            }
        }
        for (rec, name_id, new) in known {
            let outcome = self.put_indicator_at(rec, name_id, new)?;
            self.summary.count(outcome);
        }
        Ok(())
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
        let rev = key(&res.name);
        let (name_id, new_name) = self.name_entry(&rev, kind::RESOLUTION)?;
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
            self.conn
                .prepare_cached("INSERT INTO resolved_names (ip, rev) VALUES (?1, ?2)")?
                .execute(params![ip, rev])?;
        }
        Ok(outcome(!updated))
    }

    fn put_relation(&mut self, rel: &DnsRelation) -> Result<PutOutcome> {
        let (name_id, new_name) = self.name_entry(&key(&rel.name), kind::RELATION)?;
        let values = params![
            name_id,
            rel.kind.as_str(),
            rel.target.as_str(),
            rel.first_seen.timestamp(),
            rel.last_seen.timestamp(),
            rel.count as i64,
            rel.source,
        ];
        let updated = !new_name
            && self
                .conn
                .prepare_cached(
                    "UPDATE dns_relations SET first_seen = min(first_seen, ?4), \
                     last_seen = max(last_seen, ?5), count = count + ?6, source = ?7 \
                     WHERE name_id = ?1 AND kind = ?2 AND target = ?3",
                )?
                .execute(values)?
                == 1;
        if !updated {
            self.conn
                .prepare_cached(
                    "INSERT INTO dns_relations (name_id, kind, target, first_seen, last_seen, count, source) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(values)?;
        }
        Ok(outcome(!updated))
    }

    fn put_ip_intel(&mut self, intel: &IpIntel) -> Result<PutOutcome> {
        let source_id = self.source_id(&intel.source)?;
        self.note_prefix(intel.network)?;
        let network = ip_bytes(intel.network.addr());
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

    /// Notes that a table of addresses holds networks of `network`'s length and prefix.
    fn note_prefix(&mut self, network: IpNetwork) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO ip_prefixes (octets, prefix) VALUES (?1, ?2)")?
            .execute(params![ip_bytes(network.addr()).len(), network.prefix()])?;
        Ok(())
    }

    fn put_ip_record(&mut self, rec: &IpRecord) -> Result<PutOutcome> {
        let source_id = self.source_id(&rec.source)?;
        self.note_prefix(rec.network)?;
        let network = ip_bytes(rec.network.addr());
        let (first, last) = (rec.first_seen.timestamp(), rec.last_seen.timestamp());
        let values = params![
            network,
            rec.network.prefix(),
            source_id,
            rec.threat_type,
            rec.label.as_deref().unwrap_or(""),
            rec.risk.code(),
            rec.scenario,
            first,
            last,
            rec.confidence,
            rec.reference
        ];
        let updated = self
            .conn
            .prepare_cached(
                "UPDATE ip_records SET risk = ?6, scenario = ?7, first_seen = min(first_seen, ?8), \
                 last_seen = max(last_seen, ?9), confidence = ?10, reference = ?11, \
                 sightings = sightings + 1 \
                 WHERE network = ?1 AND prefix = ?2 AND source_id = ?3 AND threat_type = ?4 AND label = ?5",
            )?
            .execute(values)?
            == 1;
        if !updated {
            self.conn
                .prepare_cached(
                    "INSERT INTO ip_records (network, prefix, source_id, threat_type, label, risk, \
                     scenario, first_seen, last_seen, confidence, reference) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(values)?;
        }
        Ok(outcome(!updated))
    }

    fn put_network_registration(&mut self, reg: &NetworkRegistration) -> Result<PutOutcome> {
        self.note_prefix(reg.network)?;
        let (network, prefix) = (ip_bytes(reg.network.addr()), reg.network.prefix());
        let existed = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM network_registrations WHERE network = ?1 AND prefix = ?2",
            )?
            .exists(params![network, prefix])?;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO network_registrations ({NETWORK_REGISTRATION_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) {NETWORK_REGISTRATION_MERGE}"
            ))?
            .execute(params![
                network,
                prefix,
                reg.range,
                reg.name,
                reg.organisation,
                reg.country,
                reg.abuse_email,
                reg.observed_at.timestamp()
            ])?;
        Ok(outcome(!existed))
    }

    fn put_network_allow_entry(&mut self, entry: &NetworkAllowEntry) -> Result<PutOutcome> {
        let list_id = self.list_id(&entry.list)?;
        self.note_prefix(entry.network)?;
        let added = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO allowlist_networks (network, prefix, list_id) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![ip_bytes(entry.network.addr()), entry.network.prefix(), list_id])?;
        Ok(outcome(added == 1))
    }

    /// The file `rec` speaks of: the one its strongest linked hash names, else a new one; its
    /// hashes not yet linked are linked to that file (and fill the file's empty slots).
    fn file_id(&mut self, rec: &FileRecord) -> Result<i64> {
        let (linked, unlinked) = file_links(&rec.hashes, |bytes| {
            Ok(self
                .conn
                .prepare_cached("SELECT file_id FROM file_hashes WHERE hash = ?1")?
                .query_row([bytes], |r| r.get::<_, i64>(0))
                .optional()?)
        })?;
        let id = match linked {
            Some(id) => id,
            None => {
                self.conn
                    .prepare_cached("INSERT INTO files DEFAULT VALUES")?
                    .execute([])?;
                self.conn.last_insert_rowid()
            }
        };
        for (column, bytes) in unlinked {
            self.conn
                .prepare_cached("INSERT INTO file_hashes (hash, file_id) VALUES (?1, ?2)")?
                .execute(params![bytes, id])?;
            // The column is named by the hash's kind, never by input.
            self.conn
                .prepare_cached(&format!(
                    "UPDATE files SET {column} = ?2 WHERE id = ?1 AND {column} IS NULL"
                ))?
                .execute(params![id, bytes])?;
        }
        Ok(id)
    }

    fn put_file_record(&mut self, rec: &FileRecord) -> Result<PutOutcome> {
        let source_id = self.source_id(&rec.source)?;
        let file_id = self.file_id(rec)?;
        let label = rec.label.as_deref().unwrap_or("");
        let stored: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT file_names FROM file_records \
                 WHERE file_id = ?1 AND source_id = ?2 AND threat_type = ?3 AND label = ?4",
            )?
            .query_row(params![file_id, source_id, rec.threat_type, label], |r| {
                r.get(0)
            })
            .optional()?;
        let names = match &stored {
            Some(stored) => merged_file_names(stored, &rec.file_names)?,
            None => file_names_text(&rec.file_names),
        };
        let values = params![
            file_id,
            source_id,
            rec.threat_type,
            label,
            rec.risk.code(),
            rec.scenario,
            rec.file_type,
            rec.size.map(|s| s as i64),
            names,
            rec.first_seen.timestamp(),
            rec.last_seen.timestamp(),
            rec.confidence,
            rec.reference
        ];
        if stored.is_some() {
            self.conn
                .prepare_cached(
                    "UPDATE file_records SET risk = ?5, scenario = ?6, \
                     file_type = coalesce(?7, file_type), size = coalesce(?8, size), \
                     file_names = ?9, first_seen = min(first_seen, ?10), \
                     last_seen = max(last_seen, ?11), confidence = ?12, reference = ?13, \
                     sightings = sightings + 1 \
                     WHERE file_id = ?1 AND source_id = ?2 AND threat_type = ?3 AND label = ?4",
                )?
                .execute(values)?;
        } else {
            self.conn
                .prepare_cached(
                    "INSERT INTO file_records (file_id, source_id, threat_type, label, risk, \
                     scenario, file_type, size, file_names, first_seen, last_seen, confidence, \
                     reference) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?
                .execute(values)?;
        }
        Ok(outcome(stored.is_none()))
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
    /// In [`sorted`](crate::keys::sorted) order; runs of indicators go [`GROUP`] at a time through the bulk statements.
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
        let outcome = put_by_kind!(self, evidence)?;
        if outcome == PutOutcome::Added {
            self.added.record(evidence);
        }
        self.summary.count(outcome);
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

    fn put_lookup(&mut self, state: &LookupState) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO lookups (rev, topic, kind, at, server, outcome, error, \
                 records, latency_ms, next_due, failures) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                key(&state.name),
                state.topic,
                state.kind,
                state.at.timestamp(),
                state.server,
                state.outcome,
                state.error,
                state.records as i64,
                state.latency_ms as i64,
                state.next_due.timestamp(),
                state.failures,
            ])?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<WriteSummary> {
        let now = Utc::now().timestamp();
        let touched: Vec<i64> = self.sources.values().copied().collect();
        if !touched.is_empty() {
            self.conn
                .prepare_cached("INSERT INTO imports (at, sources, records) VALUES (?1, ?2, ?3)")?
                .execute(params![
                    now,
                    touched.len() as i64,
                    (self.summary.added + self.summary.updated) as i64
                ])?;
        }
        {
            let mut stmt = self.conn.prepare_cached(
                "UPDATE sources SET last_import = ?2, indicators = indicators + ?3 WHERE id = ?1",
            )?;
            for id in touched {
                stmt.execute(params![id, now, self.added.of_source(id) as i64])?;
            }
        }
        if !self.added.is_empty() {
            let counts = self.added.rows.in_order().map(|n| n as i64);
            self.conn
                .prepare_cached(&ADD_COUNTS)?
                .execute(rusqlite::params_from_iter(counts))?;
            let mut stmt = self.conn.prepare_cached(
                "INSERT INTO indicator_counts (threat_type, label, indicators) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (threat_type, label) DO UPDATE \
                 SET indicators = indicators + excluded.indicators",
            )?;
            for (threat_type, label, n) in self.added.by_threat() {
                stmt.execute(params![threat_type, label, n as i64])?;
            }
        }
        if let Some(next_id) = self.next_name_id {
            self.conn
                .prepare_cached("UPDATE name_counter SET next_id = ?1")?
                .execute([next_id])?;
        }
        let generation: i64 = self
            .conn
            .prepare_cached(
                "UPDATE commit_marker SET generation = generation + 1, committed_at = ?1 \
                 RETURNING generation",
            )?
            .query_row([now], |r| r.get(0))?;
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        self.readers
            .committed(generation - 1, std::mem::take(&mut self.new_names));
        Ok(self.summary)
    }
}
