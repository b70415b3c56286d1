//! The export formats: how each consumer writes an exact rule, a zone rule and an exception.
//!
//! Consumers differ in what a rule can say. RPZ has exact names and `*.name` separately;
//! dnsmasq and Unbound's `local-zone` only have subtree rules (a name and everything below
//! it); Adblock has both an exact (`|name^`) and a subtree (`||name^`) form; hosts files and
//! Suricata datasets only exact names. A rule the format cannot say is skipped and counted;
//! a rule an ancestor's rule already covers is left out.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use base64::Engine;
use chrono::{Datelike, SecondsFormat, Timelike};
use serde::Serialize;
use threatintel_model::{DomainName, Timestamp};

use crate::select::{Listing, Rule};
use crate::{misp, stix};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Rpz,
    Hosts,
    Adblock,
    Dnsmasq,
    Unbound,
    /// The Suricata dataset (one base64 name a line); [`suricata_rule`] loads it.
    Suricata,
    Csv,
    Stix,
    /// The MISP feed's event; [`misp::manifest`] is its `manifest.json`.
    Misp,
}

impl Format {
    pub const ALL: [Format; 9] = [
        Self::Rpz,
        Self::Hosts,
        Self::Adblock,
        Self::Dnsmasq,
        Self::Unbound,
        Self::Suricata,
        Self::Csv,
        Self::Stix,
        Self::Misp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Rpz => "rpz",
            Self::Hosts => "hosts",
            Self::Adblock => "adblock",
            Self::Dnsmasq => "dnsmasq",
            Self::Unbound => "unbound",
            Self::Suricata => "suricata",
            Self::Csv => "csv",
            Self::Stix => "stix",
            Self::Misp => "misp",
        }
    }

    /// The HTTP media type of the format's output.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Stix | Self::Misp => "application/json",
            _ => "text/plain; charset=utf-8",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format {0:?}; expected one of rpz, hosts, adblock (or adguard), dnsmasq, unbound, suricata, csv, stix, misp")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "adguard" {
            return Ok(Self::Adblock);
        }
        Self::ALL
            .into_iter()
            .find(|f| f.name() == lower)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// What an RPZ rule does to a listed name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpzAction {
    /// `CNAME .`: the name does not exist.
    Nxdomain,
    /// `CNAME *.`: the name exists with no data.
    Nodata,
    /// `CNAME rpz-drop.`: no answer at all.
    Drop,
    /// `CNAME <name>.`: answer as the walled garden's name.
    WalledGarden(DomainName),
}

impl RpzAction {
    fn target(&self) -> String {
        match self {
            Self::Nxdomain => ".".into(),
            Self::Nodata => "*.".into(),
            Self::Drop => "rpz-drop.".into(),
            Self::WalledGarden(name) => format!("{name}."),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown RPZ action {0:?}; expected nxdomain, nodata, drop or a walled-garden host name")]
pub struct UnknownAction(pub String);

impl FromStr for RpzAction {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nxdomain" => Ok(Self::Nxdomain),
            "nodata" => Ok(Self::Nodata),
            "drop" => Ok(Self::Drop),
            other => DomainName::parse(other)
                .map(Self::WalledGarden)
                .map_err(|_| UnknownAction(s.to_owned())),
        }
    }
}

/// Options that shape the output beyond the selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// The time of the export (the RPZ serial, the header comments, STIX/MISP timestamps).
    pub at: Timestamp,
    pub rpz_action: RpzAction,
    /// The Suricata dataset's name (and file name in the rule's `load`).
    pub dataset: String,
}

impl FormatOptions {
    pub fn new(at: Timestamp) -> Self {
        Self {
            at,
            rpz_action: RpzAction::Nxdomain,
            dataset: "threatintel-domains".into(),
        }
    }
}

/// Rules written and rules left out, of one format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FormatCounts {
    /// Lines (or objects) written, by kind of rule.
    pub rules: BTreeMap<&'static str, u64>,
    /// Rules not written, by reason.
    pub left_out: BTreeMap<&'static str, u64>,
}

impl FormatCounts {
    pub(crate) fn wrote(&mut self, kind: &'static str) {
        *self.rules.entry(kind).or_default() += 1;
    }

    pub(crate) fn left_out(&mut self, reason: &'static str) {
        *self.left_out.entry(reason).or_default() += 1;
    }
}

pub(crate) const NO_ZONE_FORM: &str = "zone rule the format cannot express";
const NO_PASS_FORM: &str = "exception the format cannot express";
const COVERED: &str = "covered by an ancestor's rule";

