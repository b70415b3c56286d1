//! STIX 2.1 and 2.0 bundles (also a bare array of objects, or one object).
//!
//! - **indicator** with `pattern_type` `stix` (or none, as in 2.0): every IOC the
//!   [`pattern`] parser extracts (`domain-name`, `url` → its host, marked `via_url`,
//!   `ipv4-addr` / `ipv6-addr`, `network-traffic` refs, `file:hashes.…`; `OR` / `AND` of
//!   several) becomes an indicator, IP or file record (the hashes of a pattern that is one
//!   observation of tests joined by `AND` are one file's, linked in one record). Threat type from `indicator_types` (2.1) and `labels` (2.0
//!   indicator types; TweetFeed's hashtags), family from `labels` that are not vocabulary
//!   words, `confidence`, `valid_from` → first seen, `valid_until` → last seen (else
//!   `modified`, never before the first), `kill_chain_phases` → attack stage,
//!   `created_by_ref` → source (the identity's name), `external_references[].url` → reference;
//!   `domain-name:value LIKE '%.zone'` is a zone listing of `zone`, and threatintel's own
//!   `x_threatintel_level` (1-3) is the record's risk.
//! - **relationships** `indicates` / `uses` from an indicator: to `malware` / `tool` (family
//!   label, threat type from `malware_types` or 2.0 `labels`), `intrusion-set` /
//!   `threat-actor` (label, APT), `campaign` (its `attributed-to` actor, else the campaign's
//!   name as label), `attack-pattern` (attack stage from its kill-chain phases, ATT&CK
//!   first), `infrastructure` (threat type from `infrastructure_types`). One record per
//!   (IOC, label).
//! - **domain-name** objects with `resolves_to_refs` → [`Resolution`]s (times and count from
//!   an `observed-data` that holds them, else the observation time).
//! - **sighting** of an indicator or of observed data naming domains → [`SecurityEvent`]s
//!   (time = `last_seen`, else `first_seen`, else `created`; industry from the sighted-where
//!   identity's `sectors`; stage from the sighted indicator).
//!
//! Sources named by `created_by_ref` get the defaults' reliability. Rejects carry the
//! object's 1-based position in the bundle.

pub mod pattern;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde_json::value::RawValue;
use serde_json::Value;
use threatintel_model::{
    DomainName, Evidence, FileHash, FileHashes, IpNetwork, Resolution, RiskLevel, SecurityEvent,
    Source, Timestamp,
};

use self::pattern::{IocKind, Pattern};
use super::ioc::{host_of_url, is_url_form, parse_host, Host};
use super::taxonomy::{self, most_specific};
use super::{
    confidence_of, in_order_parallel, parse_each_in_order, parse_time, FeedDefaults, Parsed, Parts,
};
use crate::Stopped;

