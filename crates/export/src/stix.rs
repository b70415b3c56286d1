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

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::SecondsFormat;
use serde_json::json;
use threatintel_model::Timestamp;

use crate::format::{json_field, json_str, listings, write_rfc3339, FormatCounts, FormatWriter};
use crate::select::Rule;
use crate::{stable_uuid, write_uuid};

/// The identity every indicator is `created_by_ref`.
const PRODUCER: &str = "threatintel";

pub(crate) struct StixWriter {
    /// One object's JSON, written to the output at once.
    buffer: Vec<u8>,
    /// The object's pattern and description, before they are escaped.
    pattern: String,
    description: String,
    /// The export time, as STIX writes it.
    at: String,
    identity: String,
    /// The fields every indicator has alike, as JSON (their text needs no escaping).
    created: String,
    modified: String,
}

impl StixWriter {
    pub(crate) fn new(at: Timestamp) -> Self {
        let at = stix_time(at);
        let identity = format!(
            "identity--{}",
            stable_uuid(&[b"stix-identity", PRODUCER.as_bytes()])
        );
        Self {
            created: format!(",\"created\":\"{at}\",\"created_by_ref\":\"{identity}\""),
            modified: format!(",\"modified\":\"{at}\""),
            at,
            identity,
            buffer: Vec::new(),
            pattern: String::new(),
            description: String::new(),
        }
    }
}

/// STIX timestamps: UTC with milliseconds.
fn stix_time(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl FormatWriter for StixWriter {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let at = &self.at;
        let bundle = stable_uuid(&[b"stix-bundle", at.as_bytes()]);
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

    /// An Indicator object per listing, its fields in the order a JSON object map writes them
    /// (sorted), written straight from the listing into one buffer.
    fn rule(
        &mut self,
        out: &mut dyn Write,
        rule: &Rule,
        counts: &mut FormatCounts,
    ) -> io::Result<()> {
        for listed in listings(rule) {
            let listing = listed.listing;
            let name = listed.name.as_str();
            self.pattern.clear();
            self.pattern.push_str(if listed.is_zone() {
                "[domain-name:value LIKE '%."
            } else {
                "[domain-name:value = '"
            });
            self.pattern.push_str(name);
            self.pattern.push_str("']");
            let pattern = &self.pattern;
            let mut valid_until = listing.valid_until;
            if valid_until <= listing.first_seen {
                valid_until = listing.first_seen + chrono::Duration::seconds(1);
            }
            self.description.clear();
            write!(
                self.description,
                "threatintel verdict: level {}, sources ",
                listing.level.code()
            )
            .map_err(io::Error::other)?;
            for (i, source) in listing.sources.iter().enumerate() {
                if i > 0 {
                    self.description.push_str(", ");
                }
                self.description.push_str(source);
            }
            let b = &mut self.buffer;
            b.clear();
            b.extend_from_slice(b",\n{\"confidence\":");
            write!(b, "{}", listing.confidence)?;
            b.extend_from_slice(self.created.as_bytes());
            json_field(b, "description", &self.description)?;
            b.extend_from_slice(b",\"id\":\"indicator--");
            let id = stable_uuid(&[b"stix-indicator", pattern.as_bytes(), self.at.as_bytes()]);
            write_uuid(b, id);
            b.extend_from_slice(b"\",\"indicator_types\":[\"malicious-activity\"]");
            if !listing.stages.is_empty() {
                b.extend_from_slice(b",\"kill_chain_phases\":[");
                for (i, stage) in listing.stages.iter().enumerate() {
                    if i > 0 {
                        b.push(b',');
                    }
                    b.extend_from_slice(b"{\"kill_chain_name\":\"mitre-attack\",\"phase_name\":");
                    json_str(b, stage)?;
                    b.push(b'}');
                }
                b.push(b']');
            }
            b.extend_from_slice(b",\"labels\":[");
            for (i, label) in listing
                .threat_types
                .iter()
                .chain(&listing.families)
                .enumerate()
            {
                if i > 0 {
                    b.push(b',');
                }
                json_str(b, label)?;
            }
            b.push(b']');
            b.extend_from_slice(self.modified.as_bytes());
            b.extend_from_slice(b",\"name\":\"");
            listed.write_pattern(b);
            b.push(b'"');
            json_field(b, "pattern", pattern)?;
            b.extend_from_slice(
                b",\"pattern_type\":\"stix\",\"pattern_version\":\"2.1\",\"spec_version\":\"2.1\",\"type\":\"indicator\",\"valid_from\":\"",
            );
            write_rfc3339(b, listing.first_seen, true);
            b.extend_from_slice(b"\",\"valid_until\":\"");
            write_rfc3339(b, valid_until, true);
            b.extend_from_slice(b"\",\"x_threatintel_level\":");
            write!(b, "{}", listing.level.code())?;
            b.push(b'}');
            out.write_all(b)?;
            counts.wrote(listed.kind);
        }
        Ok(())
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "\n]}}")
    }
}
