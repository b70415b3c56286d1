//! A MISP feed: one event holding a `domain` attribute per listed name (`manifest.json` names
//! it), as MISP's "feed" fetches them (`<uuid>.json` next to the manifest).
//!
//! MISP has no attribute for "every name below": zone rules are left out. Identifiers are
//! derived from the content, so the same store and time give the same feed.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::{json, Value};
use threatintel_model::Timestamp;

use crate::format::{
    json_field, json_str, listings, write_rfc3339, FormatCounts, FormatWriter, NO_ZONE_FORM,
};
use crate::select::Rule;
use crate::{stable_uuid, write_uuid};

const ORG: &str = "threatintel";

/// The event's UUID: the file is `<uuid>.json` next to `manifest.json`.
pub fn event_uuid(at: Timestamp) -> String {
    stable_uuid(&[b"misp-event", at.timestamp().to_string().as_bytes()]).to_string()
}

fn org() -> Value {
    json!({"name": ORG, "uuid": stable_uuid(&[b"misp-org", ORG.as_bytes()]).to_string()})
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
    /// One attribute's JSON, written to the output at once.
    buffer: Vec<u8>,
    /// A tag's or the comment's text, before it is escaped.
    text: String,
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
            text: String::new(),
        }
    }

    /// A `{"name":"threatintel:prefix=\"value\""}` tag (`first`: not after a comma).
    fn tag(&mut self, first: bool, prefix: &str, value: &str) -> io::Result<()> {
        let b = &mut self.buffer;
        b.extend_from_slice(if first { b"{\"name\":" } else { b",{\"name\":" });
        self.text.clear();
        write!(self.text, "threatintel:{prefix}=\"{value}\"").map_err(io::Error::other)?;
        json_str(b, &self.text)?;
        b.push(b'}');
        Ok(())
    }
}

impl FormatWriter for MispWriter {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut event = event_summary(self.at);
        event["uuid"] = event_uuid(self.at).into();
        let head = serde_json::to_string(&event)?;
        // The event object, left open for its attributes.
        write!(
            out,
            "{{\"Event\":{},\"Attribute\":[",
            head.strip_suffix('}').unwrap_or(&head)
        )
    }

    /// A `domain` attribute per listed name, its fields in the order a JSON object map writes
    /// them (sorted), written straight from the listing into one buffer.
    fn rule(
        &mut self,
        out: &mut dyn Write,
        rule: &Rule,
        counts: &mut FormatCounts,
    ) -> io::Result<()> {
        for listed in listings(rule) {
            if listed.is_zone() {
                counts.left_out(NO_ZONE_FORM);
                continue;
            }
            let (listing, name) = (listed.listing, listed.name.as_str());
            self.buffer.clear();
            self.buffer
                .extend_from_slice(if self.first { b"\n" } else { b",\n" });
            self.first = false;
            self.buffer.extend_from_slice(b"{\"Tag\":[");
            for (i, threat_type) in listing.threat_types.iter().enumerate() {
                self.tag(i == 0, "threat-type", threat_type)?;
            }
            for (i, family) in listing.families.iter().enumerate() {
                self.tag(i == 0 && listing.threat_types.is_empty(), "family", family)?;
            }
            self.text.clear();
            write!(
                self.text,
                "level {}, confidence {}, sources ",
                listing.level.code(),
                listing.confidence
            )
            .map_err(io::Error::other)?;
            for (i, source) in listing.sources.iter().enumerate() {
                if i > 0 {
                    self.text.push_str(", ");
                }
                self.text.push_str(source);
            }
            let b = &mut self.buffer;
            b.extend_from_slice(b"],\"category\":\"Network activity\"");
            json_field(b, "comment", &self.text)?;
            b.extend_from_slice(b",\"first_seen\":\"");
            write_rfc3339(b, listing.first_seen, false);
            b.extend_from_slice(b"\",\"last_seen\":\"");
            write_rfc3339(b, listing.last_seen, false);
            write!(
                b,
                "\",\"timestamp\":\"{}\",\"to_ids\":true,\"type\":\"domain\",\"uuid\":\"",
                listing.last_seen.timestamp()
            )?;
            let uuid = stable_uuid(&[
                b"misp-attribute",
                name.as_bytes(),
                self.timestamp.as_bytes(),
            ]);
            write_uuid(b, uuid);
            b.push(b'"');
            json_field(b, "value", name)?;
            b.push(b'}');
            out.write_all(b)?;
            counts.wrote(listed.kind);
        }
        Ok(())
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "\n]}}}}")
    }
}
