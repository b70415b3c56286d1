//! MISP: one event JSON (`{"Event": {...}}`, a bare event, or a search answer
//! `{"response": [{"Event": ...}, ...]}`) and a MISP feed directory's `manifest.json`. The
//! caller reads the files; [`parse_misp_manifest`] lists the events and
//! [`walk`] takes each `<uuid>.json` with its manifest entry.
//!
//! - Attribute types `domain`, `hostname`, `hostname|port` → indicators; `domain|ip` → an
//!   indicator and a [`Resolution`]; `url` / `uri` → the host (marked `via_url` when the value
//!   is written as a URL, not as a bare host); `ip-src`, `ip-dst` (and `|port`) →
//!   [`IpIntel`](threatintel_model::IpIntel); `md5`, `sha1`, `sha256`, `filename|md5`,
//!   `filename|sha1`, `filename|sha256` and `malware-sample` → file records (with the file
//!   name). Object attributes count too, a `domain-ip` / `passive-dns` object's name and
//!   address make a resolution, and a `file` object's hashes are linked by one file record
//!   (with its file name and size) read before its attributes. Other types (e-mail, `link`,
//!   ...) are skipped, and so are attributes with `to_ids: false` (MISP's "not for detection")
//!   and `deleted: true` ones.
//! - Threat type: the most specific taxonomy match among the attribute's tags and galaxies,
//!   then the event's (and the manifest entry's) tags and galaxies; machine tags are read by
//!   value then predicate (`ecsirt:malicious-code="ransomware"` → Ransomware).
//! - Label (one per attribute): the attribute's own galaxy cluster or family tag, else the
//!   event's actor cluster (`threat-actor`, `*intrusion-set`), else its first malware/tool
//!   cluster. Mitre suffixes (`APT1 - G0006`) are cut; galaxy `synonyms` go to
//!   [`Parsed::aliases`].
//! - Stage: galaxy clusters' `meta.kill_chain`, else `kill-chain:*` taxonomy tags.
//! - Reliability of the event's source (`Orgc.name`): `admiralty-scale:source-reliability`;
//!   confidence from `admiralty-scale:information-credibility` (1 → 90 ... 5 → 20).
//! - Risk: the event's `threat_level_id` when it is 1-3 (High / Medium / Low), else the
//!   taxonomy's.
//! - Times: the attribute's `first_seen` / `last_seen`, else the event `date` and the
//!   attribute's `timestamp`.
//! - Sightings of type 0 on name attributes → [`SecurityEvent`]s (type 1 "false positive" and
//!   2 "expiration" are not events and are skipped).

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use threatintel_model::{
    DomainName, Evidence, FileHash, FileHashes, HashKind, IpNetwork, Reliability, Resolution,
    RiskLevel, SecurityEvent, Source, Timestamp,
};

use super::ioc::{host_of_url, is_url_form, parse_network, refang, Host};
use super::taxonomy::{self, most_specific};
use super::{collect, parse_each_in_order, parse_time, FeedDefaults, Parsed, Parts};
use crate::{Reject, Stopped};

/// One entry of a MISP feed's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub uuid: String,
    pub info: String,
    pub date: Option<Timestamp>,
    pub timestamp: Option<Timestamp>,
    pub threat_level_id: Option<u8>,
    pub org: Option<String>,
    pub tags: Vec<String>,
}

