//! The PostgreSQL writer's bulk path: a batch reduced to one row per identity ([`Staged`]),
//! its names found and widened by one statement that hands back their ids and stored kind bits
//! (but those an earlier batch found or added with these kinds:
//! [`KnownNames`](super::fresh::KnownNames)), the new ones given ids and copied in
//! ([`PgWriter::names`]), then each table's rows written by binary `COPY`, one [`MergeStep`]
//! per table: straight into the table when the row's name
//! has no record of the table's kind yet (its stored kind bits say so, and the batch holds one
//! row per identity) or none but those its transaction wrote ([`Fresh`]), else into a temporary
//! table merged with one `INSERT ... ON CONFLICT`. A [`Mirror`] (the reverse of the
//! resolutions) is copied the rows its step added, and merges nothing.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use ::postgres::types::{Json, Type};
use ::postgres::Row;
use threatintel_model::{
    AllowlistEntry, DomainName, Evidence, IndicatorRecord, IpIntel, IpRecord, Resolution,
    SecurityEvent, Timestamp, WhoisRecord,
};

use super::copy_rows::CopyRows;
use super::fresh::{Fresh, Recalled};
use super::secs;
use super::writer::{
    PgWriter, ANALYZED, ENTRY_MERGE, EVENT_MERGE, INDICATOR_MERGE, IP_INTEL_MERGE, IP_RECORD_MERGE,
    RESOLUTION_MERGE, WHOIS_MERGE,
};
use crate::codec::{ip_bytes, ip_from_bytes, matching_str, octet_order};
use crate::keys::{key, kind, sorted};
use crate::{Result, StoreError, StoreStats, WriteSummary};

/// Each staged name's id and the kind bits it had before the batch (0 for a name it added).
type NameIds = [(i64, i32)];

/// Finds the staged names that are stored (one index probe each), adds the kind bits they lack
/// and returns (staged index, id, stored kinds) for each, as three arrays in one row (a row
/// each cost both sides a message per name).
const NAMES_FOUND: &str = "WITH s AS MATERIALIZED (\
         SELECT s.i, s.kinds, n.ctid AS tid, n.id, n.kinds AS stored \
         FROM stage_names s JOIN names n ON n.rev = s.rev), \
     widened AS (UPDATE names n SET kinds = n.kinds | s.kinds FROM s \
         WHERE n.ctid = s.tid AND s.stored | s.kinds <> s.stored) \
     SELECT coalesce(array_agg(i), '{}'), coalesce(array_agg(id), '{}'), \
         coalesce(array_agg(stored), '{}') FROM s";

/// Takes `$1` ids from the names' sequence and returns the last: the ids are consecutive
/// because every writer holds the schema's writer lock (and a name added by `INSERT` takes its
/// id from the same sequence).
const NAME_IDS: &str = "SELECT setval(pg_get_serial_sequence('names', 'id'), \
     nextval(pg_get_serial_sequence('names', 'id')) + $1 - 1)";

impl PgWriter {
    /// Empties `table`, a temporary table with `columns` of `like` (creating it for this
    /// transaction), for rows to be copied in.
    fn staging_table(&mut self, table: &'static str, like: &str, columns: &str) -> Result<()> {
        let client = &mut self.conn.client;
        if self.staging.insert(table) {
            client.batch_execute(&format!(
                "CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS \
                 SELECT {columns} FROM {like} WITH NO DATA"
            ))?;
        } else {
            client.batch_execute(&format!("TRUNCATE {table}"))?;
        }
        // Not analyzed: the merges probe the stored tables' indexes per staged row whatever
        // the statistics say, and the planner sizes the table from its pages (an ANALYZE cost
        // 20-40 ms per table and batch, 7% of a plain list's import).
        Ok(())
    }

