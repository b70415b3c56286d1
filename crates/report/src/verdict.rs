//! The verdict model (`docs/verdict.md`): MISP-style decay of each record, source
//! reliability, corroboration across sources, inheritance from parent zones, allowlists and
//! the rule that settles a conflict between an allowlist and a feed.
//!
//! The model judges any [`Claim`] (a name's indicator records, an address's or a file's records) against
//! any [`AllowClaim`] (a name's allowlist entries, an address's allowlisted networks); the
//! types default to the names' own, so `Verdict` alone is a name's verdict.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use threatintel_model::{
    AllowMatch, AllowlistKind, DomainName, FileRecord, IndicatorRecord, IpNetwork, IpRecord,
    Reliability, RiskLevel, Scenario, ThreatLevel, ThreatType, Timestamp,
};
use threatintel_store::{AllowlistHit, FileRecordHit, IndicatorHit, IpRecordHit, NetworkAllowHit};

/// A source's dated claim about what is judged: what the verdict reads of a record.
pub trait Claim: Clone {
    fn source(&self) -> &str;
    fn threat_type(&self) -> &str;
    fn label(&self) -> Option<&str>;
    fn risk(&self) -> RiskLevel;
    /// The scenario as the source stated it.
    fn stated_scenario(&self) -> Option<&str>;
    fn attack_stage(&self) -> Option<&str>;
    fn first_seen(&self) -> Timestamp;
    fn last_seen(&self) -> Timestamp;
    fn confidence(&self) -> Option<u8>;
    fn reference(&self) -> Option<&str>;
    /// Names a URL served there rather than the thing itself (never outweighs an allowlist).
    fn via_url(&self) -> bool;
}

/// The accessors both record types answer from fields of the same names.
macro_rules! claim_fields {
    () => {
        fn source(&self) -> &str {
            &self.source
        }
        fn threat_type(&self) -> &str {
            &self.threat_type
        }
        fn label(&self) -> Option<&str> {
            self.label.as_deref()
        }
        fn risk(&self) -> RiskLevel {
            self.risk
        }
        fn stated_scenario(&self) -> Option<&str> {
            self.scenario.as_deref()
        }
        fn first_seen(&self) -> Timestamp {
            self.first_seen
        }
        fn last_seen(&self) -> Timestamp {
            self.last_seen
        }
        fn confidence(&self) -> Option<u8> {
            self.confidence
        }
        fn reference(&self) -> Option<&str> {
            self.reference.as_deref()
        }
    };
}

impl Claim for IndicatorRecord {
    claim_fields!();
    fn attack_stage(&self) -> Option<&str> {
        self.attack_stage.as_deref()
    }
    fn via_url(&self) -> bool {
        self.via_url
    }
}

impl Claim for IpRecord {
    claim_fields!();
    fn attack_stage(&self) -> Option<&str> {
        None
    }
    fn via_url(&self) -> bool {
        false
    }
}

impl Claim for FileRecord {
    claim_fields!();
    fn attack_stage(&self) -> Option<&str> {
        None
    }
    fn via_url(&self) -> bool {
        false
    }
}

/// What tells two records of one source apart, the tie-break of the verdict's order.
fn claim_identity<R: Claim>(r: &R) -> (&str, &str, Option<&str>) {
    (r.source(), r.threat_type(), r.label())
}

/// A stored record with its source's reliability, as the store returns it.
pub trait ClaimHit {
    type Record: Claim;
    fn record(&self) -> &Self::Record;
    fn reliability(&self) -> Reliability;
}

impl ClaimHit for IndicatorHit {
    type Record = IndicatorRecord;
    fn record(&self) -> &IndicatorRecord {
        &self.record
    }
    fn reliability(&self) -> Reliability {
        self.reliability
    }
}

impl ClaimHit for IpRecordHit {
    type Record = IpRecord;
    fn record(&self) -> &IpRecord {
        &self.record
    }
    fn reliability(&self) -> Reliability {
        self.reliability
    }
}

impl ClaimHit for FileRecordHit {
    type Record = FileRecord;
    fn record(&self) -> &FileRecord {
        &self.record
    }
    fn reliability(&self) -> Reliability {
        self.reliability
    }
}