/// Writes one format: a header, each rule in order, a footer.
pub(crate) trait FormatWriter {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()>;
    fn rule(
        &mut self,
        out: &mut dyn Write,
        rule: &Rule,
        counts: &mut FormatCounts,
    ) -> io::Result<()>;
    fn footer(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) fn writer(format: Format, options: &FormatOptions) -> Box<dyn FormatWriter> {
    match format {
        Format::Rpz => Box::new(Rpz {
            at: options.at,
            target: options.rpz_action.target(),
        }),
        Format::Csv => Box::<Csv>::default(),
        Format::Stix => Box::new(stix::StixWriter::new(options.at)),
        Format::Misp => Box::new(misp::MispWriter::new(options.at)),
        Format::Hosts | Format::Adblock | Format::Dnsmasq | Format::Unbound | Format::Suricata => {
            Box::new(Lines {
                format,
                at: options.at,
            })
        }
    }
}

/// `# ` comment lines naming the export and its time.
fn comment_header(out: &mut dyn Write, marker: &str, at: Timestamp) -> io::Result<()> {
    writeln!(
        out,
        "{marker} threatintel export: verdicts as of {}",
        at.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// A response policy zone (BIND, Unbound, PowerDNS, Knot).
struct Rpz {
    at: Timestamp,
    /// What a listed name is answered with (`.`, `*.`, `rpz-drop.`, a walled garden).
    target: String,
}

impl FormatWriter for Rpz {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        comment_header(out, ";", self.at)?;
        // The serial is the export time, so a later export always has a higher one.
        let serial = self.at.timestamp().clamp(1, u32::MAX.into());
        writeln!(out, "$TTL 300")?;
        writeln!(
            out,
            "@ IN SOA localhost. hostmaster.localhost. {serial} 3600 600 604800 300"
        )?;
        writeln!(out, "@ IN NS localhost.")
    }

    fn rule(
        &mut self,
        out: &mut dyn Write,
        rule: &Rule,
        counts: &mut FormatCounts,
    ) -> io::Result<()> {
        let target = &self.target;
        match rule {
            Rule::Block {
                covered_by_zone_rule: true,
                ..
            } => counts.left_out(COVERED),
            Rule::Block {
                name, exact, below, ..
            } => {
                if exact.is_some() {
                    writeln!(out, "{name} CNAME {target}")?;
                    counts.wrote("name");
                }
                if below.is_some() {
                    writeln!(out, "*.{name} CNAME {target}")?;
                    counts.wrote("zone");
                }
            }
            Rule::Pass { name, below } => {
                writeln!(out, "{name} CNAME rpz-passthru.")?;
                counts.wrote("pass");
                if *below {
                    writeln!(out, "*.{name} CNAME rpz-passthru.")?;
                    counts.wrote("pass");
                }
            }
        }
        Ok(())
    }
}

/// The one-line-per-rule blocklist formats.
struct Lines {
    format: Format,
    at: Timestamp,
}

impl FormatWriter for Lines {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match self.format {
            Format::Adblock => {
                writeln!(out, "[Adblock Plus 2.0]")?;
                writeln!(out, "! Title: threatintel")?;
                comment_header(out, "!", self.at)
            }
            // A dataset has no comments: every line is a name.
            Format::Suricata => Ok(()),
            _ => comment_header(out, "#", self.at),
        }
    }

    fn rule(
        &mut self,
        out: &mut dyn Write,
        rule: &Rule,
        counts: &mut FormatCounts,
    ) -> io::Result<()> {
        let (name, exact, below) = match rule {
            Rule::Pass { name, below } => return self.pass(out, name, *below, counts),
            Rule::Block {
                name,
                exact,
                below,
                covered_by_subtree_rule,
                ..
            } => {
                let subtree_format = matches!(
                    self.format,
                    Format::Adblock | Format::Dnsmasq | Format::Unbound
                );
                if subtree_format && *covered_by_subtree_rule {
                    counts.left_out(COVERED);
                    return Ok(());
                }
                (name, exact.is_some(), below.is_some())
            }
        };
        if !exact {
            counts.left_out(NO_ZONE_FORM);
            return Ok(());
        }
        match self.format {
            Format::Hosts => writeln!(out, "0.0.0.0 {name}")?,
            Format::Suricata => writeln!(
                out,
                "{}",
                base64::engine::general_purpose::STANDARD.encode(name.as_str())
            )?,
            Format::Adblock if below => writeln!(out, "||{name}^")?,
            Format::Adblock => writeln!(out, "|{name}^")?,
            // Subtree rules only: the names below are blocked too.
            Format::Dnsmasq => writeln!(out, "address=/{name}/")?,
            Format::Unbound => writeln!(out, "local-zone: \"{name}.\" always_nxdomain")?,
            _ => unreachable!("not a line format"),
        }
        counts.wrote(if below { "name and zone" } else { "name" });
        if below && matches!(self.format, Format::Hosts | Format::Suricata) {
            counts.left_out(NO_ZONE_FORM);
        }
        Ok(())
    }
}

impl Lines {
    fn pass(
        &self,
        out: &mut dyn Write,
        name: &DomainName,
        below: bool,
        counts: &mut FormatCounts,
    ) -> io::Result<()> {
        match self.format {
            Format::Adblock if below => writeln!(out, "@@||{name}^")?,
            Format::Adblock => writeln!(out, "@@|{name}^")?,
            Format::Dnsmasq => writeln!(out, "server=/{name}/#")?,
            Format::Unbound => writeln!(out, "local-zone: \"{name}.\" always_transparent")?,
            _ => {
                counts.left_out(NO_PASS_FORM);
                return Ok(());
            }
        }
        counts.wrote("pass");
        Ok(())
    }
}

/// The signature id of the rule that loads the dataset, in the local range (1000000-1999999).
pub const SURICATA_SID: u32 = 1_900_001;

/// The rule that loads the Suricata dataset written under `dataset`; `sid` should be in the
/// local range (1000000-1999999).
pub fn suricata_rule(dataset: &str, sid: u32) -> String {
    format!(
        "alert dns $HOME_NET any -> any any (msg:\"THREATINTEL DNS Query for a listed domain\"; \
         dns.query; content:\".\"; dataset:isset,{dataset},type string,load {dataset}.lst; \
         target:src_ip; classtype:trojan-activity; \
         metadata:attack_target Client_Endpoint, signature_severity Major, performance_impact Low, deployment Perimeter; \
         sid:{sid}; rev:1;)\n"
    )
}

/// One row per listed name or zone, with its verdict.
#[derive(Default)]
struct Csv {
    /// One row, written to the output at once.
    row: Vec<u8>,
    /// The row's pattern before quoting.
    pattern: Vec<u8>,
}

impl FormatWriter for Csv {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "name,rule,level,confidence,threat_types,families,sources,attack_stages,first_seen,last_seen,valid_until"
        )
    }

    fn rule(
        &mut self,
        out: &mut dyn Write,
        rule: &Rule,
        counts: &mut FormatCounts,
    ) -> io::Result<()> {
        for listed in listings(rule) {
            let (row, listing) = (&mut self.row, listed.listing);
            row.clear();
            self.pattern.clear();
            listed.write_pattern(&mut self.pattern);
            write_csv_field(row, &self.pattern);
            write!(
                row,
                ",{},{},{},",
                listed.kind,
                listing.level.code(),
                listing.confidence
            )?;
            for values in [
                &listing.threat_types,
                &listing.families,
                &listing.sources,
                &listing.stages,
            ] {
                write_csv_list(row, values);
                row.push(b',');
            }
            write_rfc3339(row, listing.first_seen, false);
            row.push(b',');
            write_rfc3339(row, listing.last_seen, false);
            row.push(b',');
            write_rfc3339(row, listing.valid_until, false);
            row.push(b'\n');
            out.write_all(row)?;
            counts.wrote(listed.kind);
        }
        Ok(())
    }
}