    /// Writes the staged names and returns [`NameIds`]: the stored ones found and widened
    /// ([`NAMES_FOUND`]), the others given ids ([`NAME_IDS`]) and copied into `names` in key
    /// order. When the transaction remembers every stored name (it found `names` empty and
    /// remembers all it added: [`is_complete`](super::fresh::KnownNames::is_complete)), a name
    /// it does not remember is new without a lookup.
    fn names(&mut self, staged: &Staged<'_>) -> Result<Vec<(i64, i32)>> {
        if self.known.completeness_unknown() {
            let stored = self.names_stored()?;
            self.known.set_complete(!stored);
        }
        // Names an earlier batch found or added with these kinds need no statement.
        let prints: Vec<u128> = if self.known.remembering() {
            let known = &self.known;
            staged
                .names
                .iter()
                .map(|(rev, _)| known.fingerprint(rev))
                .collect()
        } else {
            Vec::new()
        };
        let mut found: Vec<Option<(i64, i32)>> = vec![None; staged.names.len()];
        let (mut looked_up, mut new) = (Vec::new(), Vec::new());
        let complete = self.known.is_complete();
        for (i, (_, kinds)) in staged.names.iter().enumerate() {
            let recalled = match prints.get(i) {
                Some(&print) => self.known.recall(print, *kinds),
                None => Recalled::Unknown,
            };
            match recalled {
                Recalled::Covering(id, stored) => found[i] = Some((id, stored)),
                Recalled::Unknown if complete => new.push(i),
                Recalled::Unknown | Recalled::Lacking => looked_up.push(i),
            }
        }
        if !looked_up.is_empty() {
            new.extend(self.find(staged, looked_up, &mut found)?);
        }
        if !new.is_empty() {
            self.add(staged, new, &mut found)?;
        }
        // Every name is found or new.
        let ids: Vec<(i64, i32)> = found.into_iter().flatten().collect();
        for ((print, (_, kinds)), &(id, stored)) in prints.into_iter().zip(&staged.names).zip(&ids)
        {
            self.known.note(print, id, stored | kinds);
        }
        self.known.batch_done();
        Ok(ids)
    }

    /// Finds the staged names `order` (one statement, [`NAMES_FOUND`]), filling in `found`,
    /// and returns those not stored.
    fn find(
        &mut self,
        staged: &Staged<'_>,
        mut order: Vec<usize>,
        found: &mut [Option<(i64, i32)>],
    ) -> Result<Vec<usize>> {
        // In key order: the names' index is probed for each in turn, and neighbouring keys
        // share its pages (50k names of a 1.1M-name store, probed in a file's order, read
        // about twice as many pages from outside shared buffers: 35k against 16-20k).
        order.sort_unstable_by(|&a, &b| staged.names[a].0.cmp(&staged.names[b].0));
        self.staging_table("stage_names", "names", "0 AS i, rev, kinds")?;
        self.copy_rows(
            "stage_names",
            "i, rev, kinds",
            &[Type::INT4, Type::TEXT, Type::INT4],
            &order,
            |i, writer| {
                let (rev, kinds) = &staged.names[i];
                writer.write(&[&(i as i32), rev, kinds])
            },
        )?;
        // Not cached: the staging table is new in every transaction.
        let row = self.conn.client.query_one(NAMES_FOUND, &[])?;
        let (staged_at, ids, stored): (Vec<i32>, Vec<i64>, Vec<i32>) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        self.ask_for_batches(2 * staged_at.len() >= order.len());
        for ((i, id), stored) in staged_at.into_iter().zip(ids).zip(stored) {
            found[i as usize] = Some((id, stored));
        }
        Ok(order.into_iter().filter(|&i| found[i].is_none()).collect())
    }

    /// Adds the staged names `new`, none of them stored, with consecutive ids in key order,
    /// filling in `found`.
    fn add(
        &mut self,
        staged: &Staged<'_>,
        mut new: Vec<usize>,
        found: &mut [Option<(i64, i32)>],
    ) -> Result<()> {
        new.sort_unstable_by(|&a, &b| staged.names[a].0.cmp(&staged.names[b].0));
        let last: i64 = self
            .conn
            .query_one(NAME_IDS, &[&(new.len() as i64)])?
            .try_get(0)?;
        let numbered: Vec<(i64, usize)> = (last + 1 - new.len() as i64..).zip(new).collect();
        self.copy_rows(
            "names",
            "id, rev, kinds",
            &[Type::INT8, Type::TEXT, Type::INT4],
            &numbered,
            |(id, i), writer| {
                let (rev, kinds) = &staged.names[i];
                writer.write(&[&id, rev, kinds])
            },
        )?;
        for &(id, i) in &numbered {
            found[i] = Some((id, 0));
            self.new_names.add(&staged.names[i].0, id);
        }
        self.added.rows.names += numbered.len() as u64;
        Ok(())
    }

