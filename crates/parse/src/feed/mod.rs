//! Threat feeds and allowlists: STIX, MISP, CSV exports, plain lists, warninglists, top-site lists.
//!
//! Every parser here is pure: it takes text (or a `serde_json::Value`) and returns evidence,
//! never touching files, the network or the clock. Formats without times of their own use
//! [`FeedDefaults::observed_at`], which the caller fixes.
//!
//! What each parser returns:
//! - **evidence** ([`Evidence`]) in the order a store must take it: a whole-document parser
//!   puts the [`Source`] / [`Allowlist`](threatintel_model::Allowlist) records a later record
//!   names into [`Parsed::sources`] (or first in the evidence), so that nothing refers to a
//!   source the store does not know yet;
//! - **rejects** ([`Reject`]): one per record that looked like a record but could not be used,
//!   with a precise reason (a bad name gives the `DomainError` message). One bad record never
//!   fails the input;
//! - **skipped**: records that are valid in their format but carry nothing this model holds
//!   (file hashes, e-mail addresses, registry keys, `to_ids = false` MISP attributes, ...).
//!   Comments, blank lines and headers are neither.
//!
//! Threat types are normalised onto the reference's taxonomy by [`taxonomy`], the one table
//! for every feed vocabulary.

mod allowlist;
mod csv;
mod ioc;
pub(crate) mod misp;
mod plain;
pub mod stix;
pub mod taxonomy;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use threatintel_model::{
    DomainName, Evidence, FileHashes, FileRecord, IndicatorRecord, IpNetwork, IpRecord,
    Reliability, RiskLevel, Source, Timestamp,
};

use self::ioc::Target;
use crate::{Reject, Stopped};

pub(crate) use allowlist::{parse_top_list, TopListOptions};
pub use allowlist::{
    parse_warninglist, NetworkAllowEntry, PatternKind, PatternRule, WarninglistOutput,
    WarninglistRole,
};
pub(crate) use csv::parse_threatfox;
pub use csv::{Column, CsvMapping, CsvParser, CsvPreset};
pub use ioc::{host_of_url, parse_host, refang, Host};
pub use misp::{parse_misp_event_value, parse_misp_manifest, ManifestEntry};
pub use plain::{LineContext, PlainItem, PlainParser};
pub use stix::parse_stix_objects;

/// What a caller knows about a feed that the feed itself may not say: who publishes it, what
/// its records mean, and when it was fetched. Records that state their own threat type,
/// family, confidence or times override these.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedDefaults {
    /// Source name every record is attributed to (STIX and MISP may name their own).
    pub source: String,
    /// Reliability of the [`Source`] record built from these defaults.
    pub reliability: Reliability,
    /// Threat type (taxonomy name) of records that do not carry one.
    pub threat_type: String,
    /// Family / group / technique label of records that do not carry one.
    pub label: Option<String>,
    /// Risk of records whose threat type is `threat_type`; other threat types get the
    /// taxonomy's risk.
    pub risk: RiskLevel,
    /// Confidence (0-100) of records that do not carry one.
    pub confidence: Option<u8>,
    /// First and last seen of records without times: when the feed was fetched.
    pub observed_at: Timestamp,
    /// ATT&CK tactic / kill-chain phase key of records that do not carry one.
    pub attack_stage: Option<String>,
    /// Scenario as the feed states it, if it does.
    pub scenario: Option<String>,
    /// Reference URL of records that do not carry one.
    pub reference: Option<String>,
}

impl FeedDefaults {
    /// Defaults with the taxonomy's risk for `threat_type` (normalised through the taxonomy
    /// when it is a known feed term, kept as given otherwise), reliability `C` and no label.
    pub fn new(source: impl Into<String>, threat_type: &str, observed_at: Timestamp) -> Self {
        let threat_type = taxonomy::normalize(threat_type)
            .map(str::to_owned)
            .unwrap_or_else(|| threat_type.trim().to_owned());
        Self {
            source: source.into(),
            reliability: Reliability::C,
            risk: taxonomy::risk(&threat_type),
            threat_type,
            label: None,
            confidence: None,
            observed_at,
            attack_stage: None,
            scenario: None,
            reference: None,
        }
    }

