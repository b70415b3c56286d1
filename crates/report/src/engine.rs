//! Assembly of a report: gathers the evidence around a name from the store, judges the name
//! (and, for child counts and wildcards, the names below it) and summarises the records.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use chrono::{Duration, FixedOffset};
use serde::Serialize;
use threatintel_model::{
    AttackStage, Certificate, DnsRelation, DomainName, DomainQuery, RiskLevel, Scenario,
    ThreatLevel, ThreatType, Timestamp, WhoisRecord,
};
use threatintel_store::{IndicatorHit, ResolvedIp, Store, StoreError, StoreReader};

use crate::config::{ReportConfig, VerdictConfig};
use crate::fields::{Field, FieldSet};
use crate::geo::Geolocator;
use crate::heuristics::{self, HeuristicVerdict, HeuristicsConfig, NameModel};
use crate::verdict::{score, Claim, EvidenceIndex, Relation, ScoredRecord, Verdict};

/// Most names below a zone judged one by one for `malicious_child_domain_cnt` in one report, and
/// most indicator records read below it; beyond it the count covers the first names in key
/// order. It bounds a report's cost whatever the zone holds (`docs/verdict.md`).
pub const MAX_CHILDREN_JUDGED: usize = 10_000;

/// Up to this many subtrees to judge are listed one query each; beyond it one read of the
/// queried zone's names (bounded by [`MAX_CHILDREN_JUDGED`]) is cheaper than a query per subtree.
const SUBTREES_READ_ONE_BY_ONE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRequest {
    pub query: DomainQuery,
    pub fields: FieldSet,
    /// The report time: records are judged as of this instant.
    pub at: Timestamp,
    /// Also list subdomains and resolutions (the native API's lists; costs two queries).
    pub with_lists: bool,
    /// Let the heuristic judge decide a name no record decides (when the config enables it).
    pub heuristics: bool,
}

/// `Basic`: counts and registration dates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Basic {
    pub child_domain_cnt: u64,
    pub malicious_child_domain_cnt: u64,
    pub ip_cnt: u64,
    pub malicious_ip_cnt: u64,
    pub reg_date: Option<Timestamp>,
    pub expire_date: Option<Timestamp>,
}

/// One entry of `ThreatTypes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreatTypeSummary {
    pub threat_type: String,
    pub risk: RiskLevel,
    pub scenario: Scenario,
    pub first_find: Timestamp,
    pub last_find: Timestamp,
    /// Stage keys, sorted.
    pub attack_stages: Vec<String>,
}

/// One entry of `Intelligences`: a source's records under one family/technique label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intelligence {
    pub source: String,
    pub threat_type: String,
    pub label: Option<String>,
    pub first_find: Timestamp,
    pub last_find: Timestamp,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndustryCount {
    pub industry: String,
    pub event_cnt: u64,
    pub last_attack: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttackStageCount {
    pub stage: String,
    pub event_cnt: u64,
}

/// A name of a wildcard zone with evidence of its own, and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContributingName {
    pub name: DomainName,
    pub level: ThreatLevel,
    pub confidence: u8,
}

/// The full, typed report with the explanation of its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NativeReport {
    pub query: DomainQuery,
    /// The name, or the zone of a wildcard.
    pub domain: DomainName,
    pub sld_domain: DomainName,
    pub report_time: Timestamp,
    #[serde(skip)]
    pub fields: FieldSet,
    pub verdict: Verdict,
    pub basic: Basic,
    /// Boxed: a WHOIS record is over half a report's size inline, and the report is moved
    /// several times on its way to the caller.
    pub whois: Option<Box<WhoisRecord>>,
    pub certificate: Option<Certificate>,
    pub threat_types: Vec<ThreatTypeSummary>,
    pub intelligences: Vec<Intelligence>,
    pub attack_preference_top5: Vec<IndustryCount>,
    pub attack_count_by_stage: Vec<AttackStageCount>,
    /// Wildcard queries: the names whose evidence was merged, worst first.
    pub contributing_names: Vec<ContributingName>,
    /// With `with_lists`: known names below `domain` (first ones in key order).
    pub subdomains: Vec<DomainName>,
    /// With `with_lists`: addresses within the IP window.
    pub resolutions: Vec<ResolvedIp>,
    /// With `with_lists`: the name's CNAME, NS and MX records (by kind, then target).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_relations: Vec<DnsRelation>,
    /// The heuristic judge's verdict, when it decided the report's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heuristics: Option<HeuristicVerdict>,
}

