//! The PostgreSQL writer: one transaction holding the schema's writer lock; records one by one
//! with an upsert each (the bulk path is in `staging.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use r2d2::PooledConnection;
use threatintel_model::{
    Allowlist, AllowlistEntry, Certificate, DnsRelation, DomainName, DomainQuery, Evidence,
    FileRecord, IndicatorRecord, IpIntel, IpNetwork, IpRecord, NetworkAllowEntry,
    NetworkRegistration, Resolution, SecurityEvent, Source, Timestamp, WhoisRecord,
};

use super::fresh::{Fresh, KnownNames};
use super::snapshots::Shared;
use super::staging::{stage, StagedBatch, Unstageable, Unstaged};
use super::{secs, Manager, Params};
use crate::codec::{
    allowlist_kind_str, file_links, file_names_text, ip_bytes, matching_str, merged_file_names,
    outcome, NETWORK_REGISTRATION_COLUMNS, NETWORK_REGISTRATION_MERGE,
};
use crate::counts::{self, Added};
use crate::keys::{key, kind};
use crate::name_filter::NewNames;
use crate::{FeedState, LookupState, PutOutcome, Result, StoreError, StoreWriter, WriteSummary};

/// A write transaction (`BEGIN` .. `COMMIT`) holding the schema's writer lock.
pub(super) struct PgWriter {
    pub(super) conn: PooledConnection<Manager>,
    /// Told of the commit, so that later readers take a new snapshot.
    shared: Arc<Shared>,
    open: bool,
    /// Ids of the sources and lists this transaction used (the sources get `last_import`).
    sources: HashMap<String, i32>,
    lists: HashMap<String, i32>,
    /// Staging tables created in this transaction (they are dropped at its end).
    pub(super) staging: HashSet<&'static str>,
    /// Tables of [`ANALYZED`] this transaction wrote to.
    pub(super) written: HashSet<&'static str>,
    /// The rows of names this transaction was the first to write rows of a kind for.
    pub(super) fresh: Fresh,
    /// The names this transaction found or added.
    pub(super) known: KnownNames,
    /// The records the writer asks for in its next batch ([`StoreWriter::batch_records`]).
    pub(super) batch_records: usize,
    summary: WriteSummary,
    /// Rows added to the counted tables, added to `row_counts` on commit.
    pub(super) added: Added<i32>,
    /// The names this transaction added, for the readers' filter of stored names.
    pub(super) new_names: NewNames,
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        if self.open {
            self.conn.end("ROLLBACK");
        }
    }
}

/// `SET` clauses merging a record into the stored one with the same identity, as SQLite's
/// writer does (the stored row is `i`, `e`, `w`, `r`, `p`, `v`; the new one `excluded`).
pub(super) const INDICATOR_MERGE: &str =
    "ON CONFLICT (name_id, zone, source_id, threat_type, label) DO UPDATE SET \
     risk = excluded.risk, scenario = excluded.scenario, attack_stage = excluded.attack_stage, \
     first_seen = least(i.first_seen, excluded.first_seen), \
     last_seen = greatest(i.last_seen, excluded.last_seen), \
     confidence = excluded.confidence, reference = excluded.reference, \
     via_url = i.via_url AND excluded.via_url, sightings = i.sightings + excluded.sightings \
     RETURNING i.xmax = 0";
pub(super) const ENTRY_MERGE: &str = "ON CONFLICT (name_id, list_id, matching) DO UPDATE SET \
     rank = excluded.rank RETURNING e.xmax = 0";
pub(super) const WHOIS_MERGE: &str =
    "ON CONFLICT (name_id, observed_at) DO UPDATE SET record = excluded.record RETURNING w.xmax = 0";
pub(super) const RESOLUTION_MERGE: &str = "ON CONFLICT (name_id, ip) DO UPDATE SET \
     first_seen = least(r.first_seen, excluded.first_seen), \
     last_seen = greatest(r.last_seen, excluded.last_seen), count = r.count + excluded.count \
     RETURNING r.xmax = 0";
pub(super) const IP_INTEL_MERGE: &str = "ON CONFLICT (network, prefix, source_id) DO UPDATE SET \
     risk = excluded.risk, threat_type = excluded.threat_type RETURNING p.xmax = 0";
