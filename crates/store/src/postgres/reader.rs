//! The PostgreSQL reader: a `REPEATABLE READ READ ONLY` transaction on a pooled connection,
//! returning what the SQLite reader returns, in the same order. Like SQLite's, it keeps the zone
//! `knows_zone` read (the zone's names and its ancestors, with their kind bits) and skips the
//! reads the kind bits show would find nothing; the reads about the known zone's names and
//! their addresses are answered from the evidence statement (`zone.rs`). In a snapshot whose
//! commit generation is known, `knows_zone` sends no statement for a zone the filter of stored
//! names lacks, and one, the zone's names with their evidence, otherwise; in one whose
//! generation is unknown, the known zone and the evidence are a statement each. Every other
//! read is a round trip of its own.

use std::cell::{Ref, RefCell, RefMut};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use ::postgres::types::ToSql;
use ::postgres::Row;
use r2d2::PooledConnection;
use threatintel_model::{
    AllowlistEntry, Certificate, DnsRelation, DomainName, DomainQuery, FileHash, FileRecord,
    IndicatorRecord, IpIntel, IpNetwork, IpRecord, NetworkAllowEntry, NetworkRegistration, Source,
    Timestamp, WhoisRecord,
};

use super::snapshots::Shared;
use super::zone::{self, ZoneEvidence};
use super::{corrupt, secs, Manager, Params};
use crate::codec::{
    allowlist_kind, file_hashes, file_names, file_record_order, intel_of, ip_bytes, ip_from_bytes,
    ip_record_order, listed_children_sql, matching, network_allow_order,
    network_registration_order, newest_first, relation, reliability, risk, tld_listings_sql,
    whois_listed_sql, ALLOWLIST_COLUMNS, INDICATOR_COLUMNS, LOOKUP_COLUMNS, OVERVIEW_FAMILIES,
    OVERVIEW_THREAT_TYPES, PHISHING_LABELS, RELATION_COLUMNS, RELATION_ORDER, SHARED_ZONES,
    TOP_SITES,
};
use crate::counts::COUNTED;
use crate::keys::{key, key_end, kind, name_from_key, parent_key, scope_range};
use crate::known_zone::{KnownZone, LastZone};
use crate::name_filter::ZoneNames;
use crate::{
    AllowlistHit, CommitMarker, EventTotal, FeedState, FileRecordHit, ImportDay, IndicatorHit,
    IpRecordHit, ListedShare, LookupState, NameModelInputs, NetworkAllowHit, ResolvedIp,
    ResolvedName, Result, SourceSummary, StoreError, StoreOverview, StoreReader, StoreStats,
};

/// The columns an [`IpRecordHit`] is read from (records `r`, sources `s`), after the network.
const IP_RECORD_COLUMNS: &str =
    "s.name, r.threat_type, r.label, r.risk, r.scenario, r.first_seen, r.last_seen, \
     r.confidence, r.reference, s.reliability, r.sightings";

/// The columns a [`FileRecordHit`] is read from (file hashes `h`, files `f`, records `r`,
/// sources `s`).
const FILE_RECORD_COLUMNS: &str =
    "f.md5, f.sha1, f.sha256, s.name, r.threat_type, r.label, r.risk, r.scenario, r.file_type, \
     r.size, r.file_names, r.first_seen, r.last_seen, r.confidence, r.reference, s.reliability, \
     r.sightings";

/// The order SQLite returns a name's indicators in (its primary key), after the name.
const INDICATOR_ORDER: &str = "i.zone, i.source_id, i.threat_type, i.label";

/// The probes' networks and prefix lengths, as the `unnest` of a probe query takes them.
fn probe_params(probes: &[(IpAddr, IpNetwork)]) -> (Vec<Vec<u8>>, Vec<i16>) {
    probes
        .iter()
        .map(|(_, net)| (ip_bytes(net.addr()), i16::from(net.prefix())))
        .unzip()
}

/// A row of an address lookup: an `ip_intel` row or an address record.
enum IpRow {
    Intel(IpIntel),
    Record(IpRecordHit),
}

/// The probe a row's `WITH ORDINALITY` number (from 1) names, with its index.
fn probe_at(probes: &[(IpAddr, IpNetwork)], ord: i64) -> Result<(usize, &(IpAddr, IpNetwork))> {
    usize::try_from(ord - 1)
        .ok()
        .and_then(|i| Some((i, probes.get(i)?)))
        .ok_or_else(|| corrupt(format!("probe {ord}")))
}

/// An indicator hit read from [`INDICATOR_COLUMNS`].
fn indicator_hit(row: &Row) -> Result<IndicatorHit> {
    indicator_hit_at(row, row.try_get(0)?, 1)
}

/// An indicator hit of the name whose key is `rev`, read from the columns of
/// [`INDICATOR_COLUMNS`] after the key, from column `at` on.
fn indicator_hit_at(row: &Row, rev: &str, at: usize) -> Result<IndicatorHit> {
    let col = |i: usize| at + i - 1;
    let label: String = row.try_get(col(4))?;
    let confidence: Option<i16> = row.try_get(col(10))?;
    Ok(IndicatorHit {
        record: IndicatorRecord {
            name: name_from_key(rev)?,
            zone: row.try_get(col(1))?,
            source: row.try_get(col(2))?,
            threat_type: row.try_get(col(3))?,
            label: (!label.is_empty()).then_some(label),
            risk: risk(row.try_get::<_, i16>(col(5))?.into())?,
            scenario: row.try_get(col(6))?,
            attack_stage: row.try_get(col(7))?,
            first_seen: row.try_get(col(8))?,
            last_seen: row.try_get(col(9))?,
            confidence: confidence
                .map(|c| u8::try_from(c).map_err(|_| corrupt(format!("confidence {c}"))))
                .transpose()?,
            reference: row.try_get(col(11))?,
            via_url: row.try_get(col(14))?,
        },
        reliability: reliability(row.try_get(col(12))?)?,
        sightings: row.try_get::<_, i64>(col(13))? as u64,
    })
}

/// The order SQLite returns a name's allowlist entries in (its primary key), after the name.
const ALLOWLIST_ORDER: &str = "e.list_id, e.matching";

/// A name's key, kind bits and id, from `rev, kinds, id`.
fn name_row(row: &Row) -> Result<(String, i64, i64)> {
    Ok((
        row.try_get(0)?,
        i64::from(row.try_get::<_, i32>(1)?),
        row.try_get(2)?,
    ))
}

