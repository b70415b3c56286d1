//! The evidence statement: the evidence a report reads about the known zone's names (the
//! indicator records and allowlist entries of the zone's names and its ancestors, the zone's
//! resolutions and what the stored networks say about the addresses they resolved to) in one
//! statement, from which the later reads are answered without a round trip each. Each kind is
//! kept only when it has at most [`ZoneEvidence::MAX_ROWS`] rows, otherwise its reads run as
//! statements of their own.
//!
//! A snapshot whose commit generation is known (a filter of stored names is kept, as in a
//! server) reads the zone's names and their evidence together ([`with_names`]): the zone's
//! names in a `MATERIALIZED` CTE, each kind's part reading the names whose kind bits show it,
//! so a listed name's report is one statement. (The filter has answered for the zones that
//! hold no name, which would pay the wide parts' executor start-up for nothing: 15-50 µs of
//! PostgreSQL CPU when every unknown name's `knows_zone` carried them.) Otherwise the first
//! read about the known zone's names brings the evidence ([`sql`]), asking only for the kinds
//! the names' kind bits show, the addresses' only when networks are stored (a statement per
//! combination, each prepared once per connection).
//!
//! The statement is a `UNION ALL` of one part per kind over one wide row: the part's number,
//! the name's key, an id, then the columns of each part ([`COLUMNS`]), `NULL` where a part has
//! none.

use std::net::IpAddr;
use std::sync::OnceLock;

use ::postgres::types::ToSql;
use ::postgres::Row;
use threatintel_model::{IpIntel, IpNetwork, RiskLevel, Timestamp};

use super::corrupt;
use crate::codec::{
    ip_bytes, ip_from_bytes, matching_str, risk, summed_per_address, ALLOWLIST_COLUMNS,
    INDICATOR_COLUMNS,
};
use crate::{AllowlistHit, IndicatorHit, ResolvedIp, Result};

/// The row's columns and their types: part, the name's id, an id (source id, list id); then an indicator's
/// columns after its name ([`INDICATOR_COLUMNS`]), an allowlist entry's
/// ([`ALLOWLIST_COLUMNS`]) and a resolution's. An address's row (an `ip_intel` row or an
/// address record on a network containing it) has its source id as id; whether it is an
/// address record, the source's name, threat type, label and risk in the indicator's columns
/// from its `zone`; the address in the resolution's and the network's prefix length in the
/// resolution's count ([`ADDRESS_AT`]).
const COLUMNS: [&str; 25] = [
    "smallint",
    "bigint",
    "bigint",
    // indicator (INDICATOR_COLUMNS after n.rev)
    "boolean",
    "text",
    "text",
    "text",
    "smallint",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "smallint",
    "text",
    "text",
    "bigint",
    "boolean",
    // allowlist entry (ALLOWLIST_COLUMNS after n.rev)
    "text",
    "text",
    "bigint",
    "text",
    // resolution
    "bytea",
    "timestamptz",
    "timestamptz",
    "bigint",
];
pub(super) const INDICATOR_AT: usize = 3;
pub(super) const ALLOWLIST_AT: usize = 17;
const RESOLUTION_AT: usize = 21;
/// An address row's columns: whether it is an address record, source name, threat type, label
/// and risk; address; prefix.
const ADDRESS_AT: [usize; 3] = [INDICATOR_AT, RESOLUTION_AT, RESOLUTION_AT + 3];

/// Parts of the statement, in the first column.
const INDICATORS: i16 = 0;
const ALLOWLIST: i16 = 1;
const RESOLUTIONS: i16 = 2;
const ADDRESSES: i16 = 3;
/// The zone's names, in [`with_names`]: the id, the kind bits in the third column, the key in
/// the first text one.
const NAMES: i16 = 4;

