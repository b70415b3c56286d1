//! The compatibility form of a report: DescribeDomainReport exactly as Alibaba Cloud shapes
//! it. Every value is a string; the structured parts are JSON documents encoded as strings,
//! and parts without data (or not asked for) are `""`.
//!
//! [`CompatReport::render`] gives the fields (for XML, or to serialize); [`CompatReport::to_json`]
//! writes the JSON body in one pass: its documents are written already escaped as the content
//! of a JSON string, instead of being written and then escaped again by the outer object.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::FixedOffset;
use serde::ser::SerializeStruct;
use serde::Serialize;
use serde_json::{Map, Value};
use threatintel_model::{
    AttackStage, Certificate, Contact, FileHash, HashKind, Industry, Lang, Scenario, ThreatLevel,
    ThreatType, Timestamp, WhoisRecord,
};

use crate::engine::{
    AttackStageCount, IndustryCount, Intelligence, NativeReport, ThreatTypeSummary,
};
use crate::fields::{Field, FieldSet};
use crate::file::NativeFileReport;
use crate::ip::NativeIpReport;
use crate::json_text::{
    write_document, write_items, write_joined, write_string, DocumentForm, Unsupported,
};

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

/// `YYYY-MM-DD HH:MM:SS` in the configured zone.
fn time(t: Timestamp, offset: FixedOffset) -> String {
    LocalTime::new(t, offset).as_str().to_owned()
}

fn opt_time(t: Option<Timestamp>, offset: FixedOffset) -> String {
    t.map(|t| time(t, offset)).unwrap_or_default()
}

/// A time as `YYYY-MM-DD HH:MM:SS` in the configured zone, written digit by digit (a report has
/// many); it serializes as that string.
enum LocalTime {
    /// The text, shared with the thread's last second written: checked as UTF-8 once, when it
    /// is written (checking the 19 bytes at every use cost a report about 700 instructions).
    Digits(Rc<str>),
    /// Outside 0..=9999, as chrono writes it (with a sign or more digits).
    Other(String),
}

thread_local! {
    /// The last second written as digits on this thread, and its text: a report's times are
    /// mostly one second (its report time, or a record's first and last sighting), and so are
    /// the reports of one second. Writing them cost a report about 1,000 instructions.
    static LAST_WRITTEN: RefCell<Option<(i64, Rc<str>)>> = const { RefCell::new(None) };
}

impl LocalTime {
    fn new(t: Timestamp, offset: FixedOffset) -> Self {
        let local = t.timestamp() + i64::from(offset.local_minus_utc());
        let last = LAST_WRITTEN.with_borrow(|last| match last {
            Some((second, text)) if *second == local => Some(Rc::clone(text)),
            _ => None,
        });
        if let Some(text) = last {
            return Self::Digits(text);
        }
        let time = Self::written(t, local, offset);
        if let Self::Digits(text) = &time {
            LAST_WRITTEN.set(Some((local, Rc::clone(text))));
        }
        time
    }

    /// `t`, which is `local` seconds since the epoch in `offset`, written out.
    fn written(t: Timestamp, local: i64, offset: FixedOffset) -> Self {
        let (year, month, day) = civil_from_days(local.div_euclid(86_400));
        match u32::try_from(year) {
            Ok(year) if year <= 9999 => {
                let second_of_day = local.rem_euclid(86_400) as u32;
                let mut out = *b"0000-00-00 00:00:00";
                for (start, width, n) in [
                    (0, 4, year),
                    (5, 2, month),
                    (8, 2, day),
                    (11, 2, second_of_day / 3600),
                    (14, 2, second_of_day / 60 % 60),
                    (17, 2, second_of_day % 60),
                ] {
                    let mut n = n;
                    for place in (start..start + width).rev() {
                        out[place] = b'0' + (n % 10) as u8;
                        n /= 10;
                    }
                }
                Self::Digits(
                    std::str::from_utf8(&out)
                        .expect("digits and separators")
                        .into(),
                )
            }
            _ => Self::Other(
                t.with_timezone(&offset)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
            ),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Digits(text) => text,
            Self::Other(text) => text,
        }
    }
}