/// An allowlist hit read from [`ALLOWLIST_COLUMNS`].
fn allowlist_hit(row: &Row) -> Result<AllowlistHit> {
    allowlist_hit_at(row, row.try_get(0)?, 1)
}

/// An allowlist hit of the name whose key is `rev`, read from the columns of
/// [`ALLOWLIST_COLUMNS`] after the key, from column `at` on.
fn allowlist_hit_at(row: &Row, rev: &str, at: usize) -> Result<AllowlistHit> {
    let rank: Option<i64> = row.try_get(at + 2)?;
    Ok(AllowlistHit {
        entry: AllowlistEntry {
            name: name_from_key(rev)?,
            list: row.try_get(at)?,
            matching: matching(row.try_get(at + 1)?)?,
            rank: rank
                .map(|r| u32::try_from(r).map_err(|_| corrupt(format!("rank {r}"))))
                .transpose()?,
        },
        kind: allowlist_kind(row.try_get(at + 3)?)?,
    })
}

/// A read-only snapshot transaction on a pooled connection; it ends when dropped.
pub(super) struct PgReader {
    conn: RefCell<PooledConnection<Manager>>,
    shared: Arc<Shared>,
    /// The zone of the last `knows_zone`, when it was small enough to keep.
    known: LastZone,
    /// The known zone's stored ancestors (key, kind bits, id).
    stored_above: RefCell<Vec<(String, i64, i64)>>,
    /// The evidence about the known zone's names, once a read asked for it (`zone.rs`).
    evidence: RefCell<Option<ZoneEvidence>>,
    /// The IP prefixes in use (address octets, prefix length), once `knows_zone` or an
    /// address lookup read them.
    prefixes: RefCell<Option<Vec<(usize, u8)>>>,
}

/// An `ip_prefixes` row: address octets and prefix length.
fn ip_prefix(octets: i32, prefix: i64) -> Result<(usize, u8)> {
    let bad = || corrupt(format!("IP prefix /{prefix} of {octets} octets"));
    Ok((
        usize::try_from(octets).map_err(|_| bad())?,
        u8::try_from(prefix).map_err(|_| bad())?,
    ))
}

/// The indicator kinds (a record on the name, a listing of its zone).
const INDICATOR_KINDS: i64 = kind::INDICATOR | kind::ZONE_INDICATOR;

/// The names a read of a key range covers: the range itself, or, when the known zone covers
/// the range, the ids of its names that carry the kinds read. Either way the statement probes
/// names by id (a range's ids are collected first, by an index range scan): a plan that is
/// right for every range, so the server plans the statement once per connection (see
/// [`PgReader::begin`]).
enum Scope {
    Range(String, String),
    Ids(Vec<i64>),
}

impl Scope {
    /// The condition on names `n`, its parameters numbered from `$first`: their ids are the
    /// given ones, or those of the names of the range that carry one of `kinds` (the first
    /// `$limit` of them in key order, with a limit).
    fn condition(&self, first: usize, kinds: i64, limit: Option<usize>) -> String {
        match self {
            Scope::Range(..) => format!(
                "n.id = ANY(ARRAY(SELECT id FROM names WHERE rev >= ${first} AND rev < ${} \
                 AND kinds & {kinds} <> 0{}))",
                first + 1,
                limit.map_or(String::new(), |l| format!(" ORDER BY rev LIMIT ${l}"))
            ),
            Scope::Ids(_) => format!("n.id = ANY(${first}::bigint[])"),
        }
    }

    /// `params` followed by the condition's parameters.
    fn params<'a>(&'a self, params: &[&'a (dyn ToSql + Sync)]) -> Vec<&'a (dyn ToSql + Sync)> {
        let mut all = params.to_vec();
        match self {
            Scope::Range(lo, hi) => all.extend([lo as &(dyn ToSql + Sync), hi]),
            Scope::Ids(ids) => all.push(ids),
        }
        all
    }
}

impl Drop for PgReader {
    fn drop(&mut self) {
        self.shared.end_read(self.conn.get_mut());
    }
}

impl PgReader {
    /// Puts `conn` in a snapshot transaction: the one it keeps from an earlier reader while
    /// fresh, else a new one (`snapshots.rs`). Its statements run with generic plans: one
    /// plan per prepared statement and connection, where planning each execution cost the
    /// server more than running it. Every statement of this reader has a plan that is right
    /// for any parameters (probes by key or id; a range of names is read by an index range
    /// scan and its names probed by id, see [`Scope`]); a new statement must keep to that.
    pub(super) fn begin(mut conn: PooledConnection<Manager>, shared: &Arc<Shared>) -> Result<Self> {
        shared.begin_read(&mut conn)?;
        Ok(Self {
            conn: RefCell::new(conn),
            shared: Arc::clone(shared),
            known: LastZone::default(),
            stored_above: RefCell::default(),
            evidence: RefCell::default(),
            prefixes: RefCell::new(None),
        })
    }

    /// Hands each row of `sql` to `visit`, mapped, as the server streams them, until the rows
    /// end or `visit` breaks.
    fn each_row<T>(
        &self,
        sql: &str,
        map: impl Fn(&Row) -> Result<T>,
        visit: &mut dyn FnMut(T) -> ControlFlow<()>,
    ) -> Result<()> {
        use ::postgres::fallible_iterator::FallibleIterator;
        let mut conn = self.conn();
        let statement = conn.statement(sql)?;
        let result = (|| {
            let mut rows = conn
                .client
                .query_raw(&statement, std::iter::empty::<&(dyn ToSql + Sync)>())?;
            while let Some(row) = rows.next()? {
                if visit(map(&row)?).is_break() {
                    break;
                }
            }
            Ok(())
        })();
        if result.is_err() {
            conn.spoil();
        }
        result
    }

    fn conn(&self) -> RefMut<'_, PooledConnection<Manager>> {
        self.conn.borrow_mut()
    }

