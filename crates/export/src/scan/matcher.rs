//! The in-memory matcher a retro-hunt streams log lines through: every name with indicator
//! records (zone listings included) and the allowlist entries that can bear on them, read
//! from the store once, with their strings interned so that a million indicators stay small.
//! A line's name is looked up with its ancestors (a miss, most lines, is a few hash probes);
//! a name that meets records is judged as the report would judge it, at the line's time.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use threatintel_model::{
    AllowMatch, AllowlistEntry, AllowlistKind, DomainName, IndicatorRecord, Reliability, RiskLevel,
    Timestamp,
};
use threatintel_report::verdict::{EvidenceIndex, Verdict};
use threatintel_report::VerdictConfig;
use threatintel_store::{AllowlistHit, IndicatorHit, Store, StoreError};

/// An indicator record without its name, its strings interned.
#[derive(Debug, Clone)]
struct Indicator {
    zone: bool,
    source: u32,
    threat_type: u32,
    label: Option<u32>,
    risk: RiskLevel,
    scenario: Option<u32>,
    attack_stage: Option<u32>,
    first_seen: Timestamp,
    last_seen: Timestamp,
    confidence: Option<u8>,
    via_url: bool,
    reliability: Reliability,
}

#[derive(Debug, Clone)]
struct Allow {
    list: u32,
    matching: AllowMatch,
    rank: Option<u32>,
    kind: AllowlistKind,
}

#[derive(Debug, Default)]
struct Evidence {
    indicators: Vec<Indicator>,
    allowlist: Vec<Allow>,
}

#[derive(Default)]
struct Strings {
    index: HashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
}

impl Strings {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(s.into());
        self.index.insert(s.into(), i);
        i
    }

    fn get(&self, i: u32) -> String {
        self.values[i as usize].to_string()
    }
}

/// The store's indicators and the allowlist entries near them, ready for lookups.
pub struct Matcher {
    names: HashMap<Box<str>, Evidence>,
    strings: Strings,
    config: VerdictConfig,
}

impl Matcher {
    /// Reads every indicator record, then the allowlist entries in the registrable domains
    /// (or below the zone listings) of those records; other entries cannot change a verdict
    /// on a name that has records.
    pub fn build(store: &dyn Store, config: VerdictConfig) -> Result<Self, StoreError> {
        let mut matcher = Self {
            names: HashMap::new(),
            strings: Strings::default(),
            config,
        };
        let reader = store.reader()?;
        let mut domains: HashSet<Box<str>> = HashSet::new();
        reader.each_indicator(&mut |hit| {
            matcher.add_indicator(&hit);
            let name = &hit.record.name;
            let domain = name.registrable().unwrap_or_else(|| name.clone());
            if !domains.contains(domain.as_str()) {
                domains.insert(domain.as_str().into());
            }
            ControlFlow::Continue(())
        })?;
        reader.each_allowlist_entry(&mut |hit| {
            let name = &hit.entry.name;
            let near = name
                .registrable()
                .is_some_and(|d| domains.contains(d.as_str()))
                || name.ancestors().any(|a| {
                    matcher
                        .names
                        .get(a.as_str())
                        .is_some_and(|e| e.indicators.iter().any(|i| i.zone))
                });
            if near {
                matcher.add_allow(&hit);
            }
            ControlFlow::Continue(())
        })?;
        matcher.names.shrink_to_fit();
        Ok(matcher)
    }

    fn add_indicator(&mut self, hit: &IndicatorHit) {
        let r = &hit.record;
        let indicator = Indicator {
            zone: r.zone,
            source: self.strings.intern(&r.source),
            threat_type: self.strings.intern(&r.threat_type),
            label: r.label.as_deref().map(|s| self.strings.intern(s)),
            risk: r.risk,
            scenario: r.scenario.as_deref().map(|s| self.strings.intern(s)),
            attack_stage: r.attack_stage.as_deref().map(|s| self.strings.intern(s)),
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            confidence: r.confidence,
            via_url: r.via_url,
            reliability: hit.reliability,
        };
        self.evidence_of(r.name.as_str()).indicators.push(indicator);
    }

    fn add_allow(&mut self, hit: &AllowlistHit) {
        let allow = Allow {
            list: self.strings.intern(&hit.entry.list),
            matching: hit.entry.matching,
            rank: hit.entry.rank,
            kind: hit.kind,
        };
        self.evidence_of(hit.entry.name.as_str())
            .allowlist
            .push(allow);
    }

    fn evidence_of(&mut self, name: &str) -> &mut Evidence {
        if !self.names.contains_key(name) {
            self.names.insert(name.into(), Evidence::default());
        }
        self.names.get_mut(name).expect("inserted")
    }

    pub fn config(&self) -> &VerdictConfig {
        &self.config
    }

    /// Names held (with indicator records or allowlist entries).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether `name` (normalised: lower case, no trailing dot) or one of its ancestors has
    /// indicator records: the only names worth judging.
    pub fn may_match(&self, name: &str) -> bool {
        let has = |n: &str| self.names.get(n).is_some_and(|e| !e.indicators.is_empty());
        has(name) || name.match_indices('.').any(|(i, _)| has(&name[i + 1..]))
    }

    /// The verdict on `name` at `at`, from its records and its ancestors'.
    pub fn judge(&self, name: &DomainName, at: Timestamp) -> Verdict {
        let text = name.as_str();
        let mut indicators = Vec::new();
        let mut allowlist = Vec::new();
        let own = std::iter::once(text);
        let above = text.match_indices('.').map(|(i, _)| &text[i + 1..]);
        for n in own.chain(above) {
            let Some(evidence) = self.names.get(n) else {
                continue;
            };
            let Ok(owner) = DomainName::parse(n) else {
                continue;
            };
            indicators.extend(
                evidence
                    .indicators
                    .iter()
                    .map(|i| self.indicator_hit(&owner, i)),
            );
            allowlist.extend(
                evidence
                    .allowlist
                    .iter()
                    .map(|a| self.allowlist_hit(&owner, a)),
            );
        }
        let index = EvidenceIndex::new(&indicators, &allowlist);
        index.judge(&self.config, name, name.registrable().as_ref(), at)
    }

    fn indicator_hit(&self, name: &DomainName, i: &Indicator) -> IndicatorHit {
        let s = |i: u32| self.strings.get(i);
        IndicatorHit {
            record: IndicatorRecord {
                name: name.clone(),
                zone: i.zone,
                source: s(i.source),
                threat_type: s(i.threat_type),
                label: i.label.map(s),
                risk: i.risk,
                scenario: i.scenario.map(s),
                attack_stage: i.attack_stage.map(s),
                first_seen: i.first_seen,
                last_seen: i.last_seen,
                confidence: i.confidence,
                reference: None,
                via_url: i.via_url,
            },
            reliability: i.reliability,
            sightings: 1,
        }
    }

    fn allowlist_hit(&self, name: &DomainName, a: &Allow) -> AllowlistHit {
        AllowlistHit {
            entry: AllowlistEntry {
                name: name.clone(),
                matching: a.matching,
                list: self.strings.get(a.list),
                rank: a.rank,
            },
            kind: a.kind,
        }
    }
}