impl Serialize for LocalTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The proleptic Gregorian (year, month, day) of `days` since 1970-01-01, by Howard Hinnant's
/// `civil_from_days` (eras of 400 years; March-based years put the leap day last).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// An optional time: [`LocalTime`], or `""` when there is none.
struct OptLocalTime(Option<LocalTime>);

impl OptLocalTime {
    fn new(t: Option<Timestamp>, offset: FixedOffset) -> Self {
        Self(t.map(|t| LocalTime::new(t, offset)))
    }
}

impl Serialize for OptLocalTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_ref().map_or("", LocalTime::as_str))
    }
}

/// A count written as a decimal string (the documents hold every number of `Basic` as one).
struct CountText(u64);

impl Serialize for CountText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(itoa::Buffer::new().format(self.0))
    }
}

/// The JSON documents inside a report are compact with their members sorted by name (as
/// serde_json's maps write them; the WHOIS document is one). `Basic`:
#[derive(Serialize)]
struct BasicDocument<'a> {
    child_domain_cnt: CountText,
    domain: &'a str,
    expire_date: OptLocalTime,
    ip_cnt: CountText,
    ip_cnt_365d: CountText,
    malicious_child_domain_cnt: CountText,
    malicious_ip_cnt: CountText,
    malicious_ip_cnt_365d: CountText,
    reg_date: OptLocalTime,
    sld_domain: &'a str,
}

/// One entry of `ThreatTypes` (members sorted by name, as the other documents).
#[derive(Serialize)]
struct ThreatTypeDocument<'a> {
    attck_stage: String,
    first_find_time: LocalTime,
    last_find_time: LocalTime,
    risk_type: i8,
    scenario: &'a str,
    threat_type: &'a str,
    threat_type_desc: &'a str,
}

/// One entry of `Intelligences` (members sorted by name).
#[derive(Serialize)]
struct IntelligenceDocument<'a> {
    first_find_time: LocalTime,
    last_find_time: LocalTime,
    refer: &'a str,
    source: &'a str,
    threat_type: &'a str,
    threat_type_l2: &'a str,
}

/// One entry of `AttackPreferenceTop5` (members sorted by name).
#[derive(Serialize)]
struct AttackPreferenceDocument<'a> {
    event_cnt: u64,
    gmt_last_attack: LocalTime,
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
    validity_end: LocalTime,
    validity_start: LocalTime,
}

/// A document as a string in `form` (`""` if it cannot be written).
fn to_document(form: DocumentForm, document: &impl Serialize) -> String {
    document_with(|out| write_document(out, form, document))
}

/// What `write` writes into a new string, or `""` if it fails.
fn document_with(write: impl FnOnce(&mut String) -> Result<(), Unsupported>) -> String {
    let mut out = String::with_capacity(256);
    match write(&mut out) {
        Ok(()) => out,
        Err(_) => String::new(),
    }
}

/// A list document as a string; `""` for an empty list.
fn list_document<T: Serialize>(form: DocumentForm, items: impl Iterator<Item = T>) -> String {
    let mut items = items.peekable();
    if items.peek().is_none() {
        return String::new();
    }
    document_with(|out| write_items(out, form, items))
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
    to_document(form, &whois_map(w))
}

/// The WHOIS document: a map, so that its members come sorted by name.
fn whois_map(w: &WhoisRecord) -> Map<String, Value> {
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
    map
}

fn certificate_document(c: &Certificate, offset: FixedOffset) -> CertificateDocument<'_> {
    CertificateDocument {
        issuer: &c.issuer,
        sans: c.sans.join(","),
        serial_number: &c.serial,
        sha256: &c.sha256,
        subject: &c.subject,
        validity_end: LocalTime::new(c.not_after, offset),
        validity_start: LocalTime::new(c.not_before, offset),
    }
}

