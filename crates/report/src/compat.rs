//! The compatibility form of a report: DescribeDomainReport exactly as Alibaba Cloud shapes
//! it. Every value is a string; the structured parts are JSON documents encoded as strings,
//! and parts without data (or not asked for) are `""`.
//!
//! [`CompatReport::render`] gives the fields (for XML, or to serialize); [`CompatReport::to_json`]
//! writes the JSON body in one pass: its documents are written already escaped as the content
//! of a JSON string, instead of being written and then escaped again by the outer object.

use std::io;

use chrono::{Datelike, FixedOffset, Timelike};
use serde::ser::SerializeStruct;
use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use serde_json::{Map, Value};
use threatintel_model::{
    AttackStage, Certificate, Contact, FileHash, HashKind, Industry, Lang, Scenario, ThreatLevel,
    ThreatType, Timestamp, WhoisRecord,
};

use crate::engine::{Intelligence, NativeReport, ThreatTypeSummary};
use crate::fields::{Field, FieldSet};
use crate::file::NativeFileReport;
use crate::ip::NativeIpReport;

/// DescribeDomainReport's response body. It serializes as an object of its [`fields`]
/// (reference names, reference order).
///
/// [`fields`]: CompatReport::fields
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatReport {
    pub context: String,
    pub basic: String,
    pub request_id: String,
    pub ssl_cert: String,
    pub threat_types: String,
    pub intelligences: String,
    pub scenario: String,
    pub whois: String,
    pub attack_cnt_by_threat_type: String,
    pub threat_level: String,
    pub confidence: String,
    pub domain: String,
    pub attack_preference_top5: String,
    pub group: String,
}

impl Serialize for CompatReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fields(serializer, "CompatReport", &self.fields())
    }
}

impl Serialize for CompatFileReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fields(serializer, "CompatFileReport", &self.fields())
    }
}

impl Serialize for CompatIpReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fields(serializer, "CompatIpReport", &self.fields())
    }
}

/// A compatibility report as an object of its fields, in their order.
fn serialize_fields<S: serde::Serializer>(
    serializer: S,
    name: &'static str,
    fields: &[(&'static str, &str)],
) -> Result<S::Ok, S::Error> {
    let mut object = serializer.serialize_struct(name, fields.len())?;
    for (name, value) in fields {
        object.serialize_field(name, value)?;
    }
    object.end()
}

/// `YYYY-MM-DD HH:MM:SS` in the configured zone (written digit by digit: a report has many).
fn time(t: Timestamp, offset: FixedOffset) -> String {
    let local = t.with_timezone(&offset);
    match u32::try_from(local.year()) {
        Ok(year) if year <= 9999 => {
            let mut out = String::with_capacity(19);
            let mut digits = |n: u32, width: u32, then: Option<char>| {
                for place in (0..width).rev() {
                    out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
                }
                out.extend(then);
            };
            digits(year, 4, Some('-'));
            digits(local.month(), 2, Some('-'));
            digits(local.day(), 2, Some(' '));
            digits(local.hour(), 2, Some(':'));
            digits(local.minute(), 2, Some(':'));
            digits(local.second(), 2, None);
            out
        }
        // Outside 0..=9999, as chrono writes it (with a sign or more digits).
        _ => local.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

fn opt_time(t: Option<Timestamp>, offset: FixedOffset) -> String {
    t.map(|t| time(t, offset)).unwrap_or_default()
}

/// The JSON documents inside a report are compact with their members sorted by name (as
/// serde_json's maps write them; the WHOIS document is one). `Basic`:
#[derive(Serialize)]
struct BasicDocument {
    child_domain_cnt: String,
    domain: String,
    expire_date: String,
    ip_cnt: String,
    ip_cnt_365d: String,
    malicious_child_domain_cnt: String,
    malicious_ip_cnt: String,
    malicious_ip_cnt_365d: String,
    reg_date: String,
    sld_domain: String,
}

/// One entry of `ThreatTypes` (members sorted by name, as the other documents).
#[derive(Serialize)]
struct ThreatTypeDocument<'a> {
    attck_stage: String,
    first_find_time: String,
    last_find_time: String,
    risk_type: i8,
    scenario: &'a str,
    threat_type: &'a str,
    threat_type_desc: &'a str,
}

/// One entry of `Intelligences` (members sorted by name).
#[derive(Serialize)]
struct IntelligenceDocument<'a> {
    first_find_time: String,
    last_find_time: String,
    refer: &'a str,
    source: &'a str,
    threat_type: &'a str,
    threat_type_l2: &'a str,
}

/// One entry of `AttackPreferenceTop5` (members sorted by name).
#[derive(Serialize)]
struct AttackPreferenceDocument<'a> {
    event_cnt: u64,
    gmt_last_attack: String,
    industry_name: &'a str,
}

/// One entry of `AttackCntByThreatType` (members sorted by name).
#[derive(Serialize)]
struct AttackCountDocument<'a> {
    event_cnt: u64,
    threat_type: &'a str,
}

