//! The maintained row counts (`row_counts`, one row; `sources.indicators`; `indicator_counts`,
//! per threat type and label) that `stats()`, `sources()` and `overview()` read: a writer keeps
//! what its transaction added in an [`Added`] and adds it to the counts once, at its commit, in
//! the same transaction.

use std::collections::HashMap;
use std::hash::Hash;

use threatintel_model::Evidence;

use crate::StoreStats;

/// The rows one write transaction added, per counted table (an update of a stored identity
/// adds none), with its indicator records per source id `S`, threat type and label.
#[derive(Debug)]
pub(crate) struct Added<S> {
    /// Rows added per table.
    pub(crate) rows: StoreStats,
    /// Indicator records added per (source, threat type, label (`""` for none)), but those of
    /// `run`.
    indicators: HashMap<(S, String, String), u64>,
    /// The last indicator records counted, while they share their source, threat type and
    /// label (as most of a feed's do): one comparison per record rather than a map's hashing.
    run: Option<((S, String, String), u64)>,
}

impl<S> Default for Added<S> {
    fn default() -> Self {
        Self {
            rows: StoreStats::default(),
            indicators: HashMap::new(),
            run: None,
        }
    }
}

impl<S: Hash + Eq + Copy> Added<S> {
    /// Counts `n` indicator records added from source `source` with threat type `threat_type`
    /// and label `label`.
    pub(crate) fn indicators(&mut self, source: S, threat_type: &str, label: &str, n: u64) {
        self.rows.indicators += n;
        if let Some(((s, t, l), count)) = &mut self.run {
            if *s == source && t == threat_type && l == label {
                *count += n;
                return;
            }
        }
        self.end_run();
        self.run = Some(((source, threat_type.to_owned(), label.to_owned()), n));
    }

    /// Moves the run's count into the map.
    fn end_run(&mut self) {
        if let Some((key, n)) = self.run.take() {
            *self.indicators.entry(key).or_default() += n;
        }
    }

    /// The indicator records added per (threat type, label), in no order.
    pub(crate) fn by_threat(&mut self) -> Vec<(&str, &str, u64)> {
        self.end_run();
        let mut by_threat: HashMap<(&str, &str), u64> = HashMap::new();
        for ((_, threat_type, label), n) in &self.indicators {
            *by_threat.entry((threat_type, label)).or_default() += n;
        }
        by_threat.into_iter().map(|((t, l), n)| (t, l, n)).collect()
    }

    /// The indicator records added from `source`.
    pub(crate) fn of_source(&mut self, source: S) -> u64 {
        self.end_run();
        self.indicators
            .iter()
            .filter(|((s, _, _), _)| *s == source)
            .map(|(_, n)| n)
            .sum()
    }

    /// Counts `evidence`, which its put added, in its table. Indicator records are counted
    /// with their source where they are inserted ([`indicators`](Self::indicators)); the kinds
    /// `stats()` does not report are not counted.
    pub(crate) fn record(&mut self, evidence: &Evidence) {
        let rows = &mut self.rows;
        match evidence {
            Evidence::Source(_) => rows.sources += 1,
            Evidence::Allowlist(_) => rows.allowlists += 1,
            Evidence::AllowlistEntry(_) => rows.allowlist_entries += 1,
            Evidence::Whois(_) => rows.whois_records += 1,
            Evidence::Certificate(_) => rows.certificates += 1,
            Evidence::Resolution(_) => rows.resolutions += 1,
            Evidence::IpIntel(_) => rows.ip_intel += 1,
            Evidence::Event(_) => rows.events += 1,
            Evidence::Indicator(_)
            | Evidence::Relation(_)
            | Evidence::IpRecord(_)
            | Evidence::NetworkAllowEntry(_)
            | Evidence::FileRecord(_)
            | Evidence::NetworkRegistration(_) => {}
        }
    }

    /// Whether the transaction added nothing counted.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows == StoreStats::default()
    }
}

/// The `row_counts` columns, in [`StoreStats`] order: what the migrations fill, the writers
/// add to and the readers select.
pub(crate) const COUNTED: &str = "names, sources, indicators, allowlists, allowlist_entries, \
     whois, certificates, resolutions, ip_intel, events";

impl StoreStats {
    /// The counts in [`COUNTED`] order.
    pub(crate) fn in_order(&self) -> [u64; 10] {
        [
            self.names,
            self.sources,
            self.indicators,
            self.allowlists,
            self.allowlist_entries,
            self.whois_records,
            self.certificates,
            self.resolutions,
            self.ip_intel,
            self.events,
        ]
    }

    /// The counts from values in [`COUNTED`] order.
    pub(crate) fn from_order(c: [u64; 10]) -> Self {
        Self {
            names: c[0],
            sources: c[1],
            indicators: c[2],
            allowlists: c[3],
            allowlist_entries: c[4],
            whois_records: c[5],
            certificates: c[6],
            resolutions: c[7],
            ip_intel: c[8],
            events: c[9],
        }
    }
}

/// The statement that adds parameters 1 to 10 (`?1`, or `$1` with `prefix` `'$'`) to the
/// counts, in [`COUNTED`] order.
pub(crate) fn add_sql(prefix: char) -> String {
    let sets: Vec<String> = COUNTED
        .split(", ")
        .enumerate()
        .map(|(i, column)| format!("{column} = {column} + {prefix}{}", i + 1))
        .collect();
    format!("UPDATE row_counts SET {}", sets.join(", "))
}
