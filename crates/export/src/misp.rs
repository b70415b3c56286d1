//! A MISP feed: one event holding a `domain` attribute per listed name (`manifest.json` names
//! it), as MISP's "feed" fetches them (`<uuid>.json` next to the manifest).
//!
//! MISP has no attribute for "every name below": zone rules are left out. Identifiers are
//! derived from the content, so the same store and time give the same feed.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{json, Value};
use threatintel_model::Timestamp;

use crate::format::{listings, rfc3339, FormatCounts, FormatWriter, NO_ZONE_FORM};
use crate::select::Rule;
use crate::stable_uuid;

const ORG: &str = "threatintel";

/// The event's UUID: the file is `<uuid>.json` next to `manifest.json`.
pub fn event_uuid(at: Timestamp) -> String {
    stable_uuid(&["misp-event", &at.timestamp().to_string()])
}

fn org() -> Value {
    json!({"name": ORG, "uuid": stable_uuid(&["misp-org", ORG])})
}

fn event_summary(at: Timestamp) -> Value {
    json!({
        "info": format!("threatintel export {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        "date": at.format("%Y-%m-%d").to_string(),
        "timestamp": at.timestamp().to_string(),
        "publish_timestamp": at.timestamp().to_string(),
        "published": true,
        "analysis": "2",
        "threat_level_id": "1",
        "Orgc": org(),
        "Tag": [],
    })
}

/// `manifest.json`: the feed's one event.
pub fn manifest(at: Timestamp) -> String {
    let mut manifest = serde_json::Map::new();
    manifest.insert(event_uuid(at), event_summary(at));
    format!("{}\n", Value::Object(manifest))
}

pub(crate) struct MispWriter {
    /// One object's JSON, written to the output at once.
    buffer: Vec<u8>,
    at: Timestamp,
    /// The export time in Unix seconds, as attribute UUIDs are derived from it.
    timestamp: String,
    first: bool,
}

impl MispWriter {
    pub(crate) fn new(at: Timestamp) -> Self {
        Self {
            at,
            timestamp: at.timestamp().to_string(),
            first: true,
            buffer: Vec::new(),
        }
    }
}

/// A `domain` attribute, its fields in the order a JSON object map writes them (sorted), written
/// straight from the listing.
#[derive(Serialize)]
struct Attribute<'a> {
    #[serde(rename = "Tag")]
    tags: Vec<Tag>,
    category: &'static str,
    comment: String,
    first_seen: String,
    last_seen: String,
    timestamp: String,
    to_ids: bool,
    #[serde(rename = "type")]
    kind: &'static str,
    uuid: String,
    value: &'a str,
}

#[derive(Serialize)]
struct Tag {
    name: String,
}

impl FormatWriter for MispWriter {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut event = event_summary(self.at);
        event["uuid"] = event_uuid(self.at).into();
        let head = serde_json::to_string(&event).expect("a JSON object");
        // The event object, left open for its attributes.
        write!(
            out,
            "{{\"Event\":{},\"Attribute\":[",
            head.strip_suffix('}').expect("an object ends with }")
        )
    }

    fn rule(
        &mut self,
        out: &mut dyn Write,
        rule: &Rule,
        counts: &mut FormatCounts,
    ) -> io::Result<()> {
        for (kind, name, listing) in listings(rule) {
            if kind != "name" {
                counts.left_out(NO_ZONE_FORM);
                continue;
            }
            let tag = |prefix: &str, value: &str| Tag {
                name: format!("threatintel:{prefix}=\"{value}\""),
            };
            let attribute = Attribute {
                tags: listing
                    .threat_types
                    .iter()
                    .map(|t| tag("threat-type", t))
                    .chain(listing.families.iter().map(|f| tag("family", f)))
                    .collect(),
                category: "Network activity",
                comment: format!(
                    "level {}, confidence {}, sources {}",
                    listing.level.code(),
                    listing.confidence,
                    listing.sources.join(", ")
                ),
                first_seen: rfc3339(listing.first_seen),
                last_seen: rfc3339(listing.last_seen),
                timestamp: listing.last_seen.timestamp().to_string(),
                to_ids: true,
                kind: "domain",
                uuid: stable_uuid(&["misp-attribute", &name, &self.timestamp]),
                value: &name,
            };
            out.write_all(if self.first { b"\n" } else { b",\n" })?;
            self.first = false;
            self.buffer.clear();
            serde_json::to_writer(&mut self.buffer, &attribute)?;
            out.write_all(&self.buffer)?;
            counts.wrote(kind);
        }
        Ok(())
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "\n]}}}}")
    }
}
