//! The heuristic judge (`docs/verdict.md`, §8): a verdict for a name no feed record decides,
//! from signals on the name itself (brand impersonation, generated names), what the store
//! knows of its registration and infrastructure, and listings of whole public suffixes. Every
//! signal contributes a weight of `[heuristics]` to a score; the score gives the level.

mod config;
mod model;
mod signals;

use serde::Serialize;
use threatintel_model::{DomainName, DomainQuery, RiskLevel, ThreatLevel, Timestamp, WhoisRecord};
use threatintel_store::{StoreError, StoreReader};

use crate::engine::{Intelligence, NativeReport, ThreatTypeSummary};
use threatintel_model::ThreatType;

pub use config::{AlgorithmicConfig, HeuristicsConfig, ListedShareConfig, SignalWeights};
pub use model::{is_suffix_listing, NameModel};
pub use signals::{Signal, SignalGroup, TypoKind};

/// The source name of the judge's intelligence in the compatibility report.
pub const SOURCE: &str = "threatintel-heuristics";

/// One signal as it counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalHit {
    #[serde(flatten)]
    pub signal: Signal,
    pub group: SignalGroup,
    pub contribution: f64,
}

/// The judge's verdict and its explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeuristicVerdict {
    /// The sum of the contributions.
    pub score: f64,
    pub level: ThreatLevel,
    pub confidence: u8,
    /// The signals, strongest first.
    pub signals: Vec<SignalHit>,
}

impl HeuristicVerdict {
    /// The signal keys joined by `+` (the compatibility report's family label).
    pub fn label(&self) -> String {
        let keys: Vec<&str> = self.signals.iter().map(|s| s.signal.key()).collect();
        keys.join("+")
    }

    /// `Phishing` when a brand is imitated, `Suspicious` otherwise.
    pub fn threat_type(&self) -> &'static str {
        self.threat_type_kind().code()
    }

    fn threat_type_kind(&self) -> ThreatType {
        if self.signals.iter().any(|s| s.group == SignalGroup::Brand) {
            ThreatType::Phishing
        } else {
            ThreatType::Suspicious
        }
    }
}

/// What the store knows about the name beyond its own text (nothing for a name it does not know).
#[derive(Debug, Default)]
pub struct StoreFacts<'a> {
    pub whois: Option<&'a WhoisRecord>,
    pub malicious_ips: u64,
    /// Other names on the name's certificate that carry malicious records of their own.
    pub listed_cert_names: Vec<DomainName>,
}

/// Judges `name` at `at`; `None` when it is a top site or its score stays below level 1.
pub fn judge(
    model: &NameModel,
    config: &HeuristicsConfig,
    name: &DomainName,
    facts: &StoreFacts<'_>,
    at: Timestamp,
) -> Option<HeuristicVerdict> {
    let mut signals = signals::name_signals(model, config, name)?;
    if let Some(created) = facts.whois.and_then(|w| w.created) {
        let age_days = (at - created).num_days();
        if created <= at && age_days < config.new_registration_days {
            signals.push(Signal::NewlyRegistered { created, age_days });
        }
    }
    if let Some(signal) = facts
        .whois
        .and_then(|w| signals::listed_nameserver(model, config, &w.nameservers))
    {
        signals.push(signal);
    }
    if facts.malicious_ips > 0 {
        signals.push(Signal::MaliciousIps {
            count: facts.malicious_ips,
        });
    }
    if !facts.listed_cert_names.is_empty() {
        signals.push(Signal::CertSharedWithListed {
            names: facts.listed_cert_names.clone(),
        });
    }
    let mut hits: Vec<SignalHit> = signals
        .into_iter()
        .map(|signal| SignalHit {
            group: signal.group(),
            contribution: signal.contribution(config),
            signal,
        })
        .collect();
    // Brand signals are one piece of evidence seen several ways (`alibaba` in the label of
    // `alibabadns.com` and in its subdomain): only the strongest counts, the others stay
    // listed with contribution 0.
    let strongest_brand = hits
        .iter()
        .enumerate()
        .filter(|(_, h)| h.group == SignalGroup::Brand)
        .max_by(|a, b| a.1.contribution.total_cmp(&b.1.contribution))
        .map(|(i, _)| i);
    for (i, hit) in hits.iter_mut().enumerate() {
        if hit.group == SignalGroup::Brand && Some(i) != strongest_brand {
            hit.contribution = 0.0;
        }
    }
    // Rounded to millionths, so that 0.7 + 0.3 is 1.0 and the documented sums hold.
    let score = (hits.iter().map(|h| h.contribution).sum::<f64>() * 1e6).round() / 1e6;
    if score < config.level1_score {
        return None;
    }
    hits.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    let mut groups: Vec<SignalGroup> = hits.iter().map(|h| h.group).collect();
    groups.sort();
    groups.dedup();
    let level = if score >= config.level2_score && groups.len() >= 2 {
        ThreatLevel::Medium
    } else {
        ThreatLevel::Low
    };
    let scaled = ((score - config.level1_score)
        / (config.full_confidence_score - config.level1_score))
        .clamp(0.0, 1.0);
    Some(HeuristicVerdict {
        score,
        level,
        confidence: (60.0 + 40.0 * scaled).floor() as u8,
        signals: hits,
    })
}