/// The network of prefix length `p.prefix` containing the address `a.ip` (both as stored:
/// address octets), as `ip_intel.network` and `ip_records.network` hold it: the prefix's whole
/// octets, the partial one masked, zeros after.
const NETWORK_OF_ADDRESS: &str = "substring(a.ip FROM 1 FOR p.prefix / 8) \
     || CASE WHEN p.prefix % 8 = 0 THEN ''::bytea ELSE set_byte('\\x00'::bytea, 0, \
     get_byte(a.ip, p.prefix / 8) & (65280 >> (p.prefix % 8)) & 255) END \
     || substring('\\x00000000000000000000000000000000'::bytea FROM 1 \
     FOR octet_length(a.ip) - (p.prefix + 7) / 8)";

/// The kinds of evidence a statement asks for: the ids of the names whose records it reads,
/// and whether to read what the stored networks say about the addresses they resolved to.
#[derive(Default)]
pub(super) struct Asked {
    pub indicators: Vec<i64>,
    pub allowlist: Vec<i64>,
    pub resolutions: Vec<i64>,
    pub addresses: bool,
}

impl Asked {
    /// Whether there is nothing to ask.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty() && self.allowlist.is_empty() && self.resolutions.is_empty()
    }

    /// The statement's text and parameters: one id array per kind asked, then the row limit.
    pub fn statement<'a>(&'a self, limit: &'a i64) -> (&'static str, Vec<&'a (dyn ToSql + Sync)>) {
        let parts = [&self.indicators, &self.allowlist, &self.resolutions];
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(4);
        let mut variant = 0;
        for (i, ids) in parts.into_iter().enumerate() {
            if !ids.is_empty() {
                params.push(ids);
                variant |= 1 << i;
            }
        }
        if self.addresses && !self.resolutions.is_empty() {
            variant |= 8;
        }
        params.push(limit);
        (sql(variant), params)
    }
}

/// One part: `SELECT` of its number, `head` (key and id), and each run of `exprs` from the
/// column its index names on, `NULL` in every other column.
fn part(number: i16, head: &str, exprs: &[(usize, &str)], rest: &str) -> String {
    let mut columns = vec![format!("{number}::smallint"), head.to_owned()];
    let mut i = 3;
    while i < COLUMNS.len() {
        match exprs.iter().find(|(at, _)| *at == i) {
            Some((_, run)) => {
                columns.push((*run).to_owned());
                i += run.split(", ").count();
            }
            None => {
                columns.push(format!("NULL::{}", COLUMNS[i]));
                i += 1;
            }
        }
    }
    format!("(SELECT {} {rest})", columns.join(", "))
}

/// A part of the statement: its number, head (key and id), runs of expressions (the column
/// each starts at), its `FROM` and `WHERE`, and which id array (`${ids}`) it reads: 0
/// indicators, 1 allowlist entries, 2 resolutions.
struct Part {
    number: i16,
    head: &'static str,
    exprs: Vec<(usize, String)>,
    rest: String,
    ids: usize,
}

/// The part reading the `ip_intel` rows and address records on the stored networks that
/// contain the addresses the zone's names resolved to: each network is probed by its key, one
/// address and prefix length in use at a time (a lateral join, so no plan reads either table
/// whole).
fn address_part() -> Part {
    let [named, address, prefix] = ADDRESS_AT;
    Part {
        number: ADDRESSES,
        head: "NULL::bigint, x.source_id::bigint",
        exprs: vec![
            (
                named,
                "x.record, s.name, x.threat_type, x.label, x.risk".to_owned(),
            ),
            (address, "a.ip".to_owned()),
            (prefix, "p.prefix::bigint".to_owned()),
        ],
        rest: format!(
            "FROM (SELECT DISTINCT r.ip FROM resolutions r \
             WHERE r.name_id = ${{ids}}) a \
             JOIN ip_prefixes p ON p.octets = octet_length(a.ip) \
             CROSS JOIN LATERAL (SELECT {NETWORK_OF_ADDRESS} AS network) m \
             CROSS JOIN LATERAL (\
             SELECT false AS record, t.source_id, t.threat_type COLLATE \"C\" AS threat_type, \
             ''::text AS label, t.risk FROM ip_intel t \
             WHERE t.network = m.network AND t.prefix = p.prefix UNION ALL \
             SELECT true, t.source_id, t.threat_type, t.label, t.risk FROM ip_records t \
             WHERE t.network = m.network AND t.prefix = p.prefix) x \
             JOIN sources s ON s.id = x.source_id"
        ),
        ids: 2,
    }
}