/// A STIX document from text, handed to `parts` as the bundle is walked. A document that is
/// not JSON is one reject (line 0).
///
/// Indicators are parsed one at a time as the bundle is walked (a bundle of millions never
/// becomes one tree); the objects they refer to, and indicators that sightings name, are
/// parsed up front. A large bundle is walked in as many consecutive slices as there are
/// cores, and the slices' results are joined in order: the result is the same.
pub(crate) fn walk(
    text: &str,
    defaults: &FeedDefaults,
    parts: &mut dyn Parts,
) -> Result<(), Stopped> {
    let objects = match raw_objects(text) {
        Ok(objects) => objects,
        Err(e) => {
            let mut out = Parsed::default();
            out.reject(e.line() as u64, format!("not JSON: {e}"));
            return parts.part(out);
        }
    };
    let Some(objects) = objects else {
        return parts.part(parse_stix_value(&Value::Null, defaults));
    };
    let indicator: Vec<bool> = in_order_parallel(&objects, |_, raws| {
        raws.iter()
            .map(|raw| match leading_type(raw.get()) {
                Some(kind) => kind == "indicator",
                None => head(raw).kind.as_deref() == Some("indicator"),
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    let parse = |raw: &RawValue| serde_json::from_str::<Value>(raw.get()).unwrap_or(Value::Null);
    // Parsed up front, by position (document order matters for relationships).
    let mut kept: Vec<Option<Value>> = objects
        .iter()
        .zip(&indicator)
        .map(|(raw, indicator)| (!indicator).then(|| parse(raw)))
        .collect();
    let sighted: HashSet<&str> = kept
        .iter()
        .flatten()
        .filter(|o| str_field(o, "type") == Some("sighting"))
        .filter_map(|o| str_field(o, "sighting_of_ref"))
        .collect();
    let wanted: Vec<usize> = if sighted.is_empty() {
        Vec::new()
    } else {
        (0..objects.len())
            .filter(|&i| kept[i].is_none())
            .filter(|&i| {
                head(objects[i])
                    .id
                    .as_deref()
                    .is_some_and(|id| sighted.contains(id))
            })
            .collect()
    };
    for i in wanted {
        kept[i] = Some(parse(objects[i]));
    }
    let ctx = Ctx::new(kept.iter().flatten(), defaults);
    let slots: Vec<(&RawValue, Option<&Value>)> = objects
        .iter()
        .copied()
        .zip(kept.iter().map(Option::as_ref))
        .collect();
    parse_each_in_order(
        &slots,
        |i, (raw, obj), out| {
            let line = i as u64 + 1;
            match obj {
                Some(obj) => ctx.object(obj, line, out),
                None => ctx.object(&parse(raw), line, out),
            }
        },
        parts,
    )
}

/// The object's type when it is its first member, as STIX producers write it (then the rest of
/// the object need not be read to know it); `None` when it is not first, or escaped.
fn leading_type(raw: &str) -> Option<&str> {
    let value = raw
        .trim_start()
        .strip_prefix('{')?
        .trim_start()
        .strip_prefix("\"type\"")?
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let end = value.find(['"', '\\'])?;
    (value.as_bytes()[end] == b'"').then(|| &value[..end])
}

fn head(raw: &RawValue) -> Head<'_> {
    serde_json::from_str(raw.get()).unwrap_or_default()
}

/// The type and id of an object, read without building the rest of it.
#[derive(Default, serde::Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<std::borrow::Cow<'a, str>>,
}

/// The objects of a bundle, of an array, or the one object, unparsed (each is read once more
/// when it is parsed); `None` for any other JSON.
fn raw_objects(text: &str) -> Result<Option<Vec<&RawValue>>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Bundle<'a> {
        #[serde(borrow)]
        objects: Option<Vec<&'a RawValue>>,
    }
    match text.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(text).map(Some),
        Some(b'{') => match serde_json::from_str::<Bundle>(text) {
            Ok(Bundle {
                objects: Some(objects),
            }) => Ok(Some(objects)),
            // Without an `objects` array, the document is one object.
            _ => serde_json::from_str::<&RawValue>(text).map(|doc| Some(vec![doc])),
        },
        _ => serde_json::from_str::<&RawValue>(text).map(|_| None),
    }
}

/// A STIX document: a bundle, an array of objects, or one object.
fn parse_stix_value(doc: &Value, defaults: &FeedDefaults) -> Parsed {
    match doc {
        Value::Array(objects) => parse_stix_objects(objects, defaults),
        Value::Object(o) => match o.get("objects") {
            Some(Value::Array(objects)) => parse_stix_objects(objects, defaults),
            _ => parse_stix_objects(std::slice::from_ref(doc), defaults),
        },
        _ => {
            let mut out = Parsed::default();
            out.reject(
                0,
                "a STIX document is a bundle, an array of objects or one object",
            );
            out
        }
    }
}