/// Builds reports from a store. Cheap to share between threads.
pub struct ReportEngine {
    store: Arc<dyn Store>,
    verdict: VerdictConfig,
    report: ReportConfig,
    offset: FixedOffset,
    heuristics: HeuristicsConfig,
    /// Built from the store on first use.
    name_model: OnceLock<NameModel>,
    /// Where addresses are (IP reports' `Ip`).
    geolocator: Arc<Geolocator>,
}

impl ReportEngine {
    pub fn new(
        store: Arc<dyn Store>,
        verdict: VerdictConfig,
        report: ReportConfig,
    ) -> Result<Self, ReportError> {
        verdict.validate().map_err(ReportError::Config)?;
        let offset = report.offset().map_err(ReportError::Config)?;
        Ok(Self {
            store,
            verdict,
            report,
            offset,
            heuristics: HeuristicsConfig::default(),
            name_model: OnceLock::new(),
            geolocator: Arc::default(),
        })
    }

    /// The heuristic judge's configuration (the default one otherwise).
    pub fn with_heuristics(mut self, heuristics: HeuristicsConfig) -> Result<Self, ReportError> {
        heuristics.validate().map_err(ReportError::Config)?;
        self.heuristics = heuristics;
        Ok(self)
    }

    /// The geolocation and ASN databases of IP reports (none otherwise).
    pub fn with_geolocator(mut self, geolocator: Arc<Geolocator>) -> Self {
        self.geolocator = geolocator;
        self
    }

    pub(crate) fn geolocator(&self) -> &Geolocator {
        &self.geolocator
    }