/// The statement asking for the kinds whose bits are set in `variant` (1 indicators, 2
/// allowlist entries, 4 resolutions, 8 with 4: what the stored networks say about their
/// addresses): `$1`.. the id arrays of the kinds asked, the last parameter the most rows read
/// of each.
fn sql(variant: usize) -> &'static str {
    static SQL: [OnceLock<String>; 16] = [const { OnceLock::new() }; 16];
    SQL[variant & 15].get_or_init(|| {
        // The id arrays are numbered in kind order, among the kinds asked.
        let param = |ids: usize| (0..ids).filter(|k| variant & (1 << k) != 0).count() + 1;
        let limit = format!("${}", (variant & 7).count_ones() + 1);
        parts()
            .iter()
            .enumerate()
            .filter(|(bit, _)| variant & (1 << bit) != 0)
            .map(|(_, p)| {
                let ids = format!("ANY(${}::bigint[])", param(p.ids));
                p.sql(&ids, &limit)
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    })
}

/// A zone's names (key, kind bits, id), in key order: `$1`..`$3` the zone's key range and the
/// most names read.
pub(super) const ZONE_NAMES: &str =
    "SELECT rev, kinds, id FROM names WHERE rev >= $1 AND rev < $2 ORDER BY rev LIMIT $3";

/// The statement that reads a zone's names and, in the same round trip, their evidence (the
/// parts of [`sql`] for every kind, the addresses' with `addresses`): `$1`..`$3` the zone's key
/// range and the most names read (`knows_zone`'s), `$4` and `$5` the ids of the stored
/// ancestors with indicator records and with allowlist entries, `$6`..`$8` the kind bits that
/// show a name has indicator records, allowlist entries and resolutions, `$9` the most rows
/// read of each kind. Its [`NAMES`] rows are the zone's names.
pub(super) fn with_names(addresses: bool) -> &'static str {
    static SQL: [OnceLock<String>; 2] = [const { OnceLock::new() }; 2];
    SQL[usize::from(addresses)].get_or_init(|| {
        let ids = [
            "(SELECT id FROM z WHERE kinds & $6 <> 0 UNION ALL SELECT unnest($4::bigint[]))",
            "(SELECT id FROM z WHERE kinds & $7 <> 0 UNION ALL SELECT unnest($5::bigint[]))",
            "(SELECT id FROM z WHERE kinds & $8 <> 0)",
        ];
        let names = part(
            NAMES,
            "z.id, z.kinds::bigint",
            &[(INDICATOR_AT + 1, "z.rev")],
            "FROM z",
        );
        let evidence = parts()
            .iter()
            .take(if addresses { 4 } else { 3 })
            .map(|p| p.sql(&format!("ANY(ARRAY{})", ids[p.ids]), "$9"))
            .collect::<Vec<_>>();
        format!(
            "WITH z AS MATERIALIZED ({ZONE_NAMES}) {names} UNION ALL {}",
            evidence.join(" UNION ALL ")
        )
    })
}

impl Part {
    /// The part's `SELECT`, reading the names whose ids `ids` gives (`ANY(...)` of an array),
    /// at most `limit` rows.
    fn sql(&self, ids: &str, limit: &str) -> String {
        let rest = self.rest.replace("${ids}", ids);
        let exprs: Vec<(usize, &str)> =
            self.exprs.iter().map(|(at, e)| (*at, e.as_str())).collect();
        part(
            self.number,
            self.head,
            &exprs,
            &format!("{rest} LIMIT {limit}"),
        )
    }
}

