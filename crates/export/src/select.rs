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

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

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
/// Names per batch handed from the walk to a judge thread.
const JOB_BATCH: usize = 512;
/// Batches queued for (and from) each judge thread.
const JOBS_IN_FLIGHT: usize = 4;

/// Walks every name with records and hands its rules to `emit`, in name key order.
///
/// Five stages on scoped threads: two store readers; the walk, which merges their streams
/// and hands each name with its ancestors' records to the judges in batches; judge threads
/// (batch `k` goes to judge `k mod n`, so the results are read back in order by reading the
/// judges in turn); and, on the calling thread, the rules: which ancestor's rule covers a
/// name, exceptions, the summary, `emit`. The output is the same for any number of judges.
pub fn select(
    store: &dyn Store,
    config: &VerdictConfig,
    selection: &Selection,
    emit: &mut dyn FnMut(Rule) -> Result<(), ExportError>,
) -> Result<SelectionSummary, ExportError> {
    let judges = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
    std::thread::scope(|scope| {
        let (indicator_tx, indicator_rx) = sync_channel(4);
        let (allowlist_tx, allowlist_rx) = sync_channel(4);
        let indicators = scope.spawn(move || {
            stream(indicator_tx, |visit| {
                store
                    .reader()?
                    .each_indicator(&mut |hit| visit((name_key(&hit.record.name), hit)))
            })
        });
        let allowlist = scope.spawn(move || {
            stream(allowlist_tx, |visit| {
                store
                    .reader()?
                    .each_allowlist_entry(&mut |hit| visit((name_key(&hit.entry.name), hit)))
            })
        });
        let mut job_senders = Vec::with_capacity(judges);
        let mut result_receivers = Vec::with_capacity(judges);
        for _ in 0..judges {
            let (job_tx, job_rx) = sync_channel::<Vec<Job>>(JOBS_IN_FLIGHT);
            let (result_tx, result_rx) = sync_channel(JOBS_IN_FLIGHT);
            scope.spawn(move || {
                for jobs in job_rx {
                    let judged: Vec<Judged> = jobs
                        .into_iter()
                        .map(|job| job.judge(config, selection))
                        .collect();
                    if result_tx.send(judged).is_err() {
                        return;
                    }
                }
            });
            job_senders.push(job_tx);
            result_receivers.push(result_rx);
        }
        scope.spawn(move || {
            walk(
                Merge::new(indicator_rx),
                Merge::new(allowlist_rx),
                job_senders,
            )
        });
        let mut rules = Rules {
            selection,
            stack: Vec::new(),
            summary: SelectionSummary::default(),
        };
        // The receivers are dropped when the rules end, early or not, which stops the judges,
        // then the walk, then the readers.
        let written = rules.run(result_receivers, &mut *emit);
        // Whatever the rules did, the readers end (a closed channel stops them) and their
        // errors come first: a walk cut short by a failed reader says so.
        let indicators = indicators
            .join()
            .expect("the indicator reader does not panic");
        let allowlist = allowlist
            .join()
            .expect("the allowlist reader does not panic");
        indicators?;
        allowlist?;
        written?;
        Ok(rules.summary)
    })
}

type Keyed<T> = (String, T);