    /// `knows_zone` in a snapshot of commit `generation`: its ancestors' kind bits and the IP
    /// prefixes in use as every snapshot of the generation sees them, read once per generation;
    /// no name when the filter of stored names lacks the zone, the zone's names alone when the
    /// filter does not speak for the snapshot, else the zone's names with their evidence
    /// ([`zone::with_names`]).
    fn knows_zone_at(
        &self,
        zone: &DomainName,
        k: String,
        ancestors: Vec<String>,
        generation: i64,
    ) -> Result<bool> {
        let names = self.shared.names.zone_names(&k, || Ok(generation))?;
        // The filter lacks most ancestors of a zone it lacks (`com.` it holds).
        let held = self.shared.names.may_hold(&ancestors, generation);
        let kinds = self.shared.ancestor_kinds(generation, &held, |keys| {
            self.collect(
                "SELECT rev, kinds, id FROM names WHERE rev = ANY($1::text[])",
                &[&keys],
                name_row,
            )
        })?;
        let stored_above: Vec<(String, i64, i64)> = held
            .into_iter()
            .zip(kinds)
            .filter_map(|(rev, stored)| stored.map(|(kinds, id)| (rev.clone(), kinds, id)))
            .collect();
        match names {
            ZoneNames::None => {
                return Ok(self.keep_zone(zone, k, Vec::new(), ancestors, stored_above));
            }
            // Most likely none (the filter lacked the zone before the commits it has not caught
            // up with): the zone's names alone, their evidence only when a read asks for it.
            ZoneNames::Unsure => {
                let names = self.collect(
                    zone::ZONE_NAMES,
                    &[&k, &key_end(&k), &(KnownZone::MAX_NAMES as i64 + 1)],
                    name_row,
                )?;
                if !names.is_empty() {
                    self.read_prefixes(generation)?;
                }
                return Ok(self.keep_zone(zone, k, names, ancestors, stored_above));
            }
            ZoneNames::MayHold => {}
        }
        let prefixes_in_use = self.read_prefixes(generation)?;
        // The zone's names and their evidence, in one statement.
        let above = |kinds: i64| -> Vec<i64> {
            stored_above
                .iter()
                .filter(|a| a.1 & kinds != 0)
                .map(|a| a.2)
                .collect()
        };
        let rows = self.conn().query(
            zone::with_names(prefixes_in_use),
            &[
                &k,
                &key_end(&k),
                &(KnownZone::MAX_NAMES as i64 + 1),
                &above(INDICATOR_KINDS),
                &above(kind::ALLOWLIST),
                &(INDICATOR_KINDS as i32),
                &(kind::ALLOWLIST as i32),
                &(kind::RESOLUTION as i32),
                &(ZoneEvidence::MAX_ROWS as i64 + 1),
            ],
        )?;
        let names = zone::names(&rows)?;
        let evidence = if names.len() <= KnownZone::MAX_NAMES {
            let key_of = |id: i64| {
                names
                    .iter()
                    .chain(&stored_above)
                    .find(|n| n.2 == id)
                    .map(|n| n.0.clone())
                    .ok_or_else(|| corrupt(format!("name id {id} outside the known zone")))
            };
            Some(zone::read(
                &rows,
                key_of,
                |r, rev| indicator_hit_at(r, rev, zone::INDICATOR_AT),
                |r, rev| allowlist_hit_at(r, rev, zone::ALLOWLIST_AT),
            )?)
        } else {
            None
        };
        let known = self.keep_zone(zone, k, names, ancestors, stored_above);
        *self.evidence.borrow_mut() = evidence;
        Ok(known)
    }

    /// Keeps for this reader's address lookups the IP prefixes in use, as every snapshot of
    /// commit `generation` sees them (read once per generation); whether any is.
    fn read_prefixes(&self, generation: i64) -> Result<bool> {
        let prefixes = self.shared.prefixes(generation, || {
            self.collect(
                "SELECT octets::integer, prefix::bigint FROM ip_prefixes \
                 ORDER BY octets, prefix DESC",
                &[],
                |r| ip_prefix(r.try_get(0)?, r.try_get(1)?),
            )
        })?;
        let in_use = !prefixes.is_empty();
        *self.prefixes.borrow_mut() = Some(prefixes);
        Ok(in_use)
    }

    /// Keeps what `knows_zone` read of `zone` (key `k`): its names, unless too many, and its
    /// ancestors with the kind bits of the stored ones (`stored_above`).
    fn keep_zone(
        &self,
        zone: &DomainName,
        k: String,
        names: Vec<(String, i64, i64)>,
        ancestors: Vec<String>,
        stored_above: Vec<(String, i64, i64)>,
    ) -> bool {
        let known = (names.len() <= KnownZone::MAX_NAMES).then(|| {
            let ancestors = ancestors
                .into_iter()
                .map(|a| {
                    let kinds = stored_above
                        .iter()
                        .find(|(k, ..)| *k == a)
                        .map_or(0, |e| e.1);
                    (a, kinds)
                })
                .collect();
            KnownZone::new(zone, k, names, ancestors)
        });
        *self.evidence.borrow_mut() = None;
        *self.stored_above.borrow_mut() = stored_above;
        self.known.keep(known)
    }

    fn collect<T>(
        &self,
        sql: &str,
        params: &Params<'_>,
        map: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.conn().query(sql, params)?.iter().map(map).collect()
    }

    /// Every (address, stored network containing it) to look up, longest prefix first per
    /// address, in the order SQLite probes them.
    /// The rows of `table` (as `t`) on the networks of the prefix lengths in use that contain
    /// `ip`: `SELECT q.ord, {columns}` with the joins and conditions of `rest`, each mapped
    /// with the network it is on.
    fn rows_containing<T>(
        &self,
        ip: IpAddr,
        columns: &str,
        table: &str,
        rest: &str,
        map: impl Fn(&Row, IpNetwork) -> Result<T>,
    ) -> Result<Vec<T>> {
        let probes = self.probes(&[ip])?;
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        let (networks, lengths) = probe_params(&probes);
        self.collect(
            &format!(
                "SELECT q.ord, {columns} \
                 FROM unnest($1::bytea[], $2::smallint[]) WITH ORDINALITY AS q(network, prefix, ord) \
                 JOIN {table} t ON t.network = q.network AND t.prefix = q.prefix {rest}"
            ),
            &[&networks, &lengths],
            |r| {
                let (_, (_, network)) = probe_at(&probes, r.try_get(0)?)?;
                map(r, *network)
            },
        )
    }