/// An allowlist's statement that what is judged is safe: what the verdict reads of it.
pub trait AllowClaim: Clone {
    fn kind(&self) -> AllowlistKind;
    /// Position in a ranked list.
    fn rank(&self) -> Option<u32>;
}

impl AllowClaim for AllowlistHit {
    fn kind(&self) -> AllowlistKind {
        self.kind
    }
    fn rank(&self) -> Option<u32> {
        self.entry.rank
    }
}

impl AllowClaim for NetworkAllowHit {
    fn kind(&self) -> AllowlistKind {
        self.kind
    }
    fn rank(&self) -> Option<u32> {
        None
    }
}

use crate::config::VerdictConfig;

/// How a record reaches the name being judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Relation {
    /// A record on the name itself.
    Own,
    /// A record on a parent zone, up to the registrable domain; counts with `inherited_factor`.
    Inherited { from: DomainName },
    /// A listing of a whole zone above the name (`*.zone` in a feed); counts in full.
    ZoneListing { zone: DomainName },
    /// A listing of a network the address is in (a CIDR block); counts in full, but as a
    /// claim about the block it never outweighs an allowlist on its own.
    WithinNetwork { network: IpNetwork },
}

/// Where a record stands on its decay curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecayState {
    /// Score at or above the active threshold.
    Active,
    /// Still scoring, but below the threshold.
    Decayed,
    /// Past its lifetime: score 0.
    Expired,
}

/// One record as the verdict weighed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredRecord<R = IndicatorRecord> {
    pub record: R,
    pub reliability: Reliability,
    pub relation: Relation,
    /// Days from `last_seen` to the report time (0 when seen after it).
    pub age_days: f64,
    /// `confidence × reliability weight`, before decay.
    pub base: f64,
    /// After decay (and the inheritance factor).
    pub score: f64,
    pub state: DecayState,
    /// Outweighed by an allowlist: listed in the explanation, not in the verdict.
    pub suppressed: bool,
}

impl<R: Claim> ScoredRecord<R> {
    pub fn is_active(&self) -> bool {
        self.state == DecayState::Active
    }

    /// The risk this record contributes: its own while active, at most low once decayed, none
    /// when an allowlist outweighs it.
    pub fn effective_risk(&self) -> RiskLevel {
        if self.suppressed {
            RiskLevel::None
        } else if self.is_active() {
            self.record.risk()
        } else {
            self.record.risk().min(RiskLevel::Low)
        }
    }

    pub fn scenario(&self) -> Scenario {
        self.record
            .stated_scenario()
            .and_then(Scenario::parse)
            .unwrap_or_else(|| ThreatType::scenario_of(self.record.threat_type()))
    }
}

/// A source's best score among the records that carry the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceSupport {
    pub source: String,
    pub reliability: Reliability,
    pub score: f64,
}

/// What an allowlist did to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowlistOutcome {
    /// The name is safe; any malicious records are suppressed.
    Upheld,
    /// The name's own records from a reliable source, or from two sources, outweigh the list.
    Overridden,
}

/// The verdict on one name (or, with other record and allowlist types, one address).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict<R = IndicatorRecord, A = AllowlistHit> {
    pub level: ThreatLevel,
    /// 0 for an unknown name, otherwise 60-100.
    pub confidence: u8,
    pub scenarios: Vec<Scenario>,
    pub records: Vec<ScoredRecord<R>>,
    pub allowlist_hits: Vec<A>,
    pub allowlist_outcome: Option<AllowlistOutcome>,
    /// Sources that carry the verdict, with their scores (corroboration).
    pub support: Vec<SourceSupport>,
}

impl<R, A> Verdict<R, A> {
    pub fn unknown() -> Self {
        Self {
            level: ThreatLevel::Unknown,
            confidence: 0,
            scenarios: Vec::new(),
            records: Vec::new(),
            allowlist_hits: Vec::new(),
            allowlist_outcome: None,
            support: Vec::new(),
        }
    }

