//! Golden reports from a fixture store built here, at a fixed report time.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use threatintel_model::*;
use threatintel_report::{
    CompatReport, Field, FieldSet, Lang, NativeReport, ReportConfig, ReportEngine, ReportRequest,
    VerdictConfig,
};
use threatintel_store::{SqliteStore, Store};

#[path = "report/children.rs"]
mod children;
#[path = "report/evaluation.rs"]
mod evaluation;
#[path = "report/file.rs"]
mod file;
#[path = "report/geo.rs"]
mod geo;
#[path = "report/heuristics.rs"]
mod heuristics;
#[path = "report/ip.rs"]
mod ip;
#[path = "report/mmdb.rs"]
mod mmdb;
#[path = "../../../testdata/paths.rs"]
mod testdata;

/// The fixed report time of every golden report.
fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

fn days_ago(days: i64) -> DateTime<Utc> {
    at() - Duration::days(days)
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

fn source(name: &str, reliability: Reliability) -> Evidence {
    Evidence::Source(Source {
        name: name.into(),
        reliability,
        default_threat_type: None,
    })
}

struct Ind<'a> {
    name: &'a str,
    source: &'a str,
    threat_type: &'a str,
    label: Option<&'a str>,
    risk: RiskLevel,
    first: i64,
    last: i64,
    stage: Option<&'a str>,
}

fn indicator(i: Ind<'_>) -> Evidence {
    let (zone, n) = match i.name.strip_prefix("*.") {
        Some(zone) => (true, zone),
        None => (false, i.name),
    };
    Evidence::Indicator(IndicatorRecord {
        name: name(n),
        zone,
        source: i.source.into(),
        threat_type: i.threat_type.into(),
        label: i.label.map(Into::into),
        risk: i.risk,
        scenario: None,
        attack_stage: i.stage.map(Into::into),
        first_seen: days_ago(i.first),
        last_seen: days_ago(i.last),
        confidence: None,
        reference: Some(format!("https://feeds.example/{}/{}", i.source, n)),
        via_url: false,
    })
}

fn c2(n: &str, source: &str, last: i64) -> Evidence {
    indicator(Ind {
        name: n,
        source,
        threat_type: "C&C Server",
        label: Some("mykings"),
        risk: RiskLevel::High,
        first: 40,
        last,
        stage: Some("command-and-control"),
    })
}

fn allow(n: &str, list: &str, matching: AllowMatch, rank: Option<u32>) -> Evidence {
    Evidence::AllowlistEntry(AllowlistEntry {
        name: name(n),
        matching,
        list: list.into(),
        rank,
    })
}

fn resolution(n: &str, ip: &str, last: i64) -> Evidence {
    Evidence::Resolution(Resolution {
        name: name(n),
        ip: ip.parse::<IpAddr>().unwrap(),
        first_seen: days_ago(last + 10),
        last_seen: days_ago(last),
        count: 3,
    })
}

fn event(n: &str, days: i64, stage: &str, industry: &str, count: u64) -> Evidence {
    Evidence::Event(SecurityEvent {
        name: name(n),
        time: days_ago(days),
        stage: stage.into(),
        industry: industry.into(),
        count,
        source: "ids".into(),
    })
}

