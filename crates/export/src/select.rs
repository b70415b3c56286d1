//! Which names an export lists: the verdict on every name with records, not the raw records.
//!
//! Every indicator record and allowlist entry is streamed from the store in name key order
//! (two readers on scoped threads, merged here), so a name is seen after all its ancestors. A
//! stack holds the ancestors that carry records; a name is judged from them and its own
//! records with the report's [`EvidenceIndex`], exactly as a report would judge it:
//!
//! - a name with records of its own gets an exact rule when its verdict is listed;
//! - a name with any records gets a zone rule (`*.name`) when a name below it with no records
//!   of its own (what it inherits, zone listings included) would be listed;
//! - a listed verdict must be at least `min_level`, carried by an active record (decayed
//!   records drop out) that names the host itself (a name only reported through URLs on it, a
//!   shared service, is never listed), with no allowlist entry on the name (an allowlisted
//!   name or a top site is never listed as malicious, whatever overrides it in a report);
//! - an allowlisted name below a zone rule becomes a pass rule, so consumers that have
//!   exceptions let it through.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use serde::Serialize;
use threatintel_model::{AllowMatch, DomainName, RiskLevel, ThreatLevel, Timestamp};
use threatintel_report::verdict::{EvidenceIndex, Relation, ScoredRecord, Verdict};
use threatintel_report::VerdictConfig;
use threatintel_store::{name_key, AllowlistHit, IndicatorHit, Store, StoreError};

use crate::ExportError;

/// What an export selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Verdicts are taken as of this time.
    pub at: Timestamp,
    /// Lowest level listed (medium by default: "malicious").
    pub min_level: ThreatLevel,
    pub min_confidence: u8,
    /// Only verdicts carried by one of these threat types (all when empty).
    pub threat_types: Vec<String>,
    /// Only verdicts carried by one of these sources (all when empty).
    pub sources: Vec<String>,
    /// Every allowlisted name that is not listed becomes a pass rule (RPZ `rpz-passthru.`),
    /// not only those below a zone rule.
    pub pass_allowlisted: bool,
}

impl Selection {
    /// The lowest level an export may be asked for, by its code: 1 low, 2 medium, 3 high.
    pub fn min_level_of(code: u8) -> Option<ThreatLevel> {
        match code {
            1 => Some(ThreatLevel::Low),
            2 => Some(ThreatLevel::Medium),
            3 => Some(ThreatLevel::High),
            _ => None,
        }
    }

    pub fn new(at: Timestamp) -> Self {
        Self {
            at,
            min_level: ThreatLevel::Medium,
            min_confidence: 0,
            threat_types: Vec::new(),
            sources: Vec::new(),
            pass_allowlisted: false,
        }
    }
}

/// A listed verdict, summarised for the formats that carry more than the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub level: ThreatLevel,
    pub confidence: u8,
    /// Threat types, families (labels), sources and attack stages of the records that carry
    /// the verdict, each sorted.
    pub threat_types: Vec<String>,
    pub families: Vec<String>,
    pub sources: Vec<String>,
    pub stages: Vec<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// When the last of those records decays below the active threshold.
    pub valid_until: Timestamp,
}

/// One name's rules, in name key order.
// Rules are streamed one at a time to the writer, so a `Pass` the size of a `Block` costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Block {
        name: DomainName,
        /// The name itself is listed.
        exact: Option<Listing>,
        /// Every name below it is listed (`*.name`).
        below: Option<Listing>,
        /// A zone rule of an ancestor already covers this name (and the names below it).
        covered_by_zone_rule: bool,
        /// An ancestor is listed with both rules, which a consumer that only has subtree rules
        /// (`address=/name/`, `local-zone`) wrote as one.
        covered_by_subtree_rule: bool,
    },
    /// An allowlisted name that consumers with exceptions should let through (`below`: its
    /// subtree as well, for a hostname allowlist entry).
    Pass { name: DomainName, below: bool },
}

/// Why a candidate (a name, or a zone for its zone rule) was not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// Malicious, but on an allowlist.
    Allowlisted,
    /// Reported only through URLs on the host (a shared service).
    UrlOnly,
    /// Only decayed records say it is malicious.
    Decayed,
    BelowMinLevel,
    BelowMinConfidence,
    ThreatTypeNotSelected,
    SourceNotSelected,
}