    /// Defaults for one maltrail trail file, from its path (`.../malware/apt_oceanlotus.txt`):
    /// label = file stem (numbered continuation files `name-1.txt` share `name`), threat type
    /// from the category directory and the stem through [`taxonomy::maltrail_threat_type`].
    pub fn maltrail(source: impl Into<String>, path: &str, observed_at: Timestamp) -> Self {
        let (category, stem) = maltrail_category_and_stem(path);
        let mut d = Self::new(
            source,
            taxonomy::maltrail_threat_type(category, &stem),
            observed_at,
        );
        d.label = Some(stem);
        d
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_reliability(mut self, reliability: Reliability) -> Self {
        self.reliability = reliability;
        self
    }

    pub fn with_confidence(mut self, confidence: u8) -> Self {
        self.confidence = Some(confidence.min(100));
        self
    }

    pub fn with_reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// The [`Source`] record these defaults describe; put it before the records.
    pub fn source_record(&self) -> Source {
        Source {
            name: self.source.clone(),
            reliability: self.reliability,
            default_threat_type: Some(self.threat_type.clone()),
        }
    }

    /// Risk for a record of `threat_type` from this feed.
    pub(crate) fn risk_for(&self, threat_type: &str) -> RiskLevel {
        if threat_type == self.threat_type {
            self.risk
        } else {
            taxonomy::risk(threat_type)
        }
    }

    /// A name record with every field from these defaults. `via_url`: the feed listed a URL on
    /// the host (its host was read from `scheme://host/...` or `host/path`), not the host.
    pub(crate) fn indicator(&self, name: DomainName, zone: bool, via_url: bool) -> IndicatorRecord {
        IndicatorRecord {
            name,
            zone,
            source: self.source.clone(),
            threat_type: self.threat_type.clone(),
            label: self.label.clone(),
            risk: self.risk,
            scenario: self.scenario.clone(),
            attack_stage: self.attack_stage.clone(),
            first_seen: self.observed_at,
            last_seen: self.observed_at,
            confidence: self.confidence,
            reference: self.reference.clone(),
            via_url,
        }
    }

    /// A file record with every field from these defaults.
    pub(crate) fn file_record(&self, hashes: FileHashes) -> FileRecord {
        FileRecord {
            hashes,
            source: self.source.clone(),
            threat_type: self.threat_type.clone(),
            label: self.label.clone(),
            risk: self.risk,
            scenario: self.scenario.clone(),
            file_type: None,
            size: None,
            file_names: Vec::new(),
            first_seen: self.observed_at,
            last_seen: self.observed_at,
            confidence: self.confidence,
            reference: self.reference.clone(),
        }
    }

    /// The record of `target` with these defaults under what the feed `claim`s of it (the
    /// claim's label replaces the default only when it names one).
    pub(crate) fn claimed(&self, target: Target, claim: Claim<'_>) -> Evidence {
        let risk = self.risk_for(&claim.threat_type);
        macro_rules! claim {
            ($rec:expr) => {{
                let mut rec = $rec;
                rec.threat_type = claim.threat_type;
                rec.risk = risk;
                if let Some(label) = claim.label {
                    rec.label = Some(label.to_owned());
                }
                rec.first_seen = claim.first_seen;
                rec.last_seen = claim.last_seen;
                rec.confidence = claim.confidence;
                rec.reference = claim.reference;
                rec
            }};
        }
        match target {
            Target::Name {
                name,
                zone,
                via_url,
            } => Evidence::Indicator(claim!(self.indicator(name, zone, via_url))),
            Target::Net(net) => Evidence::IpRecord(claim!(self.ip_record(net))),
            Target::File(hashes) => {
                Evidence::FileRecord(Box::new(claim!(self.file_record(hashes))))
            }
        }
    }

    /// An address or network record with every field from these defaults.
    pub(crate) fn ip_record(&self, network: IpNetwork) -> IpRecord {
        IpRecord {
            network,
            source: self.source.clone(),
            threat_type: self.threat_type.clone(),
            label: self.label.clone(),
            risk: self.risk,
            scenario: self.scenario.clone(),
            first_seen: self.observed_at,
            last_seen: self.observed_at,
            confidence: self.confidence,
            reference: self.reference.clone(),
        }
    }
}

/// What a feed states about one IOC besides its value, whatever kind of record it becomes.
pub(crate) struct Claim<'a> {
    pub threat_type: String,
    pub label: Option<&'a str>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub confidence: Option<u8>,
    pub reference: Option<String>,
}