/// Runs a store walk that hands items to a visitor, sending them in batches; stops when the
/// receiver is gone.
pub(crate) fn stream<T>(
    tx: SyncSender<Vec<T>>,
    walk: impl FnOnce(&mut dyn FnMut(T) -> ControlFlow<()>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut receiver_gone = false;
    walk(&mut |item| {
        batch.push(item);
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

    /// The next item, into `into`, and its key (which must be the smallest left).
    fn pop(&mut self, into: &mut Vec<T>) -> Option<String> {
        self.peek_key()?;
        let (key, item) = self.batch.next()?;
        into.push(item);
        Some(key)
    }

    /// The items whose key is `key`, which must be the smallest left.
    fn take(&mut self, key: &str, into: &mut Vec<T>) {
        while self.peek_key() == Some(key) {
            into.push(self.batch.next().expect("peeked").1);
        }
    }
}

/// A name with records.
struct Frame {
    name: DomainName,
    indicators: Vec<IndicatorHit>,
    allowlist: Vec<AllowlistHit>,
}

/// A name to judge, with the ancestors that carry records, outermost first.
struct Job {
    ancestors: Vec<Arc<Frame>>,
    frame: Arc<Frame>,
}

/// A name judged: whether its exact and zone verdicts are listed (`None` when there is no
/// such verdict: no records of its own, or none at all).
struct Judged {
    frame: Arc<Frame>,
    exact: Option<Result<Listing, Option<Skip>>>,
    below: Option<Result<Listing, Option<Skip>>>,
}

/// Merges the two streams into names, each with the ancestors on the stack, and hands them
/// to the judges in batches, in turn.
fn walk(
    mut indicators: Merge<IndicatorHit>,
    mut allowlist: Merge<AllowlistHit>,
    judges: Vec<SyncSender<Vec<Job>>>,
) {
    let mut stack: Vec<Arc<Frame>> = Vec::new();
    let mut batch = Vec::with_capacity(JOB_BATCH);
    for judge in (0..judges.len()).cycle() {
        while batch.len() < JOB_BATCH {
            let indicator_first = match (indicators.peek_key(), allowlist.peek_key()) {
                (None, None) => break,
                (Some(a), Some(b)) => a <= b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            let mut own_indicators = Vec::new();
            let mut own_allowlist = Vec::new();
            // The smallest key, moved out of its stream's first item.
            let key = if indicator_first {
                indicators.pop(&mut own_indicators)
            } else {
                allowlist.pop(&mut own_allowlist)
            };
            let Some(key) = key else {
                break;
            };
            indicators.take(&key, &mut own_indicators);
            allowlist.take(&key, &mut own_allowlist);
            let name = match (own_indicators.first(), own_allowlist.first()) {
                (Some(hit), _) => hit.record.name.clone(),
                (None, Some(hit)) => hit.entry.name.clone(),
                (None, None) => unreachable!("the key comes from one of the streams"),
            };
            let frame = Arc::new(Frame {
                name,
                indicators: own_indicators,
                allowlist: own_allowlist,
            });
            while stack
                .last()
                .is_some_and(|top| !frame.name.is_subdomain_of(&top.name))
            {
                stack.pop();
            }
            batch.push(Job {
                ancestors: stack.clone(),
                frame: Arc::clone(&frame),
            });
            stack.push(frame);
        }
        if batch.is_empty() {
            return;
        }
        let last = batch.len() < JOB_BATCH;
        let full = std::mem::replace(&mut batch, Vec::with_capacity(JOB_BATCH));
        if judges[judge].send(full).is_err() || last {
            return;
        }
    }
}

impl Job {
    /// Judges the name with the report's [`EvidenceIndex`], from its records and its
    /// ancestors'.
    fn judge(self, config: &VerdictConfig, selection: &Selection) -> Judged {
        let frame = &self.frame;
        if frame.indicators.is_empty() {
            return Judged {
                frame: self.frame,
                exact: None,
                below: None,
            };
        }
        let sld = frame.name.registrable();
        let at = selection.at;
        let (exact, below) = {
            let index = EvidenceIndex::new(
                self.ancestors
                    .iter()
                    .flat_map(|f| &f.indicators)
                    .chain(&frame.indicators),
                self.ancestors
                    .iter()
                    .flat_map(|f| &f.allowlist)
                    .chain(&frame.allowlist),
            );
            let exact = frame
                .indicators
                .iter()
                .any(|h| !h.record.zone)
                .then(|| index.judge(config, &frame.name, sld.as_ref(), at));
            let below = index.judge_below(config, &frame.name, sld.as_ref(), at);
            (exact, below)
        };
        let exact = exact.map(|verdict| listing(config, selection, &verdict));
        let below = Some(listing(config, selection, &below));
        Judged {
            frame: self.frame,
            exact,
            below,
        }
    }
}

/// A name on the rules' stack while the walk is below it.
struct Listed {
    frame: Arc<Frame>,
    /// Listed with a zone rule.
    below: bool,
    /// Listed with both rules.
    subtree: bool,
}

/// The rules of the judged names, in order: covered names, exceptions, the summary.
struct Rules<'a> {
    selection: &'a Selection,
    stack: Vec<Listed>,
    summary: SelectionSummary,
}

impl Rules<'_> {
    fn run(
        &mut self,
        judges: Vec<Receiver<Vec<Judged>>>,
        emit: &mut dyn FnMut(Rule) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        for judge in judges.iter().cycle() {
            // A closed channel is the end of the walk (or a reader error, reported after).
            let Ok(judged) = judge.recv() else {
                return Ok(());
            };
            for name in judged {
                self.visit(name, emit)?;
            }
        }
        Ok(())
    }

    fn visit(
        &mut self,
        judged: Judged,
        emit: &mut dyn FnMut(Rule) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let frame = &judged.frame;
        self.summary.names_seen += 1;
        while self
            .stack
            .last()
            .is_some_and(|top| !frame.name.is_subdomain_of(&top.frame.name))
        {
            self.stack.pop();
        }
        let covered_by_zone_rule = self.stack.iter().any(|f| f.below);
        let covered_by_subtree_rule = self.stack.iter().any(|f| f.subtree);
        let exact = judged.exact.and_then(|listed| self.listing(listed));
        let below = judged.below.and_then(|listed| self.listing(listed));
        self.stack.push(Listed {
            frame: Arc::clone(frame),
            below: below.is_some(),
            subtree: exact.is_some() && below.is_some(),
        });
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
            // Allowlisted and not listed: a pass rule when something above would block it
            // (or on request).
            self.summary.passes += 1;
            emit(Rule::Pass {
                name: frame.name.clone(),
                below: frame
                    .allowlist
                    .iter()
                    .any(|h| h.entry.matching == AllowMatch::Hostname),
            })?;
        }
        Ok(())
    }

    /// The listing, or `None` (counted under its reason when it is one the user would ask
    /// about: a verdict with no malicious records is not a candidate).
    fn listing(&mut self, listed: Result<Listing, Option<Skip>>) -> Option<Listing> {
        match listed {
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
    let carriers = || {
        verdict.records.iter().filter(|r| {
            !r.suppressed && r.is_active() && ThreatLevel::from(r.record.risk) == verdict.level
        })
    };
    if carriers().next().is_none() {
        // Risky records, none of them active: the verdict rests on decayed ones.
        return Err(Some(Skip::Decayed));
    }
    if verdict.level < selection.min_level {
        return Err(Some(Skip::BelowMinLevel));
    }
    if carriers().all(|r| r.record.via_url) {
        return Err(Some(Skip::UrlOnly));
    }
    if verdict.confidence < selection.min_confidence {
        return Err(Some(Skip::BelowMinConfidence));
    }
    let selected = |wanted: &[String], value: &str| {
        wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(value))
    };
    if !carriers().any(|r| selected(&selection.threat_types, &r.record.threat_type)) {
        return Err(Some(Skip::ThreatTypeNotSelected));
    }
    if !carriers().any(|r| selected(&selection.sources, &r.record.source)) {
        return Err(Some(Skip::SourceNotSelected));
    }
    let sorted = |values: &mut dyn Iterator<Item = &String>| -> Vec<String> {
        // Cloned straight into the result: one vector (a duplicate, rare, is cloned, then dropped).
        let mut values: Vec<String> = values.cloned().collect();
        values.sort_unstable();
        values.dedup();
        values
    };
    let first_seen = carriers().map(|r| r.record.first_seen).min();
    let last_seen = carriers().map(|r| r.record.last_seen).max();
    let valid_until = carriers().map(|r| active_until(config, r)).max();
    Ok(Listing {
        level: verdict.level,
        confidence: verdict.confidence,
        threat_types: sorted(&mut carriers().map(|r| &r.record.threat_type)),
        families: sorted(&mut carriers().filter_map(|r| r.record.label.as_ref())),
        sources: sorted(&mut carriers().map(|r| &r.record.source)),
        stages: sorted(&mut carriers().filter_map(|r| r.record.attack_stage.as_ref())),
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
