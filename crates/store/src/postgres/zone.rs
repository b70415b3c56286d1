//! The known zone's statement: with the zone's names, its ancestors' kind bits and the IP
//! prefixes in use (what `known_zone.rs` keeps), it brings the evidence a report reads about
//! those names (their indicator records and allowlist entries, and the zone's resolutions), so
//! that a report's reads of them are answered without a round trip each. Each kind comes only
//! when it has at most [`ZoneEvidence::MAX_ROWS`] rows; otherwise its reads run as statements.
//!
//! The statement is a `UNION ALL` of one part per kind over one wide row: the part's number,
//! the name's key, then columns of each part ([`COLUMNS`]), `NULL` where a part has none.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ::postgres::Row;
use threatintel_model::Timestamp;

use crate::codec::{ip_from_bytes, matching_str, ALLOWLIST_COLUMNS, INDICATOR_COLUMNS};
use crate::keys::kind;
use crate::{AllowlistHit, IndicatorHit, ResolvedIp, Result};

/// The row's columns and their types: part, key, kind bits (or prefix octets), id (or prefix
/// length, source id, list id); then an indicator's columns after its name
/// ([`INDICATOR_COLUMNS`]), an allowlist entry's ([`ALLOWLIST_COLUMNS`]) and a resolution's.
const COLUMNS: [&str; 26] = [
    "smallint",
    "text",
    "integer",
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
pub(super) const INDICATOR_AT: usize = 4;
pub(super) const ALLOWLIST_AT: usize = 18;
const RESOLUTION_AT: usize = 22;

/// Parts of the statement, in the first column.
const NAMES: i16 = 0;
const ANCESTORS: i16 = 1;
const PREFIXES: i16 = 2;
const INDICATORS: i16 = 3;
const ALLOWLIST: i16 = 4;
const RESOLUTIONS: i16 = 5;

/// One part: `SELECT` of `exprs` (from the column at `at` on) after the part number and
/// `head` (key, bits, id), `NULL` in every other column.
fn part(number: i16, head: &str, at: usize, exprs: &str, rest: &str) -> String {
    let given = exprs.split(", ").filter(|e| !e.is_empty()).count();
    let mut columns = vec![format!("{number}::smallint"), head.to_owned()];
    for (i, ty) in COLUMNS.iter().enumerate().skip(4) {
        if i == at && given > 0 {
            columns.push(exprs.to_owned());
        } else if !(at..at + given).contains(&i) {
            columns.push(format!("NULL::{ty}"));
        }
    }
    format!("(SELECT {} {rest})", columns.join(", "))
}

/// The ids of the zone's and the ancestors' names that carry one of `kinds`.
fn ids(kinds: i64, with_ancestors: bool) -> String {
    let above = if with_ancestors {
        format!(" UNION ALL SELECT id FROM a WHERE kinds & {kinds} <> 0")
    } else {
        String::new()
    };
    format!("ARRAY(SELECT id FROM z WHERE kinds & {kinds} <> 0{above})")
}

/// The statement: `$1`..`$2` the zone's key range, `$3` the most names read of it, `$4` the
/// ancestors' keys, `$5` the most rows read of each kind of evidence.
pub(super) fn sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let indicator_kinds = kind::INDICATOR | kind::ZONE_INDICATOR;
        let after_rev = |columns: &str| columns.split_once(", ").map(|c| c.1.to_owned());
        let indicator_columns = after_rev(INDICATOR_COLUMNS).unwrap_or_default();
        let allowlist_columns = after_rev(ALLOWLIST_COLUMNS).unwrap_or_default();
        [
            part(NAMES, "rev, kinds, id", 0, "", "FROM z"),
            part(ANCESTORS, "rev, kinds, id", 0, "", "FROM a"),
            part(
                PREFIXES,
                "''::text, octets::integer, prefix::bigint",
                0,
                "",
                "FROM ip_prefixes",
            ),
            part(
                INDICATORS,
                "n.rev, NULL::integer, i.source_id::bigint",
                INDICATOR_AT,
                &indicator_columns,
                &format!(
                    "FROM names n JOIN indicators i ON i.name_id = n.id \
                     JOIN sources s ON s.id = i.source_id WHERE n.id = ANY({}) LIMIT $5",
                    ids(indicator_kinds, true)
                ),
            ),
            part(
                ALLOWLIST,
                "n.rev, NULL::integer, e.list_id::bigint",
                ALLOWLIST_AT,
                &allowlist_columns,
                &format!(
                    "FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
                     JOIN allowlists l ON l.id = e.list_id WHERE n.id = ANY({}) AND l.enabled \
                     LIMIT $5",
                    ids(kind::ALLOWLIST, true)
                ),
            ),
            part(
                RESOLUTIONS,
                "n.rev, NULL::integer, NULL::bigint",
                RESOLUTION_AT,
                "r.ip, r.first_seen, r.last_seen, r.count",
                &format!(
                    "FROM names n JOIN resolutions r ON r.name_id = n.id \
                     WHERE n.id = ANY({}) LIMIT $5",
                    ids(kind::RESOLUTION, false)
                ),
            ),
        ]
        .into_iter()
        .fold(
            "WITH z AS (SELECT rev, kinds, id FROM names WHERE rev >= $1 AND rev < $2 \
             ORDER BY rev LIMIT $3), \
             a AS (SELECT rev, kinds, id FROM names WHERE rev = ANY($4::text[])) "
                .to_owned(),
            |mut sql, part| {
                if !sql.ends_with(") ") {
                    sql.push_str(" UNION ALL ");
                }
                sql.push_str(&part);
                sql
            },
        )
    })
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
}