/// Lets the judge decide a report whose verdict no record decided: reads what the store knows
/// of the name's certificate, then [`decide`]s.
pub(crate) fn apply(
    model: &NameModel,
    config: &HeuristicsConfig,
    store: &dyn StoreReader,
    report: &mut NativeReport,
) -> Result<(), StoreError> {
    let mut listed_cert_names = Vec::new();
    if let Some(cert) = &report.certificate {
        let others: Vec<DomainName> = cert
            .covers
            .iter()
            .filter_map(|q| match q {
                DomainQuery::Exact(n) if *n != report.domain => Some(n.clone()),
                _ => None,
            })
            .collect();
        if !others.is_empty() {
            listed_cert_names = store
                .indicators_at(&others)?
                .into_iter()
                .filter(|h| !h.record.zone && h.record.risk.is_malicious())
                .map(|h| h.record.name)
                .collect();
            listed_cert_names.dedup();
        }
    }
    decide(model, config, listed_cert_names, report);
    Ok(())
}

/// Judges the report's name, given the other names on its certificate that the store lists,
/// and writes the verdict, a threat type and an intelligence from [`SOURCE`] into the report.
pub(crate) fn decide(
    model: &NameModel,
    config: &HeuristicsConfig,
    listed_cert_names: Vec<DomainName>,
    report: &mut NativeReport,
) {
    let facts = StoreFacts {
        whois: report.whois.as_deref(),
        malicious_ips: report.basic.malicious_ip_cnt,
        listed_cert_names,
    };
    let Some(verdict) = judge(model, config, &report.domain, &facts, report.report_time) else {
        return;
    };
    let kind = verdict.threat_type_kind();
    let (threat_type, scenario) = (kind.code(), kind.scenario());
    let at = report.report_time;
    report.verdict.level = verdict.level;
    report.verdict.confidence = verdict.confidence;
    report.verdict.scenarios = vec![scenario];
    report.threat_types.push(ThreatTypeSummary {
        threat_type: threat_type.to_owned(),
        risk: match verdict.level {
            ThreatLevel::Medium => RiskLevel::Medium,
            _ => RiskLevel::Low,
        },
        scenario,
        first_find: at,
        last_find: at,
        attack_stages: Vec::new(),
    });
    report.intelligences.push(Intelligence {
        source: SOURCE.to_owned(),
        threat_type: threat_type.to_owned(),
        label: Some(verdict.label()),
        first_find: at,
        last_find: at,
        reference: None,
    });
    report.heuristics = Some(verdict);
}