/// The events of a feed manifest (`{<uuid>: {info, date, timestamp, threat_level_id, Orgc,
/// Tag}}`), in uuid order. An entry that is not an object is a reject (its position).
pub fn parse_misp_manifest(text: &str) -> (Vec<ManifestEntry>, Vec<Reject>) {
    let mut entries = Vec::new();
    let mut rejects = Vec::new();
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            rejects.push(Reject {
                line: e.line() as u64,
                reason: format!("manifest is not JSON: {e}"),
            });
            return (entries, rejects);
        }
    };
    let Some(map) = doc.as_object() else {
        rejects.push(Reject {
            line: 0,
            reason: "manifest is not a JSON object of events".to_owned(),
        });
        return (entries, rejects);
    };
    for (i, (uuid, e)) in map.iter().enumerate() {
        if !e.is_object() {
            rejects.push(Reject {
                line: i as u64 + 1,
                reason: format!("manifest entry {uuid} is not an object"),
            });
            continue;
        }
        entries.push(ManifestEntry {
            uuid: uuid.clone(),
            info: str_field(e, "info").unwrap_or("").to_owned(),
            date: str_field(e, "date").and_then(parse_time),
            timestamp: num_or_str(e, "timestamp").and_then(|t| parse_time(&t)),
            threat_level_id: num_or_str(e, "threat_level_id").and_then(|t| t.parse().ok()),
            org: e
                .get("Orgc")
                .and_then(|o| str_field(o, "name"))
                .map(str::to_owned),
            tags: tag_names(e).map(str::to_owned).collect(),
        });
    }
    (entries, rejects)
}

/// A MISP event (or search answer) from text, with its manifest entry when it came from a
/// feed, handed to `parts` as the attributes are walked. Text that is not JSON is one reject.
pub(crate) fn walk(
    text: &str,
    manifest: Option<&ManifestEntry>,
    defaults: &FeedDefaults,
    parts: &mut dyn Parts,
) -> Result<(), Stopped> {
    if let Some(walked) = walk_event_lazily(text, manifest, defaults, parts) {
        return walked;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(doc) => walk_value(&doc, manifest, defaults, parts),
        Err(e) => {
            let mut out = Parsed::default();
            out.reject(e.line() as u64, format!("not JSON: {e}"));
            parts.part(out)
        }
    }
}

/// An `{"Event": {...}}` document, or a bare event, whose top-level attributes stay raw JSON
/// until each is read (an event of millions of attributes never becomes one tree, and a large
/// one is read on every core). `None` for any other shape, or anything unusual, which the tree
/// path then reads.
fn walk_event_lazily(
    text: &str,
    manifest: Option<&ManifestEntry>,
    defaults: &FeedDefaults,
    parts: &mut dyn Parts,
) -> Option<Result<(), Stopped>> {
    #[derive(serde::Deserialize)]
    struct LazyEvent<'a> {
        #[serde(rename = "Attribute", borrow, default)]
        attributes: Vec<&'a RawValue>,
        #[serde(flatten)]
        rest: Map<String, Value>,
    }
    #[derive(serde::Deserialize)]
    struct Wrapped<'a> {
        #[serde(rename = "Event", borrow)]
        event: LazyEvent<'a>,
        response: Option<serde::de::IgnoredAny>,
    }
    let event = match serde_json::from_str::<Wrapped>(text) {
        Ok(doc) if doc.response.is_none() => doc.event,
        Ok(_) => return None,
        Err(_) => {
            let bare: LazyEvent = serde_json::from_str(text).ok()?;
            let wrapper = ["response", "Event"]
                .iter()
                .any(|k| bare.rest.contains_key(*k));
            if wrapper || bare.attributes.is_empty() {
                return None;
            }
            bare
        }
    };
    let ev = Value::Object(event.rest);
    Some(self::event(
        &ev,
        &event.attributes,
        manifest,
        defaults,
        parts,
    ))
}

/// A MISP event (or search answer) already parsed, walked as one tree.
pub fn parse_misp_event_value(
    doc: &Value,
    manifest: Option<&ManifestEntry>,
    defaults: &FeedDefaults,
) -> Parsed {
    collect(|out| walk_value(doc, manifest, defaults, out))
}