/// The parts of the statement, in kind order: indicators, allowlist entries, resolutions, and
/// what the stored networks say about the resolutions' addresses.
fn parts() -> [Part; 4] {
    let after_rev = |columns: &str| {
        columns
            .split_once(", ")
            .map_or(String::new(), |c| c.1.to_owned())
    };
    [
        Part {
            number: INDICATORS,
            head: "i.name_id, i.source_id::bigint",
            exprs: vec![(INDICATOR_AT, after_rev(INDICATOR_COLUMNS))],
            rest: "FROM indicators i JOIN sources s ON s.id = i.source_id \
                   WHERE i.name_id = ${ids}"
                .to_owned(),
            ids: 0,
        },
        Part {
            number: ALLOWLIST,
            head: "e.name_id, e.list_id::bigint",
            exprs: vec![(ALLOWLIST_AT, after_rev(ALLOWLIST_COLUMNS))],
            rest: "FROM allowlist_entries e JOIN allowlists l ON l.id = e.list_id \
                   WHERE e.name_id = ${ids} AND l.enabled"
                .to_owned(),
            ids: 1,
        },
        Part {
            number: RESOLUTIONS,
            head: "r.name_id, NULL::bigint",
            exprs: vec![(
                RESOLUTION_AT,
                "r.ip, r.first_seen, r.last_seen, r.count".to_owned(),
            )],
            rest: "FROM resolutions r WHERE r.name_id = ${ids}".to_owned(),
            ids: 2,
        },
        address_part(),
    ]
}

/// A resolution of a name of the zone: key, address octets, first and last seen, count.
type Resolution = (String, Vec<u8>, Timestamp, Timestamp, i64);

/// What the statement brought about the zone, each kind in the order its reads return it.
#[derive(Default)]
pub(super) struct ZoneEvidence {
    /// Indicator records of the zone's names and its ancestors, by key then as
    /// `INDICATOR_ORDER`; `None` when there were too many.
    indicators: Option<Vec<(String, IndicatorHit)>>,
    /// Entries of enabled lists on the zone's names and its ancestors, by key then list id and
    /// matching.
    allowlist: Option<Vec<(String, AllowlistHit)>>,
    /// Resolutions of the zone's names.
    resolutions: Option<Vec<Resolution>>,
    /// What the stored networks say about the addresses of `resolutions` (read whenever they
    /// were and networks are stored), by address, prefix length (longest first), then as
    /// `ip_intel` returns a network's rows.
    addresses: Option<Vec<AddressRow>>,
}

/// An `ip_intel` row or an address record on a stored network containing an address.
struct AddressRow {
    ip: Vec<u8>,
    prefix: u8,
    /// Where it comes among its network's rows: whether it is an address record (`ip_intel`
    /// rows first), source id, threat type and label.
    order: (bool, i64, Option<String>, String),
    source: String,
    risk: RiskLevel,
}

impl ZoneEvidence {
    /// Most rows of one kind kept.
    pub const MAX_ROWS: usize = 256;
}

/// `rows` (key, id, hit) sorted by `order` and without their ids, when there are at most
/// [`ZoneEvidence::MAX_ROWS`].
fn complete<T>(
    mut rows: Vec<(String, i64, T)>,
    order: impl Fn(&(String, i64, T), &(String, i64, T)) -> std::cmp::Ordering,
) -> Option<Vec<(String, T)>> {
    (rows.len() <= ZoneEvidence::MAX_ROWS).then(|| {
        rows.sort_by(order);
        rows.into_iter().map(|(rev, _, hit)| (rev, hit)).collect()
    })
}