    fn probes(&self, ips: &[IpAddr]) -> Result<Vec<(IpAddr, IpNetwork)>> {
        if ips.is_empty() {
            return Ok(Vec::new());
        }
        // Read with the known zone when `knows_zone` ran, else here once per reader (the
        // snapshot does not change); longest prefix first.
        if self.prefixes.borrow().is_none() {
            let read = self.collect(
                "SELECT octets::integer, prefix::bigint FROM ip_prefixes \
                 ORDER BY octets, prefix DESC",
                &[],
                |r| ip_prefix(r.try_get(0)?, r.try_get(1)?),
            )?;
            *self.prefixes.borrow_mut() = Some(read);
        }
        let cached = self.prefixes.borrow();
        let prefixes = cached.as_deref().unwrap_or_default();
        let mut probes = Vec::new();
        for &ip in ips {
            let octets = if ip.is_ipv4() { 4 } else { 16 };
            for &(_, prefix) in prefixes.iter().filter(|(o, _)| *o == octets) {
                let network = IpNetwork::new(ip, prefix)
                    .map_err(|e| StoreError::Corrupt(format!("stored prefix: {e}")))?;
                probes.push((ip, network));
            }
        }
        Ok(probes)
    }

    /// The address records of the probes' networks (with `intel`, each network's `ip_intel`
    /// rows before them), each with its probe's index, in probe order, then source id (then
    /// threat type and label, as SQLite's primary key walks them): one statement.
    fn ip_rows_probed(
        &self,
        probes: &[(IpAddr, IpNetwork)],
        intel: bool,
    ) -> Result<Vec<(usize, IpRow)>> {
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        let (networks, lengths) = probe_params(probes);
        let probed =
            "FROM unnest($1::bytea[], $2::smallint[]) WITH ORDINALITY AS q(network, prefix, ord)";
        // Columns: probe, part (0 intel, 1 record), source id, then IP_RECORD_COLUMNS.
        let intel_rows = if intel {
            format!(
                "SELECT q.ord, 0::smallint, p.source_id, s.name, p.threat_type COLLATE \"C\", \
                 ''::text, p.risk, NULL::text, NULL::timestamptz, NULL::timestamptz, \
                 NULL::smallint, NULL::text, NULL::text, NULL::bigint {probed} \
                 JOIN ip_intel p ON p.network = q.network AND p.prefix = q.prefix \
                 JOIN sources s ON s.id = p.source_id UNION ALL "
            )
        } else {
            String::new()
        };
        self.collect(
            &format!(
                "{intel_rows}SELECT q.ord, 1::smallint, r.source_id, {IP_RECORD_COLUMNS} {probed} \
                 JOIN ip_records r ON r.network = q.network AND r.prefix = q.prefix \
                 JOIN sources s ON s.id = r.source_id ORDER BY 1, 2, 3, 5, 6"
            ),
            &[&networks, &lengths],
            |r| {
                let (i, (_, network)) = probe_at(probes, r.try_get(0)?)?;
                let at = |c: usize| c + 2;
                if r.try_get::<_, i16>(1)? == 0 {
                    return Ok((
                        i,
                        IpRow::Intel(IpIntel {
                            network: *network,
                            source: r.try_get(at(1))?,
                            risk: risk(r.try_get::<_, i16>(at(4))?.into())?,
                            threat_type: r.try_get(at(2))?,
                        }),
                    ));
                }
                let label: String = r.try_get(at(3))?;
                let hit = IpRecordHit {
                    record: IpRecord {
                        network: *network,
                        source: r.try_get(at(1))?,
                        threat_type: r.try_get(at(2))?,
                        label: (!label.is_empty()).then_some(label),
                        risk: risk(r.try_get::<_, i16>(at(4))?.into())?,
                        scenario: r.try_get(at(5))?,
                        first_seen: r.try_get(at(6))?,
                        last_seen: r.try_get(at(7))?,
                        confidence: r
                            .try_get::<_, Option<i16>>(at(8))?
                            .map(|c| {
                                u8::try_from(c).map_err(|_| corrupt(format!("confidence {c}")))
                            })
                            .transpose()?,
                        reference: r.try_get(at(9))?,
                    },
                    reliability: reliability(r.try_get(at(10))?)?,
                    sightings: r.try_get::<_, i64>(at(11))? as u64,
                };
                Ok((i, IpRow::Record(hit)))
            },
        )
    }

    /// What a read of `lo..hi` for `kinds` must cover; `None` when the known zone shows that no
    /// name there carries them.
    fn scope(&self, lo: String, hi: String, kinds: i64) -> Option<Scope> {
        match self.known.ids_in(&lo, &hi, kinds) {
            Some(ids) if ids.is_empty() => None,
            Some(ids) => Some(Scope::Ids(ids)),
            None => Some(Scope::Range(lo, hi)),
        }
    }

    /// [`scope`](Self::scope) of `zone` and every name below it.
    fn zone_scope(&self, zone: &DomainName, kinds: i64) -> Option<Scope> {
        let k = key(zone);
        let end = key_end(&k);
        self.scope(k, end, kinds)
    }

    /// The keys of `names` that the known zone does not show to carry none of `kinds`, in order.
    fn keys_that_may_carry(&self, names: &[DomainName], kinds: i64) -> Vec<String> {
        names
            .iter()
            .map(key)
            .filter(|k| !self.known.none_at(k, kinds))
            .collect()
    }