fn walk_value(
    doc: &Value,
    manifest: Option<&ManifestEntry>,
    defaults: &FeedDefaults,
    parts: &mut dyn Parts,
) -> Result<(), Stopped> {
    if let Some(events) = doc.get("response").and_then(Value::as_array) {
        for e in events {
            event(e.get("Event").unwrap_or(e), &[], manifest, defaults, parts)?;
        }
        Ok(())
    } else if let Some(e) = doc.get("Event") {
        event(e, &[], manifest, defaults, parts)
    } else if doc.get("Attribute").is_some() || doc.get("Object").is_some() {
        event(doc, &[], manifest, defaults, parts)
    } else {
        let mut out = Parsed::default();
        out.reject(
            0,
            "not a MISP event: no \"Event\", \"Attribute\" or \"Object\"",
        );
        parts.part(out)
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn num_or_str(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn tag_names(v: &Value) -> impl Iterator<Item = &str> {
    v.get("Tag")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| str_field(t, "name"))
}

/// A galaxy cluster: (galaxy type, value, meta).
struct Cluster<'a> {
    kind: String,
    value: String,
    meta: Option<&'a Value>,
}

fn clusters(v: &Value) -> Vec<Cluster<'_>> {
    let mut out = Vec::new();
    for g in v
        .get("Galaxy")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let gtype = str_field(g, "type").unwrap_or("");
        for c in g
            .get("GalaxyCluster")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(value) = str_field(c, "value") {
                out.push(Cluster {
                    kind: str_field(c, "type").unwrap_or(gtype).to_owned(),
                    value: clean_cluster_value(value),
                    meta: c.get("meta"),
                });
            }
        }
    }
    for t in tag_names(v) {
        if let Some(rest) = t.strip_prefix("misp-galaxy:") {
            if let Some((kind, value)) = rest.split_once('=') {
                let value = clean_cluster_value(value.trim_matches('"'));
                if !out.iter().any(|c| c.kind == kind && c.value == value) {
                    out.push(Cluster {
                        kind: kind.to_owned(),
                        value,
                        meta: None,
                    });
                }
            }
        }
    }
    out
}

/// `APT1 - G0006` → `APT1`.
fn clean_cluster_value(v: &str) -> String {
    if let Some((name, id)) = v.rsplit_once(" - ") {
        let b = id.as_bytes();
        if b.len() >= 5
            && b[0].is_ascii_uppercase()
            && b[1..].iter().all(|c| c.is_ascii_digit() || *c == b'.')
        {
            return name.trim().to_owned();
        }
    }
    v.trim().to_owned()
}

fn is_actor_kind(kind: &str) -> bool {
    matches!(
        kind,
        "threat-actor"
            | "mitre-intrusion-set"
            | "intrusion-set"
            | "mitre-enterprise-attack-intrusion-set"
    )
}

fn is_family_kind(kind: &str) -> bool {
    matches!(
        kind,
        "malpedia"
            | "mitre-malware"
            | "mitre-tool"
            | "tool"
            | "banker"
            | "ransomware"
            | "rat"
            | "botnet"
            | "stealer"
            | "backdoor"
            | "android"
            | "cryptominers"
            | "exploit-kit"
            | "mitre-enterprise-attack-malware"
            | "mitre-enterprise-attack-tool"
    )
}

/// Taxonomy terms a tag stands for: a machine tag's value, then its predicate; a plain tag
/// itself. Tags that never carry a threat type (`tlp:`, `workflow:`, ...) give none.
fn tag_terms(tag: &str) -> Vec<&str> {
    const IGNORED: &[&str] = &[
        "tlp:",
        "workflow:",
        "type:",
        "osint:",
        "source:",
        "admiralty-scale:",
        "estimative-language:",
        "misp:",
        "pap:",
    ];
    if IGNORED.iter().any(|p| tag.starts_with(p)) || tag.starts_with("misp-galaxy:") {
        return Vec::new();
    }
    match tag.split_once(':') {
        Some((_, rest)) if !rest.starts_with(' ') => match rest.split_once('=') {
            Some((pred, value)) => vec![value.trim_matches('"'), pred],
            None => vec![rest],
        },
        _ => vec![tag],
    }
}