pub(super) const IP_RECORD_MERGE: &str =
    "ON CONFLICT (network, prefix, source_id, threat_type, label) DO UPDATE SET \
     risk = excluded.risk, scenario = excluded.scenario, \
     first_seen = least(r.first_seen, excluded.first_seen), \
     last_seen = greatest(r.last_seen, excluded.last_seen), \
     confidence = excluded.confidence, reference = excluded.reference, \
     sightings = r.sightings + excluded.sightings RETURNING r.xmax = 0";
pub(super) const EVENT_MERGE: &str =
    "ON CONFLICT (name_id, time, stage, industry, source_id) DO UPDATE SET \
     count = excluded.count RETURNING v.xmax = 0";
// (`xmax = 0` in RETURNING is true for a row this statement inserted and false for one it
// updated: the conflicting row was locked first, so its new version carries a locker.)

impl PgWriter {
    /// Begins the transaction on `conn` and takes the writer lock `writer_lock`: one writer at
    /// a time per schema, whichever process it runs in, until the transaction ends.
    pub(super) fn begin(
        mut conn: PooledConnection<Manager>,
        writer_lock: i64,
        shared: &Arc<Shared>,
    ) -> Result<Self> {
        // Room for the bulk path's sorts of a 200k-record batch. Its merges join a batch to
        // the stored names by key: probes of the names' index, whatever the planner's
        // statistics say (they lag during a bulk load), never a hash or merge join, which read
        // every stored name once per batch (the cost of an import grew with the store). No
        // JIT: a batch's statements are estimated costly enough for it, and compiling them
        // took longer than it saved (25-30 ms per statement and batch).
        conn.begin(
            "BEGIN; SET LOCAL work_mem = '64MB'; SET LOCAL enable_hashjoin = off; \
             SET LOCAL enable_mergejoin = off; SET LOCAL jit = off",
        )?;
        let mut writer = Self {
            conn,
            shared: Arc::clone(shared),
            open: true,
            sources: HashMap::new(),
            lists: HashMap::new(),
            staging: HashSet::new(),
            written: HashSet::new(),
            fresh: Fresh::default(),
            known: KnownNames::default(),
            new_names: NewNames::new(shared.keeps_new_names()),
            batch_records: crate::BATCH_RECORDS,
            summary: WriteSummary::default(),
            added: Added::default(),
        };
        writer
            .conn
            .execute("SELECT pg_advisory_xact_lock($1)", &[&writer_lock])?;
        Ok(writer)
    }

    /// The id of `name`, creating it, with `kinds` added to its kind bits. One round trip;
    /// no sequence value is used unless the name is new.
    fn name_id(&mut self, name: &DomainName, kinds: i64) -> Result<i64> {
        let rev = key(name);
        let row = self.conn.query_one(
            "WITH found AS (SELECT id, kinds FROM names WHERE rev = $1::text), \
             added AS (INSERT INTO names (rev, kinds) SELECT $1::text, $2::integer \
                 WHERE NOT EXISTS (SELECT 1 FROM found) RETURNING id), \
             widened AS (UPDATE names SET kinds = names.kinds | $2::integer FROM found \
                 WHERE names.id = found.id AND found.kinds & $2::integer <> $2::integer) \
             SELECT id, true FROM added UNION ALL SELECT id, false FROM found",
            &[&rev, &(kinds as i32)],
        )?;
        let id = row.try_get(0)?;
        if row.try_get(1)? {
            self.new_names.add(&rev, id);
            self.added.rows.names += 1;
            self.known.added_unremembered();
        }
        self.fresh.forget(id, kinds);
        Ok(id)
    }

    fn cached_id(
        &mut self,
        lists: bool,
        name: &str,
        unknown: fn(String) -> StoreError,
    ) -> Result<i32> {
        let cache = if lists { &self.lists } else { &self.sources };
        if let Some(id) = cache.get(name) {
            return Ok(*id);
        }
        let sql = if lists {
            "SELECT id FROM allowlists WHERE name = $1"
        } else {
            "SELECT id FROM sources WHERE name = $1"
        };
        let id: i32 = match self.conn.query_opt(sql, &[&name])? {
            Some(row) => row.try_get(0)?,
            None => return Err(unknown(name.to_owned())),
        };
        let cache = if lists {
            &mut self.lists
        } else {
            &mut self.sources
        };
        cache.insert(name.to_owned(), id);
        Ok(id)
    }