    /// Orders verdicts from least to most severe (for "the zone's worst").
    pub fn severity(&self) -> (ThreatLevel, u8) {
        (self.level, self.confidence)
    }
}

/// Score of one record at `at`, or `None` for a record first seen after `at` (not yet known then).
pub fn score<H: ClaimHit>(
    config: &VerdictConfig,
    hit: &H,
    relation: Relation,
    at: Timestamp,
) -> Option<ScoredRecord<H::Record>> {
    let record = hit.record();
    if record.first_seen() > at {
        return None;
    }
    let confidence = record
        .confidence()
        .map_or(config.default_confidence, f64::from);
    let base = confidence * config.reliability_weights.weight(hit.reliability());
    let age_days = ((at - record.last_seen()).num_seconds().max(0) as f64) / 86_400.0;
    let model = config.decay_for(record.threat_type());
    let remaining = 1.0 - (age_days / model.lifetime_days).powf(1.0 / model.decay_speed);
    let factor = if matches!(relation, Relation::Inherited { .. }) {
        config.inherited_factor
    } else {
        1.0
    };
    let score = (base * remaining).max(0.0) * factor;
    let state = if score <= 0.0 {
        DecayState::Expired
    } else if score >= config.active_threshold {
        DecayState::Active
    } else {
        DecayState::Decayed
    };
    Some(ScoredRecord {
        record: record.clone(),
        reliability: hit.reliability(),
        relation,
        age_days,
        base,
        score,
        state,
        suppressed: false,
    })
}

/// Confidence of "safe" given by one allowlist hit.
pub fn allowlist_strength(config: &VerdictConfig, hit: &impl AllowClaim) -> u8 {
    let strength = &config.allowlist_strength;
    match hit.kind() {
        AllowlistKind::Operator => strength.operator,
        AllowlistKind::Curated => strength.curated,
        AllowlistKind::TopSites => hit
            .rank()
            .and_then(|rank| strength.top_sites.iter().find(|(max, _)| rank <= *max))
            .map_or(strength.top_sites_unranked, |(_, c)| *c),
    }
}

/// `1 − Π(1 − score/100)` over each source's best score, mapped onto 60-100.
fn combined_confidence(config: &VerdictConfig, support: &[SourceSupport]) -> u8 {
    let miss: f64 = support
        .iter()
        .map(|s| 1.0 - (s.score / 100.0).clamp(0.0, 1.0))
        .product();
    let combined = 1.0 - miss;
    let scaled = (combined / config.full_confidence_support).min(1.0);
    (60.0 + 40.0 * scaled).floor().clamp(60.0, 100.0) as u8
}

/// Each source's best score among `winners`, strongest first.
fn support_of<'a, R: Claim + 'a>(
    winners: impl Iterator<Item = &'a ScoredRecord<R>>,
) -> Vec<SourceSupport> {
    let mut best: BTreeMap<&str, SourceSupport> = BTreeMap::new();
    for r in winners {
        let entry = best
            .entry(r.record.source())
            .or_insert_with(|| SourceSupport {
                source: r.record.source().to_owned(),
                reliability: r.reliability,
                score: 0.0,
            });
        entry.score = entry.score.max(r.score);
    }
    let mut support: Vec<_> = best.into_values().collect();
    support.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.source.cmp(&b.source))
    });
    support
}

fn scenarios_of<'a, R: Claim + 'a>(
    winners: impl Iterator<Item = &'a ScoredRecord<R>>,
) -> Vec<Scenario> {
    let mut scenarios: Vec<Scenario> = winners.map(ScoredRecord::scenario).collect();
    scenarios.sort();
    scenarios.dedup();
    scenarios
}