/// `SslCert` (members sorted by name).
#[derive(Serialize)]
struct CertificateDocument<'a> {
    issuer: &'a str,
    sans: String,
    serial_number: &'a str,
    sha256: &'a str,
    subject: &'a str,
    validity_end: String,
    validity_start: String,
}

/// How the JSON documents inside a report are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DocumentForm {
    /// As JSON text: the field values of [`CompatReport`].
    Plain,
    /// As the content of a JSON string (quotes and backslashes escaped once more), ready to be
    /// placed between quotes in a JSON body.
    Embedded,
}

/// serde_json's compact form, escaped once more for the inside of a JSON string: a quote is
/// written `\"`, and every escape sequence the compact form writes gets its backslash escaped.
struct EmbeddedFormatter;

impl Formatter for EmbeddedFormatter {
    fn begin_string<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b"\\\"")
    }

    fn end_string<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b"\\\"")
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        let mut sequence = Vec::with_capacity(6);
        CompactFormatter.write_char_escape(&mut sequence, char_escape)?;
        for byte in sequence {
            if byte == b'"' || byte == b'\\' {
                writer.write_all(b"\\")?;
            }
            writer.write_all(&[byte])?;
        }
        Ok(())
    }
}

/// A document as a string in `form`.
fn to_document(form: DocumentForm, document: &impl Serialize) -> String {
    let mut out = Vec::with_capacity(256);
    let written = match form {
        DocumentForm::Plain => serde_json::to_writer(&mut out, document),
        DocumentForm::Embedded => document.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            EmbeddedFormatter,
        )),
    };
    match written {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// A list document as a string; `""` for an empty list.
fn list_document<T: Serialize>(form: DocumentForm, items: impl Iterator<Item = T>) -> String {
    let items: Vec<T> = items.collect();
    if items.is_empty() {
        return String::new();
    }
    to_document(form, &items)
}

fn contact(map: &mut Map<String, Value>, role: &str, c: &Contact) {
    for (key, value) in [
        ("name", &c.name),
        ("organization", &c.organization),
        ("email", &c.email),
        ("phone", &c.phone),
        ("street", &c.street),
        ("city", &c.city),
        ("province", &c.province),
        ("country", &c.country),
    ] {
        map.insert(format!("{role}_{key}"), Value::String(value.clone()));
    }
}

fn whois_document(form: DocumentForm, w: &WhoisRecord) -> String {
    let mut map = Map::new();
    map.insert("domain".into(), w.domain.to_string().into());
    map.insert("registrar".into(), w.registrar.name.clone().into());
    map.insert("registrar_url".into(), w.registrar.url.clone().into());
    map.insert("registrar_email".into(), w.registrar.email.clone().into());
    map.insert("registrar_phone".into(), w.registrar.phone.clone().into());
    contact(&mut map, "registrant", &w.registrant);
    contact(&mut map, "admin", &w.admin);
    contact(&mut map, "tech", &w.tech);
    map.insert("whois_server".into(), w.whois_server.clone().into());
    map.insert("dnssec".into(), w.dnssec.clone().into());
    map.insert("nameservers".into(), w.nameservers.join(",").into());
    map.insert("domain_status".into(), w.status.join(",").into());
    to_document(form, &map)
}

fn certificate_document(form: DocumentForm, c: &Certificate, offset: FixedOffset) -> String {
    to_document(
        form,
        &CertificateDocument {
            issuer: &c.issuer,
            sans: c.sans.join(","),
            serial_number: &c.serial,
            sha256: &c.sha256,
            subject: &c.subject,
            validity_end: time(c.not_after, offset),
            validity_start: time(c.not_before, offset),
        },
    )
}

/// A JSON body of string members in order, each either a plain string or a document already
/// written in [`DocumentForm::Embedded`].
fn json_body(members: &[(&str, &str, bool)]) -> String {
    let size: usize = members
        .iter()
        .map(|(name, value, _)| name.len() + value.len() + 6)
        .sum();
    let mut out = Vec::with_capacity(size + 64);
    out.push(b'{');
    for (i, (name, value, document)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        if *document {
            out.push(b'"');
            out.extend_from_slice(value.as_bytes());
            out.push(b'"');
        } else if serde_json::to_writer(&mut out, value).is_err() {
            // Writing a string into a Vec cannot fail; an empty string keeps the body valid.
            out.extend_from_slice(b"\"\"");
        }
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
}

fn threat_types_document(
    form: DocumentForm,
    threat_types: &[ThreatTypeSummary],
    lang: Lang,
    offset: FixedOffset,
) -> String {
    list_document(
        form,
        threat_types.iter().map(|t| ThreatTypeDocument {
            attck_stage: t
                .attack_stages
                .iter()
                .map(|s| AttackStage::describe(s, lang))
                .collect::<Vec<_>>()
                .join(","),
            first_find_time: time(t.first_find, offset),
            last_find_time: time(t.last_find, offset),
            risk_type: t.risk.code(),
            scenario: t.scenario.name(lang),
            threat_type: &t.threat_type,
            threat_type_desc: ThreatType::describe(&t.threat_type, lang),
        }),
    )
}

fn intelligences_document(
    form: DocumentForm,
    intelligences: &[Intelligence],
    lang: Lang,
    offset: FixedOffset,
) -> String {
    list_document(
        form,
        intelligences.iter().map(|i| IntelligenceDocument {
            first_find_time: time(i.first_find, offset),
            last_find_time: time(i.last_find, offset),
            refer: i.reference.as_deref().unwrap_or_default(),
            source: &i.source,
            threat_type: &i.threat_type,
            threat_type_l2: i
                .label
                .as_deref()
                .unwrap_or_else(|| ThreatType::describe(&i.threat_type, lang)),
        }),
    )
}

/// A heavy field: rendered when asked for, `""` otherwise.
fn if_asked(fields: FieldSet, field: Field, render: impl FnOnce() -> String) -> String {
    if fields.contains(field) {
        render()
    } else {
        String::new()
    }
}

/// `Scenario`: the verdict's scenarios' names, comma-separated.
fn scenarios_field(scenarios: &[Scenario], lang: Lang) -> String {
    scenarios
        .iter()
        .map(|s| s.name(lang))
        .collect::<Vec<_>>()
        .join(",")
}

/// `Confidence`: 0 for an unknown verdict.
fn confidence_field(level: ThreatLevel, confidence: u8) -> String {
    if level == ThreatLevel::Unknown {
        0
    } else {
        confidence
    }
    .to_string()
}

impl CompatReport {
    /// Renders `report` for `lang`, with times in `offset`.
    pub fn render(
        report: &NativeReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
    ) -> Self {
        Self::build(report, lang, offset, request_id, DocumentForm::Plain)
    }

    /// The JSON body of `report`: what serializing [`CompatReport::render`]'s result gives,
    /// written in one pass.
    pub fn to_json(
        report: &NativeReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
    ) -> String {
        let embedded = Self::build(report, lang, offset, request_id, DocumentForm::Embedded);
        json_body(&embedded.members())
    }

    /// The fields by their reference names, in the reference's order (its XML example's).
    pub fn fields(&self) -> [(&'static str, &str); 14] {
        self.members().map(|(name, value, _)| (name, value))
    }

    /// The fields in order, each with whether it holds a JSON document.
    fn members(&self) -> [(&'static str, &str, bool); 14] {
        [
            ("Context", &self.context, false),
            ("Basic", &self.basic, true),
            ("RequestId", &self.request_id, false),
            ("SslCert", &self.ssl_cert, true),
            ("ThreatTypes", &self.threat_types, true),
            ("Intelligences", &self.intelligences, true),
            ("Scenario", &self.scenario, false),
            ("Whois", &self.whois, true),
            (
                "AttackCntByThreatType",
                &self.attack_cnt_by_threat_type,
                true,
            ),
            ("ThreatLevel", &self.threat_level, false),
            ("Confidence", &self.confidence, false),
            ("Domain", &self.domain, false),
            ("AttackPreferenceTop5", &self.attack_preference_top5, true),
            ("Group", &self.group, false),
        ]
    }

    fn build(
        report: &NativeReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
        form: DocumentForm,
    ) -> Self {
        let fields = report.fields;
        let verdict = &report.verdict;
        let basic = &report.basic;
        let basic_doc = BasicDocument {
            child_domain_cnt: basic.child_domain_cnt.to_string(),
            domain: report.domain.to_string(),
            expire_date: opt_time(basic.expire_date, offset),
            ip_cnt: basic.ip_cnt.to_string(),
            ip_cnt_365d: basic.ip_cnt.to_string(),
            malicious_child_domain_cnt: basic.malicious_child_domain_cnt.to_string(),
            malicious_ip_cnt: basic.malicious_ip_cnt.to_string(),
            malicious_ip_cnt_365d: basic.malicious_ip_cnt.to_string(),
            reg_date: opt_time(basic.reg_date, offset),
            sld_domain: report.sld_domain.to_string(),
        };
        let threat_types = if_asked(fields, Field::ThreatTypes, || {
            threat_types_document(form, &report.threat_types, lang, offset)
        });
        let intelligences = if_asked(fields, Field::Intelligences, || {
            intelligences_document(form, &report.intelligences, lang, offset)
        });
        let attack_preference_top5 = if_asked(fields, Field::AttackPreferenceTop5, || {
            list_document(
                form,
                report
                    .attack_preference_top5
                    .iter()
                    .map(|i| AttackPreferenceDocument {
                        event_cnt: i.event_cnt,
                        gmt_last_attack: time(i.last_attack, offset),
                        industry_name: Industry::describe(&i.industry, lang),
                    }),
            )
        });
        let attack_cnt_by_threat_type = if_asked(fields, Field::AttackCntByThreatType, || {
            list_document(
                form,
                report
                    .attack_count_by_stage
                    .iter()
                    .map(|s| AttackCountDocument {
                        event_cnt: s.event_cnt,
                        threat_type: AttackStage::describe(&s.stage, lang),
                    }),
            )
        });
        Self {
            context: String::new(),
            basic: to_document(form, &basic_doc),
            request_id,
            ssl_cert: report
                .certificate
                .as_ref()
                .map(|c| certificate_document(form, c, offset))
                .unwrap_or_default(),
            threat_types,
            intelligences,
            scenario: scenarios_field(&verdict.scenarios, lang),
            whois: report
                .whois
                .as_ref()
                .map(|w| whois_document(form, w))
                .unwrap_or_default(),
            attack_cnt_by_threat_type,
            threat_level: verdict.level.code().to_string(),
            confidence: confidence_field(verdict.level, verdict.confidence),
            domain: report.query.to_string(),
            attack_preference_top5,
            group: String::new(),
        }
    }
}

/// DescribeIpReport's response body (protocol reference §8.2), serialized as an object of its
/// [`fields`](CompatIpReport::fields): the fields of the domain report that apply to an
/// address, `Ip` (a JSON object string) in place of `Domain`, no `Basic` or `SslCert`. `Whois`
/// is the registration of the most specific network containing the address (`""` when none is
/// stored). Events are kept per name, so `AttackPreferenceTop5` and `AttackCntByThreatType` are
/// `""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatIpReport {
    pub context: String,
    pub request_id: String,
    pub threat_types: String,
    pub intelligences: String,
    pub scenario: String,
    pub whois: String,
    pub attack_cnt_by_threat_type: String,
    pub threat_level: String,
    pub confidence: String,
    pub ip: String,
    pub attack_preference_top5: String,
    pub group: String,
}

/// `Ip` (members sorted by name, as the other documents).
#[derive(Serialize)]
struct IpDocument<'a> {
    asn: &'a str,
    asn_label: &'a str,
    city: &'a str,
    country: &'a str,
    idc_name: &'a str,
    ip: String,
    isp: &'a str,
    province: &'a str,
}

/// `Whois` of an address: its network's registration (members sorted by name, `""` where the
/// registry says nothing).
#[derive(Serialize)]
struct NetworkWhoisDocument<'a> {
    abuse_email: &'a str,
    country: &'a str,
    name: &'a str,
    network: String,
    organisation: &'a str,
    range: &'a str,
}

impl CompatIpReport {
    /// Renders `report` for `lang`, with times in `offset`.
    pub fn render(
        report: &NativeIpReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
    ) -> Self {
        Self::build(report, lang, offset, request_id, DocumentForm::Plain)
    }

    /// The JSON body of `report`: what serializing [`CompatIpReport::render`]'s fields gives,
    /// written in one pass.
    pub fn to_json(
        report: &NativeIpReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
    ) -> String {
        json_body(&Self::build(report, lang, offset, request_id, DocumentForm::Embedded).members())
    }

    /// The fields by their reference names, in the order of the domain report's.
    pub fn fields(&self) -> [(&'static str, &str); 12] {
        self.members().map(|(name, value, _)| (name, value))
    }

    fn members(&self) -> [(&'static str, &str, bool); 12] {
        [
            ("Context", &self.context, false),
            ("RequestId", &self.request_id, false),
            ("ThreatTypes", &self.threat_types, true),
            ("Intelligences", &self.intelligences, true),
            ("Scenario", &self.scenario, false),
            ("Whois", &self.whois, true),
            (
                "AttackCntByThreatType",
                &self.attack_cnt_by_threat_type,
                true,
            ),
            ("ThreatLevel", &self.threat_level, false),
            ("Confidence", &self.confidence, false),
            ("Ip", &self.ip, true),
            ("AttackPreferenceTop5", &self.attack_preference_top5, true),
            ("Group", &self.group, false),
        ]
    }

    fn build(
        report: &NativeIpReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
        form: DocumentForm,
    ) -> Self {
        let fields = report.fields;
        let verdict = &report.verdict;
        let location = &report.location;
        let ip = IpDocument {
            asn: &location.asn,
            asn_label: &location.asn_label,
            city: &location.city,
            country: &location.country,
            idc_name: &location.idc_name,
            ip: report.ip.to_string(),
            isp: &location.isp,
            province: &location.province,
        };
        Self {
            context: String::new(),
            request_id,
            threat_types: if_asked(fields, Field::ThreatTypes, || {
                threat_types_document(form, &report.threat_types, lang, offset)
            }),
            intelligences: if_asked(fields, Field::Intelligences, || {
                intelligences_document(form, &report.intelligences, lang, offset)
            }),
            scenario: scenarios_field(&verdict.scenarios, lang),
            whois: report
                .registrations
                .first()
                .map(|r| {
                    fn text(s: &Option<String>) -> &str {
                        s.as_deref().unwrap_or_default()
                    }
                    to_document(
                        form,
                        &NetworkWhoisDocument {
                            abuse_email: text(&r.abuse_email),
                            country: text(&r.country),
                            name: text(&r.name),
                            network: r.network.to_string(),
                            organisation: text(&r.organisation),
                            range: &r.range,
                        },
                    )
                })
                .unwrap_or_default(),
            attack_cnt_by_threat_type: String::new(),
            threat_level: verdict.level.code().to_string(),
            confidence: confidence_field(verdict.level, verdict.confidence),
            ip: to_document(form, &ip),
            attack_preference_top5: String::new(),
            group: String::new(),
        }
    }
}

/// DescribeFileReport's response body (protocol reference §8.2), serialized as an object of
/// its [`fields`](CompatFileReport::fields): `FileHash` (as asked, normalised), `Basic` (a JSON
/// object string: the file's hashes, type, size, first and last sighting, names), the verdict's
/// `ThreatLevel`, `ThreatTypes`, `Intelligences` (for files a JSON array of strings: each
/// family, else the threat type's name), `Sandbox` (reserved, `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatFileReport {
    pub file_hash: String,
    pub basic: String,
    pub threat_level: String,
    pub threat_types: String,
    pub intelligences: String,
    pub sandbox: String,
    pub request_id: String,
}

/// `Basic` of a file (members sorted by name, as the other documents; `""` where unknown).
#[derive(Serialize)]
struct FileBasicDocument<'a> {
    file_names: String,
    file_size: String,
    file_type: &'a str,
    first_seen: String,
    last_seen: String,
    md5: &'a str,
    sha1: &'a str,
    sha256: &'a str,
}

impl CompatFileReport {
    /// Renders `report` for `lang`, with times in `offset`.
    pub fn render(
        report: &NativeFileReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
    ) -> Self {
        Self::build(report, lang, offset, request_id, DocumentForm::Plain)
    }

    /// The JSON body of `report`: what serializing [`CompatFileReport::render`]'s fields
    /// gives, written in one pass.
    pub fn to_json(
        report: &NativeFileReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
    ) -> String {
        json_body(&Self::build(report, lang, offset, request_id, DocumentForm::Embedded).members())
    }

    /// The fields by their reference names.
    pub fn fields(&self) -> [(&'static str, &str); 7] {
        self.members().map(|(name, value, _)| (name, value))
    }

    fn members(&self) -> [(&'static str, &str, bool); 7] {
        [
            ("FileHash", &self.file_hash, false),
            ("Basic", &self.basic, true),
            ("ThreatLevel", &self.threat_level, false),
            ("ThreatTypes", &self.threat_types, true),
            ("Intelligences", &self.intelligences, true),
            ("Sandbox", &self.sandbox, false),
            ("RequestId", &self.request_id, false),
        ]
    }

    fn build(
        report: &NativeFileReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
        form: DocumentForm,
    ) -> Self {
        let fields = report.fields;
        let file = &report.file;
        let hash = |kind| file.hashes.get(kind).map_or("", |h: &FileHash| h.as_str());
        let basic = FileBasicDocument {
            file_names: file.file_names.join(","),
            file_size: file.size.map(|s| s.to_string()).unwrap_or_default(),
            file_type: file.file_type.as_deref().unwrap_or_default(),
            first_seen: opt_time(file.first_seen, offset),
            last_seen: opt_time(file.last_seen, offset),
            md5: hash(HashKind::Md5),
            sha1: hash(HashKind::Sha1),
            sha256: hash(HashKind::Sha256),
        };
        Self {
            file_hash: report.hash.to_string(),
            basic: to_document(form, &basic),
            threat_level: report.verdict.level.code().to_string(),
            threat_types: if_asked(fields, Field::ThreatTypes, || {
                threat_types_document(form, &report.threat_types, lang, offset)
            }),
            intelligences: if_asked(fields, Field::Intelligences, || {
                let mut names: Vec<&str> = Vec::new();
                for i in &report.intelligences {
                    let name = i
                        .label
                        .as_deref()
                        .unwrap_or_else(|| ThreatType::describe(&i.threat_type, lang));
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                list_document(form, names.into_iter())
            }),
            sandbox: String::new(),
            request_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone, Utc};
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::{to_document, DocumentForm};

    proptest! {
        /// An embedded document is its plain form escaped as a JSON string's content, whatever
        /// the keys and values hold (quotes, backslashes, control characters, any Unicode).
        #[test]
        fn embedded_documents_are_plain_documents_escaped(
            members in proptest::collection::vec((any::<String>(), any::<String>()), 0..6),
            list in proptest::collection::vec(any::<String>(), 0..4),
            number in any::<i64>(),
        ) {
            let mut document: Map<String, Value> =
                members.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            document.insert("list".into(), list.into());
            document.insert("number".into(), number.into());
            let plain = to_document(DocumentForm::Plain, &document);
            let embedded = to_document(DocumentForm::Embedded, &document);
            prop_assert_eq!(serde_json::to_string(&plain).unwrap(), format!("\"{embedded}\""));
        }
    }

    #[test]
    fn times_read_as_chrono_writes_them() {
        let zones = [0, 8 * 3600, -(5 * 3600 + 1800)].map(|s| FixedOffset::east_opt(s).unwrap());
        let mut secs: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
        while secs < 253_402_300_800 + 86_400 * 400 {
            let t = Utc.timestamp_opt(secs, 0).unwrap();
            for zone in zones {
                let expected = t
                    .with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string();
                assert_eq!(super::time(t, zone), expected);
            }
            secs += 7_777_777; // about three months and a bit, so every field varies
        }
    }
}