    fn source_id(&mut self, name: &str) -> Result<i32> {
        self.cached_id(false, name, StoreError::UnknownSource)
    }

    fn list_id(&mut self, name: &str) -> Result<i32> {
        self.cached_id(true, name, StoreError::UnknownAllowlist)
    }

    /// Runs an upsert whose `RETURNING` says whether it inserted.
    fn upsert(&mut self, sql: &str, params: &Params<'_>) -> Result<PutOutcome> {
        let added: bool = self.conn.query_one(sql, params)?.try_get(0)?;
        Ok(outcome(added))
    }

    fn put_source(&mut self, source: &Source) -> Result<PutOutcome> {
        let existed = self.source_id(&source.name).is_ok();
        let id: i32 = self
            .conn
            .query_one(
                "INSERT INTO sources (name, reliability, default_threat_type) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET reliability = excluded.reliability, \
                 default_threat_type = excluded.default_threat_type RETURNING id",
                &[
                    &source.name,
                    &source.reliability.to_string(),
                    &source.default_threat_type,
                ],
            )?
            .try_get(0)?;
        self.sources.insert(source.name.clone(), id);
        Ok(outcome(!existed))
    }

    fn put_allowlist(&mut self, list: &Allowlist) -> Result<PutOutcome> {
        let existed = self.list_id(&list.name).is_ok();
        let id: i32 = self
            .conn
            .query_one(
                "INSERT INTO allowlists (name, kind, enabled) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, enabled = excluded.enabled \
                 RETURNING id",
                &[&list.name, &allowlist_kind_str(list.kind), &list.enabled],
            )?
            .try_get(0)?;
        self.lists.insert(list.name.clone(), id);
        Ok(outcome(!existed))
    }

    fn put_indicator(&mut self, rec: &IndicatorRecord) -> Result<PutOutcome> {
        let source_id = self.source_id(&rec.source)?;
        let kinds = if rec.zone {
            kind::ZONE_INDICATOR
        } else {
            kind::INDICATOR
        };
        let name_id = self.name_id(&rec.name, kinds)?;
        let sql = format!(
            "INSERT INTO indicators AS i (name_id, zone, source_id, threat_type, label, risk, \
             scenario, attack_stage, first_seen, last_seen, confidence, reference, via_url) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) {INDICATOR_MERGE}"
        );
        let outcome = self.upsert(
            &sql,
            &[
                &name_id,
                &rec.zone,
                &source_id,
                &rec.threat_type,
                &rec.label.as_deref().unwrap_or(""),
                &i16::from(rec.risk.code()),
                &rec.scenario,
                &rec.attack_stage,
                &secs(rec.first_seen),
                &secs(rec.last_seen),
                &rec.confidence.map(i16::from),
                &rec.reference,
                &rec.via_url,
            ],
        )?;
        if outcome == PutOutcome::Added {
            let label = rec.label.as_deref().unwrap_or("");
            self.added.indicators(source_id, &rec.threat_type, label, 1);
        }
        Ok(outcome)
    }