/// Every case of the golden reports, in one store.
fn fixture() -> Vec<Evidence> {
    let mut ev = vec![
        source("abuse_ch", Reliability::B),
        source("maltrail", Reliability::C),
        source("community", Reliability::D),
        source("vendor_a", Reliability::A),
        source("ids", Reliability::B),
        source("ipfeed", Reliability::B),
        Evidence::Allowlist(Allowlist {
            name: "tranco".into(),
            kind: AllowlistKind::TopSites,
            enabled: true,
        }),
        Evidence::Allowlist(Allowlist {
            name: "own".into(),
            kind: AllowlistKind::Operator,
            enabled: true,
        }),
        Evidence::Allowlist(Allowlist {
            name: "disabled".into(),
            kind: AllowlistKind::Curated,
            enabled: false,
        }),
        // An allowlisted top site.
        allow("google.com", "tranco", AllowMatch::Hostname, Some(1)),
        resolution("www.google.com", "142.250.1.1", 1),
        // A C2 name with two agreeing sources, a child inheriting from it, and a listed child.
        c2("evil-c2.com", "abuse_ch", 1),
        c2("evil-c2.com", "maltrail", 2),
        resolution("evil-c2.com", "203.0.113.7", 1),
        resolution("evil-c2.com", "198.51.100.9", 30),
        resolution("evil-c2.com", "192.0.2.1", 400),
        resolution("cdn.evil-c2.com", "203.0.113.8", 3),
        indicator(Ind {
            name: "dl.evil-c2.com",
            source: "vendor_a",
            threat_type: "Malicious Source",
            label: None,
            risk: RiskLevel::High,
            first: 20,
            last: 5,
            stage: Some("delivery"),
        }),
        Evidence::IpIntel(IpIntel {
            network: "203.0.113.0/24".parse().unwrap(),
            risk: RiskLevel::High,
            source: "ipfeed".into(),
            threat_type: Some("C&C Server".into()),
        }),
        event("evil-c2.com", 3, "command-and-control", "finance", 20),
        event("evil-c2.com", 4, "command-and-control", "gaming", 7),
        event("cdn.evil-c2.com", 2, "initial-access", "finance", 5),
        event("evil-c2.com", 10, "initial-access", "government", 2),
        event("evil-c2.com", 12, "exfiltration", "education", 1),
        event("evil-c2.com", 14, "exfiltration", "healthcare", 1),
        event("evil-c2.com", 15, "exfiltration", "retail", 1),
        // A single weak source.
        indicator(Ind {
            name: "weak-signal.net",
            source: "community",
            threat_type: "Trojan",
            label: Some("emotet"),
            risk: RiskLevel::High,
            first: 3,
            last: 1,
            stage: None,
        }),
        // A decayed record.
        c2("old-malware.org", "abuse_ch", 200),
        // A dynamic-DNS registry listed as a whole must not taint its customers.
        indicator(Ind {
            name: "duckdns.org",
            source: "maltrail",
            threat_type: "Malware",
            label: None,
            risk: RiskLevel::High,
            first: 10,
            last: 1,
            stage: None,
        }),
        resolution("victim.duckdns.org", "192.0.2.55", 2),
        // Allowlisted names with conflicting feed records: one weak source (list wins) ...
        allow(
            "popular-site.com",
            "tranco",
            AllowMatch::Hostname,
            Some(5_000),
        ),
        indicator(Ind {
            name: "popular-site.com",
            source: "maltrail",
            threat_type: "Phishing",
            label: None,
            risk: RiskLevel::Medium,
            first: 2,
            last: 0,
            stage: None,
        }),
        // ... and a reliable source on the exact name (feed wins, capped at 89).
        allow(
            "hacked-site.com",
            "tranco",
            AllowMatch::Hostname,
            Some(20_000),
        ),
        c2("hacked-site.com", "vendor_a", 1),
        // An inherited record never beats an allowlist.
        allow("shop.retailer.com", "own", AllowMatch::Exact, None),
        c2("retailer.com", "abuse_ch", 1),
        // A disabled list does nothing.
        allow("phish-kit.com", "disabled", AllowMatch::Hostname, None),
        indicator(Ind {
            name: "phish-kit.com",
            source: "abuse_ch",
            threat_type: "Phishing",
            label: Some("paypal"),
            risk: RiskLevel::High,
            first: 1,
            last: 0,
            stage: Some("initial-access"),
        }),
        // An IDN, stored in A-label form.
        c2("xn--bcher-kva.de", "abuse_ch", 1),
        // A zone listing covers the names below it in full.
        indicator(Ind {
            name: "*.bad-zone.net",
            source: "vendor_a",
            threat_type: "Phishing",
            label: None,
            risk: RiskLevel::High,
            first: 1,
            last: 0,
            stage: None,
        }),
        resolution("login.bad-zone.net", "192.0.2.80", 1),
        resolution("bad-zone.net", "192.0.2.81", 1),
        // A registered domain with WHOIS and a certificate.
        Evidence::Whois(Box::new(WhoisRecord {
            domain: name("evil-c2.com"),
            registrar: Registrar {
                name: "NameCheap, Inc.".into(),
                url: "http://www.namecheap.com".into(),
                ..Default::default()
            },
            registrant: Contact {
                country: "IS".into(),
                organization: "Privacy service".into(),
                ..Default::default()
            },
            admin: Contact::default(),
            tech: Contact::default(),
            whois_server: "whois.namecheap.com".into(),
            dnssec: "unsigned".into(),
            nameservers: vec!["ns1.evil-dns.net".into(), "ns2.evil-dns.net".into()],
            status: vec!["clientTransferProhibited".into()],
            created: Some(Utc.with_ymd_and_hms(2024, 4, 1, 8, 30, 0).unwrap()),
            expires: Some(Utc.with_ymd_and_hms(2025, 4, 1, 8, 30, 0).unwrap()),
            updated: None,
            observed_at: days_ago(5),
            raw: "Domain Name: EVIL-C2.COM\n".into(),
        })),
        Evidence::Certificate(Box::new(Certificate {
            serial: "18395475168054001104".into(),
            issuer: "CN=R3,O=Let's Encrypt,C=US".into(),
            subject: "CN=evil-c2.com".into(),
            sans: vec!["evil-c2.com".into(), "*.evil-c2.com".into()],
            covers: vec![
                DomainQuery::Exact(name("evil-c2.com")),
                DomainQuery::Wildcard(name("evil-c2.com")),
            ],
            not_before: days_ago(30),
            not_after: days_ago(30) + Duration::days(90),
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            seen_at: days_ago(2),
            seen_where: "203.0.113.7:443".into(),
        })),
    ];
    // URLs on an allowlisted shared service, from two reliable sources: the list holds.
    ev.push(allow(
        "shared-host.com",
        "tranco",
        AllowMatch::Hostname,
        Some(300),
    ));
    for source in ["vendor_a", "abuse_ch"] {
        if let Evidence::Indicator(mut rec) = c2("shared-host.com", source, 0) {
            rec.via_url = true;
            ev.push(Evidence::Indicator(rec));
        }
    }
    // A record first seen after the report time is not known yet.
    ev.push(indicator(Ind {
        name: "future.com",
        source: "abuse_ch",
        threat_type: "C&C Server",
        label: None,
        risk: RiskLevel::High,
        first: -5,
        last: -10,
        stage: None,
    }));
    ev
}