fn cluster_threat_type(c: &Cluster<'_>) -> Option<&'static str> {
    if is_actor_kind(&c.kind) {
        return Some(taxonomy::APT);
    }
    match taxonomy::normalize(&c.kind) {
        Some(taxonomy::MALWARE) | None => {
            taxonomy::normalize(&c.value).or(taxonomy::normalize(&c.kind))
        }
        t => t,
    }
}

fn cluster_stage(c: &Cluster<'_>) -> Option<String> {
    let chain = c.meta?.get("kill_chain")?.as_array()?;
    chain
        .iter()
        .filter_map(Value::as_str)
        .find_map(taxonomy::stage_key)
}

/// What the tags and galaxies of one level (attribute, event, manifest) say.
#[derive(Default)]
struct Context {
    threat_types: Vec<&'static str>,
    actor: Option<String>,
    family: Option<String>,
    stage: Option<String>,
    reliability: Option<Reliability>,
    confidence: Option<u8>,
    benign: bool,
}

fn context<'a>(
    tags: impl Iterator<Item = &'a str>,
    clusters: &[Cluster<'_>],
    plain_families: bool,
    out: &mut Parsed,
) -> Context {
    let mut ctx = Context::default();
    for t in tags {
        if let Some(v) = t.strip_prefix("admiralty-scale:source-reliability=") {
            ctx.reliability = v.trim_matches('"').parse().ok();
            continue;
        }
        if let Some(v) = t.strip_prefix("admiralty-scale:information-credibility=") {
            ctx.confidence = match v.trim_matches('"') {
                "1" => Some(90),
                "2" => Some(75),
                "3" => Some(60),
                "4" => Some(40),
                "5" => Some(20),
                _ => None,
            };
            continue;
        }
        if let Some(v) = t.strip_prefix("kill-chain:") {
            if ctx.stage.is_none() {
                ctx.stage = taxonomy::stage_key(v.trim_matches('"'));
            }
            continue;
        }
        let terms = tag_terms(t);
        for term in &terms {
            match taxonomy::classify(term) {
                Some(taxonomy::BENIGN) => ctx.benign = true,
                Some(tt) => ctx.threat_types.push(tt),
                None => {}
            }
        }
        // A plain tag that is not a vocabulary word names a family (TweetFeed's hashtags).
        if plain_families
            && ctx.family.is_none()
            && !t.contains(':')
            && !taxonomy::is_vocabulary(t)
            && !t.trim().is_empty()
        {
            ctx.family = Some(t.trim().trim_start_matches('#').to_owned());
        }
    }
    for c in clusters {
        if let Some(tt) = cluster_threat_type(c) {
            ctx.threat_types.push(tt);
        }
        if ctx.stage.is_none() {
            ctx.stage = cluster_stage(c);
        }
        if is_actor_kind(&c.kind) {
            ctx.actor.get_or_insert_with(|| c.value.clone());
        } else if is_family_kind(&c.kind) {
            ctx.family.get_or_insert_with(|| c.value.clone());
        }
        if is_actor_kind(&c.kind) || is_family_kind(&c.kind) {
            if let Some(syn) = c
                .meta
                .and_then(|m| m.get("synonyms"))
                .and_then(Value::as_array)
            {
                let entry = out.aliases.entry(c.value.clone()).or_default();
                for s in syn.iter().filter_map(Value::as_str) {
                    if !entry.iter().any(|e| e == s) {
                        entry.push(s.to_owned());
                    }
                }
            }
        }
    }
    ctx
}

/// An attribute of an event: parsed with the event, or still raw JSON.
enum AttributeJson<'v> {
    Parsed(&'v Value),
    Raw(&'v RawValue),
}

/// One event; `raw_attributes` are top-level attributes the caller kept unparsed (then the
/// event has no `Attribute` member of its own).
fn event(
    ev: &Value,
    raw_attributes: &[&RawValue],
    manifest: Option<&ManifestEntry>,
    d: &FeedDefaults,
    parts: &mut dyn Parts,
) -> Result<(), Stopped> {
    // What the event says outside its attributes (aliases, objects' resolutions).
    let mut head = Parsed::default();
    let out = &mut head;
    let source = ev
        .get("Orgc")
        .and_then(|o| str_field(o, "name"))
        .map(str::to_owned)
        .or_else(|| manifest.and_then(|m| m.org.clone()))
        .unwrap_or_else(|| d.source.clone());
    let event_clusters = clusters(ev);
    let manifest_tags: Vec<&str> = manifest
        .map(|m| m.tags.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let ev_ctx = context(
        tag_names(ev).chain(manifest_tags.iter().copied()),
        &event_clusters,
        false,
        out,
    );
    let threat_level = num_or_str(ev, "threat_level_id")
        .and_then(|t| t.parse::<u8>().ok())
        .or(manifest.and_then(|m| m.threat_level_id));
    let level_risk = match threat_level {
        Some(1) => Some(RiskLevel::High),
        Some(2) => Some(RiskLevel::Medium),
        Some(3) => Some(RiskLevel::Low),
        _ => None,
    };
    let event_date = str_field(ev, "date")
        .and_then(parse_time)
        .or(manifest.and_then(|m| m.date));
    let event_time = num_or_str(ev, "timestamp")
        .and_then(|t| parse_time(&t))
        .or(manifest.and_then(|m| m.timestamp));

    let source_record = Source {
        name: source.clone(),
        reliability: ev_ctx.reliability.unwrap_or(d.reliability),
        default_threat_type: Some(d.threat_type.clone()),
    };

    let mut file_objects = Vec::new();
    // Top-level attributes, then object attributes (with their object).
    let mut attrs: Vec<AttributeJson> = ev
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(AttributeJson::Parsed)
        .chain(raw_attributes.iter().map(|raw| AttributeJson::Raw(raw)))
        .collect();
    for o in ev
        .get("Object")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if o.get("deleted").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        attrs.extend(
            o.get("Attribute")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(AttributeJson::Parsed),
        );
        object_resolution(o, event_date.or(event_time).unwrap_or(d.observed_at), out);
        if str_field(o, "name") == Some("file") {
            file_objects.push(o);
        }
    }

    let ev_shared = EventShared {
        source: &source,
        ev_ctx: &ev_ctx,
        level_risk,
        event_date,
        event_time,
    };
    for o in file_objects {
        object_file(o, &ev_shared, d, out);
    }
    // The event's source goes with the first part that has records.
    let mut event_parts = EventParts {
        parts,
        source: Some(source_record),
    };
    event_parts.part(head)?;
    parse_each_in_order(
        &attrs,
        |i, a, part| {
            let line = i as u64 + 1;
            match a {
                AttributeJson::Parsed(a) => attribute(a, line, &ev_shared, d, part),
                AttributeJson::Raw(raw) => {
                    let a = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                    attribute(&a, line, &ev_shared, d, part);
                }
            }
        },
        &mut event_parts,
    )
}

/// The parts of one event: its source record is put before the first record (and not at all
/// when the event yields none).
struct EventParts<'p> {
    parts: &'p mut dyn Parts,
    source: Option<Source>,
}

impl Parts for EventParts<'_> {
    fn part(&mut self, mut part: Parsed) -> Result<(), Stopped> {
        if !part.evidence.is_empty() {
            if let Some(source) = self.source.take() {
                part.add_source(source);
            }
        }
        self.parts.part(part)
    }
}