    fn put_allowlist_entry(&mut self, entry: &AllowlistEntry) -> Result<PutOutcome> {
        let list_id = self.list_id(&entry.list)?;
        let name_id = self.name_id(&entry.name, kind::ALLOWLIST)?;
        let sql = format!(
            "INSERT INTO allowlist_entries AS e (name_id, list_id, matching, rank) \
             VALUES ($1, $2, $3, $4) {ENTRY_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &name_id,
                &list_id,
                &matching_str(entry.matching),
                &entry.rank.map(i64::from),
            ],
        )
    }

    fn put_whois(&mut self, rec: &WhoisRecord) -> Result<PutOutcome> {
        let name_id = self.name_id(&rec.domain, kind::WHOIS)?;
        let sql = format!(
            "INSERT INTO whois AS w (name_id, observed_at, record) \
             VALUES ($1, $2, $3::text::json) {WHOIS_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &name_id,
                &secs(rec.observed_at),
                &serde_json::to_string(rec)?,
            ],
        )
    }

    fn put_certificate(&mut self, cert: &Certificate) -> Result<PutOutcome> {
        let seen = secs(cert.seen_at);
        let existing = self.conn.query_opt(
            "SELECT id, last_seen FROM certificates WHERE sha256 = $1",
            &[&cert.sha256],
        )?;
        let id: i64 = match &existing {
            Some(row) => {
                let id: i64 = row.try_get(0)?;
                let last_seen: Timestamp = row.try_get(1)?;
                if seen > last_seen {
                    self.conn.execute(
                        "UPDATE certificates SET record = $2::text::json, last_seen = $3 WHERE id = $1",
                        &[&id, &serde_json::to_string(cert)?, &seen],
                    )?;
                }
                id
            }
            None => self
                .conn
                .query_one(
                    "INSERT INTO certificates (sha256, record, last_seen) \
                     VALUES ($1, $2::text::json, $3) RETURNING id",
                    &[&cert.sha256, &serde_json::to_string(cert)?, &seen],
                )?
                .try_get(0)?,
        };
        self.conn.execute(
            "INSERT INTO certificate_sightings AS c (cert_id, seen_where, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (cert_id, seen_where) DO UPDATE SET seen_at = greatest(c.seen_at, excluded.seen_at)",
            &[&id, &cert.seen_where, &seen],
        )?;
        for covered in &cert.covers {
            let (name_id, wildcard) = match covered {
                DomainQuery::Exact(n) => (self.name_id(n, kind::CERTIFICATE)?, false),
                DomainQuery::Wildcard(zone) => {
                    (self.name_id(zone, kind::CERTIFICATE_WILDCARD)?, true)
                }
            };
            self.conn.execute(
                "INSERT INTO certificate_names (name_id, wildcard, cert_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&name_id, &wildcard, &id],
            )?;
        }
        Ok(outcome(existing.is_none()))
    }

    fn put_resolution(&mut self, res: &Resolution) -> Result<PutOutcome> {
        let name_id = self.name_id(&res.name, kind::RESOLUTION)?;
        let sql = format!(
            "INSERT INTO resolutions AS r (name_id, ip, first_seen, last_seen, count) \
             VALUES ($1, $2, $3, $4, $5) {RESOLUTION_MERGE}"
        );
        let ip = ip_bytes(res.ip);
        let outcome = self.upsert(
            &sql,
            &[
                &name_id,
                &ip,
                &secs(res.first_seen),
                &secs(res.last_seen),
                &(res.count as i64),
            ],
        )?;
        self.conn.execute(
            "INSERT INTO resolved_names (ip, rev) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&ip, &key(&res.name)],
        )?;
        Ok(outcome)
    }

    fn put_relation(&mut self, rel: &DnsRelation) -> Result<PutOutcome> {
        let name_id = self.name_id(&rel.name, kind::RELATION)?;
        self.upsert(
            "INSERT INTO dns_relations AS r (name_id, kind, target, first_seen, last_seen, count, source) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (name_id, kind, target) DO UPDATE SET \
             first_seen = least(r.first_seen, excluded.first_seen), \
             last_seen = greatest(r.last_seen, excluded.last_seen), \
             count = r.count + excluded.count, source = excluded.source \
             RETURNING (xmax = 0)",
            &[
                &name_id,
                &rel.kind.as_str(),
                &rel.target.as_str(),
                &secs(rel.first_seen),
                &secs(rel.last_seen),
                &(rel.count as i64),
                &rel.source,
            ],
        )
    }

    /// Notes that a table of addresses holds networks of `network`'s length and prefix.
    fn note_prefix(&mut self, network: IpNetwork) -> Result<()> {
        let octets: i16 = if network.addr().is_ipv4() { 4 } else { 16 };
        self.conn.execute(
            "INSERT INTO ip_prefixes (octets, prefix) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&octets, &i16::from(network.prefix())],
        )?;
        Ok(())
    }

    fn put_ip_record(&mut self, rec: &IpRecord) -> Result<PutOutcome> {
        let source_id = self.source_id(&rec.source)?;
        self.note_prefix(rec.network)?;
        let sql = format!(
            "INSERT INTO ip_records AS r (network, prefix, source_id, threat_type, label, risk, \
             scenario, first_seen, last_seen, confidence, reference) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) {IP_RECORD_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &ip_bytes(rec.network.addr()),
                &i16::from(rec.network.prefix()),
                &source_id,
                &rec.threat_type,
                &rec.label.as_deref().unwrap_or(""),
                &i16::from(rec.risk.code()),
                &rec.scenario,
                &secs(rec.first_seen),
                &secs(rec.last_seen),
                &rec.confidence.map(i16::from),
                &rec.reference,
            ],
        )
    }

    fn put_network_registration(&mut self, reg: &NetworkRegistration) -> Result<PutOutcome> {
        self.note_prefix(reg.network)?;
        let (network, prefix) = (
            ip_bytes(reg.network.addr()),
            i16::from(reg.network.prefix()),
        );
        let existed = self
            .conn
            .query_opt(
                "SELECT 1 FROM network_registrations WHERE network = $1 AND prefix = $2",
                &[&network, &prefix],
            )?
            .is_some();
        self.conn.execute(
            &format!(
                "INSERT INTO network_registrations ({NETWORK_REGISTRATION_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) {NETWORK_REGISTRATION_MERGE}"
            ),
            &[
                &network,
                &prefix,
                &reg.range,
                &reg.name,
                &reg.organisation,
                &reg.country,
                &reg.abuse_email,
                &secs(reg.observed_at),
            ],
        )?;
        Ok(outcome(!existed))
    }

    fn put_network_allow_entry(&mut self, entry: &NetworkAllowEntry) -> Result<PutOutcome> {
        let list_id = self.list_id(&entry.list)?;
        self.note_prefix(entry.network)?;
        let added = self.conn.execute(
            "INSERT INTO allowlist_networks (network, prefix, list_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[
                &ip_bytes(entry.network.addr()),
                &i16::from(entry.network.prefix()),
                &list_id,
            ],
        )?;
        Ok(outcome(added == 1))
    }

    fn put_ip_intel(&mut self, intel: &IpIntel) -> Result<PutOutcome> {
        let source_id = self.source_id(&intel.source)?;
        self.note_prefix(intel.network)?;
        let network = ip_bytes(intel.network.addr());
        let prefix = i16::from(intel.network.prefix());
        let sql = format!(
            "INSERT INTO ip_intel AS p (network, prefix, source_id, risk, threat_type) \
             VALUES ($1, $2, $3, $4, $5) {IP_INTEL_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &network,
                &prefix,
                &source_id,
                &i16::from(intel.risk.code()),
                &intel.threat_type,
            ],
        )
    }

    /// The file `rec` speaks of, as SQLite's writer finds or makes it.
    fn file_id(&mut self, rec: &FileRecord) -> Result<i64> {
        let (linked, unlinked) = file_links(&rec.hashes, |bytes| {
            self.conn
                .query_opt("SELECT file_id FROM file_hashes WHERE hash = $1", &[&bytes])?
                .map(|row| row.try_get::<_, i64>(0))
                .transpose()
                .map_err(Into::into)
        })?;
        let id = match linked {
            Some(id) => id,
            None => self
                .conn
                .query_one("INSERT INTO files DEFAULT VALUES RETURNING id", &[])?
                .try_get(0)?,
        };
        for (column, bytes) in unlinked {
            self.conn.execute(
                "INSERT INTO file_hashes (hash, file_id) VALUES ($1, $2)",
                &[&bytes, &id],
            )?;
            // The column is named by the hash's kind, never by input.
            self.conn.execute(
                &format!("UPDATE files SET {column} = $2 WHERE id = $1 AND {column} IS NULL"),
                &[&id, &bytes],
            )?;
        }
        Ok(id)
    }

    fn put_file_record(&mut self, rec: &FileRecord) -> Result<PutOutcome> {
        let source_id = self.source_id(&rec.source)?;
        let file_id = self.file_id(rec)?;
        let label = rec.label.as_deref().unwrap_or("");
        let stored: Option<String> = self
            .conn
            .query_opt(
                "SELECT file_names FROM file_records \
                 WHERE file_id = $1 AND source_id = $2 AND threat_type = $3 AND label = $4",
                &[&file_id, &source_id, &rec.threat_type, &label],
            )?
            .map(|row| row.try_get(0))
            .transpose()?;
        let names = match &stored {
            Some(stored) => merged_file_names(stored, &rec.file_names)?,
            None => file_names_text(&rec.file_names),
        };
        let sql = if stored.is_some() {
            "UPDATE file_records SET risk = $5, scenario = $6, \
             file_type = coalesce($7, file_type), size = coalesce($8, size), file_names = $9, \
             first_seen = least(first_seen, $10), last_seen = greatest(last_seen, $11), \
             confidence = $12, reference = $13, sightings = sightings + 1 \
             WHERE file_id = $1 AND source_id = $2 AND threat_type = $3 AND label = $4"
        } else {
            "INSERT INTO file_records (file_id, source_id, threat_type, label, risk, scenario, \
             file_type, size, file_names, first_seen, last_seen, confidence, reference) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        };
        self.conn.execute(
            sql,
            &[
                &file_id,
                &source_id,
                &rec.threat_type,
                &label,
                &i16::from(rec.risk.code()),
                &rec.scenario,
                &rec.file_type,
                &rec.size.map(|s| s as i64),
                &names,
                &secs(rec.first_seen),
                &secs(rec.last_seen),
                &rec.confidence.map(i16::from),
                &rec.reference,
            ],
        )?;
        Ok(outcome(stored.is_none()))
    }

    fn put_event(&mut self, event: &SecurityEvent) -> Result<PutOutcome> {
        let source_id = self.source_id(&event.source)?;
        let name_id = self.name_id(&event.name, kind::EVENT)?;
        let sql = format!(
            "INSERT INTO events AS v (name_id, time, stage, industry, source_id, count) \
             VALUES ($1, $2, $3, $4, $5, $6) {EVENT_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &name_id,
                &secs(event.time),
                &event.stage,
                &event.industry,
                &source_id,
                &(event.count as i64),
            ],
        )
    }
}