fn engine() -> (tempfile::TempDir, ReportEngine) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("fixture.db")).unwrap();
    let mut writer = store.writer().unwrap();
    for evidence in fixture() {
        writer
            .put(&evidence)
            .unwrap_or_else(|e| panic!("{evidence:?}: {e}"));
    }
    writer.commit().unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let engine =
        ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default()).unwrap();
    (dir, engine)
}

fn native(engine: &ReportEngine, domain: &str, fields: FieldSet) -> NativeReport {
    let query = DomainQuery::parse(domain).unwrap();
    engine
        .report(&ReportRequest {
            query,
            fields,
            at: at(),
            with_lists: true,
            heuristics: true,
        })
        .unwrap()
}

fn compat(engine: &ReportEngine, domain: &str, fields: FieldSet, lang: Lang) -> CompatReport {
    let report = native(engine, domain, fields);
    CompatReport::render(
        &report,
        lang,
        engine.offset(),
        "00000000-0000-4000-8000-000000000000".into(),
    )
}

/// The compatibility report as pretty JSON, with its embedded documents expanded for reading.
fn golden(report: &CompatReport) -> String {
    expanded(serde_json::to_value(report).unwrap())
}

/// A compatibility report's fields as pretty JSON, each embedded document expanded.
fn expanded(mut value: Value) -> String {
    for (_, v) in value.as_object_mut().unwrap() {
        if let Some(doc) = v
            .as_str()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .filter(|d| !d.is_number())
        {
            *v = serde_json::json!({ "(document)": doc });
        }
    }
    serde_json::to_string_pretty(&value).unwrap()
}