/// STIX objects that belong together (a bundle's `objects`, or the files of a
/// file-system store read by the caller).
pub fn parse_stix_objects(objects: &[Value], defaults: &FeedDefaults) -> Parsed {
    let ctx = Ctx::new(objects.iter(), defaults);
    let mut out = Parsed::default();
    for (i, obj) in objects.iter().enumerate() {
        ctx.object(obj, i as u64 + 1, &mut out);
    }
    out
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn str_list<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn time_field(v: &Value, key: &str) -> Option<Timestamp> {
    str_field(v, key).and_then(parse_time)
}

/// The stage key of the first kill-chain phase, ATT&CK's chain preferred.
fn stage_of(obj: &Value) -> Option<String> {
    let phases: Vec<&Value> = obj
        .get("kill_chain_phases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let pick = phases
        .iter()
        .find(|p| str_field(p, "kill_chain_name").is_some_and(|n| n.contains("mitre")))
        .or_else(|| phases.first());
    pick.and_then(|p| str_field(p, "phase_name"))
        .and_then(taxonomy::stage_key)
}

/// A label and the threat type it implies (if it does).
#[derive(Debug, Clone, PartialEq)]
struct Attribution {
    label: String,
    threat_type: Option<&'static str>,
}

struct Ctx<'a> {
    by_id: HashMap<&'a str, &'a Value>,
    /// source_ref → (relationship_type, target_ref).
    rels: HashMap<&'a str, Vec<(&'a str, &'a str)>>,
    /// observed-data objects by the ids they reference.
    observed_by_ref: HashMap<&'a str, &'a Value>,
    defaults: &'a FeedDefaults,
}

impl<'a> Ctx<'a> {
    fn new(objects: impl Iterator<Item = &'a Value>, defaults: &'a FeedDefaults) -> Self {
        let mut by_id = HashMap::new();
        let mut rels: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        let mut observed_by_ref = HashMap::new();
        for o in objects {
            if let Some(id) = str_field(o, "id") {
                by_id.insert(id, o);
            }
            match str_field(o, "type") {
                Some("relationship") => {
                    if let (Some(t), Some(s), Some(d)) = (
                        str_field(o, "relationship_type"),
                        str_field(o, "source_ref"),
                        str_field(o, "target_ref"),
                    ) {
                        rels.entry(s).or_default().push((t, d));
                    }
                }
                Some("observed-data") => {
                    for r in str_list(o, "object_refs") {
                        observed_by_ref.insert(r, o);
                    }
                }
                _ => {}
            }
        }
        Self {
            by_id,
            rels,
            observed_by_ref,
            defaults,
        }
    }

    /// One object of the document, at its 1-based position `line`.
    fn object(&self, obj: &Value, line: u64, out: &mut Parsed) {
        match str_field(obj, "type") {
            Some("indicator") => self.indicator(obj, line, out),
            Some("domain-name") => self.resolutions(obj, line, out),
            Some("sighting") => self.sighting(obj, line, out),
            Some("intrusion-set" | "threat-actor" | "malware" | "tool") => self.aliases(obj, out),
            Some("observed-data") => self.embedded_observations(obj, line, out),
            Some(_) => {}
            None => out.reject(line, "object without \"type\""),
        }
    }

    fn source_name(&self, obj: &Value) -> String {
        str_field(obj, "created_by_ref")
            .and_then(|r| self.by_id.get(r))
            .and_then(|i| str_field(i, "name"))
            .map(str::to_owned)
            .unwrap_or_else(|| self.defaults.source.clone())
    }

    fn source_record(&self, name: &str) -> Source {
        Source {
            name: name.to_owned(),
            reliability: self.defaults.reliability,
            default_threat_type: Some(self.defaults.threat_type.clone()),
        }
    }

    fn related(&self, id: &str) -> impl Iterator<Item = (&'a str, &'a Value)> + '_ {
        self.rels
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|(t, target)| self.by_id.get(target).map(|o| (*t, *o)))
    }

    /// What an `indicates` / `uses` target says about the indicator.
    fn attributions_of(
        &self,
        target: &Value,
        out: &mut Vec<Attribution>,
        stage: &mut Option<String>,
    ) {
        let name = str_field(target, "name")
            .map(str::trim)
            .filter(|n| !n.is_empty());
        match str_field(target, "type") {
            Some("malware" | "tool") => {
                let typed = most_specific(
                    str_list(target, "malware_types")
                        .chain(str_list(target, "tool_types"))
                        .chain(str_list(target, "labels"))
                        .filter_map(taxonomy::normalize),
                );
                if let Some(name) = name {
                    let threat_type = typed
                        .or_else(|| taxonomy::normalize(name))
                        .or(Some(taxonomy::MALWARE));
                    push_attr(out, name, threat_type);
                }
                if stage.is_none() {
                    *stage = stage_of(target);
                }
            }
            Some("intrusion-set" | "threat-actor") => {
                if let Some(name) = name {
                    push_attr(out, name, Some(taxonomy::APT));
                }
            }
            Some("campaign") => {
                let id = str_field(target, "id").unwrap_or("");
                let actors: Vec<&Value> = self
                    .related(id)
                    .filter(|(t, o)| {
                        *t == "attributed-to"
                            && matches!(
                                str_field(o, "type"),
                                Some("intrusion-set" | "threat-actor")
                            )
                    })
                    .map(|(_, o)| o)
                    .collect();
                if actors.is_empty() {
                    if let Some(name) = name {
                        push_attr(out, name, None);
                    }
                }
                for a in actors {
                    if let Some(n) = str_field(a, "name") {
                        push_attr(out, n.trim(), Some(taxonomy::APT));
                    }
                }
            }
            Some("attack-pattern") if stage.is_none() => *stage = stage_of(target),
            Some("infrastructure") => {
                let typed = most_specific(
                    str_list(target, "infrastructure_types")
                        .chain(str_list(target, "labels"))
                        .filter_map(taxonomy::normalize),
                );
                if let Some(name) = name {
                    push_attr(out, name, typed);
                }
            }
            _ => {}
        }
    }

    fn indicator(&self, obj: &Value, line: u64, out: &mut Parsed) {
        let d = self.defaults;
        let id = str_field(obj, "id").unwrap_or("");
        if let Some(pt) = str_field(obj, "pattern_type") {
            if pt != "stix" {
                out.skipped += 1;
                return;
            }
        }
        let Some(src) = str_field(obj, "pattern") else {
            out.reject(line, format!("indicator {id} has no pattern"));
            return;
        };
        let pattern = match Pattern::parse(src) {
            Ok(p) => p,
            Err(e) => {
                out.reject(line, format!("indicator {id}: {e}"));
                return;
            }
        };
        let iocs = pattern.iocs();
        if iocs.is_empty() {
            out.skipped += 1;
            return;
        }
        let terms: Vec<&str> = str_list(obj, "indicator_types")
            .chain(str_list(obj, "labels"))
            .collect();
        if terms
            .iter()
            .any(|t| taxonomy::classify(t) == Some(taxonomy::BENIGN))
        {
            out.skipped += 1;
            return;
        }
        let own_type = most_specific(terms.iter().filter_map(|t| taxonomy::normalize(t)));
        let own_family = terms.iter().find(|t| {
            !taxonomy::is_vocabulary(t) && taxonomy::classify(t) != Some(taxonomy::BENIGN)
        });

        let mut stage = stage_of(obj);
        let mut attrs = Vec::new();
        for (rel, target) in self.related(id) {
            if rel == "indicates" || rel == "uses" {
                self.attributions_of(target, &mut attrs, &mut stage);
            }
        }
        if attrs.is_empty() {
            let label = own_family
                .map(|f| (*f).to_owned())
                .or_else(|| d.label.clone());
            attrs.push(Attribution {
                label: label.unwrap_or_default(),
                threat_type: None,
            });
        }

        let first = time_field(obj, "valid_from")
            .or_else(|| time_field(obj, "created"))
            .unwrap_or(d.observed_at);
        let last = time_field(obj, "valid_until")
            .or_else(|| time_field(obj, "modified"))
            .unwrap_or(first)
            .max(first);
        let confidence = obj
            .get("confidence")
            .and_then(confidence_of)
            .or(d.confidence);
        // threatintel's own exports say the verdict's level; it is the record's risk.
        let exported_risk = match obj.get("x_threatintel_level").and_then(Value::as_u64) {
            Some(1) => Some(RiskLevel::Low),
            Some(2) => Some(RiskLevel::Medium),
            Some(3) => Some(RiskLevel::High),
            _ => None,
        };
        let reference = obj
            .get("external_references")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|r| str_field(r, "url"))
            .map(str::to_owned)
            .or_else(|| d.reference.clone());
        let source = self.source_name(obj);
        let mut used_source = false;
        let mut files = Vec::new();

        for (kind, value) in &iocs {
            let target = match ioc_value(*kind, value) {
                Ok(t) => t,
                Err(e) => {
                    out.reject(line, format!("indicator {id}: {e}"));
                    continue;
                }
            };
            used_source = true;
            match target {
                IocValue::Name {
                    name,
                    via_url,
                    zone,
                } => {
                    for a in &attrs {
                        let threat_type = a
                            .threat_type
                            .or(own_type)
                            .map(str::to_owned)
                            .unwrap_or_else(|| d.threat_type.clone());
                        let mut rec = d.indicator(name.clone(), zone, via_url);
                        rec.source = source.clone();
                        rec.label = (!a.label.is_empty()).then(|| a.label.clone());
                        rec.risk = exported_risk.unwrap_or_else(|| d.risk_for(&threat_type));
                        rec.threat_type = threat_type;
                        rec.attack_stage = stage.clone().or_else(|| d.attack_stage.clone());
                        rec.first_seen = first;
                        rec.last_seen = last;
                        rec.confidence = confidence;
                        rec.reference = reference.clone();
                        out.evidence.push(Evidence::Indicator(rec));
                    }
                }
                IocValue::Net(net) => {
                    let threat_type = attrs
                        .iter()
                        .find_map(|a| a.threat_type)
                        .or(own_type)
                        .map(str::to_owned)
                        .unwrap_or_else(|| d.threat_type.clone());
                    let mut rec = d.ip_record(net);
                    rec.risk = d.risk_for(&threat_type);
                    rec.threat_type = threat_type;
                    rec.source = source.clone();
                    rec.first_seen = first;
                    rec.last_seen = last;
                    rec.confidence = confidence;
                    rec.reference = reference.clone();
                    out.evidence.push(Evidence::IpRecord(rec));
                }
                IocValue::File(hash) => files.push(hash),
            }
        }
        let linked = match pattern.is_one_conjunction() {
            true => match FileHashes::new(files.iter().cloned()) {
                Ok(hashes) => vec![hashes],
                Err(e) if !files.is_empty() => {
                    out.reject(line, format!("indicator {id}: {e}"));
                    Vec::new()
                }
                Err(_) => Vec::new(),
            },
            false => files.into_iter().map(FileHashes::one).collect(),
        };
        for hashes in linked {
            for a in &attrs {
                let threat_type = a
                    .threat_type
                    .or(own_type)
                    .map(str::to_owned)
                    .unwrap_or_else(|| d.threat_type.clone());
                let mut rec = d.file_record(hashes.clone());
                rec.source = source.clone();
                rec.label = (!a.label.is_empty()).then(|| a.label.clone());
                rec.risk = exported_risk.unwrap_or_else(|| d.risk_for(&threat_type));
                rec.threat_type = threat_type;
                rec.first_seen = first;
                rec.last_seen = last;
                rec.confidence = confidence;
                rec.reference = reference.clone();
                out.evidence.push(Evidence::FileRecord(Box::new(rec)));
            }
        }
        if used_source {
            out.add_source(self.source_record(&source));
        }
    }

    fn aliases(&self, obj: &Value, out: &mut Parsed) {
        let Some(name) = str_field(obj, "name") else {
            return;
        };
        let aliases: Vec<String> = str_list(obj, "aliases")
            .chain(str_list(obj, "x_mitre_aliases"))
            .filter(|a| *a != name)
            .map(str::to_owned)
            .collect();
        if !aliases.is_empty() {
            let entry = out.aliases.entry(name.to_owned()).or_default();
            for a in aliases {
                if !entry.contains(&a) {
                    entry.push(a);
                }
            }
        }
    }

    /// `domain-name` SCO with `resolves_to_refs` (top level, 2.1).
    fn resolutions(&self, obj: &Value, line: u64, out: &mut Parsed) {
        let refs: Vec<&str> = str_list(obj, "resolves_to_refs").collect();
        if refs.is_empty() {
            return;
        }
        let observed = str_field(obj, "id").and_then(|id| self.observed_by_ref.get(id));
        let lookup = |r: &str| self.by_id.get(r).copied();
        self.resolutions_with(obj, &refs, observed.copied(), lookup, line, out);
    }

    /// 2.0 `observed-data` with embedded `objects` ({"0": {...}, "1": {...}}).
    fn embedded_observations(&self, obs: &Value, line: u64, out: &mut Parsed) {
        let Some(objects) = obs.get("objects").and_then(Value::as_object) else {
            return;
        };
        for o in objects.values() {
            if str_field(o, "type") != Some("domain-name") {
                continue;
            }
            let refs: Vec<&str> = str_list(o, "resolves_to_refs").collect();
            if refs.is_empty() {
                continue;
            }
            let lookup = |r: &str| objects.get(r);
            self.resolutions_with(o, &refs, Some(obs), lookup, line, out);
        }
    }

    fn resolutions_with<'v>(
        &self,
        domain: &Value,
        refs: &[&str],
        observed: Option<&Value>,
        lookup: impl Fn(&str) -> Option<&'v Value>,
        line: u64,
        out: &mut Parsed,
    ) {
        let Some(value) = str_field(domain, "value") else {
            out.reject(line, "domain-name without value");
            return;
        };
        let name = match DomainName::parse(value) {
            Ok(n) => n,
            Err(e) => {
                out.reject(line, format!("domain-name {value:?}: {e}"));
                return;
            }
        };
        let d = self.defaults;
        let first = observed
            .and_then(|o| time_field(o, "first_observed"))
            .unwrap_or(d.observed_at);
        let last = observed
            .and_then(|o| time_field(o, "last_observed"))
            .unwrap_or(first)
            .max(first);
        let count = observed
            .and_then(|o| o.get("number_observed"))
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1);
        for r in refs {
            let Some(target) = lookup(r) else { continue };
            if !matches!(str_field(target, "type"), Some("ipv4-addr" | "ipv6-addr")) {
                continue;
            }
            let Some(v) = str_field(target, "value") else {
                continue;
            };
            match v.parse::<IpAddr>() {
                Ok(ip) => out.evidence.push(Evidence::Resolution(Resolution {
                    name: name.clone(),
                    ip,
                    first_seen: first,
                    last_seen: last,
                    count,
                })),
                // A CIDR block is not something a name resolves to.
                Err(_) => out.skipped += 1,
            }
        }
    }

    fn sighting(&self, obj: &Value, line: u64, out: &mut Parsed) {
        let d = self.defaults;
        let mut names: Vec<DomainName> = Vec::new();
        let mut stage = None;
        if let Some(target) = str_field(obj, "sighting_of_ref").and_then(|r| self.by_id.get(r)) {
            if str_field(target, "type") == Some("indicator") {
                stage = stage_of(target);
                if let Some(p) = str_field(target, "pattern").and_then(|p| Pattern::parse(p).ok()) {
                    for (kind, v) in p.iocs() {
                        if let Ok(IocValue::Name { name, .. }) = ioc_value(kind, &v) {
                            names.push(name);
                        }
                    }
                }
            }
        }
        for od in str_list(obj, "observed_data_refs").filter_map(|r| self.by_id.get(r)) {
            for r in str_list(od, "object_refs") {
                if let Some(o) = self.by_id.get(r) {
                    if str_field(o, "type") == Some("domain-name") {
                        if let Some(n) =
                            str_field(o, "value").and_then(|v| DomainName::parse(v).ok())
                        {
                            names.push(n);
                        }
                    }
                }
            }
        }
        names.dedup();
        if names.is_empty() {
            out.skipped += 1;
            return;
        }
        let Some(time) = time_field(obj, "last_seen")
            .or_else(|| time_field(obj, "first_seen"))
            .or_else(|| time_field(obj, "created"))
        else {
            out.reject(line, "sighting without last_seen, first_seen or created");
            return;
        };
        let count = obj.get("count").and_then(Value::as_u64).unwrap_or(1);
        let industries: Vec<String> = {
            let v: Vec<String> = str_list(obj, "where_sighted_refs")
                .filter_map(|r| self.by_id.get(r))
                .map(|i| {
                    str_list(i, "sectors")
                        .next()
                        .map(taxonomy::industry_key)
                        .unwrap_or_else(|| "unknown".to_owned())
                })
                .collect();
            if v.is_empty() {
                vec!["unknown".to_owned()]
            } else {
                v
            }
        };
        let source = self.source_name(obj);
        out.add_source(self.source_record(&source));
        for name in names {
            for industry in &industries {
                out.evidence.push(Evidence::Event(SecurityEvent {
                    name: name.clone(),
                    time,
                    stage: stage
                        .clone()
                        .or_else(|| d.attack_stage.clone())
                        .unwrap_or_default(),
                    industry: industry.clone(),
                    count,
                    source: source.clone(),
                }));
            }
        }
    }
}