impl PgWriter {
    /// Those of `tables` that never had statistics (`reltuples` is -1 until a table is first
    /// analyzed or vacuumed).
    fn never_analyzed(&mut self, tables: Vec<&'static str>) -> Result<Vec<&'static str>> {
        if tables.is_empty() {
            return Ok(tables);
        }
        let rows = self.conn.client.query(
            "SELECT t FROM unnest($1::text[]) AS t \
             JOIN pg_class c ON c.oid = to_regclass(t) WHERE c.reltuples < 0",
            &[&tables],
        )?;
        let never: Vec<String> = rows
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        Ok(tables
            .into_iter()
            .filter(|t| never.iter().any(|n| n == t))
            .collect())
    }

    /// Writes a staged batch: its rows ([`PgWriter::flush`]), then its records written one by
    /// one. What it added and updated.
    pub(super) fn write_staged(&mut self, staged: &StagedBatch<'_>) -> Result<WriteSummary> {
        let mut summary = WriteSummary::default();
        self.flush(&staged.rows, &mut summary)?;
        self.summary += summary;
        for evidence in &staged.later {
            summary.count(self.put(evidence)?);
        }
        Ok(summary)
    }

    /// Sets the batch size to ask for after a names statement: doubled (up to four times the
    /// default) when the statement found most of its names stored, the default otherwise. The
    /// next batch is read and staged while this one is written, so a batch much larger than
    /// the one before left PostgreSQL waiting: asked for at once, four times the default after
    /// a batch of the default size left it idle for a second of a 14 s import (statement log).
    pub(super) fn ask_for_batches(&mut self, names_mostly_stored: bool) {
        self.batch_records = if names_mostly_stored {
            (2 * self.batch_records).min(4 * crate::BATCH_RECORDS)
        } else {
            crate::BATCH_RECORDS
        };
    }

    /// Whether the store holds any name. Asked once per store, not per transaction (enrichment
    /// commits small groups): nothing deletes a name.
    pub(super) fn names_stored(&mut self) -> Result<bool> {
        if self.shared.names_stored.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let stored: bool = self
            .conn
            .query_one("SELECT EXISTS (SELECT 1 FROM names)", &[])?
            .try_get(0)?;
        if stored {
            self.shared.names_stored.store(true, Ordering::Relaxed);
        }
        Ok(stored)
    }

    /// The ids of the sources and of the lists this transaction used so far.
    pub(super) fn known_ids(&self) -> (&HashMap<String, i32>, &HashMap<String, i32>) {
        (&self.sources, &self.lists)
    }
}

/// Staging with the writer at hand: sources and lists are put at once.
struct Attached<'w> {
    writer: &'w mut PgWriter,
    summary: WriteSummary,
}