fn level_and_confidence(engine: &ReportEngine, domain: &str) -> (String, String, String) {
    let r = compat(engine, domain, FieldSet::NONE, Lang::Zh);
    (r.threat_level, r.confidence, r.scenario)
}

/// Verdicts of every case, in one table: (domain, ThreatLevel, Confidence check, Scenario).
#[test]
fn verdicts() {
    let (_dir, engine) = engine();
    let check = |domain: &str, level: &str, confidence: fn(u32) -> bool, scenario: &str| {
        let (l, c, s) = level_and_confidence(&engine, domain);
        assert_eq!((l.as_str(), s.as_str()), (level, scenario), "{domain}");
        assert!(confidence(c.parse().unwrap()), "{domain}: confidence {c}");
    };
    check("never-seen.com", "-1", |c| c == 0, "");
    check("google.com", "0", |c| c >= 90, "信息数据");
    check("mail.google.com", "0", |c| c >= 90, "信息数据");
    check("evil-c2.com", "3", |c| c >= 90, "失陷指标");
    check(
        "weak-signal.net",
        "3",
        |c| (60..90).contains(&c),
        "失陷指标",
    );
    check(
        "old-malware.org",
        "1",
        |c| (60..90).contains(&c),
        "失陷指标",
    );
    check(
        "cdn.evil-c2.com",
        "3",
        |c| (60..100).contains(&c),
        "失陷指标",
    );
    check("victim.duckdns.org", "-1", |c| c == 0, "");
    check("popular-site.com", "0", |c| c >= 90, "信息数据");
    check(
        "hacked-site.com",
        "3",
        |c| (60..=89).contains(&c),
        "失陷指标",
    );
    check("shop.retailer.com", "0", |c| c == 100, "信息数据");
    check("shared-host.com", "0", |c| c >= 90, "信息数据");
    check("phish-kit.com", "3", |c| c >= 90, "攻击指标");
    check("login.bad-zone.net", "3", |c| c >= 90, "攻击指标");
    check("bad-zone.net", "-1", |c| c == 0, "");
    check("future.com", "-1", |c| c == 0, "");
}

#[test]
fn two_agreeing_sources_corroborate() {
    let (_dir, engine) = engine();
    let both = native(&engine, "evil-c2.com", FieldSet::NONE);
    assert_eq!(both.verdict.support.len(), 2);
    let best_single = both
        .verdict
        .support
        .iter()
        .map(|s| s.score)
        .fold(0.0, f64::max);
    // One source alone would give less than the two together.
    assert!(60.0 + 40.0 * (best_single / 100.0 / 0.9) < f64::from(both.verdict.confidence));
}

#[test]
fn idn_in_unicode_and_punycode_give_the_same_report() {
    let (_dir, engine) = engine();
    let unicode = compat(&engine, "BÜCHER.de.", FieldSet::ALL, Lang::Zh);
    let punycode = compat(&engine, "xn--bcher-kva.de", FieldSet::ALL, Lang::Zh);
    assert_eq!(unicode, punycode);
    assert_eq!(punycode.threat_level, "3");
    assert_eq!(punycode.domain, "xn--bcher-kva.de");
}

#[test]
fn conflict_explanations_are_in_the_native_report() {
    let (_dir, engine) = engine();
    let upheld = native(&engine, "popular-site.com", FieldSet::ALL);
    assert_eq!(
        upheld.verdict.allowlist_outcome,
        Some(threatintel_report::verdict::AllowlistOutcome::Upheld)
    );
    assert!(upheld.verdict.records.iter().all(|r| r.suppressed));
    assert_eq!(upheld.verdict.allowlist_hits.len(), 1);
    let overridden = native(&engine, "hacked-site.com", FieldSet::ALL);
    assert_eq!(
        overridden.verdict.allowlist_outcome,
        Some(threatintel_report::verdict::AllowlistOutcome::Overridden)
    );
    let inherited = native(&engine, "shop.retailer.com", FieldSet::ALL);
    assert!(
        inherited.verdict.records.iter().all(|r| r.suppressed),
        "inherited records are suppressed"
    );
}