/// Judges one name from its scored records and the allowlist entries that cover it.
pub fn decide<R: Claim, A: AllowClaim>(
    config: &VerdictConfig,
    mut records: Vec<ScoredRecord<R>>,
    allowlist_hits: Vec<A>,
) -> Verdict<R, A> {
    records.sort_by(|a, b| {
        b.record
            .risk()
            .cmp(&a.record.risk())
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| claim_identity(&a.record).cmp(&claim_identity(&b.record)))
    });
    let mut verdict = Verdict {
        records,
        allowlist_hits,
        ..Verdict::unknown()
    };
    if verdict.records.is_empty() && verdict.allowlist_hits.is_empty() {
        return verdict;
    }

    if !verdict.allowlist_hits.is_empty() {
        // Only claims about the exact name count: not inherited records, zone listings, or
        // URLs on the host (an abused shared service is not a malicious domain).
        let own_malicious = |r: &ScoredRecord<R>| {
            r.relation == Relation::Own
                && !r.record.via_url()
                && r.is_active()
                && r.record.risk().is_malicious()
        };
        let support = support_of(verdict.records.iter().filter(|r| own_malicious(r)));
        let overrides = support.len() >= 2 || support.iter().any(|s| s.reliability.is_reliable());
        if overrides {
            let level = verdict
                .records
                .iter()
                .filter(|r| own_malicious(r))
                .map(|r| r.record.risk())
                .max();
            let level = level.expect("support is not empty");
            for r in &mut verdict.records {
                r.suppressed = r.relation != Relation::Own;
            }
            let winners = || {
                verdict
                    .records
                    .iter()
                    .filter(|r| own_malicious(r) && r.record.risk() == level)
            };
            verdict.support = support_of(winners());
            verdict.scenarios = scenarios_of(winners());
            verdict.level = level.into();
            verdict.confidence =
                combined_confidence(config, &verdict.support).min(config.allowlist_conflict_cap);
            verdict.allowlist_outcome = Some(AllowlistOutcome::Overridden);
        } else {
            for r in &mut verdict.records {
                r.suppressed = r.record.risk() > RiskLevel::None;
            }
            verdict.level = ThreatLevel::Safe;
            verdict.confidence = verdict
                .allowlist_hits
                .iter()
                .map(|h| allowlist_strength(config, h))
                .max()
                .unwrap_or(60);
            verdict.scenarios = vec![Scenario::Informational];
            verdict.allowlist_outcome = Some(AllowlistOutcome::Upheld);
        }
        return verdict;
    }

    let risky = || {
        verdict
            .records
            .iter()
            .filter(|r| r.record.risk() > RiskLevel::None)
    };
    let active_max = risky()
        .filter(|r| r.is_active())
        .map(|r| r.record.risk())
        .max();
    let (level, winners): (ThreatLevel, Vec<&ScoredRecord<R>>) =
        match (active_max, risky().map(|r| r.record.risk()).max()) {
            (Some(max), _) => (
                max.into(),
                risky()
                    .filter(|r| r.is_active() && r.record.risk() == max)
                    .collect(),
            ),
            // Only decayed records: low, whatever they once said.
            (None, Some(max)) => (
                ThreatLevel::Low,
                risky().filter(|r| r.record.risk() == max).collect(),
            ),
            // Only informational records: not malicious, weakly.
            (None, None) => {
                verdict.level = ThreatLevel::Safe;
                verdict.confidence = 60;
                verdict.scenarios = vec![Scenario::Informational];
                return verdict;
            }
        };
    let support = support_of(winners.iter().copied());
    let scenarios = scenarios_of(winners.into_iter());
    verdict.confidence = combined_confidence(config, &support);
    verdict.support = support;
    verdict.scenarios = scenarios;
    verdict.level = level;
    verdict
}

/// Indicator records and allowlist entries of a zone, indexed by name, so that many names of
/// the zone can be judged without going back to the store.
pub struct EvidenceIndex<'a> {
    indicators: ByName<'a, IndicatorHit>,
    allowlist: ByName<'a, AllowlistHit>,
}

/// Hits by name, hashed with aHash: a report indexes a few names, and SipHash cost a listed
/// report about 750 instructions.
type ByName<'a, T> = HashMap<DomainName, Vec<&'a T>, ahash::RandomState>;

impl<'a> EvidenceIndex<'a> {
    pub fn new(
        indicators: impl IntoIterator<Item = &'a IndicatorHit>,
        allowlist: impl IntoIterator<Item = &'a AllowlistHit>,
    ) -> Self {
        let mut index = Self {
            indicators: ByName::default(),
            allowlist: ByName::default(),
        };
        for hit in indicators {
            push_by_name(&mut index.indicators, &hit.record.name, hit);
        }
        for hit in allowlist {
            push_by_name(&mut index.allowlist, &hit.entry.name, hit);
        }
        index
    }