/// Reads the statement's rows (but [`with_names`]'s names, which [`names`] reads); `key_of`
/// maps a name's id to its key (the caller knows them), `indicator` and `allowlist` decode a
/// hit of the name with that key from its part's columns.
pub(super) fn read(
    rows: &[Row],
    key_of: impl Fn(i64) -> Result<String>,
    indicator: impl Fn(&Row, &str) -> Result<IndicatorHit>,
    allowlist: impl Fn(&Row, &str) -> Result<AllowlistHit>,
) -> Result<ZoneEvidence> {
    let mut indicators = Vec::new();
    let mut allowlist_hits = Vec::new();
    let mut resolutions = Vec::new();
    let mut addresses = Vec::new();
    for row in rows {
        let part = row.try_get::<_, i16>(0)?;
        if part == NAMES {
            continue;
        }
        if part == ADDRESSES {
            addresses.push(address_row(row)?);
            continue;
        }
        let rev = key_of(row.try_get(1)?)?;
        match part {
            INDICATORS => {
                let hit = indicator(row, &rev)?;
                indicators.push((rev, row.try_get(2)?, hit));
            }
            ALLOWLIST => {
                let hit = allowlist(row, &rev)?;
                allowlist_hits.push((rev, row.try_get(2)?, hit));
            }
            _ => resolutions.push((
                rev,
                row.try_get(RESOLUTION_AT)?,
                row.try_get(RESOLUTION_AT + 1)?,
                row.try_get(RESOLUTION_AT + 2)?,
                row.try_get(RESOLUTION_AT + 3)?,
            )),
        }
    }
    // A union's row order is not promised: each kind is put in its reads' order here.
    Ok(ZoneEvidence {
        // As `INDICATOR_ORDER` after the name.
        indicators: complete(indicators, |(a, a_source, a_hit), (b, b_source, b_hit)| {
            let (a_hit, b_hit) = (&a_hit.record, &b_hit.record);
            (a, a_hit.zone, a_source, &a_hit.threat_type, &a_hit.label).cmp(&(
                b,
                b_hit.zone,
                b_source,
                &b_hit.threat_type,
                &b_hit.label,
            ))
        }),
        // As `ALLOWLIST_ORDER` after the name.
        allowlist: complete(allowlist_hits, |(a, a_list, a_hit), (b, b_list, b_hit)| {
            let text = |h: &AllowlistHit| matching_str(h.entry.matching);
            (a, a_list, text(a_hit)).cmp(&(b, b_list, text(b_hit)))
        }),
        resolutions: (resolutions.len() <= ZoneEvidence::MAX_ROWS).then_some(resolutions),
        // Not asked, it is empty, and unused: `ip_intel` has no probes without stored networks,
        // and no address outside `resolutions`.
        addresses: (addresses.len() <= ZoneEvidence::MAX_ROWS).then(|| {
            addresses.sort_by(|a, b| {
                (&a.ip, std::cmp::Reverse(a.prefix), &a.order).cmp(&(
                    &b.ip,
                    std::cmp::Reverse(b.prefix),
                    &b.order,
                ))
            });
            addresses
        }),
    })
}

/// The zone's names among [`with_names`]'s rows (key, kind bits, id), in key order.
pub(super) fn names(rows: &[Row]) -> Result<Vec<(String, i64, i64)>> {
    let mut names = Vec::new();
    for row in rows {
        if row.try_get::<_, i16>(0)? == NAMES {
            names.push((
                row.try_get(INDICATOR_AT + 1)?,
                row.try_get(2)?,
                row.try_get(1)?,
            ));
        }
    }
    names.sort_unstable_by(|a: &(String, i64, i64), b| a.0.cmp(&b.0));
    Ok(names)
}

/// A row of the statement's address part ([`ADDRESS_AT`]).
fn address_row(row: &Row) -> Result<AddressRow> {
    let [named, address, prefix] = ADDRESS_AT;
    let prefix: i64 = row.try_get(prefix)?;
    Ok(AddressRow {
        ip: row.try_get(address)?,
        prefix: u8::try_from(prefix).map_err(|_| corrupt(format!("prefix /{prefix}")))?,
        order: (
            row.try_get(named)?,
            row.try_get(2)?,
            row.try_get(named + 2)?,
            row.try_get(named + 3)?,
        ),
        source: row.try_get(named + 1)?,
        risk: risk(row.try_get::<_, i16>(named + 4)?.into())?,
    })
}