impl Skip {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Allowlisted => "allowlisted or a top site",
            Self::UrlOnly => "only URLs on it were reported (shared service)",
            Self::Decayed => "only decayed records",
            Self::BelowMinLevel => "below the minimum level",
            Self::BelowMinConfidence => "below the minimum confidence",
            Self::ThreatTypeNotSelected => "threat type not selected",
            Self::SourceNotSelected => "source not selected",
        }
    }
}

/// What the selection saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SelectionSummary {
    /// Names with records (indicators or allowlist entries) walked.
    pub names_seen: u64,
    pub names_listed: u64,
    pub zones_listed: u64,
    pub passes: u64,
    /// Candidates not listed, by reason.
    pub skipped: BTreeMap<Skip, u64>,
}

/// Records per batch handed from a store reader thread to the merge.
const BATCH: usize = 1024;

/// Walks every name with records and hands its rules to `emit`, in name key order.
pub fn select(
    store: &dyn Store,
    config: &VerdictConfig,
    selection: &Selection,
    emit: &mut dyn FnMut(Rule) -> Result<(), ExportError>,
) -> Result<SelectionSummary, ExportError> {
    std::thread::scope(|scope| {
        let (indicator_tx, indicator_rx) = sync_channel(4);
        let (allowlist_tx, allowlist_rx) = sync_channel(4);
        let indicators = scope.spawn(move || {
            stream(indicator_tx, |visit| {
                store
                    .reader()?
                    .each_indicator(&mut |hit| visit(name_key(&hit.record.name), hit))
            })
        });
        let allowlist = scope.spawn(move || {
            stream(allowlist_tx, |visit| {
                store
                    .reader()?
                    .each_allowlist_entry(&mut |hit| visit(name_key(&hit.entry.name), hit))
            })
        });
        let mut walk = Walk {
            config,
            selection,
            stack: Vec::new(),
            summary: SelectionSummary::default(),
        };
        let walked = walk.run(
            Merge::new(indicator_rx),
            Merge::new(allowlist_rx),
            &mut *emit,
        );
        // Whatever the walk did, the readers end (a closed channel stops them) and their
        // errors come first: a walk cut short by a failed reader says so.
        let indicators = indicators
            .join()
            .expect("the indicator reader does not panic");
        let allowlist = allowlist
            .join()
            .expect("the allowlist reader does not panic");
        indicators?;
        allowlist?;
        walked?;
        Ok(walk.summary)
    })
}

type Keyed<T> = (String, T);