    /// Writes one table's staged rows: those [`Fresh`] admits by `COPY` into the table as
    /// they are found, the others staged and merged; counts the rows it adds where
    /// [`Counted`] says.
    fn write_step(
        &mut self,
        step: &MergeStep,
        staged: &Staged<'_>,
        ids: &NameIds,
        summary: &mut WriteSummary,
    ) -> Result<()> {
        let (_, records) = (step.staged)(staged);
        let ordered = (step.order)(staged, ids, &self.fresh);
        let write = |row, writer: &mut CopyRows<'_>| (step.write)(staged, ids, row, writer);
        let (direct, merged) = self.copy_admitted(step, &ordered, write)?;
        // The rows this step adds, for its mirror.
        let mut added_rows = Vec::new();
        if step.mirror.is_some() {
            added_rows.extend_from_slice(&direct);
        }
        // Every row copied straight in is a new identity: one row added, counted here as the
        // merge's `RETURNING` counts its own.
        match step.counted {
            Counted::Records => {}
            Counted::Rows(table) => *table(&mut self.added.rows) += direct.len() as u64,
            Counted::Indicators => {
                for &row in &direct {
                    let ((_, _, source_id, threat_type, label), _) = &staged.indicators.rows[row];
                    self.added.indicators(*source_id, threat_type, label, 1);
                }
            }
        }
        let mut added = direct.len() as u64;
        if !merged.is_empty() {
            self.staging_table(step.staging, step.table, step.columns)?;
            self.copy_rows(step.staging, step.columns, step.types, &merged, write)?;
            if !step.prepare.is_empty() {
                self.conn.client.batch_execute(step.prepare)?;
            }
            // No `ORDER BY`: the rows were staged in the table's key order (`order`), and a
            // new temporary table is read back in the order it was written. Sorting them again
            // cost each merge 7-9% (passive DNS, alternated: resolutions 1.66-1.71 -> 1.52-1.56
            // s, resolved_names 1.82-1.87 -> 1.64-1.71 s over 1M records).
            let insert = format!(
                "INSERT INTO {} AS {} ({}) SELECT {} FROM {} {}",
                step.table, step.alias, step.columns, step.columns, step.staging, step.merge
            );
            // Not cached: the staging tables are new in every transaction.
            let n = match (step.mirror, &step.counted) {
                (Some(mirror), _) => {
                    let sql = format!(
                        "WITH up AS ({insert} AS added, {identity}) \
                         SELECT {identity} FROM up WHERE added",
                        identity = mirror.identity
                    );
                    let names: HashMap<i64, usize> = ids
                        .iter()
                        .enumerate()
                        .map(|(i, (id, _))| (*id, i))
                        .collect();
                    let new = self.conn.client.query(&sql, &[])?;
                    for row in &new {
                        added_rows.push((mirror.row_of)(staged, &names, row)?);
                    }
                    new.len() as u64
                }
                (None, Counted::Rows(_) | Counted::Records) => {
                    let sql = format!(
                        "WITH up AS ({insert} AS added) \
                         SELECT count(*) FILTER (WHERE added) FROM up"
                    );
                    self.conn
                        .client
                        .query_one(&sql, &[])?
                        .try_get::<_, i64>(0)? as u64
                }
                (None, Counted::Indicators) => {
                    let sql = format!(
                        "WITH up AS ({insert} AS added, source_id, threat_type, label) \
                         SELECT count(*) FILTER (WHERE added), source_id, threat_type, label \
                         FROM up GROUP BY source_id, threat_type, label"
                    );
                    let mut n = 0;
                    for row in self.conn.client.query(&sql, &[])? {
                        let added = row.try_get::<_, i64>(0)? as u64;
                        self.added.indicators(
                            row.try_get(1)?,
                            row.try_get(2)?,
                            row.try_get(3)?,
                            added,
                        );
                        n += added;
                    }
                    n
                }
            };
            if let Counted::Rows(table) = step.counted {
                *table(&mut self.added.rows) += n;
            }
            added += n;
        }
        // Each new identity is one record added, every other record updated.
        summary.added += added;
        summary.updated += records - added;
        if let Some(mirror) = step.mirror {
            (mirror.sort)(staged, &mut added_rows);
            self.copy_rows(
                mirror.table,
                mirror.columns,
                mirror.types,
                &added_rows,
                |row, writer| (mirror.write)(staged, row, writer),
            )?;
        }
        Ok(())
    }