    /// The evidence about the known zone's names, read with one statement the first time.
    fn zone_evidence(&self) -> Result<Ref<'_, Option<ZoneEvidence>>> {
        if self.evidence.borrow().is_none() {
            let ids = |kinds: i64| {
                let mut ids = self.known.all_ids(kinds);
                let above = self.stored_above.borrow();
                ids.extend(above.iter().filter(|a| a.1 & kinds != 0).map(|a| a.2));
                ids
            };
            let asked = zone::Asked {
                indicators: ids(INDICATOR_KINDS),
                allowlist: ids(kind::ALLOWLIST),
                resolutions: self.known.all_ids(kind::RESOLUTION),
                addresses: self
                    .prefixes
                    .borrow()
                    .as_ref()
                    .is_some_and(|p| !p.is_empty()),
            };
            let evidence = if asked.is_empty() {
                ZoneEvidence::default()
            } else {
                let limit = ZoneEvidence::MAX_ROWS as i64 + 1;
                let (sql, params) = asked.statement(&limit);
                let rows = self.conn().query(sql, &params)?;
                // The rows name their names by id, which the known zone and its stored
                // ancestors map to keys.
                let above = self.stored_above.borrow();
                let key_of = |id: i64| {
                    self.known
                        .key_with_id(id)
                        .or_else(|| above.iter().find(|a| a.2 == id).map(|a| a.0.clone()))
                        .ok_or_else(|| corrupt(format!("name id {id} outside the known zone")))
                };
                zone::read(
                    &rows,
                    key_of,
                    |r, rev| indicator_hit_at(r, rev, zone::INDICATOR_AT),
                    |r, rev| allowlist_hit_at(r, rev, zone::ALLOWLIST_AT),
                )?
            };
            *self.evidence.borrow_mut() = Some(evidence);
        }
        Ok(self.evidence.borrow())
    }

    /// `read` of the known zone's evidence, when the known zone covers every one of `keys`.
    fn read_with_zone<T>(
        &self,
        keys: &[String],
        read: impl FnOnce(&ZoneEvidence) -> Option<T>,
    ) -> Result<Option<T>> {
        if !keys.iter().all(|k| self.known.covers(k)) {
            return Ok(None);
        }
        Ok(self.zone_evidence()?.as_ref().and_then(read))
    }

    /// `read` of the known zone's evidence, when the known zone covers `lo..hi`.
    fn read_zone_range<T>(
        &self,
        lo: &str,
        hi: &str,
        read: impl FnOnce(&ZoneEvidence) -> Option<T>,
    ) -> Result<Option<T>> {
        if !self.known.covers_range(lo, hi) {
            return Ok(None);
        }
        Ok(self.zone_evidence()?.as_ref().and_then(read))
    }

    /// WHOIS records of `domain`, newest first; at most `limit` of them.
    fn whois(&self, domain: &DomainName, limit: Option<i64>) -> Result<Vec<WhoisRecord>> {
        if self.known.none_at(&key(domain), kind::WHOIS) {
            return Ok(Vec::new());
        }
        self.collect(
            "SELECT w.record::text FROM names n JOIN whois w ON w.name_id = n.id WHERE n.rev = $1 \
             ORDER BY w.observed_at DESC LIMIT $2",
            &[&key(domain), &limit],
            |r| Ok(serde_json::from_str(r.try_get(0)?)?),
        )
    }
}

impl StoreReader for PgReader {
    /// Reads the zone's names (up to [`KnownZone::MAX_NAMES`]) and its ancestors' kinds in one
    /// statement, and keeps them for the reads that follow.
    fn knows_zone(&self, zone: &DomainName) -> Result<bool> {
        let k = key(zone);
        let ancestors: Vec<String> = zone.ancestors().map(|a| key(&a)).collect();
        let generation = self.shared.generation_of(&self.conn());
        if let Some(generation) = generation {
            return self.knows_zone_at(zone, k, ancestors, generation);
        }
        // A snapshot whose generation is unknown (no filter of stored names was kept when it
        // began): rows of three parts, the zone's names, its stored ancestors, and the IP
        // prefixes in use (octets and prefix length in the kinds and id columns, longest
        // first), which `ip_intel` needs.
        let rows = self.conn().query(
            "SELECT rev, kinds, id, 0::smallint FROM \
             (SELECT rev, kinds, id FROM names WHERE rev >= $1 AND rev < $2 ORDER BY rev LIMIT $3) z \
             UNION ALL SELECT rev, kinds, id, 1::smallint FROM names WHERE rev = ANY($4::text[]) \
             UNION ALL (SELECT '', octets, prefix, 2::smallint FROM ip_prefixes \
             ORDER BY octets, prefix DESC)",
            &[
                &k,
                &key_end(&k),
                &(KnownZone::MAX_NAMES as i64 + 1),
                &ancestors,
            ],
        )?;
        let mut names = Vec::new();
        let mut stored_above = Vec::new();
        let mut prefixes = Vec::new();
        for row in &rows {
            let (rev, kinds, id) = (
                row.try_get::<_, String>(0)?,
                row.try_get::<_, i32>(1)?,
                row.try_get::<_, i64>(2)?,
            );
            match row.try_get::<_, i16>(3)? {
                0 => names.push((rev, i64::from(kinds), id)),
                1 => stored_above.push((rev, i64::from(kinds), id)),
                _ => prefixes.push(ip_prefix(kinds, id)?),
            }
        }
        // Longest first, as `probes` walks them (a union's row order is not promised).
        prefixes.sort_by_key(|&(octets, prefix)| (octets, std::cmp::Reverse(prefix)));
        *self.prefixes.borrow_mut() = Some(prefixes);
        Ok(self.keep_zone(zone, k, names, ancestors, stored_above))
    }