/// Runs a store walk that hands records (with their name) to a visitor, sending them keyed in
/// batches; stops when the receiver is gone.
fn stream<T>(
    tx: SyncSender<Vec<Keyed<T>>>,
    walk: impl FnOnce(&mut dyn FnMut(String, T) -> ControlFlow<()>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut receiver_gone = false;
    walk(&mut |key, item| {
        batch.push((key, item));
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if tx.send(full).is_err() {
                receiver_gone = true;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })?;
    if !receiver_gone && !batch.is_empty() {
        let _ = tx.send(batch);
    }
    Ok(())
}

/// One of the two sorted streams, read a batch at a time.
struct Merge<T> {
    rx: Receiver<Vec<Keyed<T>>>,
    batch: std::iter::Peekable<std::vec::IntoIter<Keyed<T>>>,
}

impl<T> Merge<T> {
    fn new(rx: Receiver<Vec<Keyed<T>>>) -> Self {
        Self {
            rx,
            batch: Vec::new().into_iter().peekable(),
        }
    }

    fn peek_key(&mut self) -> Option<&str> {
        if self.batch.peek().is_none() {
            // A closed channel is the end of the stream (or a reader error, reported after).
            let next = self.rx.recv().ok()?;
            self.batch = next.into_iter().peekable();
        }
        self.batch.peek().map(|(key, _)| key.as_str())
    }

    /// The items whose key is `key`, which must be the smallest left.
    fn take(&mut self, key: &str, into: &mut Vec<T>) {
        while self.peek_key() == Some(key) {
            into.push(self.batch.next().expect("peeked").1);
        }
    }
}

/// A name with records, on the stack while the walk is below it.
struct Frame {
    name: DomainName,
    indicators: Vec<IndicatorHit>,
    allowlist: Vec<AllowlistHit>,
    /// Listed with a zone rule.
    below_listed: bool,
    /// Listed with both rules.
    subtree_listed: bool,
}

struct Walk<'a> {
    config: &'a VerdictConfig,
    selection: &'a Selection,
    /// Ancestors of the current name that carry records, outermost first.
    stack: Vec<Frame>,
    summary: SelectionSummary,
}

impl Walk<'_> {
    fn run(
        &mut self,
        mut indicators: Merge<IndicatorHit>,
        mut allowlist: Merge<AllowlistHit>,
        emit: &mut dyn FnMut(Rule) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        loop {
            let key = match (indicators.peek_key(), allowlist.peek_key()) {
                (None, None) => return Ok(()),
                (Some(a), Some(b)) => a.min(b).to_owned(),
                (Some(k), None) | (None, Some(k)) => k.to_owned(),
            };
            let mut own_indicators = Vec::new();
            let mut own_allowlist = Vec::new();
            indicators.take(&key, &mut own_indicators);
            allowlist.take(&key, &mut own_allowlist);
            let name = match (own_indicators.first(), own_allowlist.first()) {
                (Some(hit), _) => hit.record.name.clone(),
                (None, Some(hit)) => hit.entry.name.clone(),
                (None, None) => unreachable!("the key comes from one of the streams"),
            };
            let mut frame = Frame {
                name,
                indicators: own_indicators,
                allowlist: own_allowlist,
                below_listed: false,
                subtree_listed: false,
            };
            self.summary.names_seen += 1;
            while self
                .stack
                .last()
                .is_some_and(|top| !frame.name.is_subdomain_of(&top.name))
            {
                self.stack.pop();
            }
            self.visit(&mut frame, emit)?;
            self.stack.push(frame);
        }
    }

    fn visit(
        &mut self,
        frame: &mut Frame,
        emit: &mut dyn FnMut(Rule) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let covered_by_zone_rule = self.stack.iter().any(|f| f.below_listed);
        let covered_by_subtree_rule = self.stack.iter().any(|f| f.subtree_listed);
        if frame.indicators.is_empty() {
            // Allowlist only: a pass rule when something above would block it.
            if covered_by_zone_rule || self.selection.pass_allowlisted {
                self.pass(frame, emit)?;
            }
            return Ok(());
        }
        let sld = frame.name.registrable();
        let at = self.selection.at;
        let (exact, below) = {
            let index = EvidenceIndex::new(
                self.stack
                    .iter()
                    .flat_map(|f| &f.indicators)
                    .chain(&frame.indicators),
                self.stack
                    .iter()
                    .flat_map(|f| &f.allowlist)
                    .chain(&frame.allowlist),
            );
            let exact = frame
                .indicators
                .iter()
                .any(|h| !h.record.zone)
                .then(|| index.judge(self.config, &frame.name, sld.as_ref(), at));
            let below = index.judge_below(self.config, &frame.name, sld.as_ref(), at);
            (exact, below)
        };
        let exact = exact.and_then(|verdict| self.listing(&verdict));
        let below = self.listing(&below);
        frame.below_listed = below.is_some();
        frame.subtree_listed = exact.is_some() && below.is_some();
        self.summary.names_listed += u64::from(exact.is_some());
        self.summary.zones_listed += u64::from(below.is_some());
        if exact.is_some() || below.is_some() {
            emit(Rule::Block {
                name: frame.name.clone(),
                exact,
                below,
                covered_by_zone_rule,
                covered_by_subtree_rule,
            })?;
        } else if !frame.allowlist.is_empty()
            && (covered_by_zone_rule || self.selection.pass_allowlisted)
        {
            self.pass(frame, emit)?;
        }
        Ok(())
    }

    fn pass(
        &mut self,
        frame: &Frame,
        emit: &mut dyn FnMut(Rule) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        self.summary.passes += 1;
        emit(Rule::Pass {
            name: frame.name.clone(),
            below: frame
                .allowlist
                .iter()
                .any(|h| h.entry.matching == AllowMatch::Hostname),
        })
    }

    /// The listing of a verdict, or `None` (counted under its reason when it is one the user
    /// would ask about: a verdict with no malicious records is not a candidate).
    fn listing(&mut self, verdict: &Verdict) -> Option<Listing> {
        match listing(self.config, self.selection, verdict) {
            Ok(listing) => Some(listing),
            Err(Some(skip)) => {
                *self.summary.skipped.entry(skip).or_default() += 1;
                None
            }
            Err(None) => None,
        }
    }
}

