//! Every constant of the verdict model, with the defaults `docs/verdict.md` explains.

use std::collections::BTreeMap;

use chrono::FixedOffset;
use serde::{Deserialize, Serialize};
use threatintel_model::Reliability;

/// The `[verdict]` table of the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerdictConfig {
    /// Confidence (0-100) of a record whose feed gives none.
    pub default_confidence: f64,
    /// Weight (0-1) of each Admiralty reliability grade; a record's base score is
    /// `confidence × weight`.
    pub reliability_weights: ReliabilityWeights,
    /// Decay models by name; `network` is the fallback for threat types not mapped in
    /// `decay_by_threat_type`.
    pub decay: BTreeMap<String, DecayModel>,
    /// Threat type → decay model name.
    pub decay_by_threat_type: BTreeMap<String, String>,
    /// A record is active while its score is at least this.
    pub active_threshold: f64,
    /// Factor applied to the score of a record inherited from a parent zone.
    pub inherited_factor: f64,
    /// Combined support (0-1) at which a malicious verdict reaches Confidence 100.
    pub full_confidence_support: f64,
    /// Highest Confidence of a malicious verdict that overrides an allowlist.
    pub allowlist_conflict_cap: u8,
    pub allowlist_strength: AllowlistStrength,
    /// Window for `ip_cnt`: addresses last seen within this many days of the report time.
    pub ip_window_days: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReliabilityWeights {
    #[serde(rename = "A")]
    pub a: f64,
    #[serde(rename = "B")]
    pub b: f64,
    #[serde(rename = "C")]
    pub c: f64,
    #[serde(rename = "D")]
    pub d: f64,
    #[serde(rename = "E")]
    pub e: f64,
    #[serde(rename = "F")]
    pub f: f64,
}

impl ReliabilityWeights {
    pub fn weight(&self, r: Reliability) -> f64 {
        match r {
            Reliability::A => self.a,
            Reliability::B => self.b,
            Reliability::C => self.c,
            Reliability::D => self.d,
            Reliability::E => self.e,
            Reliability::F => self.f,
        }
    }
}

impl Default for ReliabilityWeights {
    fn default() -> Self {
        Self {
            a: 1.0,
            b: 0.9,
            c: 0.75,
            d: 0.5,
            e: 0.25,
            f: 0.6,
        }
    }
}

/// MISP's decay model: `score = base · (1 − (t / lifetime)^(1 / speed))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecayModel {
    pub lifetime_days: f64,
    pub decay_speed: f64,
}

/// Confidence of a "safe" (ThreatLevel 0) verdict by the kind of allowlist that gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowlistStrength {
    pub operator: u8,
    pub curated: u8,
    /// `[max_rank, confidence]` pairs, ascending by rank; ranks past the last get `top_sites_unranked`.
    pub top_sites: Vec<(u32, u8)>,
    pub top_sites_unranked: u8,
}

impl Default for AllowlistStrength {
    fn default() -> Self {
        Self {
            operator: 100,
            curated: 92,
            top_sites: vec![(1_000, 98), (10_000, 95), (100_000, 90), (1_000_000, 80)],
            top_sites_unranked: 70,
        }
    }
}

impl Default for VerdictConfig {
    fn default() -> Self {
        let decay = BTreeMap::from([
            (
                "network".to_owned(),
                DecayModel {
                    lifetime_days: 120.0,
                    decay_speed: 2.0,
                },
            ),
            (
                "phishing".to_owned(),
                DecayModel {
                    lifetime_days: 3.0,
                    decay_speed: 2.3,
                },
            ),
        ]);
        let decay_by_threat_type = BTreeMap::from([("Phishing".to_owned(), "phishing".to_owned())]);
        Self {
            default_confidence: 80.0,
            reliability_weights: ReliabilityWeights::default(),
            decay,
            decay_by_threat_type,
            active_threshold: 30.0,
            inherited_factor: 0.8,
            full_confidence_support: 0.9,
            allowlist_conflict_cap: 89,
            allowlist_strength: AllowlistStrength::default(),
            ip_window_days: 365,
        }
    }
}

/// The fallback decay model when a config names none.
const NETWORK: DecayModel = DecayModel {
    lifetime_days: 120.0,
    decay_speed: 2.0,
};

impl VerdictConfig {
    pub fn decay_for(&self, threat_type: &str) -> DecayModel {
        let model = self
            .decay_by_threat_type
            .get(threat_type)
            .map(String::as_str)
            .unwrap_or("network");
        self.decay
            .get(model)
            .or_else(|| self.decay.get("network"))
            .copied()
            .unwrap_or(NETWORK)
    }

    /// Checks what serde cannot: ranges and references between tables.
    pub fn validate(&self) -> Result<(), String> {
        let weights = &self.reliability_weights;
        for r in Reliability::ALL {
            let w = weights.weight(r);
            if !(0.0..=1.0).contains(&w) {
                return Err(format!(
                    "verdict.reliability_weights.{r} = {w} must be between 0 and 1"
                ));
            }
        }
        for (name, model) in &self.decay {
            if !(model.lifetime_days > 0.0 && model.decay_speed > 0.0) {
                return Err(format!(
                    "verdict.decay.{name}: lifetime_days and decay_speed must be positive"
                ));
            }
        }
        for (threat_type, model) in &self.decay_by_threat_type {
            if !self.decay.contains_key(model) {
                return Err(format!("verdict.decay_by_threat_type.{threat_type:?} names unknown decay model {model:?}"));
            }
        }
        if !(0.0..=100.0).contains(&self.default_confidence) {
            return Err("verdict.default_confidence must be between 0 and 100".into());
        }
        if !(0.0..=1.0).contains(&self.inherited_factor) {
            return Err("verdict.inherited_factor must be between 0 and 1".into());
        }
        if !(self.full_confidence_support > 0.0 && self.full_confidence_support <= 1.0) {
            return Err("verdict.full_confidence_support must be in (0, 1]".into());
        }
        if !(60..=100).contains(&self.allowlist_conflict_cap) {
            return Err("verdict.allowlist_conflict_cap must be between 60 and 100".into());
        }
        if self.ip_window_days <= 0 {
            return Err("verdict.ip_window_days must be positive".into());
        }
        if !self
            .allowlist_strength
            .top_sites
            .windows(2)
            .all(|w| w[0].0 < w[1].0)
        {
            return Err("verdict.allowlist_strength.top_sites must be ascending by rank".into());
        }
        Ok(())
    }
}

/// The `[report]` table: how reports are rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// Time zone of the `YYYY-MM-DD HH:MM:SS` times inside reports, as a UTC offset (`+08:00`).
    pub time_zone: String,
    /// Most subdomains and resolutions a native report lists.
    pub native_list_limit: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            time_zone: "+00:00".into(),
            native_list_limit: 100,
        }
    }
}

impl ReportConfig {
    pub fn offset(&self) -> Result<FixedOffset, String> {
        let tz = self.time_zone.trim();
        if tz.eq_ignore_ascii_case("utc") || tz == "Z" {
            return Ok(FixedOffset::east_opt(0).expect("zero offset"));
        }
        tz.parse::<FixedOffset>().map_err(|_| {
            format!("report.time_zone {tz:?} must be a UTC offset such as \"+08:00\" or \"UTC\"")
        })
    }
}
