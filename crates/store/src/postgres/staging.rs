//! The PostgreSQL writer's bulk path: a batch reduced to one row per identity ([`Staged`]),
//! copied with binary `COPY` into temporary tables and merged into the stored tables, one
//! [`MergeStep`] per table.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use ::postgres::binary_copy::BinaryCopyInWriter;
use ::postgres::types::Type;
use ::postgres::Row;
use threatintel_model::{
    AllowlistEntry, DomainName, IndicatorRecord, IpIntel, Resolution, SecurityEvent, Timestamp,
    WhoisRecord,
};

use super::secs;
use super::writer::{
    PgWriter, ENTRY_MERGE, EVENT_MERGE, INDICATOR_MERGE, IP_INTEL_MERGE, RESOLUTION_MERGE,
    WHOIS_MERGE,
};
use crate::codec::{ip_bytes, matching_str};
use crate::counts::Added;
use crate::keys::{key, kind};
use crate::{Result, WriteSummary};

impl PgWriter {
    /// Empties the step's staging table (creating it for this transaction) and fills it by
    /// binary `COPY` with the staged rows.
    fn stage(&mut self, step: &MergeStep, staged: &Staged<'_>) -> Result<()> {
        let client = &mut self.conn.client;
        if self.staging.insert(step.table) {
            client.batch_execute(&format!(
                "CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP",
                step.table, step.columns
            ))?;
        } else {
            client.batch_execute(&format!("TRUNCATE {}", step.table))?;
        }
        let sink = client.copy_in(&format!("COPY {} FROM STDIN (FORMAT binary)", step.table))?;
        let mut writer = BinaryCopyInWriter::new(sink, step.types);
        (step.copy)(staged, &mut writer)?;
        // Not analyzed: the merges probe the stored tables' indexes per staged row whatever
        // the statistics say, and the planner sizes the table from its pages (an ANALYZE cost
        // 20-40 ms per table and batch, 7% of a plain list's import).
        writer.finish()?;
        Ok(())
    }

    /// Merges a staged table as `merge` says, and counts the staged records: each new
    /// identity is one record added (and one row of its table), every other record updated.
    fn merge(&mut self, merge: &Merge, records: u64, summary: &mut WriteSummary) -> Result<()> {
        let Merge {
            insert,
            on_conflict,
            by,
            count,
        } = merge;
        let sql = match by {
            None => format!(
                "WITH up AS ({insert} {on_conflict} AS added) \
                 SELECT count(*) FILTER (WHERE added) FROM up"
            ),
            Some(by) => format!(
                "WITH up AS ({insert} {on_conflict} AS added, {by}) \
                 SELECT count(*) FILTER (WHERE added), {by} FROM up GROUP BY {by}"
            ),
        };
        // Not cached: the staging tables are new in every transaction.
        let mut added = 0;
        for row in self.conn.client.query(&sql, &[])? {
            let n = row.try_get::<_, i64>(0)? as u64;
            count(&mut self.added, &row, n)?;
            added += n;
        }
        summary.added += added;
        summary.updated += records - added;
        Ok(())
    }

    /// Writes the staged records: names first, then each kind of record, one [`MergeStep`] each.
    pub(super) fn flush(&mut self, staged: &Staged<'_>, summary: &mut WriteSummary) -> Result<()> {
        for step in MERGE_STEPS {
            let (rows, records) = (step.staged)(staged);
            if rows == 0 {
                continue;
            }
            self.stage(step, staged)?;
            if !step.prepare.is_empty() {
                self.conn.client.batch_execute(step.prepare)?;
            }
            match &step.merge {
                Some(merge) => self.merge(merge, records, summary)?,
                // Names: the staged ones not stored yet are added.
                None => self.added.rows.names += self.conn.client.execute(NAMES_INSERT, &[])?,
            }
        }
        Ok(())
    }
}