    /// Judges `name`, whose registrable domain is `sld` (inheritance and hostname allowlisting
    /// stop there; `None` when the name is itself a suffix).
    pub fn judge(
        &self,
        config: &VerdictConfig,
        name: &DomainName,
        sld: Option<&DomainName>,
        at: Timestamp,
    ) -> Verdict {
        self.judge_parts(config, Some(name.as_str()), name.ancestor_texts(), sld, at)
    }

    /// Judges a name strictly below `zone` that has no evidence of its own: what every such
    /// name inherits, the verdict a `*.zone` rule stands for. `sld` is the registrable domain
    /// of the names below `zone` (`None` when `zone` is a public suffix).
    pub fn judge_below(
        &self,
        config: &VerdictConfig,
        zone: &DomainName,
        sld: Option<&DomainName>,
        at: Timestamp,
    ) -> Verdict {
        let ancestors = std::iter::once(zone.as_str()).chain(zone.ancestor_texts());
        self.judge_parts(config, None, ancestors, sld, at)
    }

    /// Judges a name from its own records (`own`, when it has a name in the index) and those of
    /// `ancestors`, nearest first.
    fn judge_parts<'n>(
        &self,
        config: &VerdictConfig,
        own: Option<&str>,
        ancestors: impl Iterator<Item = &'n str>,
        sld: Option<&DomainName>,
        at: Timestamp,
    ) -> Verdict {
        let mut records = Vec::new();
        let mut allow = Vec::new();
        if let Some(name_str) = own {
            for hit in self.indicators.get(name_str).into_iter().flatten() {
                if !hit.record.zone {
                    records.extend(score(config, *hit, Relation::Own, at));
                }
            }
            for hit in self.allowlist.get(name_str).into_iter().flatten() {
                allow.push((*hit).clone());
            }
        }
        let sld_len = sld.map_or(usize::MAX, |s| s.as_str().len());
        for ancestor in ancestors {
            let within_sld = ancestor.len() >= sld_len;
            for hit in self.indicators.get(ancestor).into_iter().flatten() {
                let relation = if hit.record.zone {
                    Relation::ZoneListing {
                        zone: hit.record.name.clone(),
                    }
                } else if within_sld {
                    Relation::Inherited {
                        from: hit.record.name.clone(),
                    }
                } else {
                    continue;
                };
                records.extend(score(config, *hit, relation, at));
            }
            if within_sld {
                for hit in self.allowlist.get(ancestor).into_iter().flatten() {
                    if hit.entry.matching == AllowMatch::Hostname {
                        allow.push((*hit).clone());
                    }
                }
            }
        }
        allow.sort_by(|a, b| {
            (&a.entry.list, &a.entry.name, a.entry.rank).cmp(&(
                &b.entry.list,
                &b.entry.name,
                b.entry.rank,
            ))
        });
        decide(config, records, allow)
    }

    /// Names in the index that carry their own records (not zone listings).
    pub fn names_with_records(&self) -> impl Iterator<Item = &DomainName> + '_ {
        self.indicators
            .iter()
            .filter(|(_, hits)| has_own_record(hits))
            .map(|(name, _)| name)
    }

    /// Whether `name` carries a record of its own (not only a zone listing).
    pub fn has_own_records(&self, name: &DomainName) -> bool {
        self.indicators
            .get(name)
            .is_some_and(|hits| has_own_record(hits))
    }
}

fn has_own_record(hits: &[&IndicatorHit]) -> bool {
    hits.iter().any(|h| !h.record.zone)
}

/// Adds `hit` under `name`, copying the name only the first time it is seen.
fn push_by_name<'a, T>(map: &mut ByName<'a, T>, name: &DomainName, hit: &'a T) {
    match map.get_mut(name.as_str()) {
        Some(hits) => hits.push(hit),
        None => {
            map.insert(name.clone(), vec![hit]);
        }
    }
}