#[test]
fn basic_counts() {
    let (_dir, engine) = engine();
    let report = native(&engine, "evil-c2.com", FieldSet::NONE);
    // cdn (resolution, event) and dl (indicator); the wildcard SAN is not a name.
    assert_eq!(report.basic.child_domain_cnt, 2);
    // Both children inherit the parent's C2 listing.
    assert_eq!(report.basic.malicious_child_domain_cnt, 2);
    // 192.0.2.1 was last seen 400 days ago: outside the 365-day window.
    assert_eq!(report.basic.ip_cnt, 2);
    assert_eq!(report.basic.malicious_ip_cnt, 1);
    assert_eq!(
        report.subdomains,
        vec![name("cdn.evil-c2.com"), name("dl.evil-c2.com")]
    );
    let google = native(&engine, "google.com", FieldSet::NONE);
    assert_eq!(
        (
            google.basic.child_domain_cnt,
            google.basic.malicious_child_domain_cnt
        ),
        (1, 0)
    );
}

/// All sixteen subsets of the heavy fields.
fn every_field_set() -> impl Iterator<Item = FieldSet> {
    (0..16u8).map(|bits| {
        Field::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, f)| f)
            .collect()
    })
}

#[test]
fn every_field_combination() {
    let (_dir, engine) = engine();
    for fields in every_field_set() {
        let report =
            serde_json::to_value(compat(&engine, "evil-c2.com", fields, Lang::En)).unwrap();
        let object = report.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "AttackCntByThreatType",
                "AttackPreferenceTop5",
                "Basic",
                "Confidence",
                "Context",
                "Domain",
                "Group",
                "Intelligences",
                "RequestId",
                "Scenario",
                "SslCert",
                "ThreatLevel",
                "ThreatTypes",
                "Whois"
            ]
        );
        assert!(
            object.values().all(Value::is_string),
            "every value is a string: {report}"
        );
        for field in Field::ALL {
            let value = object[field.name()].as_str().unwrap();
            if fields.contains(field) {
                let doc: Value = serde_json::from_str(value)
                    .unwrap_or_else(|e| panic!("{field:?}: {e}: {value}"));
                assert!(doc.is_array(), "{field:?} is a JSON array document");
                assert_eq!(
                    doc.to_string(),
                    value,
                    "{field:?}: compact, members by name"
                );
            } else {
                assert_eq!(value, "", "{field:?} not requested in {fields}");
            }
        }
        for always in ["Basic", "Whois", "SslCert"] {
            let text = object[always].as_str().unwrap();
            let doc: Value = serde_json::from_str(text).unwrap();
            assert!(doc.is_object(), "{always}");
            assert_eq!(doc.to_string(), text, "{always}: compact, members by name");
        }
    }
}

#[test]
fn attack_preference_is_top_five_sorted() {
    let (_dir, engine) = engine();
    let report = native(&engine, "*.evil-c2.com", FieldSet::ALL);
    let counts: Vec<u64> = report
        .attack_preference_top5
        .iter()
        .map(|i| i.event_cnt)
        .collect();
    assert_eq!(counts, [25, 7, 2, 1, 1]);
    let exact = native(&engine, "evil-c2.com", FieldSet::ALL);
    assert_eq!(exact.attack_preference_top5[0].event_cnt, 20);
}