/// One listing of a block rule: `name` for the name itself, `zone` for the names below it
/// (`*.name`).
pub(crate) struct Listed<'r> {
    pub kind: &'static str,
    pub name: &'r DomainName,
    pub listing: &'r Listing,
}

impl Listed<'_> {
    pub fn is_zone(&self) -> bool {
        self.kind == "zone"
    }

    /// The pattern: the name, or `*.name` for a zone.
    pub fn write_pattern(&self, out: &mut Vec<u8>) {
        if self.is_zone() {
            out.extend_from_slice(b"*.");
        }
        out.extend_from_slice(self.name.as_str().as_bytes());
    }
}

/// The listings of a block rule, the name's before its zone's.
pub(crate) fn listings(rule: &Rule) -> impl Iterator<Item = Listed<'_>> {
    let (exact, below) = match rule {
        Rule::Block {
            name, exact, below, ..
        } => (
            exact.as_ref().map(|listing| Listed {
                kind: "name",
                name,
                listing,
            }),
            below.as_ref().map(|listing| Listed {
                kind: "zone",
                name,
                listing,
            }),
        ),
        Rule::Pass { .. } => (None, None),
    };
    exact.into_iter().chain(below)
}

/// Appends `t` in RFC 3339, UTC, with `.sss` milliseconds when `millis`
/// (`2024-05-21T00:00:00Z`): what chrono's `to_rfc3339_opts(Secs or Millis, true)` writes,
/// without its format machinery or a `String` per time.
pub(crate) fn write_rfc3339(out: &mut Vec<u8>, t: Timestamp, millis: bool) {
    let nanos = t.nanosecond();
    if !(0..=9999).contains(&t.year()) || nanos >= 1_000_000_000 {
        // A signed year or a leap second: chrono's own writer.
        let format = if millis {
            SecondsFormat::Millis
        } else {
            SecondsFormat::Secs
        };
        out.extend_from_slice(t.to_rfc3339_opts(format, true).as_bytes());
        return;
    }
    let digits = |out: &mut Vec<u8>, value: u32, width: u32| {
        for place in (0..width).rev() {
            out.push(b'0' + (value / 10u32.pow(place) % 10) as u8);
        }
    };
    digits(out, t.year() as u32, 4);
    out.push(b'-');
    digits(out, t.month(), 2);
    out.push(b'-');
    digits(out, t.day(), 2);
    out.push(b'T');
    digits(out, t.hour(), 2);
    out.push(b':');
    digits(out, t.minute(), 2);
    out.push(b':');
    digits(out, t.second(), 2);
    if millis {
        out.push(b'.');
        digits(out, nanos / 1_000_000, 3);
    }
    out.push(b'Z');
}