struct EventShared<'a> {
    source: &'a str,
    ev_ctx: &'a Context,
    level_risk: Option<RiskLevel>,
    event_date: Option<Timestamp>,
    event_time: Option<Timestamp>,
}

/// The name and address of a `domain-ip` / `passive-dns` object.
fn object_resolution(o: &Value, when: Timestamp, out: &mut Parsed) {
    let name = str_field(o, "name").unwrap_or("");
    if !matches!(name, "domain-ip" | "passive-dns") {
        return;
    }
    let mut names = Vec::new();
    let mut ips = Vec::new();
    let mut first = None;
    let mut last = None;
    for a in o
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let rel = str_field(a, "object_relation").unwrap_or("");
        let Some(v) = str_field(a, "value") else {
            continue;
        };
        match rel {
            "domain" | "hostname" | "rrname" => {
                if let Ok(n) = DomainName::parse(v.trim_end_matches('.')) {
                    names.push(n);
                }
            }
            "ip" | "rdata" => {
                if let Ok(ip) = v.trim().parse() {
                    ips.push(ip);
                }
            }
            "time_first" | "first-seen" => first = parse_time(v),
            "time_last" | "last-seen" => last = parse_time(v),
            _ => {}
        }
    }
    let first = first.unwrap_or(when);
    let last = last.unwrap_or(first).max(first);
    for n in &names {
        for ip in &ips {
            out.evidence.push(Evidence::Resolution(Resolution {
                name: n.clone(),
                ip: *ip,
                first_seen: first,
                last_seen: last,
                count: 1,
            }));
        }
    }
}

