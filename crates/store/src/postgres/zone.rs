//! The evidence statement: after `knows_zone`, the first read about the known zone's names
//! brings in one statement the evidence a report reads about them (the indicator records and
//! allowlist entries of the zone's names and its ancestors, the zone's resolutions), and the
//! later reads are answered from it without a round trip each. Only the kinds the names' kind
//! bits show are asked for (a statement per combination, each prepared once per connection);
//! each kind is kept only when it has at most [`ZoneEvidence::MAX_ROWS`] rows, otherwise its
//! reads run as statements of their own.
//!
//! The statement is a `UNION ALL` of one part per kind over one wide row: the part's number,
//! the name's key, an id, then the columns of each part ([`COLUMNS`]), `NULL` where a part has
//! none.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ::postgres::types::ToSql;
use ::postgres::Row;
use threatintel_model::Timestamp;

use crate::codec::{ip_from_bytes, matching_str, ALLOWLIST_COLUMNS, INDICATOR_COLUMNS};
use crate::{AllowlistHit, IndicatorHit, ResolvedIp, Result};

/// The row's columns and their types: part, key, id (source id, list id); then an indicator's
/// columns after its name ([`INDICATOR_COLUMNS`]), an allowlist entry's
/// ([`ALLOWLIST_COLUMNS`]) and a resolution's.
const COLUMNS: [&str; 25] = [
    "smallint",
    "text",
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

/// Parts of the statement, in the first column.
const INDICATORS: i16 = 0;
const ALLOWLIST: i16 = 1;
const RESOLUTIONS: i16 = 2;

/// The kinds of evidence a statement asks for: the ids of the names whose records it reads.
#[derive(Default)]
pub(super) struct Asked {
    pub indicators: Vec<i64>,
    pub allowlist: Vec<i64>,
    pub resolutions: Vec<i64>,
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
        params.push(limit);
        (sql(variant), params)
    }
}

/// One part: `SELECT` of its number, `head` (key and id), and `exprs` from the column at `at`
/// on, `NULL` in every other column.
fn part(number: i16, head: &str, at: usize, exprs: &str, rest: &str) -> String {
    let given = exprs.split(", ").count();
    let mut columns = vec![format!("{number}::smallint"), head.to_owned()];
    for (i, ty) in COLUMNS.iter().enumerate().skip(3) {
        if i == at {
            columns.push(exprs.to_owned());
        } else if !(at..at + given).contains(&i) {
            columns.push(format!("NULL::{ty}"));
        }
    }
    format!("(SELECT {} {rest})", columns.join(", "))
}

/// The statement asking for the kinds whose bits are set in `variant` (1 indicators, 2
/// allowlist entries, 4 resolutions): `$1`.. the id arrays of the kinds asked, the last
/// parameter the most rows read of each.
fn sql(variant: usize) -> &'static str {
    static SQL: [OnceLock<String>; 8] = [const { OnceLock::new() }; 8];
    SQL[variant & 7].get_or_init(|| {
        let after_rev = |columns: &str| columns.split_once(", ").map(|c| c.1.to_owned());
        let parts = [
            (
                INDICATORS,
                "n.rev, i.source_id::bigint",
                INDICATOR_AT,
                after_rev(INDICATOR_COLUMNS).unwrap_or_default(),
                "FROM names n JOIN indicators i ON i.name_id = n.id \
                 JOIN sources s ON s.id = i.source_id WHERE n.id = ANY(${ids}::bigint[])",
            ),
            (
                ALLOWLIST,
                "n.rev, e.list_id::bigint",
                ALLOWLIST_AT,
                after_rev(ALLOWLIST_COLUMNS).unwrap_or_default(),
                "FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
                 JOIN allowlists l ON l.id = e.list_id \
                 WHERE n.id = ANY(${ids}::bigint[]) AND l.enabled",
            ),
            (
                RESOLUTIONS,
                "n.rev, NULL::bigint",
                RESOLUTION_AT,
                "r.ip, r.first_seen, r.last_seen, r.count".to_owned(),
                "FROM names n JOIN resolutions r ON r.name_id = n.id \
                 WHERE n.id = ANY(${ids}::bigint[])",
            ),
        ];
        let asked: Vec<_> = parts
            .into_iter()
            .enumerate()
            .filter(|(i, _)| variant & (1 << i) != 0)
            .map(|(_, p)| p)
            .collect();
        let limit = format!("${}", asked.len() + 1);
        asked
            .iter()
            .enumerate()
            .map(|(n, (number, head, at, exprs, rest))| {
                let rest = rest.replace("${ids}", &format!("${}", n + 1));
                part(*number, head, *at, exprs, &format!("{rest} LIMIT {limit}"))
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
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
) -> Result<ZoneEvidence> {
    let mut indicators = Vec::new();
    let mut allowlist_hits = Vec::new();
    let mut resolutions = Vec::new();
    for row in rows {
        let rev: String = row.try_get(1)?;
        match row.try_get::<_, i16>(0)? {
            INDICATORS => indicators.push((rev, row.try_get(2)?, indicator(row)?)),
            ALLOWLIST => allowlist_hits.push((rev, row.try_get(2)?, allowlist(row)?)),
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
    })
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