/// A JSON body of string members, written in order into one buffer: a plain string as
/// serde_json writes it, a document in [`DocumentForm::Embedded`] between quotes.
struct JsonBody {
    out: String,
}

impl JsonBody {
    fn with_capacity(capacity: usize) -> Self {
        let mut out = String::with_capacity(capacity);
        out.push('{');
        Self { out }
    }

    fn name(&mut self, name: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
    }

    /// A plain string member.
    fn text(&mut self, name: &str, value: &str) {
        self.name(name);
        write_string(&mut self.out, value);
    }

    /// A plain string member: the concatenation of `pieces`.
    fn joined<'a>(&mut self, name: &str, pieces: impl IntoIterator<Item = &'a str>) {
        self.name(name);
        write_joined(&mut self.out, pieces);
    }

    /// A member holding a document already written in [`DocumentForm::Embedded`].
    fn embedded(&mut self, name: &str, document: &str) {
        self.name(name);
        self.out.push('"');
        self.out.push_str(document);
        self.out.push('"');
    }

    /// A document member, written in [`DocumentForm::Embedded`] (`""` if it fails to write).
    fn document(&mut self, name: &str, document: &impl Serialize) {
        self.embedded_with(name, |out| {
            write_document(out, DocumentForm::Embedded, document)
        });
    }

    /// A list document member: `""` for an empty list or one not asked for.
    fn list<'a, T: 'a, D: Serialize>(
        &mut self,
        name: &str,
        asked: bool,
        items: &'a [T],
        document: impl Fn(&'a T) -> D,
    ) {
        if !asked || items.is_empty() {
            return self.text(name, "");
        }
        self.embedded_with(name, |out| {
            write_items(out, DocumentForm::Embedded, items.iter().map(document))
        });
    }

    /// A member whose value `write` writes in [`DocumentForm::Embedded`] (`""` if it fails,
    /// having written nothing).
    fn embedded_with(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut String) -> Result<(), Unsupported>,
    ) {
        self.name(name);
        self.out.push('"');
        let _ = write(&mut self.out);
        self.out.push('"');
    }

    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// A JSON body of string members in order, each either a plain string or a document already
/// written in [`DocumentForm::Embedded`].
fn json_body(members: &[(&str, &str, bool)]) -> String {
    let size: usize = members
        .iter()
        .map(|(name, value, _)| name.len() + value.len() + 6)
        .sum();
    let mut body = JsonBody::with_capacity(size + 64);
    for (name, value, document) in members {
        if *document {
            body.embedded(name, value);
        } else {
            body.text(name, value);
        }
    }
    body.finish()
}

fn threat_types_document(
    form: DocumentForm,
    threat_types: &[ThreatTypeSummary],
    lang: Lang,
    offset: FixedOffset,
) -> String {
    list_document(
        form,
        threat_types
            .iter()
            .map(|t| threat_type_document(t, lang, offset)),
    )
}

fn threat_type_document(
    t: &ThreatTypeSummary,
    lang: Lang,
    offset: FixedOffset,
) -> ThreatTypeDocument<'_> {
    ThreatTypeDocument {
        attck_stage: t
            .attack_stages
            .iter()
            .map(|s| AttackStage::describe(s, lang))
            .collect::<Vec<_>>()
            .join(","),
        first_find_time: LocalTime::new(t.first_find, offset),
        last_find_time: LocalTime::new(t.last_find, offset),
        risk_type: t.risk.code(),
        scenario: t.scenario.name(lang),
        threat_type: &t.threat_type,
        threat_type_desc: ThreatType::describe(&t.threat_type, lang),
    }
}

fn intelligences_document(
    form: DocumentForm,
    intelligences: &[Intelligence],
    lang: Lang,
    offset: FixedOffset,
) -> String {
    list_document(
        form,
        intelligences
            .iter()
            .map(|i| intelligence_document(i, lang, offset)),
    )
}