fn attribute(a: &Value, line: u64, ev: &EventShared<'_>, d: &FeedDefaults, out: &mut Parsed) {
    let ty = str_field(a, "type").unwrap_or("");
    let Some(value) = str_field(a, "value") else {
        out.reject(line, format!("{ty} attribute without a value"));
        return;
    };
    if a.get("deleted").and_then(Value::as_bool) == Some(true) {
        out.skipped += 1;
        return;
    }
    let to_ids = match a.get("to_ids") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s != "0" && s != "false",
        Some(Value::Number(n)) => n.as_u64() != Some(0),
        _ => true,
    };
    let value = refang(value.trim());
    // A URL on the host rather than the host itself.
    let via_url = matches!(ty, "url" | "uri") && is_url_form(&value);
    // Host part and, for domain|ip, the address it resolved to.
    let name = |n: &str| {
        DomainName::parse(n)
            .map(|n| Subject::Host(Host::Name(n)))
            .map_err(|e| format!("{ty} {value:?}: {e}"))
    };
    let (host, resolved): (Result<Subject, String>, Option<&str>) = match ty {
        "domain" | "hostname" => (name(&value), None),
        "hostname|port" => (
            name(value.rsplit_once('|').map_or(value.as_ref(), |(h, _)| h)),
            None,
        ),
        "domain|ip" => match value.split_once('|') {
            Some((n, ip)) => (name(n), Some(ip)),
            None => (Err(format!("domain|ip value {value:?} has no '|'")), None),
        },
        "url" | "uri" => (
            host_of_url(&value)
                .map(Subject::Host)
                .map_err(|e| format!("{ty}: {e}")),
            None,
        ),
        "md5" | "sha1" | "sha256" | "filename|md5" | "filename|sha1" | "filename|sha256"
        | "malware-sample" => (attribute_file(ty, &value), None),
        "ip-src" | "ip-dst" | "ip-src|port" | "ip-dst|port" => {
            let ip = value.split('|').next().unwrap_or("");
            match parse_network(ip) {
                Some(net) => {
                    if to_ids {
                        ip_record(net, a, ev, d, out);
                    } else {
                        out.skipped += 1;
                    }
                }
                None => out.reject(
                    line,
                    format!("{ty} {value:?} is not an IP address or network"),
                ),
            }
            return;
        }
        _ => {
            out.skipped += 1;
            return;
        }
    };
    let host = match host {
        Ok(h) => h,
        Err(e) => {
            out.reject(line, e);
            return;
        }
    };
    let attr_clusters = clusters(a);
    let ctx = context(tag_names(a), &attr_clusters, true, out);
    let (first, last) = times(a, ev, d);
    if let (Subject::Host(Host::Name(name)), Some(ip)) = (&host, resolved) {
        match ip.trim().parse() {
            Ok(ip) => out.evidence.push(Evidence::Resolution(Resolution {
                name: name.clone(),
                ip,
                first_seen: first,
                last_seen: last,
                count: 1,
            })),
            Err(_) => out.reject(
                line,
                format!("domain|ip address {ip:?} is not an IP address"),
            ),
        }
    }
    if !to_ids || ctx.benign || ev.ev_ctx.benign {
        out.skipped += 1;
        return;
    }
    let threat_type = most_specific(
        ctx.threat_types
            .iter()
            .chain(&ev.ev_ctx.threat_types)
            .copied(),
    )
    .map(str::to_owned)
    .unwrap_or_else(|| d.threat_type.clone());
    let risk = ev.level_risk.unwrap_or_else(|| d.risk_for(&threat_type));
    let label = ctx
        .actor
        .or(ctx.family)
        .or_else(|| ev.ev_ctx.actor.clone())
        .or_else(|| ev.ev_ctx.family.clone())
        .or_else(|| d.label.clone());
    let confidence = ctx.confidence.or(ev.ev_ctx.confidence).or(d.confidence);
    let reference = str_field(a, "comment")
        .map(str::trim)
        .filter(|c| c.starts_with("http://") || c.starts_with("https://"))
        .map(str::to_owned)
        .or_else(|| d.reference.clone());
    match host {
        Subject::File(hashes, file_name) => {
            let mut rec = d.file_record(hashes);
            rec.source = ev.source.to_owned();
            rec.label = label;
            rec.risk = risk;
            rec.threat_type = threat_type;
            rec.file_names = file_name.into_iter().collect();
            rec.first_seen = first;
            rec.last_seen = last;
            rec.confidence = confidence;
            rec.reference = reference;
            out.evidence.push(Evidence::FileRecord(Box::new(rec)));
        }
        Subject::Host(Host::Name(name)) => {
            let mut rec = d.indicator(name.clone(), false, via_url);
            rec.source = ev.source.to_owned();
            rec.label = label;
            rec.risk = risk;
            rec.threat_type = threat_type;
            rec.attack_stage = ctx
                .stage
                .clone()
                .or_else(|| ev.ev_ctx.stage.clone())
                .or_else(|| d.attack_stage.clone());
            rec.first_seen = first;
            rec.last_seen = last;
            rec.confidence = confidence;
            rec.reference = reference;
            let stage = rec.attack_stage.clone().unwrap_or_default();
            out.evidence.push(Evidence::Indicator(rec));
            for s in a
                .get("Sighting")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let kind = num_or_str(s, "type").unwrap_or_else(|| "0".to_owned());
                if kind != "0" {
                    out.skipped += 1;
                    continue;
                }
                let Some(time) = num_or_str(s, "date_sighting").and_then(|t| parse_time(&t)) else {
                    out.reject(line, "sighting without a readable date_sighting");
                    continue;
                };
                out.evidence.push(Evidence::Event(SecurityEvent {
                    name: name.clone(),
                    time,
                    stage: stage.clone(),
                    industry: "unknown".to_owned(),
                    count: 1,
                    source: ev.source.to_owned(),
                }));
            }
        }
        Subject::Host(Host::Ip(ip)) => ip_record(IpNetwork::host(ip), a, ev, d, out),
    }
}