/// `(category directory, label)` of a maltrail trail path.
fn maltrail_category_and_stem(path: &str) -> (&str, String) {
    let mut parts = path.rsplit(['/', '\\']);
    let file = parts.next().unwrap_or(path);
    let category = parts.next().unwrap_or("");
    let stem = file.strip_suffix(".txt").unwrap_or(file);
    // `cobaltstrike-1.txt` continues `cobaltstrike.txt`.
    let stem = match stem.rsplit_once('-') {
        Some((base, n))
            if !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base
        }
        _ => stem,
    };
    (category, stem.trim().to_owned())
}

/// Items (STIX objects, MISP attributes) below which a document is walked on one thread.
const PARALLEL_FROM: usize = 10_000;

/// `f` over consecutive slices of `items` (one per core when there are many items), each with
/// the index of its first item; the results in slice order.
pub(crate) fn in_order_parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(usize, &[T]) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < PARALLEL_FROM || threads < 2 {
        return vec![f(0, items)];
    }
    let per_slice = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let slices: Vec<_> = items
            .chunks(per_slice)
            .enumerate()
            .map(|(n, slice)| scope.spawn(move || f(n * per_slice, slice)))
            .collect();
        slices
            .into_iter()
            .map(|slice| {
                slice
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Items of a document walked between two hand-overs to [`Parts`]: what a walk holds of its
/// results at a time.
const PART_ITEMS: usize = 65_536;

/// Where a document walk hands its results, a part at a time and in input order: a
/// [`Parsed`] collects them whole; [`read`](fn@crate::read) forwards each part to its sink.
pub(crate) trait Parts {
    fn part(&mut self, part: Parsed) -> Result<(), Stopped>;
}

impl Parts for Parsed {
    fn part(&mut self, part: Parsed) -> Result<(), Stopped> {
        self.append(part);
        Ok(())
    }
}

/// The whole result of a walk that hands its results over in parts.
pub(crate) fn collect(walk: impl FnOnce(&mut Parsed) -> Result<(), Stopped>) -> Parsed {
    let mut out = Parsed::default();
    // Collecting never stops a walk.
    let _ = walk(&mut out);
    out
}

/// `parse` over every item with its 0-based position, handed to `parts` in item order every
/// [`PART_ITEMS`] items (each run of items on every core, through [`in_order_parallel`]).
pub(crate) fn parse_each_in_order<T: Sync>(
    items: &[T],
    parse: impl Fn(usize, &T, &mut Parsed) + Sync,
    parts: &mut dyn Parts,
) -> Result<(), Stopped> {
    for (n, run) in items.chunks(PART_ITEMS).enumerate() {
        let first = n * PART_ITEMS;
        for part in in_order_parallel(run, |start, slice| {
            let mut part = Parsed::default();
            for (i, item) in slice.iter().enumerate() {
                parse(first + start + i, item, &mut part);
            }
            part
        }) {
            parts.part(part)?;
        }
    }
    Ok(())
}

/// The result of parsing one whole document or file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// Every source the evidence names, in first-use order. A store needs them before the
    /// records; the caller decides whether to put them (an operator may have configured a
    /// source's reliability already) — [`Parsed::into_evidence`] puts them first.
    pub sources: Vec<Source>,
    /// The records, in input order.
    pub evidence: Vec<Evidence>,
    /// Records that could not be used, with why.
    pub rejects: Vec<Reject>,
    /// Valid records that carry nothing this model holds (hashes, e-mail addresses, ...).
    pub skipped: u64,
    /// Family / group aliases the input states (`# Aliases:` in maltrail, STIX `aliases`,
    /// MISP galaxy `synonyms`): label → aliases. The model has no alias table yet.
    pub aliases: BTreeMap<String, Vec<String>>,
}

impl Parsed {
    /// Sources first, then the records.
    pub fn into_evidence(self) -> Vec<Evidence> {
        let mut out: Vec<Evidence> = self.sources.into_iter().map(Evidence::Source).collect();
        out.extend(self.evidence);
        out
    }

    /// Records per kind (`indicator`, `ip_intel`, ...), for summaries.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for e in &self.evidence {
            *counts.entry(evidence_kind(e)).or_insert(0) += 1;
        }
        counts
    }

    /// Adds what a later part of the same input gave, as one parse of both would have.
    pub(crate) fn append(&mut self, later: Parsed) {
        for source in later.sources {
            self.add_source(source);
        }
        self.evidence.extend(later.evidence);
        self.rejects.extend(later.rejects);
        self.skipped += later.skipped;
        for (name, aliases) in later.aliases {
            self.add_aliases(name, aliases);
        }
    }

    /// Adds the aliases of `label` not yet known, in order.
    pub(crate) fn add_aliases(&mut self, label: String, aliases: Vec<String>) {
        let entry = self.aliases.entry(label).or_default();
        for alias in aliases {
            if !entry.contains(&alias) {
                entry.push(alias);
            }
        }
    }

    pub(crate) fn add_source(&mut self, source: Source) {
        if !self.sources.iter().any(|s| s.name == source.name) {
            self.sources.push(source);
        }
    }

    pub(crate) fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.rejects.push(Reject::new(line, reason));
    }
}