impl Unstaged for Attached<'_> {
    fn id(&mut self, list: bool, name: &str) -> Result<i32, Unstageable> {
        let id = if list {
            self.writer.list_id(name)?
        } else {
            self.writer.source_id(name)?
        };
        Ok(id)
    }

    fn put_now(&mut self, evidence: &Evidence) -> Result<(), Unstageable> {
        self.summary.count(self.writer.put(evidence)?);
        Ok(())
    }
}

impl StoreWriter for PgWriter {
    fn put(&mut self, evidence: &Evidence) -> Result<PutOutcome> {
        let outcome = put_by_kind!(self, evidence)?;
        if outcome == PutOutcome::Added {
            self.added.record(evidence);
        }
        self.written.extend(written_tables(evidence));
        self.summary.count(outcome);
        Ok(outcome)
    }

    /// The bulk path: sources and lists are put one by one, certificates (several tables
    /// each), file records (a file and its hashes first), allowlisted networks, network
    /// registrations and DNS relations (few per batch) too, after the rest; every other record is reduced to
    /// one row per identity, copied into a staging table and merged with one statement per table. The outcome is
    /// the one the same records put one by one in batch order would have.
    fn put_batch(&mut self, batch: &[Evidence]) -> Result<WriteSummary> {
        let mut attached = Attached {
            writer: self,
            summary: WriteSummary::default(),
        };
        let staged = match stage(batch, &mut attached) {
            Ok(staged) => staged,
            Err(Unstageable::Failed(e)) => return Err(e),
            Err(Unstageable::NeedsWriter) => unreachable!("the writer is at hand"),
        };
        let mut summary = attached.summary;
        summary += self.write_staged(&staged)?;
        Ok(summary)
    }