    /// Copies `rows` into `columns` (of `types`) of `table` by one binary `COPY`, each row
    /// written by `write`; nothing when there are none.
    fn copy_rows<T: Copy>(
        &mut self,
        table: &str,
        columns: &str,
        types: &[Type],
        rows: &[T],
        mut write: impl FnMut(T, &mut CopyRows<'_>) -> Result<()>,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut writer = CopyRows::start(&mut self.conn.client, table, columns, types)?;
        for &row in rows {
            write(row, &mut writer)?;
        }
        writer.finish()?;
        Ok(())
    }

    /// Copies into `step`'s table, in order, the rows of `ordered` that [`Fresh`] admits, as
    /// it admits them: PostgreSQL takes the first rows while the rest are judged (judging
    /// 200k rows before the copy kept it idle for 50-140 ms a batch). Returns the rows copied
    /// and the rows left to merge, each in the table's key order.
    fn copy_admitted(
        &mut self,
        step: &MergeStep,
        ordered: &[(usize, Admission)],
        mut write: impl FnMut(usize, &mut CopyRows<'_>) -> Result<()>,
    ) -> Result<(Vec<usize>, Vec<usize>)> {
        let (fresh, client) = (&mut self.fresh, &mut self.conn.client);
        let mut admits = |admission| match admission {
            Admission::Merge => false,
            Admission::Ask {
                id,
                stored,
                bit,
                print,
            } => fresh.admits(id, stored, bit, print),
        };
        let (mut direct, mut merged) = (Vec::new(), Vec::new());
        let mut rows = ordered.iter();
        // The copy starts at the first row admitted, if any is.
        for &(row, admission) in rows.by_ref() {
            if admits(admission) {
                direct.push(row);
                break;
            }
            merged.push(row);
        }
        let Some(&first) = direct.first() else {
            return Ok((direct, merged));
        };
        let mut writer = CopyRows::start(client, step.table, step.columns, step.types)?;
        write(first, &mut writer)?;
        for &(row, admission) in rows {
            if admits(admission) {
                write(row, &mut writer)?;
                direct.push(row);
            } else {
                merged.push(row);
            }
        }
        writer.finish()?;
        Ok((direct, merged))
    }

    /// Writes the staged records: names first, then each table, one [`MergeStep`] each.
    pub(super) fn flush(&mut self, staged: &Staged<'_>, summary: &mut WriteSummary) -> Result<()> {
        let ids = if staged.names.is_empty() {
            Vec::new()
        } else {
            self.written.insert("names");
            self.names(staged)?
        };
        for step in MERGE_STEPS {
            if (step.staged)(staged).0 > 0 {
                self.write_step(step, staged, &ids, summary)?;
                if ANALYZED.contains(&step.table) {
                    self.written.insert(step.table);
                }
            }
        }
        Ok(())
    }
}

/// Whether a staged row may go straight into its table: never (merged), or as [`Fresh`]
/// judges it, from the row's name id, that name's stored kind bits, the row's kind bit and its
/// fingerprint.
#[derive(Clone, Copy)]
enum Admission {
    Merge,
    Ask {
        id: i64,
        stored: i64,
        bit: i64,
        print: u64,
    },
}

/// A table's staged rows in its key order, each with its [`Admission`]: a row of `merged`
/// whose name (the first of `name_kind`) had no record of the kind (its second) before the
/// transaction goes direct, unless the transaction wrote it; `order` is the row's identity in
/// the table.
fn by_kind<K, V, O: Ord + Hash>(
    merged: &Merged<K, V>,
    ids: &NameIds,
    fresh: &Fresh,
    name_kind: impl Fn(&K) -> (usize, i64),
    order: impl Fn(&K, i64) -> O,
) -> Vec<(usize, Admission)> {
    // Each row's identity, computed once: what its fingerprint hashes and what rows sort by.
    let mut rows: Vec<(O, usize, Admission)> = merged
        .rows
        .iter()
        .enumerate()
        .map(|(row, (k, _))| {
            let (name, bit) = name_kind(k);
            let (id, stored) = ids[name];
            let identity = order(k, id);
            let print = fresh.print(bit, &identity);
            let stored = stored.into();
            (
                identity,
                row,
                Admission::Ask {
                    id,
                    stored,
                    bit,
                    print,
                },
            )
        })
        .collect();
    // Identities are unique within a batch: an unstable sort keeps nothing in question.
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter()
        .map(|(_, row, admission)| (row, admission))
        .collect()
}

/// Every row merged (a table not keyed by name), in `order`.
fn all_merged<K, V, O: Ord>(
    merged: &Merged<K, V>,
    order: impl Fn(&K) -> O,
) -> Vec<(usize, Admission)> {
    let mut rows: Vec<usize> = (0..merged.rows.len()).collect();
    rows.sort_by_cached_key(|&row| order(&merged.rows[row].0));
    rows.into_iter()
        .map(|row| (row, Admission::Merge))
        .collect()
}

/// One table of [`PgWriter::flush`]: how its staged rows are ordered, written and merged.
struct MergeStep {
    /// The stored table, its alias in the merge's `ON CONFLICT` clause, and the columns
    /// written (in `write` order) and their types.
    table: &'static str,
    alias: &'static str,
    columns: &'static str,
    types: &'static [Type],
    /// The temporary table the merged rows are staged in.
    staging: &'static str,
    /// How many rows are staged, and how many records they stand for.
    staged: fn(&Staged<'_>) -> (usize, u64),
    /// The rows in the table's key order, each with its [`Admission`].
    order: fn(&Staged<'_>, &NameIds, &Fresh) -> Vec<(usize, Admission)>,
    /// Writes staged row `row` into the `COPY`, in `columns` order.
    write: fn(&Staged<'_>, &NameIds, usize, &mut CopyRows<'_>) -> Result<()>,
    /// A statement run after staging, before the merge (empty for none).
    prepare: &'static str,
    /// The merge's `ON CONFLICT` clause, ending `RETURNING <inserted>`.
    merge: &'static str,
    /// Where the rows it adds are counted.
    counted: Counted,
    /// The table that holds a row exactly where this one does: it is copied the rows this
    /// step adds.
    mirror: Option<&'static Mirror>,
}

/// A table that holds a row exactly where a [`MergeStep`]'s table does, under the same
/// identity (`resolved_names`, the reverse of `resolutions`): the step copies into it the rows
/// it adds, and no others, so the mirror needs no merge of its own (an `ON CONFLICT` check of
/// each row cost as much again as its copy).
struct Mirror {
    table: &'static str,
    columns: &'static str,
    types: &'static [Type],
    /// The step's identity columns, returned for each row its merge adds, and the staged row
    /// such a returned row is (given each name id's staged name).
    identity: &'static str,
    row_of: fn(&Staged<'_>, &HashMap<i64, usize>, &Row) -> Result<usize>,
    /// Puts staged rows in the mirror's key order, and writes one in `columns` order.
    sort: fn(&Staged<'_>, &mut [usize]),
    write: fn(&Staged<'_>, usize, &mut CopyRows<'_>) -> Result<()>,
}

/// The reverse of the resolutions: an address's names.
const RESOLVED_NAMES: Mirror = Mirror {
    table: "resolved_names",
    columns: "ip, rev",
    types: &[Type::BYTEA, Type::TEXT],
    identity: "name_id, ip",
    row_of: |s, names, row| {
        let ip = ip_from_bytes(row.try_get(1)?)?;
        names
            .get(&row.try_get::<_, i64>(0)?)
            .and_then(|&name| s.resolutions.index.get(&(name, ip)))
            .copied()
            .ok_or_else(|| StoreError::Corrupt("a merge added a resolution not staged".into()))
    },
    sort: |s, rows| {
        rows.sort_by_cached_key(|&row| {
            let (name, ip) = s.resolutions.rows[row].0;
            (octet_order(ip), s.rev(name))
        })
    },
    write: |s, row, w| {
        let ((name, ip), _) = &s.resolutions.rows[row];
        w.write(&[&ip_bytes(*ip), s.rev(*name)])?;
        Ok(())
    },
};

/// Where the rows a [`MergeStep`] adds are counted: in the writer's
/// [`Added`](crate::counts::Added) (rows added per table, indicator records per source, threat
/// type and label) and, for records, in the summary.
enum Counted {
    /// Records counted as rows of their table, this field of [`StoreStats`].
    Rows(fn(&mut StoreStats) -> &mut u64),
    /// Records of a table without a maintained count: in the write summary only.
    Records,
    /// Indicator records, counted per (source, threat type, label) too.
    Indicators,
}

/// The steps in the order [`PgWriter::flush`] takes them.
const MERGE_STEPS: &[MergeStep] = &[
    MergeStep {
        table: "indicators",
        alias: "i",
        columns: "name_id, zone, source_id, threat_type, label, risk, scenario, attack_stage, \
                  first_seen, last_seen, confidence, reference, via_url, sightings",
        types: &[
            Type::INT8,
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
        staging: "stage_indicators",
        staged: |s| s.indicators.size(),
        order: |s, ids, fresh| {
            by_kind(
                &s.indicators,
                ids,
                fresh,
                |k| {
                    let bit = if k.1 {
                        kind::ZONE_INDICATOR
                    } else {
                        kind::INDICATOR
                    };
                    (k.0, bit)
                },
                |k, id| (id, k.1, k.2, k.3, k.4),
            )
        },
        write: |s, ids, row, w| {
            let ((name, zone, source_id, threat_type, label), v) = &s.indicators.rows[row];
            let (r, sighted) = (v.sighted.last, &v.sighted);
            w.write(&[
                &ids[*name].0,
                zone,
                source_id,
                threat_type,
                label,
                &i16::from(r.risk.code()),
                &r.scenario,
                &r.attack_stage,
                &sighted.first_seen,
                &sighted.last_seen,
                &r.confidence.map(i16::from),
                &r.reference,
                &v.via_url,
                &sighted.sightings,
            ])?;
            Ok(())
        },
        prepare: "",
        merge: INDICATOR_MERGE,
        counted: Counted::Indicators,
        mirror: None,
    },
    MergeStep {
        table: "allowlist_entries",
        alias: "e",
        columns: "name_id, list_id, matching, rank",
        types: &[Type::INT8, Type::INT4, Type::TEXT, Type::INT8],
        staging: "stage_entries",
        staged: |s| s.entries.size(),
        order: |s, ids, fresh| {
            by_kind(
                &s.entries,
                ids,
                fresh,
                |k| (k.0, kind::ALLOWLIST),
                |k, id| (id, k.1, k.2),
            )
        },
        write: |s, ids, row, w| {
            let ((name, list_id, matching), rank) = &s.entries.rows[row];
            w.write(&[&ids[*name].0, list_id, matching, &rank.map(i64::from)])?;
            Ok(())
        },
        prepare: "",
        merge: ENTRY_MERGE,
        counted: Counted::Rows(|s| &mut s.allowlist_entries),
        mirror: None,
    },
    MergeStep {
        table: "whois",
        alias: "w",
        columns: "name_id, observed_at, record",
        types: &[Type::INT8, Type::TIMESTAMPTZ, Type::JSON],
        staging: "stage_whois",
        staged: |s| s.whois.size(),
        order: |s, ids, fresh| {
            by_kind(
                &s.whois,
                ids,
                fresh,
                |k| (k.0, kind::WHOIS),
                |k, id| (id, k.1),
            )
        },
        write: |s, ids, row, w| {
            let ((name, observed_at), rec) = &s.whois.rows[row];
            w.write(&[&ids[*name].0, observed_at, &Json(rec)])?;
            Ok(())
        },
        prepare: "",
        merge: WHOIS_MERGE,
        counted: Counted::Rows(|s| &mut s.whois_records),
        mirror: None,
    },
    MergeStep {
        table: "resolutions",
        alias: "r",
        columns: "name_id, ip, first_seen, last_seen, count",
        types: &[
            Type::INT8,
            Type::BYTEA,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::INT8,
        ],
        staging: "stage_resolutions",
        staged: |s| s.resolutions.size(),
        order: |s, ids, fresh| {
            by_kind(
                &s.resolutions,
                ids,
                fresh,
                |k| (k.0, kind::RESOLUTION),
                |k, id| (id, octet_order(k.1)),
            )
        },
        write: |s, ids, row, w| {
            let ((name, ip), (first, last, count)) = &s.resolutions.rows[row];
            w.write(&[&ids[*name].0, &ip_bytes(*ip), first, last, count])?;
            Ok(())
        },
        prepare: "",
        merge: RESOLUTION_MERGE,
        counted: Counted::Rows(|s| &mut s.resolutions),
        mirror: Some(&RESOLVED_NAMES),
    },
    MergeStep {
        table: "events",
        alias: "v",
        columns: "name_id, time, stage, industry, source_id, count",
        types: &[
            Type::INT8,
            Type::TIMESTAMPTZ,
            Type::TEXT,
            Type::TEXT,
            Type::INT4,
            Type::INT8,
        ],
        staging: "stage_events",
        staged: |s| s.events.size(),
        order: |s, ids, fresh| {
            by_kind(
                &s.events,
                ids,
                fresh,
                |k| (k.0, kind::EVENT),
                |k, id| (id, k.1, k.2, k.3, k.4),
            )
        },
        write: |s, ids, row, w| {
            let ((name, time, stage, industry, source_id), count) = &s.events.rows[row];
            w.write(&[&ids[*name].0, time, stage, industry, source_id, count])?;
            Ok(())
        },
        prepare: "",
        merge: EVENT_MERGE,
        counted: Counted::Rows(|s| &mut s.events),
        mirror: None,
    },
    MergeStep {
        table: "ip_intel",
        alias: "p",
        columns: "network, prefix, source_id, risk, threat_type",
        types: &[Type::BYTEA, Type::INT2, Type::INT4, Type::INT2, Type::TEXT],
        staging: "stage_ip_intel",
        staged: |s| s.ip_intel.size(),
        order: |s, _, _| all_merged(&s.ip_intel, |k| (octet_order(k.0), k.1, k.2)),
        write: |s, _, row, w| {
            let ((network, prefix, source_id), intel) = &s.ip_intel.rows[row];
            w.write(&[
                &ip_bytes(*network),
                &i16::from(*prefix),
                source_id,
                &i16::from(intel.risk.code()),
                &intel.threat_type,
            ])?;
            Ok(())
        },
        prepare: "INSERT INTO ip_prefixes (octets, prefix) \
                  SELECT DISTINCT octet_length(network), prefix FROM stage_ip_intel \
                  ON CONFLICT DO NOTHING",
        merge: IP_INTEL_MERGE,
        counted: Counted::Rows(|s| &mut s.ip_intel),
        mirror: None,
    },
    MergeStep {
        table: "ip_records",
        alias: "r",
        columns: "network, prefix, source_id, threat_type, label, risk, scenario, first_seen, \
                  last_seen, confidence, reference, sightings",
        types: &[
            Type::BYTEA,
            Type::INT2,
            Type::INT4,
            Type::TEXT,
            Type::TEXT,
            Type::INT2,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::INT2,
            Type::TEXT,
            Type::INT8,
        ],
        staging: "stage_ip_records",
        staged: |s| s.ip_records.size(),
        order: |s, _, _| all_merged(&s.ip_records, |k| (octet_order(k.0), k.1, k.2, k.3, k.4)),
        write: |s, _, row, w| {
            let ((network, prefix, source_id, threat_type, label), v) = &s.ip_records.rows[row];
            let r = v.last;
            w.write(&[
                &ip_bytes(*network),
                &i16::from(*prefix),
                source_id,
                threat_type,
                label,
                &i16::from(r.risk.code()),
                &r.scenario,
                &v.first_seen,
                &v.last_seen,
                &r.confidence.map(i16::from),
                &r.reference,
                &v.sightings,
            ])?;
            Ok(())
        },
        prepare: "INSERT INTO ip_prefixes (octets, prefix) \
                  SELECT DISTINCT octet_length(network), prefix FROM stage_ip_records \
                  ON CONFLICT DO NOTHING",
        merge: IP_RECORD_MERGE,
        counted: Counted::Records,
        mirror: None,
    },
];

/// What staging a batch needs besides its records: the ids of the sources and lists they name,
/// and the writer for the sources and lists the batch holds.
pub(super) trait Unstaged {
    /// The id of the source (with `list`, the allowlist) named `name`.
    fn id(&mut self, list: bool, name: &str) -> Result<i32, Unstageable>;
    /// Puts a source or list at once, before the records that follow it in write order.
    fn put_now(&mut self, evidence: &Evidence) -> Result<(), Unstageable>;
}

/// Why a batch was not staged.
pub(super) enum Unstageable {
    /// It needs the writer, which is not at hand: an id not looked up yet, a source or list to put.
    NeedsWriter,
    Failed(StoreError),
}

impl From<StoreError> for Unstageable {
    fn from(e: StoreError) -> Self {
        Self::Failed(e)
    }
}

/// A staged batch: one row per identity, and the records written one by one after them.
pub(super) struct StagedBatch<'b> {
    pub rows: Staged<'b>,
    pub later: Vec<&'b Evidence>,
}

/// Stages `batch` in write order ([`sorted`]).
pub(super) fn stage<'b>(
    batch: &'b [Evidence],
    unstaged: &mut dyn Unstaged,
) -> Result<StagedBatch<'b>, Unstageable> {
    let mut rows = Staged::default();
    let mut later = Vec::new();
    // In batch order, so an unknown source or list is reported for the same record as
    // one-by-one puts would report it.
    for evidence in sorted(batch) {
        match evidence {
            Evidence::Source(_) | Evidence::Allowlist(_) => unstaged.put_now(evidence)?,
            Evidence::Certificate(_)
            | Evidence::NetworkAllowEntry(_)
            | Evidence::FileRecord(_)
            | Evidence::NetworkRegistration(_)
            | Evidence::Relation(_) => later.push(evidence),
            Evidence::Indicator(rec) => rows.indicator(rec, unstaged.id(false, &rec.source)?),
            Evidence::AllowlistEntry(entry) => rows.entry(entry, unstaged.id(true, &entry.list)?),
            Evidence::Whois(rec) => rows.whois(rec),
            Evidence::Resolution(res) => rows.resolution(res),
            Evidence::Event(event) => rows.event(event, unstaged.id(false, &event.source)?),
            Evidence::IpIntel(intel) => rows.ip_intel(intel, unstaged.id(false, &intel.source)?),
            Evidence::IpRecord(rec) => rows.ip_record(rec, unstaged.id(false, &rec.source)?),
        }
    }
    Ok(StagedBatch { rows, later })
}

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

/// Records of one identity merged as their puts in turn would leave the stored row: the last
/// one's fields, the earliest first and the latest last sighting, how many they were.
struct Sighted<'b, R> {
    last: &'b R,
    first_seen: Timestamp,
    last_seen: Timestamp,
    sightings: i64,
}

impl<'b, R> Sighted<'b, R> {
    fn new(last: &'b R, first_seen: Timestamp, last_seen: Timestamp) -> Self {
        Self {
            last,
            first_seen: secs(first_seen),
            last_seen: secs(last_seen),
            sightings: 1,
        }
    }

    fn merge(&mut self, new: Self) {
        self.last = new.last;
        self.first_seen = self.first_seen.min(new.first_seen);
        self.last_seen = self.last_seen.max(new.last_seen);
        self.sightings += new.sightings;
    }
}

/// Indicator records of one identity: sighted, and `via_url` while every one was.
struct IndicatorMerge<'b> {
    sighted: Sighted<'b, IndicatorRecord>,
    via_url: bool,
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
    ip_records: Merged<(IpAddr, u8, i32, &'b str, &'b str), Sighted<'b, IpRecord>>,
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
            sighted: Sighted::new(rec, rec.first_seen, rec.last_seen),
            via_url: rec.via_url,
        };
        self.indicators.add(
            (name, rec.zone, source_id, rec.threat_type.as_str(), label),
            merge,
            |old, new| {
                old.sighted.merge(new.sighted);
                old.via_url &= new.via_url;
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

    pub(super) fn ip_record(&mut self, rec: &'b IpRecord, source_id: i32) {
        let label = rec.label.as_deref().unwrap_or("");
        let merge = Sighted::new(rec, rec.first_seen, rec.last_seen);
        self.ip_records.add(
            (
                rec.network.addr(),
                rec.network.prefix(),
                source_id,
                rec.threat_type.as_str(),
                label,
            ),
            merge,
            Sighted::merge,
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