    fn indicators_at(&self, names: &[DomainName]) -> Result<Vec<IndicatorHit>> {
        let keys = self.keys_that_may_carry(names, INDICATOR_KINDS);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(hits) = self.read_with_zone(&keys, |e| e.indicators_at(&keys))? {
            return Ok(hits);
        }
        // One query for all names, in the caller's order (duplicates included), as SQLite's
        // one query per name returns them.
        let sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM unnest($1::text[]) WITH ORDINALITY AS q(rev, ord) \
             JOIN names n ON n.rev = q.rev JOIN indicators i ON i.name_id = n.id \
             JOIN sources s ON s.id = i.source_id ORDER BY q.ord, {INDICATOR_ORDER}"
        );
        self.collect(&sql, &[&keys], indicator_hit)
    }

    fn indicators_below(&self, zone: &DomainName) -> Result<Vec<IndicatorHit>> {
        self.indicators_below_first(zone, usize::MAX)
    }

    fn indicators_below_first(&self, zone: &DomainName, limit: usize) -> Result<Vec<IndicatorHit>> {
        let Some(scope) = self.zone_scope(zone, INDICATOR_KINDS) else {
            return Ok(Vec::new());
        };
        let (lo, hi) = (key(zone), key_end(&key(zone)));
        if let Some(mut hits) = self.read_zone_range(&lo, &hi, |e| e.indicators_in(&lo, &hi))? {
            hits.truncate(limit);
            return Ok(hits);
        }
        let sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM names n JOIN indicators i ON i.name_id = n.id \
             JOIN sources s ON s.id = i.source_id WHERE {} \
             ORDER BY n.rev, {INDICATOR_ORDER} LIMIT $1",
            // Every name of the range carries a record: the first `limit` names are enough.
            scope.condition(2, INDICATOR_KINDS, Some(1))
        );
        let limit = limit.min(i64::MAX as usize) as i64;
        self.collect(&sql, &scope.params(&[&limit]), indicator_hit)
    }

    fn allowlist_at(&self, names: &[DomainName]) -> Result<Vec<AllowlistHit>> {
        let keys = self.keys_that_may_carry(names, kind::ALLOWLIST);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(hits) = self.read_with_zone(&keys, |e| e.allowlist_at(&keys))? {
            return Ok(hits);
        }
        let sql = format!(
            "SELECT {ALLOWLIST_COLUMNS} FROM unnest($1::text[]) WITH ORDINALITY AS q(rev, ord) \
             JOIN names n ON n.rev = q.rev JOIN allowlist_entries e ON e.name_id = n.id \
             JOIN allowlists l ON l.id = e.list_id WHERE l.enabled \
             ORDER BY q.ord, {ALLOWLIST_ORDER}"
        );
        self.collect(&sql, &[&keys], allowlist_hit)
    }

    fn allowlist_below(&self, zone: &DomainName) -> Result<Vec<AllowlistHit>> {
        let Some(scope) = self.zone_scope(zone, kind::ALLOWLIST) else {
            return Ok(Vec::new());
        };
        let (lo, hi) = (key(zone), key_end(&key(zone)));
        if let Some(hits) = self.read_zone_range(&lo, &hi, |e| e.allowlist_in(&lo, &hi))? {
            return Ok(hits);
        }
        let sql = format!(
            "SELECT {ALLOWLIST_COLUMNS} FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
             JOIN allowlists l ON l.id = e.list_id WHERE {} AND l.enabled \
             ORDER BY n.rev, {ALLOWLIST_ORDER}",
            scope.condition(1, kind::ALLOWLIST, None)
        );
        self.collect(&sql, &scope.params(&[]), allowlist_hit)
    }

    fn count_names_below(&self, zone: &DomainName) -> Result<u64> {
        if let Some(count) = self.known.children(zone, |children| children.count()) {
            return Ok(count as u64);
        }
        let sql = format!(
            "SELECT count(*) FROM names WHERE rev > $1 AND rev < $2 AND kinds & {} <> 0",
            kind::COUNTED
        );
        let k = key(zone);
        let count: i64 = self
            .conn()
            .query_one(&sql, &[&k, &key_end(&k)])?
            .try_get(0)?;
        Ok(count as u64)
    }

    fn names_below(&self, zone: &DomainName, limit: usize) -> Result<Vec<DomainName>> {
        let known = self.known.children(zone, |children| {
            children.take(limit).map(name_from_key).collect()
        });
        if let Some(names) = known {
            return names;
        }
        let sql = format!(
            "SELECT rev FROM names WHERE rev > $1 AND rev < $2 AND kinds & {} <> 0 \
             ORDER BY rev LIMIT $3",
            kind::COUNTED
        );
        let k = key(zone);
        let limit = limit.min(i64::MAX as usize) as i64;
        self.collect(&sql, &[&k, &key_end(&k), &limit], |r| {
            name_from_key(r.try_get(0)?)
        })
    }

    fn latest_whois(&self, domain: &DomainName) -> Result<Option<WhoisRecord>> {
        Ok(self.whois(domain, Some(1))?.pop())
    }

    fn whois_history(&self, domain: &DomainName) -> Result<Vec<WhoisRecord>> {
        self.whois(domain, None)
    }

    fn certificates(&self, name: &DomainName) -> Result<Vec<Certificate>> {
        let exact = key(name);
        let parent = parent_key(&exact);
        if self.known.no_certificates(&exact, parent) {
            return Ok(Vec::new());
        }
        let parent = parent.unwrap_or_default();
        let all = self.collect(
            "SELECT c.record::text FROM certificate_names cn JOIN certificates c ON c.id = cn.cert_id \
             WHERE cn.name_id IN (SELECT id FROM names WHERE rev = $1) AND NOT cn.wildcard \
             UNION ALL \
             SELECT c.record::text FROM certificate_names cn JOIN certificates c ON c.id = cn.cert_id \
             WHERE cn.name_id IN (SELECT id FROM names WHERE rev = $2) AND cn.wildcard",
            &[&exact, &parent],
            |r| Ok(serde_json::from_str::<Certificate>(r.try_get(0)?)?),
        )?;
        Ok(newest_first(all))
    }

    fn resolved_ips(
        &self,
        scope: &DomainQuery,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<ResolvedIp>> {
        let (lo, hi) = scope_range(scope);
        let (since, until) = (secs(since), secs(until));
        if let Some(ips) =
            self.read_zone_range(&lo, &hi, |e| e.resolved_in(&lo, &hi, since, until))?
        {
            return ips;
        }
        let Some(names) = self.scope(lo, hi, kind::RESOLUTION) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT r.ip, min(r.first_seen), max(r.last_seen), sum(r.count)::bigint \
             FROM names n JOIN resolutions r ON r.name_id = n.id \
             WHERE {} AND r.last_seen >= $1 AND r.first_seen <= $2 \
             GROUP BY r.ip ORDER BY r.ip",
            names.condition(3, kind::RESOLUTION, None)
        );
        self.collect(&sql, &names.params(&[&since, &until]), |r| {
            Ok(ResolvedIp {
                ip: ip_from_bytes(r.try_get(0)?)?,
                first_seen: r.try_get(1)?,
                last_seen: r.try_get(2)?,
                count: r.try_get::<_, i64>(3)? as u64,
            })
        })
    }

    fn names_resolving_to(&self, ip: IpAddr, limit: usize) -> Result<Vec<ResolvedName>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        self.collect(
            "SELECT x.rev, r.first_seen, r.last_seen, r.count FROM resolved_names x \
             JOIN names n ON n.rev = x.rev JOIN resolutions r ON r.name_id = n.id AND r.ip = x.ip \
             WHERE x.ip = $1 ORDER BY x.rev LIMIT $2",
            &[&ip_bytes(ip), &limit],
            |r| {
                Ok(ResolvedName {
                    name: name_from_key(r.try_get(0)?)?,
                    first_seen: r.try_get(1)?,
                    last_seen: r.try_get(2)?,
                    count: r.try_get::<_, i64>(3)? as u64,
                })
            },
        )
    }

    fn relations(&self, name: &DomainName) -> Result<Vec<DnsRelation>> {
        self.collect(
            &format!(
                "SELECT {RELATION_COLUMNS} FROM names n JOIN dns_relations r ON r.name_id = n.id \
                 WHERE n.rev = $1 ORDER BY {RELATION_ORDER}"
            ),
            &[&key(name)],
            |r| {
                relation(
                    name,
                    r.try_get(0)?,
                    r.try_get(1)?,
                    (r.try_get(2)?, r.try_get(3)?),
                    r.try_get(4)?,
                    r.try_get(5)?,
                )
            },
        )
    }

    fn lookups(&self, name: &DomainName) -> Result<Vec<LookupState>> {
        self.collect(
            &format!("SELECT {LOOKUP_COLUMNS} FROM lookups WHERE rev = $1 ORDER BY topic"),
            &[&key(name)],
            |r| {
                Ok(LookupState {
                    name: name.clone(),
                    topic: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    at: r.try_get(2)?,
                    server: r.try_get(3)?,
                    outcome: r.try_get(4)?,
                    error: r.try_get(5)?,
                    records: r.try_get::<_, i64>(6)? as u64,
                    latency_ms: r.try_get::<_, i64>(7)? as u64,
                    next_due: r.try_get(8)?,
                    failures: r.try_get::<_, i32>(9)? as u32,
                })
            },
        )
    }

    fn ip_intel(&self, ips: &[IpAddr]) -> Result<Vec<(IpAddr, IpIntel)>> {
        let probes = self.probes(ips)?;
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        // The addresses a report asks about are those the known zone's names resolved to.
        if self.known.holds_zone() {
            if let Some(found) = self
                .zone_evidence()?
                .as_ref()
                .and_then(|e| e.ip_intel(&probes))
            {
                return Ok(found);
            }
        }
        // Per probe, as SQLite answers: its `ip_intel` rows, then its address records.
        Ok(self
            .ip_rows_probed(&probes, true)?
            .into_iter()
            .map(|(i, row)| {
                let intel = match row {
                    IpRow::Intel(intel) => intel,
                    IpRow::Record(hit) => intel_of(hit),
                };
                (probes[i].0, intel)
            })
            .collect())
    }

    fn ip_records(&self, ip: IpAddr) -> Result<Vec<IpRecordHit>> {
        let probes = self.probes(&[ip])?;
        let mut out: Vec<IpRecordHit> = self
            .ip_rows_probed(&probes, false)?
            .into_iter()
            .filter_map(|(_, row)| match row {
                IpRow::Record(hit) => Some(hit),
                IpRow::Intel(_) => None,
            })
            .collect();
        ip_record_order(&mut out);
        Ok(out)
    }

    fn file_records(&self, hash: &FileHash) -> Result<Vec<FileRecordHit>> {
        let mut out = self.collect(
            &format!(
                "SELECT {FILE_RECORD_COLUMNS} FROM file_hashes h JOIN files f ON f.id = h.file_id \
                 JOIN file_records r ON r.file_id = h.file_id \
                 JOIN sources s ON s.id = r.source_id WHERE h.hash = $1"
            ),
            &[&hash.to_bytes()],
            |r| {
                let label: String = r.try_get(5)?;
                Ok(FileRecordHit {
                    record: FileRecord {
                        hashes: file_hashes(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)?,
                        source: r.try_get(3)?,
                        threat_type: r.try_get(4)?,
                        label: (!label.is_empty()).then_some(label),
                        risk: risk(r.try_get::<_, i16>(6)?.into())?,
                        scenario: r.try_get(7)?,
                        file_type: r.try_get(8)?,
                        size: r.try_get::<_, Option<i64>>(9)?.map(|s| s as u64),
                        file_names: file_names(r.try_get(10)?)?,
                        first_seen: r.try_get(11)?,
                        last_seen: r.try_get(12)?,
                        confidence: r
                            .try_get::<_, Option<i16>>(13)?
                            .map(|c| {
                                u8::try_from(c).map_err(|_| corrupt(format!("confidence {c}")))
                            })
                            .transpose()?,
                        reference: r.try_get(14)?,
                    },
                    reliability: reliability(r.try_get(15)?)?,
                    sightings: r.try_get::<_, i64>(16)? as u64,
                })
            },
        )?;
        file_record_order(&mut out);
        Ok(out)
    }

    fn network_allowlist(&self, ip: IpAddr) -> Result<Vec<NetworkAllowHit>> {
        let mut out = self.rows_containing(
            ip,
            "l.name, l.kind",
            "allowlist_networks",
            "JOIN allowlists l ON l.id = t.list_id WHERE l.enabled",
            |r, network| {
                Ok(NetworkAllowHit {
                    entry: NetworkAllowEntry {
                        list: r.try_get(1)?,
                        network,
                    },
                    kind: allowlist_kind(r.try_get(2)?)?,
                })
            },
        )?;
        network_allow_order(&mut out);
        Ok(out)
    }

    fn network_registrations(&self, ip: IpAddr) -> Result<Vec<NetworkRegistration>> {
        let mut out = self.rows_containing(
            ip,
            "t.range, t.name, t.organisation, t.country, t.abuse_email, t.observed_at",
            "network_registrations",
            "",
            |r, network| {
                Ok(NetworkRegistration {
                    network,
                    range: r.try_get(1)?,
                    name: r.try_get(2)?,
                    organisation: r.try_get(3)?,
                    country: r.try_get(4)?,
                    abuse_email: r.try_get(5)?,
                    observed_at: r.try_get(6)?,
                })
            },
        )?;
        network_registration_order(&mut out);
        Ok(out)
    }

    fn event_totals(&self, scope: &DomainQuery, until: Timestamp) -> Result<Vec<EventTotal>> {
        let (lo, hi) = scope_range(scope);
        let Some(names) = self.scope(lo, hi, kind::EVENT) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT e.industry, e.stage, sum(e.count)::bigint, max(e.time) \
             FROM names n JOIN events e ON e.name_id = n.id WHERE {} AND e.time <= $1 \
             GROUP BY e.industry, e.stage ORDER BY e.industry, e.stage",
            names.condition(2, kind::EVENT, None)
        );
        self.collect(&sql, &names.params(&[&secs(until)]), |r| {
            Ok(EventTotal {
                industry: r.try_get(0)?,
                stage: r.try_get(1)?,
                count: r.try_get::<_, i64>(2)? as u64,
                last: r.try_get(3)?,
            })
        })
    }

    fn name_model_inputs(&self) -> Result<NameModelInputs> {
        let names = |sql: &str| self.collect(sql, &[], |r| name_from_key(r.try_get(0)?));
        Ok(NameModelInputs {
            top_sites: self.collect(
                &format!("{TOP_SITES} GROUP BY n.rev ORDER BY n.rev"),
                &[],
                |r| {
                    let rank: Option<i64> = r.try_get(1)?;
                    let rank = rank
                        .map(|v| u32::try_from(v).map_err(|_| corrupt(format!("rank {v}"))))
                        .transpose()?;
                    Ok((name_from_key(r.try_get(0)?)?, rank))
                },
            )?,
            shared_zones: names(&format!("{SHARED_ZONES} NOT l.enabled ORDER BY n.rev"))?,
            zone_listings: self.collect(
                &format!(
                    "SELECT {INDICATOR_COLUMNS} FROM indicators i JOIN names n ON n.id = i.name_id \
                     JOIN sources s ON s.id = i.source_id WHERE i.zone \
                     ORDER BY n.rev, {INDICATOR_ORDER}"
                ),
                &[],
                indicator_hit,
            )?,
            phishing_labels: self.collect(PHISHING_LABELS, &[], |r| Ok(r.try_get(0)?))?,
            tld_listings: self.collect(
                &tld_listings_sql("split_part(n.rev, '.', 1)", "NOT i.zone"),
                &[],
                |r| {
                    Ok(ListedShare {
                        key: r.try_get(0)?,
                        names: r.try_get::<_, i64>(1)? as u64,
                        listed: r.try_get::<_, i64>(2)? as u64,
                    })
                },
            )?,
            nameserver_listings: NameModelInputs::nameserver_shares(self.collect(
                &whois_listed_sql("w.record::text", "NOT i.zone"),
                &[],
                |r| Ok((serde_json::from_str(r.try_get(0)?)?, r.try_get(1)?)),
            )?),
            listed_children: self.collect(&listed_children_sql("NOT i.zone"), &[], |r| {
                Ok(ListedShare {
                    key: name_from_key(r.try_get(0)?)?.as_str().to_owned(),
                    names: r.try_get::<_, i64>(1)? as u64,
                    listed: r.try_get::<_, i64>(2)? as u64,
                })
            })?,
        })
    }

    fn sources(&self) -> Result<Vec<SourceSummary>> {
        self.collect(
            "SELECT name, reliability, default_threat_type, last_import, indicators \
             FROM sources ORDER BY name",
            &[],
            |r| {
                Ok(SourceSummary {
                    source: Source {
                        name: r.try_get(0)?,
                        reliability: reliability(r.try_get(1)?)?,
                        default_threat_type: r.try_get(2)?,
                    },
                    last_import: r.try_get(3)?,
                    indicators: r.try_get::<_, i64>(4)? as u64,
                })
            },
        )
    }

    fn source(&self, name: &str) -> Result<Option<Source>> {
        self.conn()
            .query_opt(
                "SELECT name, reliability, default_threat_type FROM sources WHERE name = $1",
                &[&name],
            )?
            .map(|r| {
                Ok(Source {
                    name: r.try_get(0)?,
                    reliability: reliability(r.try_get(1)?)?,
                    default_threat_type: r.try_get(2)?,
                })
            })
            .transpose()
    }

    fn is_empty(&self) -> Result<bool> {
        let row = self
            .conn()
            .query_one("SELECT NOT EXISTS (SELECT 1 FROM names)", &[])?;
        Ok(row.try_get(0)?)
    }

    fn overview(&self, top: usize, since: Timestamp) -> Result<StoreOverview> {
        let counted = |r: &Row| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, i64>(1)? as u64));
        let day = since.timestamp().div_euclid(86_400) * 86_400;
        let since = chrono::DateTime::from_timestamp(day, 0).unwrap_or(since);
        Ok(StoreOverview {
            by_threat_type: self.collect(OVERVIEW_THREAT_TYPES, &[], counted)?,
            top_families: self.collect(
                &OVERVIEW_FAMILIES.replace("?1", "$1"),
                &[&(top as i64)],
                counted,
            )?,
            imports_by_day: self.collect(
                "SELECT to_timestamp(floor(extract(epoch FROM at) / 86400) * 86400) AS day, \
                 count(*), sum(records)::bigint FROM imports \
                 WHERE at >= $1 GROUP BY day ORDER BY day",
                &[&since],
                |r| {
                    Ok(ImportDay {
                        day: r.try_get(0)?,
                        imports: r.try_get::<_, i64>(1)? as u64,
                        records: r.try_get::<_, i64>(2)? as u64,
                    })
                },
            )?,
        })
    }

    fn stats(&self) -> Result<StoreStats> {
        let row = self
            .conn()
            .query_one(&format!("SELECT {COUNTED} FROM row_counts"), &[])?;
        let mut counts = [0; 10];
        for (i, count) in counts.iter_mut().enumerate() {
            *count = row.try_get::<_, i64>(i)? as u64;
        }
        Ok(StoreStats::from_order(counts))
    }

    fn each_indicator(&self, visit: &mut dyn FnMut(IndicatorHit) -> ControlFlow<()>) -> Result<()> {
        let sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM names n JOIN indicators i ON i.name_id = n.id \
             JOIN sources s ON s.id = i.source_id WHERE n.kinds & {} <> 0 \
             ORDER BY n.rev, {INDICATOR_ORDER}",
            INDICATOR_KINDS
        );
        self.each_row(&sql, indicator_hit, visit)
    }

    fn each_allowlist_entry(
        &self,
        visit: &mut dyn FnMut(AllowlistHit) -> ControlFlow<()>,
    ) -> Result<()> {
        let sql = format!(
            "SELECT {ALLOWLIST_COLUMNS} FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
             JOIN allowlists l ON l.id = e.list_id WHERE n.kinds & {} <> 0 AND l.enabled \
             ORDER BY n.rev, {ALLOWLIST_ORDER}",
            kind::ALLOWLIST
        );
        self.each_row(&sql, allowlist_hit, visit)
    }

    fn commit_marker(&self) -> Result<CommitMarker> {
        let row = self
            .conn()
            .query_one("SELECT generation, committed_at FROM commit_marker", &[])?;
        Ok(CommitMarker {
            generation: row.try_get::<_, i64>(0)? as u64,
            committed_at: row.try_get(1)?,
        })
    }

    fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        let row = self.conn().query_opt(
            "SELECT etag, last_modified, refreshed_at FROM feed_state WHERE name = $1",
            &[&name],
        )?;
        row.map(|r| {
            Ok(FeedState {
                name: name.to_owned(),
                etag: r.try_get(0)?,
                last_modified: r.try_get(1)?,
                refreshed_at: r.try_get(2)?,
            })
        })
        .transpose()
    }
}