    pub(crate) fn report_config(&self) -> &ReportConfig {
        &self.report
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The verdict model's constants (exports judge with the same model; the console draws each
    /// record's decay curve with them).
    pub fn verdict_config(&self) -> &VerdictConfig {
        &self.verdict
    }

    /// The time zone of the times in compatibility reports.
    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    pub fn report(&self, request: &ReportRequest) -> Result<NativeReport, ReportError> {
        self.report_within(request, &mut MAX_CHILDREN_JUDGED.clone())
    }

    /// A report that judges at most `children_budget` names below the queried one (and never
    /// more than [`MAX_CHILDREN_JUDGED`]), and takes the names it judged from the budget:
    /// reports that share one budget, the reports of a batch, judge at most that many together.
    pub fn report_within(
        &self,
        request: &ReportRequest,
        children_budget: &mut usize,
    ) -> Result<NativeReport, ReportError> {
        let apex = request.query.name();
        let sld = apex.registrable();
        let mut report = blank_report(request, sld.clone());
        let reader = self.store.reader()?;
        let store = &*reader;
        if !store.knows_zone(&report.sld_domain)? {
            self.judge_unlisted(store, &mut report, request)?;
            return Ok(report);
        }

        let at = request.at;
        let ancestors: Vec<DomainName> = apex.ancestors().collect();
        let within_sld: Vec<DomainName> = match &sld {
            Some(sld) => ancestors
                .iter()
                .filter(|a| *a == sld || a.is_subdomain_of(sld))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let below = records_below(store, apex)?;
        let mut above = store.indicators_at(&ancestors)?;
        above.retain(|h| !heuristics::is_suffix_listing(&h.record));
        let allow_below = store.allowlist_below(apex)?;
        let allow_above = store.allowlist_at(&within_sld)?;
        let index = EvidenceIndex::new(
            below.iter().chain(&above),
            allow_below.iter().chain(&allow_above),
        );

        let apex_verdict = index.judge(&self.verdict, apex, sld.as_ref(), at);
        let limit = (*children_budget).min(MAX_CHILDREN_JUDGED);
        let (children, apex_children) = self.judge_children(
            store,
            &index,
            apex,
            sld.as_ref(),
            (&below, &above),
            at,
            limit,
        )?;
        report.basic.malicious_child_domain_cnt =
            children.values().filter(|v| v.level.is_malicious()).count() as u64;

        // The records summarised: an exact name's are its verdict's own.
        let zone_records: Vec<ScoredRecord>;
        let records: &[ScoredRecord] = match &request.query {
            DomainQuery::Exact(_) => {
                *children_budget -= children.len();
                report.verdict = apex_verdict;
                &report.verdict.records
            }
            DomainQuery::Wildcard(_) => {
                let mut judged = children;
                // Names with records of their own that judging the children did not reach,
                // the first in key order while the report's budget lasts.
                let mut unjudged: Vec<&DomainName> = index
                    .names_with_records()
                    .filter(|name| name.is_subdomain_of(apex) && !judged.contains_key(*name))
                    .collect();
                unjudged.sort_by(|a, b| a.cmp_in_key_order(b));
                unjudged.truncate(limit.saturating_sub(judged.len()));
                for name in unjudged {
                    let verdict = index.judge(&self.verdict, name, sld.as_ref(), at);
                    judged.insert(name.clone(), verdict);
                }
                *children_budget -= judged.len();
                zone_records = self.zone_records(&apex_verdict, &judged, &below, apex, at);
                self.merge_wildcard(&mut report, apex_verdict, judged);
                &zone_records
            }
        };
        (report.threat_types, report.intelligences) =
            (threat_types(records), intelligences(records));

        // When every name below the apex was already listed for judging, that list is the count.
        report.basic.child_domain_cnt = match apex_children {
            Some(n) => n,
            None => store.count_names_below(apex)?,
        };
        let since = at - Duration::days(self.verdict.ip_window_days);
        let ips = store.resolved_ips(&request.query, since, at)?;
        report.basic.ip_cnt = ips.len() as u64;
        let addresses: Vec<_> = ips.iter().map(|r| r.ip).collect();
        let mut malicious: Vec<_> = store
            .ip_intel(&addresses)?
            .into_iter()
            .filter(|(_, i)| i.risk.is_malicious())
            .map(|(ip, _)| ip)
            .collect();
        malicious.sort_unstable();
        malicious.dedup();
        report.basic.malicious_ip_cnt = malicious.len() as u64;
        report.whois = store.latest_whois(&report.sld_domain)?.map(Box::new);
        if let Some(whois) = &report.whois {
            report.basic.reg_date = whois.created;
            report.basic.expire_date = whois.expires;
        }
        report.certificate = store.latest_certificate(apex)?;

        if request.fields.contains(Field::AttackPreferenceTop5)
            || request.fields.contains(Field::AttackCntByThreatType)
        {
            summarise_events(store, &mut report, &request.query, at)?;
        }
        if request.with_lists {
            report.subdomains = store.names_below(apex, self.report.native_list_limit)?;
            report.resolutions = ips
                .into_iter()
                .take(self.report.native_list_limit)
                .collect();
            report.dns_relations = store.relations(apex)?;
        }
        self.judge_unlisted(store, &mut report, request)?;
        Ok(report)
    }

    /// The heuristic judge, for a report no record decided.
    fn judge_unlisted(
        &self,
        store: &dyn StoreReader,
        report: &mut NativeReport,
        request: &ReportRequest,
    ) -> Result<(), ReportError> {
        if self.judges(report, request) {
            heuristics::apply(self.name_model(store)?, &self.heuristics, store, report)?;
        }
        Ok(())
    }

    /// Whether the heuristic judge decides `report`, which no record decided.
    fn judges(&self, report: &NativeReport, request: &ReportRequest) -> bool {
        request.heuristics
            && self.heuristics.enabled
            && report.verdict.level == ThreatLevel::Unknown
    }

    /// The report of a name the store surely knows nothing of ([`Store::knows_nothing_of`]),
    /// made without a reader: what [`report`](Self::report) gives for it. `None` when the store
    /// cannot tell so without a reader, or the judge's model is not built yet.
    pub fn report_without_store(&self, request: &ReportRequest) -> Option<NativeReport> {
        let name = request.query.name();
        let sld = name.registrable();
        if !self.store.knows_nothing_of(sld.as_ref().unwrap_or(name)) {
            return None;
        }
        let mut report = blank_report(request, sld);
        if self.judges(&report, request) {
            // A report of a zone the store knows nothing of carries no certificate.
            heuristics::decide(
                self.name_model.get()?,
                &self.heuristics,
                Vec::new(),
                &mut report,
            );
        }
        Some(report)
    }

    /// The heuristic judge's model, built from the store on first use.
    fn name_model(&self, store: &dyn StoreReader) -> Result<&NameModel, ReportError> {
        Ok(match self.name_model.get() {
            Some(model) => model,
            None => {
                let built = NameModel::build(&store.name_model_inputs()?, &self.heuristics);
                self.name_model.get_or_init(|| built)
            }
        })
    }

    /// Builds the heuristic judge's model now, when the judge is enabled. Otherwise the first
    /// report the judge decides builds it, and reading its inputs scans the store (seconds on
    /// a store of millions of names): a server calls this before it listens, so that no
    /// request waits for it.
    pub fn prepare_heuristics(&self) -> Result<(), ReportError> {
        if self.heuristics.enabled {
            self.name_model(&*self.store.reader()?)?;
        }
        Ok(())
    }

    /// Judges the names below `apex` that could be malicious, at most `limit` of them (the
    /// first in key order): all of them when the apex (or a zone above it) carries malicious
    /// records, else those under names that carry their own (`below`, and `above` the apex).
    /// Also returns how many names are below the apex when that whole list was read.
    #[allow(clippy::too_many_arguments)]
    fn judge_children(
        &self,
        store: &dyn StoreReader,
        index: &EvidenceIndex<'_>,
        apex: &DomainName,
        sld: Option<&DomainName>,
        (below, above): (&[IndicatorHit], &[IndicatorHit]),
        at: Timestamp,
        limit: usize,
    ) -> Result<(BTreeMap<DomainName, Verdict>, Option<u64>), ReportError> {
        let inherits_to_children = |h: &IndicatorHit| {
            h.record.zone
                || sld.is_some_and(|s| h.record.name == *s || h.record.name.is_subdomain_of(s))
        };
        let from_above = above
            .iter()
            .any(|h| h.record.risk.is_malicious() && inherits_to_children(h))
            || below
                .iter()
                .any(|h| h.record.risk.is_malicious() && h.record.name == *apex);
        let origins: Vec<&DomainName> = if from_above {
            vec![apex]
        } else {
            below
                .iter()
                .filter(|h| h.record.risk.is_malicious())
                .map(|h| &h.record.name)
                .collect()
        };
        let subtrees = outermost(origins);
        // An origin is judged itself when it carries its own records; the apex always is.
        let judged_itself = |origin: &DomainName| origin != apex && index.has_own_records(origin);
        let mut names: Vec<DomainName> = Vec::new();
        let mut apex_children = None;
        if subtrees.len() <= SUBTREES_READ_ONE_BY_ONE {
            for origin in subtrees {
                let budget = limit - names.len();
                let below_origin = store.names_below(origin, budget)?;
                if origin == apex && below_origin.len() < budget {
                    apex_children = Some(below_origin.len() as u64);
                }
                names.extend(below_origin);
                if judged_itself(origin) && names.len() < limit {
                    names.push(origin.clone());
                }
            }
        } else {
            let zone = store.names_below(apex, limit)?;
            if zone.len() < limit {
                apex_children = Some(zone.len() as u64);
            }
            names = within_subtrees(zone, &subtrees, judged_itself);
        }
        let judged = names
            .into_iter()
            .map(|name| {
                let verdict = index.judge(&self.verdict, &name, sld, at);
                (name, verdict)
            })
            .collect();
        Ok((judged, apex_children))
    }

    /// The records of a wildcard zone: the apex's (with what it inherits), each name's own, and
    /// the zone listings inside the zone.
    fn zone_records(
        &self,
        apex_verdict: &Verdict,
        judged: &BTreeMap<DomainName, Verdict>,
        below: &[IndicatorHit],
        apex: &DomainName,
        at: Timestamp,
    ) -> Vec<ScoredRecord> {
        let mut records = apex_verdict.records.clone();
        for verdict in judged.values() {
            records.extend(
                verdict
                    .records
                    .iter()
                    .filter(|r| r.relation == Relation::Own)
                    .cloned(),
            );
        }
        for hit in below
            .iter()
            .filter(|h| h.record.zone && h.record.name != *apex)
        {
            let relation = Relation::ZoneListing {
                zone: hit.record.name.clone(),
            };
            records.extend(score(&self.verdict, hit, relation, at));
        }
        records
    }

    /// Sets the zone's worst verdict and the names that contributed to the zone.
    fn merge_wildcard(
        &self,
        report: &mut NativeReport,
        apex_verdict: Verdict,
        judged: BTreeMap<DomainName, Verdict>,
    ) {
        let mut contributing: Vec<ContributingName> =
            std::iter::once((&report.domain, &apex_verdict))
                .chain(judged.iter())
                .filter(|(_, v)| v.level != ThreatLevel::Unknown)
                .map(|(name, v)| ContributingName {
                    name: name.clone(),
                    level: v.level,
                    confidence: v.confidence,
                })
                .collect();
        contributing.sort_by(|a, b| {
            (b.level, b.confidence)
                .cmp(&(a.level, a.confidence))
                .then(a.name.cmp(&b.name))
        });
        contributing.truncate(self.report.native_list_limit);
        report.contributing_names = contributing;
        let worst = judged
            .into_values()
            .chain(std::iter::once(apex_verdict))
            .max_by_key(Verdict::severity);
        report.verdict = worst.unwrap_or_else(Verdict::unknown);
    }
}

/// The report of `request` before anything is read: its names, nothing known. `sld` is the
/// queried name's registrable domain (`None` when the name is itself a suffix).
fn blank_report(request: &ReportRequest, sld: Option<DomainName>) -> NativeReport {
    let apex = request.query.name();
    NativeReport {
        query: request.query.clone(),
        domain: apex.clone(),
        sld_domain: sld.unwrap_or_else(|| apex.clone()),
        report_time: request.at,
        fields: request.fields,
        verdict: Verdict::unknown(),
        basic: Basic::default(),
        whois: None,
        certificate: None,
        threat_types: Vec::new(),
        intelligences: Vec::new(),
        attack_preference_top5: Vec::new(),
        attack_count_by_stage: Vec::new(),
        contributing_names: Vec::new(),
        subdomains: Vec::new(),
        resolutions: Vec::new(),
        dns_relations: Vec::new(),
        heuristics: None,
    }
}

/// The indicator records on `apex` and below it, those of the first names in key order when
/// there are more than [`MAX_CHILDREN_JUDGED`]: a cut never splits a name's records.
fn records_below(
    store: &dyn StoreReader,
    apex: &DomainName,
) -> Result<Vec<IndicatorHit>, ReportError> {
    let mut below = store.indicators_below_first(apex, MAX_CHILDREN_JUDGED + 1)?;
    if below.len() > MAX_CHILDREN_JUDGED {
        let last = below[below.len() - 1].record.name.clone();
        let whole = below.iter().rposition(|h| h.record.name != last);
        if let Some(keep) = whole {
            below.truncate(keep + 1);
        }
    }
    Ok(below)
}

/// The origins that no other origin contains, in key order. Sorted in key order, a zone's
/// subtree directly follows the zone, so an origin inside an earlier one is inside the last one
/// kept: one comparison each.
fn outermost(mut origins: Vec<&DomainName>) -> Vec<&DomainName> {
    origins.sort_by(|a, b| a.cmp_in_key_order(b));
    origins.dedup();
    let mut kept: Vec<&DomainName> = Vec::new();
    for origin in origins {
        if kept.last().is_none_or(|o| !origin.is_subdomain_of(o)) {
            kept.push(origin);
        }
    }
    kept
}

/// The names of `zone` (in key order) inside one of `subtrees` (disjoint, in key order), and
/// those that are a subtree's root when `judged_itself` says so: one walk over both lists.
fn within_subtrees(
    zone: Vec<DomainName>,
    subtrees: &[&DomainName],
    judged_itself: impl Fn(&DomainName) -> bool,
) -> Vec<DomainName> {
    let mut next = 0;
    zone.into_iter()
        .filter(|name| {
            // A subtree that sorts before `name` without holding it holds no later name either.
            while next < subtrees.len()
                && subtrees[next].cmp_in_key_order(name).is_lt()
                && !name.is_subdomain_of(subtrees[next])
            {
                next += 1;
            }
            subtrees.get(next).is_some_and(|root| {
                name.is_subdomain_of(root) || (name == *root && judged_itself(name))
            })
        })
        .collect()
}

/// Sums security events per victim industry (top five) and per attack stage.
fn summarise_events(
    store: &dyn StoreReader,
    report: &mut NativeReport,
    scope: &DomainQuery,
    at: Timestamp,
) -> Result<(), ReportError> {
    let totals = store.event_totals(scope, at)?;
    let mut industries: BTreeMap<&str, (u64, Timestamp)> = BTreeMap::new();
    let mut stages: BTreeMap<String, u64> = BTreeMap::new();
    for t in &totals {
        let entry = industries.entry(&t.industry).or_insert((0, t.last));
        entry.0 += t.count;
        entry.1 = entry.1.max(t.last);
        *stages
            .entry(AttackStage::key_of(&t.stage).unwrap_or_default())
            .or_default() += t.count;
    }
    let mut top: Vec<IndustryCount> = industries
        .into_iter()
        .map(|(industry, (event_cnt, last_attack))| IndustryCount {
            industry: industry.to_owned(),
            event_cnt,
            last_attack,
        })
        .collect();
    top.sort_by(|a, b| {
        b.event_cnt
            .cmp(&a.event_cnt)
            .then(b.last_attack.cmp(&a.last_attack))
            .then(a.industry.cmp(&b.industry))
    });
    top.truncate(5);
    report.attack_preference_top5 = top;
    let mut by_stage: Vec<AttackStageCount> = stages
        .into_iter()
        .map(|(stage, event_cnt)| AttackStageCount { stage, event_cnt })
        .collect();
    by_stage.sort_by(|a, b| b.event_cnt.cmp(&a.event_cnt).then(a.stage.cmp(&b.stage)));
    report.attack_count_by_stage = by_stage;
    Ok(())
}

/// One summary per threat type, most severe and most recent first.
pub(crate) fn threat_types<R: Claim>(records: &[ScoredRecord<R>]) -> Vec<ThreatTypeSummary> {
    let mut by_type: BTreeMap<&str, ThreatTypeSummary> = BTreeMap::new();
    let mut stages: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for r in records {
        let rec = &r.record;
        let entry = by_type
            .entry(rec.threat_type())
            .or_insert_with(|| ThreatTypeSummary {
                threat_type: rec.threat_type().to_owned(),
                risk: RiskLevel::None,
                scenario: r.scenario(),
                first_find: rec.first_seen(),
                last_find: rec.last_seen(),
                attack_stages: Vec::new(),
            });
        entry.risk = entry.risk.max(r.effective_risk());
        entry.first_find = entry.first_find.min(rec.first_seen());
        entry.last_find = entry.last_find.max(rec.last_seen());
        if let Some(stage) = rec.attack_stage().and_then(AttackStage::key_of) {
            stages.entry(rec.threat_type()).or_default().insert(stage);
        }
    }
    let mut out: Vec<ThreatTypeSummary> = by_type
        .into_iter()
        .map(|(t, mut s)| {
            s.attack_stages = stages
                .remove(t)
                .map(|set| set.into_iter().collect())
                .unwrap_or_default();
            if s.risk == RiskLevel::None
                && ThreatType::scenario_of(&s.threat_type) != Scenario::Informational
            {
                // Suppressed by an allowlist: the tag stays, as informational.
                s.scenario = Scenario::Informational;
            }
            s
        })
        .collect();
    out.sort_by(|a, b| {
        b.risk
            .cmp(&a.risk)
            .then(b.last_find.cmp(&a.last_find))
            .then(a.threat_type.cmp(&b.threat_type))
    });
    out
}

/// One entry per (source, label), most recent first.
pub(crate) fn intelligences<R: Claim>(records: &[ScoredRecord<R>]) -> Vec<Intelligence> {
    let mut by_key: BTreeMap<(&str, Option<&str>), Intelligence> = BTreeMap::new();
    for r in records {
        let rec = &r.record;
        let reference = || rec.reference().map(str::to_owned);
        let entry = by_key
            .entry((rec.source(), rec.label()))
            .or_insert_with(|| Intelligence {
                source: rec.source().to_owned(),
                threat_type: rec.threat_type().to_owned(),
                label: rec.label().map(str::to_owned),
                first_find: rec.first_seen(),
                last_find: rec.last_seen(),
                reference: reference(),
            });
        entry.first_find = entry.first_find.min(rec.first_seen());
        if rec.last_seen() > entry.last_find {
            entry.last_find = rec.last_seen();
            entry.threat_type = rec.threat_type().to_owned();
            if rec.reference().is_some() {
                entry.reference = reference();
            }
        }
        if entry.reference.is_none() {
            entry.reference = reference();
        }
    }
    let mut out: Vec<Intelligence> = by_key.into_values().collect();
    out.sort_by(|a, b| {
        b.last_find
            .cmp(&a.last_find)
            .then(a.source.cmp(&b.source))
            .then(a.label.cmp(&b.label))
    });
    out
}
