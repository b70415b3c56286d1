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

use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::json;
use threatintel_model::Timestamp;

use crate::format::{listings, FormatCounts, FormatWriter};
use crate::select::Rule;
use crate::stable_uuid;

/// The identity every indicator is `created_by_ref`.
const PRODUCER: &str = "threatintel";

pub(crate) struct StixWriter {
    /// One object's JSON, written to the output at once.
    buffer: Vec<u8>,
    /// The export time, as STIX writes it.
    at: String,
    identity: String,
}

impl StixWriter {
    pub(crate) fn new(at: Timestamp) -> Self {
        Self {
            at: stix_time(at),
            identity: format!("identity--{}", stable_uuid(&["stix-identity", PRODUCER])),
            buffer: Vec::new(),
        }
    }
}

/// STIX timestamps: UTC with milliseconds.
fn stix_time(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An Indicator object, its fields in the order a JSON object map writes them (sorted), written
/// straight from the listing.
#[derive(Serialize)]
struct Indicator<'a> {
    confidence: u8,
    created: &'a str,
    created_by_ref: &'a str,
    description: String,
    id: String,
    indicator_types: [&'static str; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kill_chain_phases: Vec<Phase<'a>>,
    labels: Vec<&'a str>,
    modified: &'a str,
    name: &'a str,
    pattern: &'a str,
    pattern_type: &'static str,
    pattern_version: &'static str,
    spec_version: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    valid_from: String,
    valid_until: String,
    x_threatintel_level: i8,
}

#[derive(Serialize)]
struct Phase<'a> {
    kill_chain_name: &'static str,
    phase_name: &'a str,
}

impl FormatWriter for StixWriter {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let at = &self.at;
        let bundle = stable_uuid(&["stix-bundle", at]);
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
        for (kind, pattern_name, listing) in listings(rule) {
            let pattern = match pattern_name.strip_prefix("*.") {
                Some(zone) => format!("[domain-name:value LIKE '%.{zone}']"),
                None => format!("[domain-name:value = '{pattern_name}']"),
            };
            let mut valid_until = listing.valid_until;
            if valid_until <= listing.first_seen {
                valid_until = listing.first_seen + chrono::Duration::seconds(1);
            }
            let indicator = Indicator {
                confidence: listing.confidence,
                created: &self.at,
                created_by_ref: &self.identity,
                description: format!(
                    "threatintel verdict: level {}, sources {}",
                    listing.level.code(),
                    listing.sources.join(", ")
                ),
                id: format!(
                    "indicator--{}",
                    stable_uuid(&["stix-indicator", &pattern, &self.at])
                ),
                indicator_types: ["malicious-activity"],
                kill_chain_phases: listing
                    .stages
                    .iter()
                    .map(|stage| Phase {
                        kill_chain_name: "mitre-attack",
                        phase_name: stage,
                    })
                    .collect(),
                labels: listing
                    .threat_types
                    .iter()
                    .chain(&listing.families)
                    .map(String::as_str)
                    .collect(),
                modified: &self.at,
                name: &pattern_name,
                pattern: &pattern,
                pattern_type: "stix",
                pattern_version: "2.1",
                spec_version: "2.1",
                kind: "indicator",
                valid_from: stix_time(listing.first_seen),
                valid_until: stix_time(valid_until),
                x_threatintel_level: listing.level.code(),
            };
            out.write_all(b",\n")?;
            self.buffer.clear();
            serde_json::to_writer(&mut self.buffer, &indicator)?;
            out.write_all(&self.buffer)?;
            counts.wrote(kind);
        }
        Ok(())
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "\n]}}")
    }
}