impl ZoneEvidence {
    /// What the stored networks say about each probe (an address and a stored network
    /// containing it, in the order `ip_intel` answers them), when read and every probed
    /// address is one the zone's names resolved to.
    pub fn ip_intel(&self, probes: &[(IpAddr, IpNetwork)]) -> Option<Vec<(IpAddr, IpIntel)>> {
        let (resolutions, rows) = (self.resolutions.as_deref()?, self.addresses.as_deref()?);
        let octets: Vec<Vec<u8>> = probes.iter().map(|&(ip, _)| ip_bytes(ip)).collect();
        if !octets.iter().all(|o| resolutions.iter().any(|r| r.1 == *o)) {
            return None;
        }
        let found = probes
            .iter()
            .zip(&octets)
            .flat_map(|(&(ip, network), octets)| {
                rows.iter()
                    .filter(move |r| r.ip == *octets && r.prefix == network.prefix())
                    .map(move |row| {
                        let intel = IpIntel {
                            network,
                            risk: row.risk,
                            source: row.source.clone(),
                            threat_type: row.order.2.clone(),
                        };
                        (ip, intel)
                    })
            });
        Some(found.collect())
    }

    /// The indicator records of the names whose keys are in `lo..hi`, when read.
    pub fn indicators_in(&self, lo: &str, hi: &str) -> Option<Vec<IndicatorHit>> {
        Some(in_range(self.indicators.as_deref()?, lo, hi))
    }

    /// The indicator records of each of `keys` in turn, when read.
    pub fn indicators_at(&self, keys: &[String]) -> Option<Vec<IndicatorHit>> {
        Some(at_keys(self.indicators.as_deref()?, keys))
    }

    pub fn allowlist_in(&self, lo: &str, hi: &str) -> Option<Vec<AllowlistHit>> {
        Some(in_range(self.allowlist.as_deref()?, lo, hi))
    }

    pub fn allowlist_at(&self, keys: &[String]) -> Option<Vec<AllowlistHit>> {
        Some(at_keys(self.allowlist.as_deref()?, keys))
    }

    /// The distinct addresses the names in `lo..hi` resolved to, seen in `[since, until]`, as
    /// `resolved_ips` sums them (by address octets), when read.
    pub fn resolved_in(
        &self,
        lo: &str,
        hi: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Option<Result<Vec<ResolvedIp>>> {
        let rows: Result<Vec<ResolvedIp>> = self
            .resolutions
            .as_deref()?
            .iter()
            .filter(|(rev, _, first, last, _)| {
                lo <= rev.as_str() && rev.as_str() < hi && *last >= since && *first <= until
            })
            .map(|(_, ip, first, last, count)| {
                Ok(ResolvedIp {
                    ip: ip_from_bytes(ip)?,
                    first_seen: *first,
                    last_seen: *last,
                    count: *count as u64,
                })
            })
            .collect();
        Some(rows.map(summed_per_address))
    }
}

/// The hits of the names whose keys are in `lo..hi`, in order.
fn in_range<T: Clone>(rows: &[(String, T)], lo: &str, hi: &str) -> Vec<T> {
    rows.iter()
        .filter(|(rev, _)| lo <= rev.as_str() && rev.as_str() < hi)
        .map(|(_, hit)| hit.clone())
        .collect()
}

/// The hits of each of `keys` in turn (a key given twice, twice).
fn at_keys<T: Clone>(rows: &[(String, T)], keys: &[String]) -> Vec<T> {
    keys.iter()
        .flat_map(|k| rows.iter().filter(move |(rev, _)| rev == k))
        .map(|(_, hit)| hit.clone())
        .collect()
}