/// Whether a verdict is listed under `selection`; `Err(None)` for a verdict that is not a
/// candidate at all (nothing in it says "malicious").
pub(crate) fn listing(
    config: &VerdictConfig,
    selection: &Selection,
    verdict: &Verdict,
) -> Result<Listing, Option<Skip>> {
    let risky = verdict
        .records
        .iter()
        .any(|r| r.record.risk >= RiskLevel::Low);
    if !risky {
        return Err(None);
    }
    if !verdict.allowlist_hits.is_empty() {
        return Err(Some(Skip::Allowlisted));
    }
    let carriers: Vec<&ScoredRecord> = verdict
        .records
        .iter()
        .filter(|r| {
            !r.suppressed && r.is_active() && ThreatLevel::from(r.record.risk) == verdict.level
        })
        .collect();
    if carriers.is_empty() {
        // Risky records, none of them active: the verdict rests on decayed ones.
        return Err(Some(Skip::Decayed));
    }
    if verdict.level < selection.min_level {
        return Err(Some(Skip::BelowMinLevel));
    }
    if carriers.iter().all(|r| r.record.via_url) {
        return Err(Some(Skip::UrlOnly));
    }
    if verdict.confidence < selection.min_confidence {
        return Err(Some(Skip::BelowMinConfidence));
    }
    let selected = |wanted: &[String], value: &str| {
        wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(value))
    };
    if !carriers
        .iter()
        .any(|r| selected(&selection.threat_types, &r.record.threat_type))
    {
        return Err(Some(Skip::ThreatTypeNotSelected));
    }
    if !carriers
        .iter()
        .any(|r| selected(&selection.sources, &r.record.source))
    {
        return Err(Some(Skip::SourceNotSelected));
    }
    let sorted = |values: &mut dyn Iterator<Item = String>| -> Vec<String> {
        values.collect::<BTreeSet<_>>().into_iter().collect()
    };
    let first_seen = carriers.iter().map(|r| r.record.first_seen).min();
    let last_seen = carriers.iter().map(|r| r.record.last_seen).max();
    let valid_until = carriers.iter().map(|r| active_until(config, r)).max();
    Ok(Listing {
        level: verdict.level,
        confidence: verdict.confidence,
        threat_types: sorted(&mut carriers.iter().map(|r| r.record.threat_type.clone())),
        families: sorted(&mut carriers.iter().filter_map(|r| r.record.label.clone())),
        sources: sorted(&mut carriers.iter().map(|r| r.record.source.clone())),
        stages: sorted(
            &mut carriers
                .iter()
                .filter_map(|r| r.record.attack_stage.clone()),
        ),
        first_seen: first_seen.expect("carriers is not empty"),
        last_seen: last_seen.expect("carriers is not empty"),
        valid_until: valid_until.expect("carriers is not empty"),
    })
}

/// When `record`'s score falls below the active threshold: the age `a` at which
/// `base × factor × (1 − (a / lifetime)^(1/speed))` equals the threshold.
fn active_until(config: &VerdictConfig, record: &ScoredRecord) -> Timestamp {
    let model = config.decay_for(&record.record.threat_type);
    let factor = if matches!(record.relation, Relation::Inherited { .. }) {
        config.inherited_factor
    } else {
        1.0
    };
    let peak = record.base * factor;
    let remaining = (1.0 - config.active_threshold / peak).clamp(0.0, 1.0);
    let days = model.lifetime_days * remaining.powf(model.decay_speed);
    record.record.last_seen + chrono::Duration::seconds((days * 86_400.0) as i64)
}