    /// Up to four times the default once names statements find most of their names stored (a
    /// batch of records on stored names: passive DNS, a list imported again), doubling at
    /// each such statement ([`PgWriter::ask_for_batches`]). Such a statement probes the names'
    /// index and widens the names' rows across the whole store for every batch; with this
    /// machine's 128 MB of shared buffers, each pass read those pages back from the OS and
    /// wrote them out again. Passive DNS onto 1.1M stored names, alternated: PostgreSQL CPU
    /// 9.6-13.0 s with 50k records a batch, 7.3-7.9 s (mostly) with 200k; client RSS 250 ->
    /// 470-550 MB. A plain list, whose names are new, gains nothing and keeps its batches.
    fn batch_records(&self) -> usize {
        self.batch_records
    }

    fn put_feed_state(&mut self, state: &FeedState) -> Result<()> {
        self.conn.execute(
            "INSERT INTO feed_state (name, etag, last_modified, refreshed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET etag = excluded.etag, \
             last_modified = excluded.last_modified, refreshed_at = excluded.refreshed_at",
            &[
                &state.name,
                &state.etag,
                &state.last_modified,
                &secs(state.refreshed_at),
            ],
        )?;
        Ok(())
    }

    fn put_lookup(&mut self, state: &LookupState) -> Result<()> {
        self.conn.execute(
            "INSERT INTO lookups (rev, topic, kind, at, server, outcome, error, records, \
             latency_ms, next_due, failures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (rev, topic) DO UPDATE SET kind = excluded.kind, at = excluded.at, \
             server = excluded.server, outcome = excluded.outcome, error = excluded.error, \
             records = excluded.records, latency_ms = excluded.latency_ms, \
             next_due = excluded.next_due, failures = excluded.failures",
            &[
                &key(&state.name),
                &state.topic,
                &state.kind,
                &secs(state.at),
                &state.server,
                &state.outcome,
                &state.error,
                &(state.records as i64),
                &(state.latency_ms as i64),
                &secs(state.next_due),
                &(state.failures as i32),
            ],
        )?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<WriteSummary> {
        let touched: Vec<i32> = self.sources.values().copied().collect();
        if !touched.is_empty() {
            // The server's clock: every process sharing the store stamps imports alike.
            let indicators: Vec<i64> = touched
                .iter()
                .map(|id| self.added.of_source(*id) as i64)
                .collect();
            self.conn.execute(
                "UPDATE sources s SET last_import = date_trunc('second', statement_timestamp()), \
                 indicators = s.indicators + t.added \
                 FROM unnest($1::integer[], $2::bigint[]) AS t (id, added) WHERE s.id = t.id",
                &[&touched, &indicators],
            )?;
            self.conn.execute(
                "INSERT INTO imports (at, sources, records) \
                 VALUES (date_trunc('second', statement_timestamp()), $1, $2)",
                &[
                    &(touched.len() as i32),
                    &((self.summary.added + self.summary.updated) as i64),
                ],
            )?;
        }
        if !self.added.is_empty() {
            let counts = self.added.rows.in_order().map(|n| n as i64);
            let params: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
                counts.iter().map(|n| n as _).collect();
            self.conn.execute(&ADD_COUNTS, &params)?;
            let (threat_types, (labels, added)): (Vec<&str>, (Vec<&str>, Vec<i64>)) = self
                .added
                .by_threat()
                .into_iter()
                .map(|(threat_type, label, n)| (threat_type, (label, n as i64)))
                .unzip();
            self.conn.execute(
                "INSERT INTO indicator_counts AS c (threat_type, label, indicators) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) \
                 ON CONFLICT (threat_type, label) DO UPDATE \
                 SET indicators = c.indicators + excluded.indicators",
                &[&threat_types, &labels, &added],
            )?;
        }
        let generation: i64 = self
            .conn
            .query_one(
                "UPDATE commit_marker SET generation = generation + 1, \
                 committed_at = date_trunc('second', statement_timestamp()) RETURNING generation",
                &[],
            )?
            .try_get(0)?;
        self.conn.client.batch_execute("COMMIT")?;
        self.open = false;
        self.shared
            .committed(generation - 1, std::mem::take(&mut self.new_names));
        // After a bulk load the planner's statistics lag far behind (autovacuum analyzes later):
        // without them a zone's range scan can turn into a scan of every resolution. Only the
        // store's own tables (a bare ANALYZE samples every table of the database, every other
        // schema's too).
        // Only the tables this transaction wrote to: the others' statistics are as fresh as
        // when their writer analyzed them (an ANALYZE of 1M rows cost 0.1-0.3 s). A table that
        // never had statistics gets them whatever the transaction's size: without them, reports
        // on a 20k-name store cost PostgreSQL 2.3-4.2 ms each instead of 0.2 (where autovacuum
        // is off, or has not come round yet). The catalog is asked once per table and store:
        // a table keeps its statistics.
        let written: Vec<&str> = ANALYZED
            .iter()
            .copied()
            .filter(|table| self.written.contains(table))
            .collect();
        let lacking: Vec<&str> = if self.summary.added + self.summary.updated >= ANALYZE_AFTER {
            written.clone()
        } else {
            let unknown: Vec<&str> = {
                let known = self.shared.with_statistics.lock();
                written
                    .iter()
                    .copied()
                    .filter(|t| !known.contains(t))
                    .collect()
            };
            self.never_analyzed(unknown)?
        };
        if !lacking.is_empty() {
            self.conn
                .client
                .batch_execute(&format!("ANALYZE {}", lacking.join(", ")))?;
        }
        self.shared.with_statistics.lock().extend(written);
        Ok(self.summary)
    }
}

/// Adds a transaction's [`Added`] rows to `row_counts`.
static ADD_COUNTS: LazyLock<String> = LazyLock::new(|| counts::add_sql('$'));

/// Records written by one transaction after which the writer refreshes planner statistics.
const ANALYZE_AFTER: u64 = 100_000;

/// The tables whose statistics the writer refreshes after a large transaction (those a read
/// plans a range over).
pub(super) const ANALYZED: &[&str] = &[
    "names",
    "indicators",
    "allowlist_entries",
    "resolutions",
    "events",
    "whois",
    "dns_relations",
    "certificate_names",
    "ip_intel",
    "ip_records",
    "file_records",
];

/// The tables of [`ANALYZED`] a put of `evidence` writes to.
fn written_tables(evidence: &Evidence) -> &'static [&'static str] {
    match evidence {
        Evidence::Indicator(_) => &["names", "indicators"],
        Evidence::AllowlistEntry(_) => &["names", "allowlist_entries"],
        Evidence::Whois(_) => &["names", "whois"],
        Evidence::Certificate(_) => &["names", "certificate_names"],
        Evidence::Resolution(_) => &["names", "resolutions"],
        Evidence::Relation(_) => &["names", "dns_relations"],
        Evidence::Event(_) => &["names", "events"],
        Evidence::IpIntel(_) => &["ip_intel"],
        Evidence::IpRecord(_) => &["ip_records"],
        Evidence::FileRecord(_) => &["file_records"],
        Evidence::Source(_)
        | Evidence::Allowlist(_)
        | Evidence::NetworkAllowEntry(_)
        | Evidence::NetworkRegistration(_) => &[],
    }
}
