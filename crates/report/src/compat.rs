//! The compatibility form of a report: DescribeDomainReport exactly as Alibaba Cloud shapes
//! it. Every value is a string; the structured parts are JSON documents encoded as strings,
//! and parts without data (or not asked for) are `""`.

use chrono::{Datelike, FixedOffset, Timelike};
use serde::Serialize;
use serde_json::{Map, Value};
use threatintel_model::{Certificate, Contact, Timestamp, WhoisRecord};

use crate::engine::NativeReport;
use crate::fields::Field;
use crate::taxonomy::{industry_name, stage_name, threat_type_desc, Lang, Scenario};

/// DescribeDomainReport's response body, in the reference's key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompatReport {
    #[serde(rename = "Context")]
    pub context: String,
    #[serde(rename = "Basic")]
    pub basic: String,
    #[serde(rename = "RequestId")]
    pub request_id: String,
    #[serde(rename = "SslCert")]
    pub ssl_cert: String,
    #[serde(rename = "ThreatTypes")]
    pub threat_types: String,
    #[serde(rename = "Intelligences")]
    pub intelligences: String,
    #[serde(rename = "Scenario")]
    pub scenario: String,
    #[serde(rename = "Whois")]
    pub whois: String,
    #[serde(rename = "AttackCntByThreatType")]
    pub attack_cnt_by_threat_type: String,
    #[serde(rename = "ThreatLevel")]
    pub threat_level: String,
    #[serde(rename = "Confidence")]
    pub confidence: String,
    #[serde(rename = "Domain")]
    pub domain: String,
    #[serde(rename = "AttackPreferenceTop5")]
    pub attack_preference_top5: String,
    #[serde(rename = "Group")]
    pub group: String,
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
    threat_type_desc: String,
}

/// One entry of `Intelligences` (members sorted by name).
#[derive(Serialize)]
struct IntelligenceDocument<'a> {
    first_find_time: String,
    last_find_time: String,
    refer: &'a str,
    source: &'a str,
    threat_type: &'a str,
    threat_type_l2: String,
}

/// One entry of `AttackPreferenceTop5` (members sorted by name).
#[derive(Serialize)]
struct AttackPreferenceDocument {
    event_cnt: u64,
    gmt_last_attack: String,
    industry_name: String,
}

/// One entry of `AttackCntByThreatType` (members sorted by name).
#[derive(Serialize)]
struct AttackCountDocument {
    event_cnt: u64,
    threat_type: String,
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

/// A document as a JSON string.
fn to_document(document: &impl Serialize) -> String {
    serde_json::to_string(document).unwrap_or_default()
}

/// A list document as a string; `""` for an empty list.
fn list_document<T: Serialize>(items: impl Iterator<Item = T>) -> String {
    let items: Vec<T> = items.collect();
    if items.is_empty() {
        return String::new();
    }
    to_document(&items)
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

fn whois_document(w: &WhoisRecord) -> String {
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
    to_document(&map)
}

fn certificate_document(c: &Certificate, offset: FixedOffset) -> String {
    to_document(&CertificateDocument {
        issuer: &c.issuer,
        sans: c.sans.join(","),
        serial_number: &c.serial,
        sha256: &c.sha256,
        subject: &c.subject,
        validity_end: time(c.not_after, offset),
        validity_start: time(c.not_before, offset),
    })
}

impl CompatReport {
    /// Renders `report` for `lang`, with times in `offset`.
    pub fn render(
        report: &NativeReport,
        lang: Lang,
        offset: FixedOffset,
        request_id: String,
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
        let scenario = |s: Scenario| s.name(lang);
        let listed = |field: Field, render: &dyn Fn() -> String| {
            if fields.contains(field) {
                render()
            } else {
                String::new()
            }
        };
        let threat_types = listed(Field::ThreatTypes, &|| {
            list_document(report.threat_types.iter().map(|t| {
                ThreatTypeDocument {
                    attck_stage: t
                        .attack_stages
                        .iter()
                        .map(|s| stage_name(s, lang))
                        .collect::<Vec<_>>()
                        .join(","),
                    first_find_time: time(t.first_find, offset),
                    last_find_time: time(t.last_find, offset),
                    risk_type: t.risk.code(),
                    scenario: scenario(t.scenario),
                    threat_type: &t.threat_type,
                    threat_type_desc: threat_type_desc(&t.threat_type, lang),
                }
            }))
        });
        let intelligences = listed(Field::Intelligences, &|| {
            list_document(report.intelligences.iter().map(|i| {
                IntelligenceDocument {
                    first_find_time: time(i.first_find, offset),
                    last_find_time: time(i.last_find, offset),
                    refer: i.reference.as_deref().unwrap_or_default(),
                    source: &i.source,
                    threat_type: &i.threat_type,
                    threat_type_l2: i
                        .label
                        .clone()
                        .unwrap_or_else(|| threat_type_desc(&i.threat_type, lang)),
                }
            }))
        });
        let attack_preference_top5 =
            listed(Field::AttackPreferenceTop5, &|| {
                list_document(report.attack_preference_top5.iter().map(|i| {
                    AttackPreferenceDocument {
                        event_cnt: i.event_cnt,
                        gmt_last_attack: time(i.last_attack, offset),
                        industry_name: industry_name(&i.industry, lang),
                    }
                }))
            });
        let attack_cnt_by_threat_type = listed(Field::AttackCntByThreatType, &|| {
            list_document(
                report
                    .attack_count_by_stage
                    .iter()
                    .map(|s| AttackCountDocument {
                        event_cnt: s.event_cnt,
                        threat_type: stage_name(&s.stage, lang),
                    }),
            )
        });
        let confidence = if verdict.level == threatintel_model::ThreatLevel::Unknown {
            0
        } else {
            verdict.confidence
        };
        Self {
            context: String::new(),
            basic: to_document(&basic_doc),
            request_id,
            ssl_cert: report
                .certificate
                .as_ref()
                .map(|c| certificate_document(c, offset))
                .unwrap_or_default(),
            threat_types,
            intelligences,
            scenario: verdict
                .scenarios
                .iter()
                .map(|s| scenario(*s))
                .collect::<Vec<_>>()
                .join(","),
            whois: report
                .whois
                .as_ref()
                .map(whois_document)
                .unwrap_or_default(),
            attack_cnt_by_threat_type,
            threat_level: verdict.level.code().to_string(),
            confidence: confidence.to_string(),
            domain: report.query.to_string(),
            attack_preference_top5,
            group: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone, Utc};

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