/// What an attribute names: a host, or a file (by a hash, with the file's name when given).
enum Subject {
    Host(Host),
    File(FileHashes, Option<String>),
}

/// The file of a hash attribute (`md5`, `filename|sha256`, `malware-sample` = `filename|md5`,
/// ...): its hash must be of the kind the type names.
fn attribute_file(ty: &str, value: &str) -> Result<Subject, String> {
    let (file_name, hash) = match ty.contains('|') || ty == "malware-sample" {
        true => match value.rsplit_once('|') {
            Some((name, hash)) => (Some(name.trim()).filter(|n| !n.is_empty()), hash),
            None => return Err(format!("{ty} value {value:?} has no '|'")),
        },
        false => (None, value),
    };
    let stated = match ty.rsplit('|').next() {
        Some("sha1") => HashKind::Sha1,
        Some("sha256") => HashKind::Sha256,
        _ => HashKind::Md5,
    };
    let hash = FileHash::parse(hash).map_err(|e| format!("{ty} {value:?}: {e}"))?;
    if hash.kind() != stated {
        return Err(format!(
            "{ty} {value:?}: the hash is a {}, not an {stated}",
            hash.kind()
        ));
    }
    Ok(Subject::File(
        FileHashes::one(hash),
        file_name.map(str::to_owned),
    ))
}