#[test]
fn wildcard_merges_the_zone() {
    let (_dir, engine) = engine();
    let report = native(&engine, "*.evil-c2.com", FieldSet::ALL);
    let names: Vec<&str> = report
        .contributing_names
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    // Worst first: the fresh A-source listing of dl beats the apex's two older ones.
    assert_eq!(names, ["dl.evil-c2.com", "evil-c2.com", "cdn.evil-c2.com"]);
    let severities: Vec<_> = report
        .contributing_names
        .iter()
        .map(|c| (c.level, c.confidence))
        .collect();
    assert!(severities.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(report.verdict.severity(), severities[0]);
    let types: Vec<&str> = report
        .threat_types
        .iter()
        .map(|t| t.threat_type.as_str())
        .collect();
    assert_eq!(types, ["C&C Server", "Malicious Source"]);
    assert_eq!(
        report.basic.ip_cnt, 3,
        "the zone's addresses within the window"
    );
}

#[test]
fn zone_listing_is_worst_in_its_wildcard() {
    let (_dir, engine) = engine();
    let zone = compat(&engine, "*.bad-zone.net", FieldSet::NONE, Lang::Zh);
    assert_eq!(zone.threat_level, "3");
    assert_eq!(zone.domain, "*.bad-zone.net");
}

/// The one-pass JSON body is the serialized report, byte for byte, for every golden case, field
/// combination and language.
#[test]
fn the_json_body_is_the_serialized_report() {
    let (_dir, engine) = engine();
    let domains = [
        "never-seen.com",
        "google.com",
        "evil-c2.com",
        "weak-signal.net",
        "old-malware.org",
        "cdn.evil-c2.com",
        "victim.duckdns.org",
        "popular-site.com",
        "hacked-site.com",
        "*.evil-c2.com",
        "bücher.de",
    ];
    for domain in domains {
        for fields in every_field_set() {
            let report = native(&engine, domain, fields);
            for lang in [Lang::Zh, Lang::En] {
                let id = "00000000-0000-4000-8000-000000000000";
                let rendered = CompatReport::render(&report, lang, engine.offset(), id.into());
                assert_eq!(
                    CompatReport::to_json(&report, lang, engine.offset(), id.into()),
                    serde_json::to_string(&rendered).unwrap(),
                    "{domain} {fields} {lang:?}"
                );
            }
        }
    }
}

macro_rules! golden_test {
    ($name:ident, $domain:expr, $fields:expr, $lang:expr) => {
        #[test]
        fn $name() {
            let (_dir, engine) = engine();
            insta::assert_snapshot!(golden(&compat(&engine, $domain, $fields, $lang)));
        }
    };
}

golden_test!(golden_unknown, "never-seen.com", FieldSet::ALL, Lang::Zh);
golden_test!(golden_top_site, "google.com", FieldSet::ALL, Lang::Zh);
golden_test!(golden_c2_zh, "evil-c2.com", FieldSet::ALL, Lang::Zh);
golden_test!(golden_c2_en, "evil-c2.com", FieldSet::ALL, Lang::En);
golden_test!(golden_c2_no_fields, "evil-c2.com", FieldSet::NONE, Lang::Zh);
golden_test!(
    golden_weak_source,
    "weak-signal.net",
    FieldSet::ALL,
    Lang::En
);
golden_test!(golden_decayed, "old-malware.org", FieldSet::ALL, Lang::Zh);
golden_test!(
    golden_inheriting_child,
    "cdn.evil-c2.com",
    FieldSet::ALL,
    Lang::En
);
golden_test!(
    golden_dyndns_customer,
    "victim.duckdns.org",
    FieldSet::ALL,
    Lang::Zh
);
golden_test!(
    golden_allowlist_upheld,
    "popular-site.com",
    FieldSet::ALL,
    Lang::En
);
golden_test!(
    golden_allowlist_overridden,
    "hacked-site.com",
    FieldSet::ALL,
    Lang::En
);
golden_test!(golden_wildcard, "*.evil-c2.com", FieldSet::ALL, Lang::Zh);
golden_test!(golden_idn, "bücher.de", FieldSet::ALL, Lang::Zh);

#[test]
fn golden_native_explanation() {
    let (_dir, engine) = engine();
    let report = native(&engine, "hacked-site.com", FieldSet::ALL);
    insta::assert_snapshot!(serde_json::to_string_pretty(&report).unwrap());
}