/// Appends `value` as a JSON string (serde_json's escaping, which only escapes control
/// characters, `"` and `\`: a string without them, most, is copied as it is).
pub(crate) fn json_str(out: &mut Vec<u8>, value: &str) -> io::Result<()> {
    if value.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return Ok(serde_json::to_writer(out, value)?);
    }
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Appends `,"key":` and `value` as a JSON string.
pub(crate) fn json_field(out: &mut Vec<u8>, key: &str, value: &str) -> io::Result<()> {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    json_str(out, value)
}

/// Whether a CSV field must be quoted.
fn needs_quotes(value: &[u8]) -> bool {
    value
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
}

fn write_csv_field(out: &mut Vec<u8>, value: &[u8]) {
    if needs_quotes(value) {
        out.push(b'"');
        for &b in value {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(value);
    }
}

/// `values` joined by `;`, as one field.
fn write_csv_list(out: &mut Vec<u8>, values: &[String]) {
    if values.iter().any(|v| needs_quotes(v.as_bytes())) {
        return write_csv_field(out, values.join(";").as_bytes());
    }
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn rfc3339_times_are_written_as_chrono_writes_them() {
        let times = [
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(1_796_396_400, 0).unwrap(),
            Utc.timestamp_opt(1_796_396_400, 999_999_999).unwrap(),
            Utc.timestamp_opt(951_782_399, 7_000_000).unwrap(),
            Utc.timestamp_opt(-62_135_596_800, 0).unwrap(), // 0001-01-01
            Utc.timestamp_opt(253_402_300_799, 0).unwrap(), // 9999-12-31T23:59:59
            Utc.timestamp_opt(253_402_300_800, 0).unwrap(), // +10000
            Utc.timestamp_opt(-62_198_755_200, 0).unwrap(), // year -1
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).unwrap(), // a leap second
        ];
        for t in times {
            for (millis, format) in [(false, SecondsFormat::Secs), (true, SecondsFormat::Millis)] {
                let mut out = Vec::new();
                write_rfc3339(&mut out, t, millis);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    t.to_rfc3339_opts(format, true)
                );
            }
        }
    }

    #[test]
    fn json_strings_are_escaped_as_serde_json_escapes_them() {
        let mut all: String = (0..0x80u8).map(char::from).collect();
        all.push_str("é\u{2028}😀");
        for value in [
            "",
            "plain text",
            "C&C Server",
            "a\"b",
            "back\\slash",
            "tab\t",
            &all,
        ] {
            let mut out = Vec::new();
            json_str(&mut out, value).unwrap();
            assert_eq!(out, serde_json::to_vec(value).unwrap(), "{value:?}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut out = Vec::new();
        write_csv_field(&mut out, b"plain");
        out.push(b'|');
        write_csv_field(&mut out, b"a,\"b\"");
        out.push(b'|');
        write_csv_list(&mut out, &["x".into(), "y".into()]);
        out.push(b'|');
        write_csv_list(&mut out, &["x,1".into(), "y".into()]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain|\"a,\"\"b\"\"\"|x;y|\"x,1;y\""
        );
    }
}