fn push_attr(out: &mut Vec<Attribution>, label: &str, threat_type: Option<&'static str>) {
    if !out.iter().any(|a| a.label == label) {
        out.push(Attribution {
            label: label.to_owned(),
            threat_type,
        });
    }
}

/// What a pattern IOC holds.
enum IocValue {
    /// `via_url`: read from a `url:value` written as a URL, not a bare host; `zone`: the
    /// names below it (a `LIKE '%.name'` pattern).
    Name {
        name: DomainName,
        via_url: bool,
        zone: bool,
    },
    Net(IpNetwork),
    File(FileHash),
}

fn ioc_value(kind: IocKind, value: &str) -> Result<IocValue, String> {
    let host = match kind {
        IocKind::DomainName | IocKind::DomainZone => {
            return DomainName::parse(value)
                .map(|name| IocValue::Name {
                    name,
                    via_url: false,
                    zone: kind == IocKind::DomainZone,
                })
                .map_err(|e| format!("domain-name {value:?}: {e}"))
        }
        IocKind::Ipv4 | IocKind::Ipv6 => {
            return value
                .parse::<IpNetwork>()
                .map(IocValue::Net)
                .map_err(|e| e.to_string())
        }
        IocKind::FileHash => {
            return FileHash::parse(value)
                .map(IocValue::File)
                .map_err(|e| format!("file hash {value:?}: {e}"))
        }
        IocKind::Url => host_of_url(value)?,
        IocKind::HostRef => parse_host(value).map_err(|e| format!("{value:?}: {e}"))?,
    };
    let via_url = kind == IocKind::Url && is_url_form(value.trim());
    Ok(match host {
        Host::Name(name) => IocValue::Name {
            name,
            via_url,
            zone: false,
        },
        Host::Ip(ip) => IocValue::Net(IpNetwork::host(ip)),
    })
}

#[cfg(test)]
mod tests {
    use super::leading_type;

    #[test]
    fn the_leading_type_is_read_only_when_it_is_the_first_member() {
        for (raw, expected) in [
            (r#"{"type":"indicator","id":"x"}"#, Some("indicator")),
            ("{ \"type\" :\n \"malware\" }", Some("malware")),
            (r#"{"id":"x","type":"indicator"}"#, None),
            (r#"{"type":"indi\u0063ator"}"#, None),
            (r#"{"type":1}"#, None),
            (r#"{"types":"indicator"}"#, None),
            ("[]", None),
        ] {
            assert_eq!(leading_type(raw), expected, "{raw}");
        }
    }
}