fn intelligence_document(
    i: &Intelligence,
    lang: Lang,
    offset: FixedOffset,
) -> IntelligenceDocument<'_> {
    IntelligenceDocument {
        first_find_time: LocalTime::new(i.first_find, offset),
        last_find_time: LocalTime::new(i.last_find, offset),
        refer: i.reference.as_deref().unwrap_or_default(),
        source: &i.source,
        threat_type: &i.threat_type,
        threat_type_l2: i
            .label
            .as_deref()
            .unwrap_or_else(|| ThreatType::describe(&i.threat_type, lang)),
    }
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
    scenario_pieces(scenarios, lang).collect()
}

/// `Scenario`'s text in pieces: the scenarios' names, comma-separated.
fn scenario_pieces(scenarios: &[Scenario], lang: Lang) -> impl Iterator<Item = &'static str> + '_ {
    scenarios.iter().enumerate().flat_map(move |(i, s)| {
        let separator = if i > 0 { "," } else { "" };
        [separator, s.name(lang)]
    })
}

/// `Confidence`: 0 for an unknown verdict.
fn confidence_field(level: ThreatLevel, value: u8) -> String {
    confidence(level, value).to_string()
}

fn confidence(level: ThreatLevel, confidence: u8) -> u8 {
    if level == ThreatLevel::Unknown {
        0
    } else {
        confidence
    }
}

impl CompatReport {
    /// Renders `report` for `lang`, with times in `offset`.
    pub fn render(
        report: &NativeReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
    ) -> Self {
        let form = DocumentForm::Plain;
        let fields = report.fields;
        let verdict = &report.verdict;
        Self {
            context: String::new(),
            basic: to_document(form, &basic_document(report, offset)),
            request_id,
            ssl_cert: report
                .certificate
                .as_ref()
                .map(|c| to_document(form, &certificate_document(c, offset)))
                .unwrap_or_default(),
            threat_types: if_asked(fields, Field::ThreatTypes, || {
                threat_types_document(form, &report.threat_types, lang, offset)
            }),
            intelligences: if_asked(fields, Field::Intelligences, || {
                intelligences_document(form, &report.intelligences, lang, offset)
            }),
            scenario: scenarios_field(&verdict.scenarios, lang),
            whois: report
                .whois
                .as_ref()
                .map(|w| whois_document(form, w))
                .unwrap_or_default(),
            attack_cnt_by_threat_type: if_asked(fields, Field::AttackCntByThreatType, || {
                list_document(
                    form,
                    report
                        .attack_count_by_stage
                        .iter()
                        .map(|s| attack_count_document(s, lang)),
                )
            }),
            threat_level: verdict.level.code().to_string(),
            confidence: confidence_field(verdict.level, verdict.confidence),
            domain: report.query.to_string(),
            attack_preference_top5: if_asked(fields, Field::AttackPreferenceTop5, || {
                list_document(
                    form,
                    report
                        .attack_preference_top5
                        .iter()
                        .map(|i| attack_preference_document(i, lang, offset)),
                )
            }),
            group: String::new(),
        }
    }

