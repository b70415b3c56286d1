//! A STIX 2.1 bundle of Indicator objects, one per listed name or zone, written object by
//! object (a million indicators never become one JSON tree).
//!
//! Pattern `[domain-name:value = 'name']` for a name, `[domain-name:value LIKE '%.name']` for
//! a zone rule; `confidence`, `valid_from` (first seen) and `valid_until` (when the decay model
//! says the verdict stops being active), `indicator_types`, `labels` (the threat types and
//! families), `kill_chain_phases` (the attack stages, under `mitre-attack`), and the custom
//! `x_threatintel_level` (the verdict's level, 1-3), which the STIX parser reads back as the
//! record's risk so that a re-imported bundle judges alike. Identifiers are
//! derived from the content, so the same store and time give the same bundle.

use std::io::{self, Write};

use serde_json::json;
use threatintel_model::Timestamp;

use crate::format::{listings, FormatCounts, FormatWriter};
use crate::select::Rule;
use crate::stable_uuid;

/// The identity every indicator is `created_by_ref`.
const PRODUCER: &str = "threatintel";

pub(crate) struct StixWriter {
    at: Timestamp,
    identity: String,
}

impl StixWriter {
    pub(crate) fn new(at: Timestamp) -> Self {
        Self {
            at,
            identity: format!("identity--{}", stable_uuid(&["stix-identity", PRODUCER])),
        }
    }
}

/// STIX timestamps: UTC with milliseconds.
fn stix_time(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl FormatWriter for StixWriter {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let at = stix_time(self.at);
        let bundle = stable_uuid(&["stix-bundle", &at]);
        let identity = json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": self.identity,
            "created": at,
            "modified": at,
            "name": PRODUCER,
            "identity_class": "system",
        });
        write!(
            out,
            "{{\"type\":\"bundle\",\"id\":\"bundle--{bundle}\",\"objects\":[\n{identity}"
        )
    }

    fn rule(
        &mut self,
        out: &mut dyn Write,
        rule: &Rule,
        counts: &mut FormatCounts,
    ) -> io::Result<()> {
        let at = stix_time(self.at);
        for (kind, pattern_name, listing) in listings(rule) {
            let pattern = match pattern_name.strip_prefix("*.") {
                Some(zone) => format!("[domain-name:value LIKE '%.{zone}']"),
                None => format!("[domain-name:value = '{pattern_name}']"),
            };
            let valid_from = stix_time(listing.first_seen);
            let mut valid_until = listing.valid_until;
            if valid_until <= listing.first_seen {
                valid_until = listing.first_seen + chrono::Duration::seconds(1);
            }
            let labels: Vec<&String> = listing
                .threat_types
                .iter()
                .chain(&listing.families)
                .collect();
            let phases: Vec<_> = listing
                .stages
                .iter()
                .map(|stage| json!({"kill_chain_name": "mitre-attack", "phase_name": stage}))
                .collect();
            let mut indicator = json!({
                "type": "indicator",
                "spec_version": "2.1",
                "id": format!("indicator--{}", stable_uuid(&["stix-indicator", &pattern, &at])),
                "created_by_ref": self.identity,
                "created": at,
                "modified": at,
                "name": pattern_name,
                "description": format!("threatintel verdict: level {}, sources {}", listing.level.code(), listing.sources.join(", ")),
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "pattern_version": "2.1",
                "valid_from": valid_from,
                "valid_until": stix_time(valid_until),
                "confidence": listing.confidence,
                "x_threatintel_level": listing.level.code(),
                "labels": labels,
            });
            if !phases.is_empty() {
                indicator["kill_chain_phases"] = phases.into();
            }
            write!(out, ",\n{indicator}")?;
            counts.wrote(kind);
        }
        Ok(())
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "\n]}}")
    }
}