/// One stage-and-merge step of [`PgWriter::flush`]: the temporary table one kind of staged row
/// is copied into, and the statements that merge it into the stored table.
struct MergeStep {
    /// The temporary table: its name, its column definitions and their types for `COPY`.
    table: &'static str,
    columns: &'static str,
    types: &'static [Type],
    /// How many rows are staged, and how many records they stand for.
    staged: fn(&Staged<'_>) -> (usize, u64),
    /// Writes the staged rows into the `COPY`, in `columns` order.
    copy: fn(&Staged<'_>, &mut BinaryCopyInWriter<'_>) -> Result<()>,
    /// Statements run after the copy whose effect is not counted (empty for none).
    prepare: &'static str,
    /// How the table is merged; `None` for names, which are not records ([`NAMES_INSERT`]).
    merge: Option<Merge>,
}

/// How a staged table is merged into its stored table, and how the rows it adds are counted.
struct Merge {
    /// The `INSERT ... SELECT` from the staging table and its `ON CONFLICT ... RETURNING
    /// <inserted>` clause.
    insert: &'static str,
    on_conflict: &'static str,
    /// The stored columns the added rows are counted by (`None`: one count), and where each
    /// count (with the columns after it in its row) goes.
    by: Option<&'static str>,
    count: fn(&mut Added<i32>, &Row, u64) -> Result<()>,
}

/// Inserts the staged names not stored yet (after `stage_names`' step updated the kind bits of
/// the stored ones). A plain INSERT rather than an upsert: ON CONFLICT would take a sequence
/// value for every name already stored.
const NAMES_INSERT: &str =
    "INSERT INTO names (rev, kinds) SELECT s.rev, s.kinds FROM stage_names s \
     WHERE NOT EXISTS (SELECT 1 FROM names n WHERE n.rev = s.rev) ORDER BY s.rev";

/// The steps in the order [`PgWriter::flush`] takes them: names before the records that
/// refer to them.
const MERGE_STEPS: &[MergeStep] = &[
    MergeStep {
        table: "stage_names",
        columns: "rev text COLLATE \"C\", kinds integer",
        types: &[Type::TEXT, Type::INT4],
        staged: |s| (s.names.len(), 0),
        copy: |s, w| {
            for (rev, kinds) in &s.names {
                w.write(&[rev, kinds])?;
            }
            Ok(())
        },
        prepare: "UPDATE names n SET kinds = n.kinds | s.kinds FROM stage_names s \
                  WHERE n.rev = s.rev AND n.kinds | s.kinds <> n.kinds",
        merge: None,
    },
    MergeStep {
        table: "stage_indicators",
        columns: "rev text COLLATE \"C\", zone boolean, source_id integer, \
                  threat_type text COLLATE \"C\", label text COLLATE \"C\", risk smallint, \
                  scenario text, attack_stage text, first_seen timestamptz, last_seen timestamptz, \
                  confidence smallint, reference text, via_url boolean, sightings bigint",
        types: &[
            Type::TEXT,
            Type::BOOL,
            Type::INT4,
            Type::TEXT,
            Type::TEXT,
            Type::INT2,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::INT2,
            Type::TEXT,
            Type::BOOL,
            Type::INT8,
        ],
        staged: |s| s.indicators.size(),
        copy: |s, w| {
            for ((name, zone, source_id, threat_type, label), v) in &s.indicators.rows {
                let r = v.last;
                w.write(&[
                    s.rev(*name),
                    zone,
                    source_id,
                    threat_type,
                    label,
                    &i16::from(r.risk.code()),
                    &r.scenario,
                    &r.attack_stage,
                    &v.first_seen,
                    &v.last_seen,
                    &r.confidence.map(i16::from),
                    &r.reference,
                    &v.via_url,
                    &v.sightings,
                ])?;
            }
            Ok(())
        },
        prepare: "",
        merge: Some(Merge {
            insert: "INSERT INTO indicators AS i (name_id, zone, source_id, threat_type, label, risk, \
             scenario, attack_stage, first_seen, last_seen, confidence, reference, via_url, sightings) \
             SELECT n.id, s.zone, s.source_id, s.threat_type, s.label, s.risk, s.scenario, \
             s.attack_stage, s.first_seen, s.last_seen, s.confidence, s.reference, s.via_url, \
             s.sightings FROM stage_indicators s JOIN names n ON n.rev = s.rev \
             ORDER BY n.id, s.zone, s.source_id, s.threat_type, s.label",
            on_conflict: INDICATOR_MERGE,
            by: Some("source_id, threat_type, label"),
            count: |a, row, n| {
                a.indicators(row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, n);
                Ok(())
            },
        }),
    },
    MergeStep {
        table: "stage_entries",
        columns: "rev text COLLATE \"C\", list_id integer, matching text COLLATE \"C\", rank bigint",
        types: &[Type::TEXT, Type::INT4, Type::TEXT, Type::INT8],
        staged: |s| s.entries.size(),
        copy: |s, w| {
            for ((name, list_id, matching), rank) in &s.entries.rows {
                w.write(&[s.rev(*name), list_id, matching, &rank.map(i64::from)])?;
            }
            Ok(())
        },
        prepare: "",
        merge: Some(Merge {
            insert: "INSERT INTO allowlist_entries AS e (name_id, list_id, matching, rank) \
             SELECT n.id, s.list_id, s.matching, s.rank FROM stage_entries s \
             JOIN names n ON n.rev = s.rev ORDER BY n.id, s.list_id, s.matching",
            on_conflict: ENTRY_MERGE,
            by: None,
            count: |a, _, n| {
                a.rows.allowlist_entries += n;
                Ok(())
            },
        }),
    },
    MergeStep {
        table: "stage_whois",
        columns: "rev text COLLATE \"C\", observed_at timestamptz, record text",
        types: &[Type::TEXT, Type::TIMESTAMPTZ, Type::TEXT],
        staged: |s| s.whois.size(),
        copy: |s, w| {
            for ((name, observed_at), rec) in &s.whois.rows {
                w.write(&[s.rev(*name), observed_at, &serde_json::to_string(rec)?])?;
            }
            Ok(())
        },
        prepare: "",
        merge: Some(Merge {
            insert: "INSERT INTO whois AS w (name_id, observed_at, record) \
             SELECT n.id, s.observed_at, s.record::json FROM stage_whois s \
             JOIN names n ON n.rev = s.rev ORDER BY n.id, s.observed_at",
            on_conflict: WHOIS_MERGE,
            by: None,
            count: |a, _, n| {
                a.rows.whois_records += n;
                Ok(())
            },
        }),
    },
    MergeStep {
        table: "stage_resolutions",
        columns: "rev text COLLATE \"C\", ip bytea, first_seen timestamptz, \
                  last_seen timestamptz, count bigint",
        types: &[
            Type::TEXT,
            Type::BYTEA,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::INT8,
        ],
        staged: |s| s.resolutions.size(),
        copy: |s, w| {
            for ((name, ip), (first, last, count)) in &s.resolutions.rows {
                w.write(&[s.rev(*name), &ip_bytes(*ip), first, last, count])?;
            }
            Ok(())
        },
        // In key order, as the merges: each insert lands next to the last in the index.
        prepare: "INSERT INTO resolved_names (ip, rev) SELECT ip, rev FROM stage_resolutions \
                  ORDER BY ip, rev ON CONFLICT DO NOTHING",
        merge: Some(Merge {
            insert: "INSERT INTO resolutions AS r (name_id, ip, first_seen, last_seen, count) \
             SELECT n.id, s.ip, s.first_seen, s.last_seen, s.count FROM stage_resolutions s \
             JOIN names n ON n.rev = s.rev ORDER BY n.id, s.ip",
            on_conflict: RESOLUTION_MERGE,
            by: None,
            count: |a, _, n| {
                a.rows.resolutions += n;
                Ok(())
            },
        }),
    },
    MergeStep {
        table: "stage_events",
        columns: "rev text COLLATE \"C\", time timestamptz, stage text COLLATE \"C\", \
                  industry text COLLATE \"C\", source_id integer, count bigint",
        types: &[
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TEXT,
            Type::TEXT,
            Type::INT4,
            Type::INT8,
        ],
        staged: |s| s.events.size(),
        copy: |s, w| {
            for ((name, time, stage, industry, source_id), count) in &s.events.rows {
                w.write(&[s.rev(*name), time, stage, industry, source_id, count])?;
            }
            Ok(())
        },
        prepare: "",
        merge: Some(Merge {
            insert: "INSERT INTO events AS v (name_id, time, stage, industry, source_id, count) \
             SELECT n.id, s.time, s.stage, s.industry, s.source_id, s.count FROM stage_events s \
             JOIN names n ON n.rev = s.rev \
             ORDER BY n.id, s.time, s.stage, s.industry, s.source_id",
            on_conflict: EVENT_MERGE,
            by: None,
            count: |a, _, n| {
                a.rows.events += n;
                Ok(())
            },
        }),
    },
    MergeStep {
        table: "stage_ip_intel",
        columns: "network bytea, prefix smallint, source_id integer, risk smallint, threat_type text",
        types: &[Type::BYTEA, Type::INT2, Type::INT4, Type::INT2, Type::TEXT],
        staged: |s| s.ip_intel.size(),
        copy: |s, w| {
            for ((network, prefix, source_id), intel) in &s.ip_intel.rows {
                w.write(&[
                    &ip_bytes(*network),
                    &i16::from(*prefix),
                    source_id,
                    &i16::from(intel.risk.code()),
                    &intel.threat_type,
                ])?;
            }
            Ok(())
        },
        prepare: "INSERT INTO ip_prefixes (octets, prefix) \
                  SELECT DISTINCT octet_length(network), prefix FROM stage_ip_intel \
                  ON CONFLICT DO NOTHING",
        merge: Some(Merge {
            insert: "INSERT INTO ip_intel AS p (network, prefix, source_id, risk, threat_type) \
             SELECT s.network, s.prefix, s.source_id, s.risk, s.threat_type FROM stage_ip_intel s \
             ORDER BY s.network, s.prefix, s.source_id",
            on_conflict: IP_INTEL_MERGE,
            by: None,
            count: |a, _, n| {
                a.rows.ip_intel += n;
                Ok(())
            },
        }),
    },
];

/// Records of one identity merged in batch order, and how many records they were.
struct Merged<K, V> {
    index: HashMap<K, usize>,
    rows: Vec<(K, V)>,
    records: u64,
}

impl<K, V> Default for Merged<K, V> {
    fn default() -> Self {
        Self {
            index: HashMap::new(),
            rows: Vec::new(),
            records: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V> Merged<K, V> {
    /// How many rows (identities) there are, and how many records they merge.
    fn size(&self) -> (usize, u64) {
        (self.rows.len(), self.records)
    }

    /// Adds `value` under `key`, or merges it into the value already there.
    fn add(&mut self, key: K, value: V, merge: impl FnOnce(&mut V, V)) {
        self.records += 1;
        match self.index.entry(key) {
            Entry::Occupied(e) => merge(&mut self.rows[*e.get()].1, value),
            Entry::Vacant(e) => {
                let key = e.key().clone();
                e.insert(self.rows.len());
                self.rows.push((key, value));
            }
        }
    }
}

/// What a run of puts of one indicator identity leaves: the last record's values, the
/// widest window, `via_url` only while every record had it, one sighting per record.
struct IndicatorMerge<'b> {
    last: &'b IndicatorRecord,
    first_seen: Timestamp,
    last_seen: Timestamp,
    via_url: bool,
    sightings: i64,
}

/// A batch reduced to one row per identity, each as the sequence of puts would leave it. Names
/// are indexes into `names`.
#[derive(Default)]
pub(super) struct Staged<'b> {
    names: Vec<(String, i32)>,
    name_index: HashMap<String, usize>,
    indicators: Merged<(usize, bool, i32, &'b str, &'b str), IndicatorMerge<'b>>,
    entries: Merged<(usize, i32, &'static str), Option<u32>>,
    whois: Merged<(usize, Timestamp), &'b WhoisRecord>,
    resolutions: Merged<(usize, IpAddr), (Timestamp, Timestamp, i64)>,
    events: Merged<(usize, Timestamp, &'b str, &'b str, i32), i64>,
    ip_intel: Merged<(IpAddr, u8, i32), &'b IpIntel>,
}

impl<'b> Staged<'b> {
    /// The key of name `i`.
    fn rev(&self, i: usize) -> &String {
        &self.names[i].0
    }

    fn name(&mut self, name: &DomainName, kinds: i64) -> usize {
        let rev = key(name);
        match self.name_index.get(&rev) {
            Some(&i) => {
                self.names[i].1 |= kinds as i32;
                i
            }
            None => {
                let i = self.names.len();
                self.name_index.insert(rev.clone(), i);
                self.names.push((rev, kinds as i32));
                i
            }
        }
    }

    pub(super) fn indicator(&mut self, rec: &'b IndicatorRecord, source_id: i32) {
        let kinds = if rec.zone {
            kind::ZONE_INDICATOR
        } else {
            kind::INDICATOR
        };
        let name = self.name(&rec.name, kinds);
        let label = rec.label.as_deref().unwrap_or("");
        let merge = IndicatorMerge {
            last: rec,
            first_seen: secs(rec.first_seen),
            last_seen: secs(rec.last_seen),
            via_url: rec.via_url,
            sightings: 1,
        };
        self.indicators.add(
            (name, rec.zone, source_id, rec.threat_type.as_str(), label),
            merge,
            |old, new| {
                old.last = new.last;
                old.first_seen = old.first_seen.min(new.first_seen);
                old.last_seen = old.last_seen.max(new.last_seen);
                old.via_url &= new.via_url;
                old.sightings += 1;
            },
        );
    }

    pub(super) fn entry(&mut self, entry: &AllowlistEntry, list_id: i32) {
        let name = self.name(&entry.name, kind::ALLOWLIST);
        self.entries.add(
            (name, list_id, matching_str(entry.matching)),
            entry.rank,
            |old, new| *old = new,
        );
    }

    pub(super) fn whois(&mut self, rec: &'b WhoisRecord) {
        let name = self.name(&rec.domain, kind::WHOIS);
        self.whois
            .add((name, secs(rec.observed_at)), rec, |old, new| *old = new);
    }

    pub(super) fn resolution(&mut self, res: &Resolution) {
        let name = self.name(&res.name, kind::RESOLUTION);
        self.resolutions.add(
            (name, res.ip),
            (secs(res.first_seen), secs(res.last_seen), res.count as i64),
            |old, new| {
                old.0 = old.0.min(new.0);
                old.1 = old.1.max(new.1);
                old.2 += new.2;
            },
        );
    }

    pub(super) fn event(&mut self, event: &'b SecurityEvent, source_id: i32) {
        let name = self.name(&event.name, kind::EVENT);
        self.events.add(
            (
                name,
                secs(event.time),
                event.stage.as_str(),
                event.industry.as_str(),
                source_id,
            ),
            event.count as i64,
            |old, new| *old = new,
        );
    }

    pub(super) fn ip_intel(&mut self, intel: &'b IpIntel, source_id: i32) {
        self.ip_intel.add(
            (intel.network.addr(), intel.network.prefix(), source_id),
            intel,
            |old, new| *old = new,
        );
    }
}