/// A `file` object's record linking its hashes (when it gives more than one for detection), under the
/// event's threat type and label, with the object's file name and size.
fn object_file(o: &Value, ev: &EventShared<'_>, d: &FeedDefaults, out: &mut Parsed) {
    let mut hashes = Vec::new();
    let mut file_name = None;
    let mut size = None;
    for a in o
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if a.get("to_ids") == Some(&Value::Bool(false)) {
            continue;
        }
        let value = str_field(a, "value").map(str::trim).unwrap_or("");
        match str_field(a, "object_relation").or_else(|| str_field(a, "type")) {
            Some("md5" | "sha1" | "sha256") => hashes.extend(FileHash::parse(value).ok()),
            Some("filename") => file_name = Some(value.to_owned()).filter(|v| !v.is_empty()),
            Some("size-in-bytes") => size = value.parse().ok(),
            _ => {}
        }
    }
    if hashes.len() < 2 || ev.ev_ctx.benign {
        return;
    }
    let Ok(hashes) = FileHashes::new(hashes) else {
        return;
    };
    let threat_type = most_specific(ev.ev_ctx.threat_types.iter().copied())
        .map(str::to_owned)
        .unwrap_or_else(|| d.threat_type.clone());
    let mut rec = d.file_record(hashes);
    rec.source = ev.source.to_owned();
    rec.risk = ev.level_risk.unwrap_or_else(|| d.risk_for(&threat_type));
    rec.threat_type = threat_type;
    rec.label = ev
        .ev_ctx
        .actor
        .clone()
        .or_else(|| ev.ev_ctx.family.clone())
        .or_else(|| d.label.clone());
    rec.file_names = file_name.into_iter().collect();
    rec.size = size;
    if let Some(t) = ev.event_date.or(ev.event_time) {
        rec.first_seen = t;
        rec.last_seen = ev.event_time.unwrap_or(t).max(t);
    }
    rec.confidence = ev.ev_ctx.confidence.or(d.confidence);
    out.evidence.push(Evidence::FileRecord(Box::new(rec)));
}

fn times(a: &Value, ev: &EventShared<'_>, d: &FeedDefaults) -> (Timestamp, Timestamp) {
    let stamp = num_or_str(a, "timestamp").and_then(|t| parse_time(&t));
    let first = str_field(a, "first_seen")
        .and_then(parse_time)
        .or_else(|| match (ev.event_date, stamp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
        .or(ev.event_time)
        .unwrap_or(d.observed_at);
    let last = str_field(a, "last_seen")
        .and_then(parse_time)
        .or(stamp)
        .or(ev.event_time)
        .unwrap_or(first)
        .max(first);
    (first, last)
}

fn ip_record(net: IpNetwork, a: &Value, ev: &EventShared<'_>, d: &FeedDefaults, out: &mut Parsed) {
    let attr_clusters = clusters(a);
    let ctx = context(tag_names(a), &attr_clusters, false, out);
    if ctx.benign || ev.ev_ctx.benign {
        out.skipped += 1;
        return;
    }
    let threat_type = most_specific(
        ctx.threat_types
            .iter()
            .chain(&ev.ev_ctx.threat_types)
            .copied(),
    )
    .map(str::to_owned)
    .unwrap_or_else(|| d.threat_type.clone());
    let mut rec = d.ip_record(net);
    rec.risk = ev.level_risk.unwrap_or_else(|| d.risk_for(&threat_type));
    rec.threat_type = threat_type;
    rec.source = ev.source.to_owned();
    out.evidence.push(Evidence::IpRecord(rec));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_and_bare_events_take_the_raw_attribute_path() {
        let d = FeedDefaults::new("misp", "Malware", chrono::DateTime::UNIX_EPOCH);
        let attributes =
            r#""Attribute": [{"type": "domain", "value": "evil.example", "to_ids": true}]"#;
        for (text, lazy) in [
            (
                format!(r#"{{"Event": {{"info": "x", {attributes}}}}}"#),
                true,
            ),
            (format!(r#"{{"info": "x", {attributes}}}"#), true),
            (
                format!(r#"{{"response": [], "Event": {{{attributes}}}}}"#),
                false,
            ),
            (r#"{"Event": {"Attribute": 3}}"#.to_owned(), false),
            (r#"{"Object": []}"#.to_owned(), false),
        ] {
            assert_eq!(
                walk_event_lazily(&text, None, &d, &mut Parsed::default()).is_some(),
                lazy,
                "{text}"
            );
        }
    }
}