/// The serde tag of an evidence record (`indicator`, `ip_intel`, ...).
pub fn evidence_kind(e: &Evidence) -> &'static str {
    match e {
        Evidence::Source(_) => "source",
        Evidence::Indicator(_) => "indicator",
        Evidence::Allowlist(_) => "allowlist",
        Evidence::AllowlistEntry(_) => "allowlist_entry",
        Evidence::Whois(_) => "whois",
        Evidence::Certificate(_) => "certificate",
        Evidence::Resolution(_) => "resolution",
        Evidence::Relation(_) => "relation",
        Evidence::IpIntel(_) => "ip_intel",
        Evidence::Event(_) => "event",
        Evidence::IpRecord(_) => "ip_record",
        Evidence::NetworkAllowEntry(_) => "network_allow_entry",
        Evidence::FileRecord(_) => "file_record",
        Evidence::NetworkRegistration(_) => "network_registration",
    }
}

/// Parses the time formats feeds use: RFC 3339 (`2026-08-16T01:04:58.000Z`), `YYYY-MM-DD
/// HH:MM:SS` with an optional ` UTC` (taken as UTC), `YYYY-MM-DD` (midnight UTC), and Unix
/// seconds. `None` for anything else.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = s.parse().ok()?;
        return Utc.timestamp_opt(secs, 0).single();
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let s = s.strip_suffix("UTC").map(str::trim_end).unwrap_or(s);
    let s = s.strip_suffix('Z').unwrap_or(s);
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Clamps a feed's confidence (any JSON number or numeric string) to 0-100.
pub(crate) fn confidence_of(v: &serde_json::Value) -> Option<u8> {
    let n = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !n.is_finite() {
        return None;
    }
    Some(n.clamp(0.0, 100.0).round() as u8)
}

/// Pulls every line of `text` through `f` with its 1-based number; a trailing `\r` is cut.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (u64, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.strip_suffix('\r').unwrap_or(l)))
}