/// Rows of the statement sorted out by part.
#[derive(Default)]
pub(super) struct ZoneRows {
    /// The zone's names (key order), its stored ancestors (key, kind bits, id).
    pub names: Vec<(String, i64, i64)>,
    pub ancestors: Vec<(String, i64)>,
    /// The IP prefixes in use (octets, prefix length).
    pub prefixes: Vec<(i32, i64)>,
    pub evidence: ZoneEvidence,
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

/// Reads the statement's rows; `indicator` and `allowlist` decode a hit from the row's key
/// and its part's columns.
pub(super) fn read(
    rows: &[Row],
    indicator: impl Fn(&Row) -> Result<IndicatorHit>,
    allowlist: impl Fn(&Row) -> Result<AllowlistHit>,
) -> Result<ZoneRows> {
    let mut out = ZoneRows::default();
    let mut indicators = Vec::new();
    let mut allowlist_hits = Vec::new();
    let mut resolutions = Vec::new();
    for row in rows {
        let rev: String = row.try_get(1)?;
        match row.try_get::<_, i16>(0)? {
            NAMES => out
                .names
                .push((rev, row.try_get::<_, i32>(2)?.into(), row.try_get(3)?)),
            ANCESTORS => out.ancestors.push((rev, row.try_get::<_, i32>(2)?.into())),
            PREFIXES => out.prefixes.push((row.try_get(2)?, row.try_get(3)?)),
            INDICATORS => {
                let source_id: i64 = row.try_get(3)?;
                indicators.push((rev, source_id, indicator(row)?));
            }
            ALLOWLIST => {
                let list_id: i64 = row.try_get(3)?;
                allowlist_hits.push((rev, list_id, allowlist(row)?));
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
    out.names.sort_by(|a, b| a.0.cmp(&b.0));
    out.evidence = ZoneEvidence {
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
    };
    Ok(out)
}

impl ZoneEvidence {
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
        let mut by_ip: BTreeMap<&[u8], (Timestamp, Timestamp, i64)> = BTreeMap::new();
        for (rev, ip, first, last, count) in self.resolutions.as_deref()? {
            if lo <= rev.as_str() && rev.as_str() < hi && *last >= since && *first <= until {
                let sum = by_ip.entry(ip).or_insert((*first, *last, 0));
                sum.0 = sum.0.min(*first);
                sum.1 = sum.1.max(*last);
                sum.2 += count;
            }
        }
        Some(
            by_ip
                .into_iter()
                .map(|(ip, (first_seen, last_seen, count))| {
                    Ok(ResolvedIp {
                        ip: ip_from_bytes(ip)?,
                        first_seen,
                        last_seen,
                        count: count as u64,
                    })
                })
                .collect(),
        )
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