    /// The JSON body of `report`: what serializing [`CompatReport::render`]'s result gives,
    /// written in one pass into one buffer (the documents already escaped as the content of a
    /// JSON string, no string per field).
    pub fn to_json(
        report: &NativeReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
    ) -> String {
        let fields = report.fields;
        let verdict = &report.verdict;
        let mut body = JsonBody::with_capacity(1024);
        body.text("Context", "");
        body.document("Basic", &basic_document(report, offset));
        body.text("RequestId", &request_id);
        match &report.certificate {
            Some(c) => body.document("SslCert", &certificate_document(c, offset)),
            None => body.text("SslCert", ""),
        }
        body.list(
            "ThreatTypes",
            fields.contains(Field::ThreatTypes),
            &report.threat_types,
            |t| threat_type_document(t, lang, offset),
        );
        body.list(
            "Intelligences",
            fields.contains(Field::Intelligences),
            &report.intelligences,
            |i| intelligence_document(i, lang, offset),
        );
        body.joined("Scenario", scenario_pieces(&verdict.scenarios, lang));
        match &report.whois {
            Some(w) => body.document("Whois", &whois_map(w)),
            None => body.text("Whois", ""),
        }
        body.list(
            "AttackCntByThreatType",
            fields.contains(Field::AttackCntByThreatType),
            &report.attack_count_by_stage,
            |s| attack_count_document(s, lang),
        );
        body.text(
            "ThreatLevel",
            itoa::Buffer::new().format(verdict.level.code()),
        );
        body.text(
            "Confidence",
            itoa::Buffer::new().format(confidence(verdict.level, verdict.confidence)),
        );
        body.joined("Domain", report.query.text_parts());
        body.list(
            "AttackPreferenceTop5",
            fields.contains(Field::AttackPreferenceTop5),
            &report.attack_preference_top5,
            |i| attack_preference_document(i, lang, offset),
        );
        body.text("Group", "");
        body.finish()
    }

    /// The fields by their reference names, in the reference's order (its XML example's).
    pub fn fields(&self) -> [(&'static str, &str); 14] {
        [
            ("Context", &self.context),
            ("Basic", &self.basic),
            ("RequestId", &self.request_id),
            ("SslCert", &self.ssl_cert),
            ("ThreatTypes", &self.threat_types),
            ("Intelligences", &self.intelligences),
            ("Scenario", &self.scenario),
            ("Whois", &self.whois),
            ("AttackCntByThreatType", &self.attack_cnt_by_threat_type),
            ("ThreatLevel", &self.threat_level),
            ("Confidence", &self.confidence),
            ("Domain", &self.domain),
            ("AttackPreferenceTop5", &self.attack_preference_top5),
            ("Group", &self.group),
        ]
    }
}

fn basic_document(report: &NativeReport, offset: FixedOffset) -> BasicDocument<'_> {
    let basic = &report.basic;
    BasicDocument {
        child_domain_cnt: CountText(basic.child_domain_cnt),
        domain: report.domain.as_str(),
        expire_date: OptLocalTime::new(basic.expire_date, offset),
        ip_cnt: CountText(basic.ip_cnt),
        ip_cnt_365d: CountText(basic.ip_cnt),
        malicious_child_domain_cnt: CountText(basic.malicious_child_domain_cnt),
        malicious_ip_cnt: CountText(basic.malicious_ip_cnt),
        malicious_ip_cnt_365d: CountText(basic.malicious_ip_cnt),
        reg_date: OptLocalTime::new(basic.reg_date, offset),
        sld_domain: report.sld_domain.as_str(),
    }
}

fn attack_preference_document(
    i: &IndustryCount,
    lang: Lang,
    offset: FixedOffset,
) -> AttackPreferenceDocument<'_> {
    AttackPreferenceDocument {
        event_cnt: i.event_cnt,
        gmt_last_attack: LocalTime::new(i.last_attack, offset),
        industry_name: Industry::describe(&i.industry, lang),
    }
}

fn attack_count_document(s: &AttackStageCount, lang: Lang) -> AttackCountDocument<'_> {
    AttackCountDocument {
        event_cnt: s.event_cnt,
        threat_type: AttackStage::describe(&s.stage, lang),
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
    use threatintel_model::{Lang, Scenario};

    #[test]
    fn scenarios_are_written_comma_separated() {
        let all = Scenario::ALL;
        for n in 0..=all.len() {
            let expected = all[..n]
                .iter()
                .map(|s| s.name(Lang::Zh))
                .collect::<Vec<_>>()
                .join(",");
            assert_eq!(super::scenarios_field(&all[..n], Lang::Zh), expected);
        }
    }

    #[test]
    fn times_read_as_chrono_writes_them_each_time() {
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
                // Again: the second written last on this thread is not written anew.
                assert_eq!(super::time(t, zone), expected);
            }
            secs += 7_777_777; // about three months and a bit, so every field varies
        }
    }
}
