//! DescribeIpReport: golden reports of an address listed itself, one inside a listed network,
//! an allowlisted resolver (listed by a weak feed) and an unknown address.

use super::*;
use threatintel_report::{CompatIpReport, IpReportRequest, NativeIpReport};

fn ip_record(
    net: &str,
    source: &str,
    threat_type: &str,
    label: Option<&str>,
    last: i64,
) -> Evidence {
    Evidence::IpRecord(IpRecord {
        network: net.parse().unwrap(),
        source: source.into(),
        threat_type: threat_type.into(),
        label: label.map(str::to_owned),
        risk: RiskLevel::High,
        scenario: None,
        first_seen: days_ago(last + 30),
        last_seen: days_ago(last),
        confidence: None,
        reference: Some(format!("https://{source}.example/{net}")),
    })
}

fn ip_fixture() -> Vec<Evidence> {
    vec![
        source("abuse-feed", Reliability::B),
        source("drop-list", Reliability::A),
        source("noisy-feed", Reliability::D),
        Evidence::Allowlist(Allowlist {
            name: "public-dns-v4".into(),
            kind: AllowlistKind::Curated,
            enabled: true,
        }),
        Evidence::NetworkAllowEntry(NetworkAllowEntry {
            list: "public-dns-v4".into(),
            network: "8.8.8.8".parse().unwrap(),
        }),
        ip_record(
            "203.0.113.7",
            "abuse-feed",
            "C&C Server",
            Some("Pikabot"),
            2,
        ),
        ip_record("198.51.100.0/24", "drop-list", "Malicious Source", None, 1),
        ip_record(
            "2001:db8:bad::/48",
            "drop-list",
            "Malicious Source",
            None,
            1,
        ),
        ip_record("8.8.8.8", "noisy-feed", "C&C Server", None, 3),
        resolution("c2.evil.example", "203.0.113.7", 2),
        resolution("beacon.evil.example", "203.0.113.7", 5),
        resolution("dns.google", "8.8.8.8", 1),
        registration(
            "198.51.100.0/24",
            "198.51.100.0 - 198.51.100.255",
            "BAD-HOSTING",
            40,
        ),
        registration(
            "198.51.0.0/16",
            "198.51.0.0 - 198.51.255.255",
            "DOC-WIDE",
            90,
        ),
    ]
}

fn registration(net: &str, range: &str, name: &str, days: i64) -> Evidence {
    Evidence::NetworkRegistration(NetworkRegistration {
        network: net.parse().unwrap(),
        range: range.into(),
        name: Some(name.into()),
        organisation: Some(format!("{name} Ltd")),
        country: Some("NL".into()),
        abuse_email: Some(format!("abuse@{}.example", name.to_lowercase())),
        observed_at: days_ago(days),
    })
}

pub(crate) fn ip_engine() -> (tempfile::TempDir, ReportEngine) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ip.db")).unwrap();
    let mut writer = store.writer().unwrap();
    writer.put_batch(&ip_fixture()).unwrap();
    writer.commit().unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let engine =
        ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default()).unwrap();
    (dir, engine)
}

pub(crate) fn ip_native(engine: &ReportEngine, ip: &str, fields: FieldSet) -> NativeIpReport {
    engine
        .ip_report(&IpReportRequest {
            ip: ip.parse().unwrap(),
            fields,
            at: at(),
            with_lists: true,
        })
        .unwrap()
}

const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000000";

/// The compatibility report as pretty JSON, its documents expanded for reading.
pub(crate) fn ip_golden(engine: &ReportEngine, ip: &str, lang: Lang) -> String {
    let report = ip_native(engine, ip, FieldSet::ALL);
    let compat = CompatIpReport::render(&report, lang, engine.offset(), REQUEST_ID.into());
    expanded(serde_json::to_value(compat).unwrap())
}

/// (address, ThreatLevel, Confidence, Scenario) of every case.
#[test]
fn ip_verdicts() {
    let (_dir, engine) = ip_engine();
    let verdict = |ip: &str| {
        let report = ip_native(&engine, ip, FieldSet::NONE);
        let c = CompatIpReport::render(&report, Lang::En, engine.offset(), REQUEST_ID.into());
        (c.threat_level, c.confidence, c.scenario)
    };
    let listed = verdict("203.0.113.7");
    assert_eq!(listed.0, "3", "{listed:?}");
    let within = verdict("198.51.100.99");
    assert_eq!(within.0, "3", "{within:?}");
    assert_eq!(verdict("2001:db8:bad:1::1").0, "3");
    // A weak feed's listing does not outweigh the resolver allowlist.
    assert_eq!(verdict("8.8.8.8").0, "0");
    assert_eq!(verdict("192.0.2.1"), ("-1".into(), "0".into(), "".into()));
    assert_eq!(verdict("198.51.101.1").0, "-1", "outside the /24");
    assert_eq!(
        verdict("203.0.113.8").0,
        "-1",
        "a host record covers only its host"
    );
}

/// A network listing is the block's claim: the native report names the network, and it alone
/// does not override an allowlist (only records on the address itself can).
#[test]
fn ip_native_report_names_the_networks() {
    let (_dir, engine) = ip_engine();
    let report = ip_native(&engine, "198.51.100.99", FieldSet::ALL);
    assert_eq!(report.networks, ["198.51.100.0/24".parse().unwrap()]);
    assert!(matches!(
        report.verdict.records[0].relation,
        threatintel_report::verdict::Relation::WithinNetwork { .. }
    ));
    let own = ip_native(&engine, "203.0.113.7", FieldSet::ALL);
    assert!(own.networks.is_empty());
}

/// `Whois` is the registration of the most specific registered network containing the address;
/// the native report has every one.
#[test]
fn ip_whois_is_the_most_specific_registration() {
    let (_dir, engine) = ip_engine();
    let whois = |ip: &str| {
        let report = ip_native(&engine, ip, FieldSet::NONE);
        let compat = CompatIpReport::render(&report, Lang::En, engine.offset(), REQUEST_ID.into());
        (report.registrations.len(), compat.whois)
    };
    let (count, inner) = whois("198.51.100.99");
    assert_eq!(count, 2);
    let inner: serde_json::Value = serde_json::from_str(&inner).unwrap();
    assert_eq!(inner["name"], "BAD-HOSTING");
    assert_eq!(inner["network"], "198.51.100.0/24");
    assert_eq!(inner["abuse_email"], "abuse@bad-hosting.example");
    let (count, outer) = whois("198.51.7.1");
    assert_eq!(count, 1);
    assert!(outer.contains("\"DOC-WIDE\""), "{outer}");
    assert_eq!(whois("192.0.2.1"), (0, String::new()));
}

/// The native report lists the names that resolved to the address (in name order), only when
/// asked for lists.
#[test]
fn ip_native_report_lists_the_names_that_resolved_to_it() {
    let (_dir, engine) = ip_engine();
    let report = ip_native(&engine, "203.0.113.7", FieldSet::ALL);
    let names: Vec<String> = report
        .resolved_names
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(names, ["beacon.evil.example", "c2.evil.example"]);
    assert_eq!(report.resolved_names[1].last_seen, days_ago(2));
    assert!(ip_native(&engine, "198.51.100.99", FieldSet::ALL)
        .resolved_names
        .is_empty());
    let without = engine
        .ip_report(&IpReportRequest {
            ip: "203.0.113.7".parse().unwrap(),
            fields: FieldSet::ALL,
            at: at(),
            with_lists: false,
        })
        .unwrap();
    assert!(without.resolved_names.is_empty());
}

/// The one-pass JSON body is the serialized fields, byte for byte.
#[test]
fn ip_json_body_is_the_serialized_report() {
    let (_dir, engine) = ip_engine();
    for ip in [
        "203.0.113.7",
        "198.51.100.99",
        "8.8.8.8",
        "192.0.2.1",
        "2001:db8:bad::1",
    ] {
        for fields in every_field_set() {
            let report = ip_native(&engine, ip, fields);
            for lang in [Lang::Zh, Lang::En] {
                let rendered =
                    CompatIpReport::render(&report, lang, engine.offset(), REQUEST_ID.into());
                assert_eq!(
                    CompatIpReport::to_json(&report, lang, engine.offset(), REQUEST_ID.into()),
                    serde_json::to_string(&rendered).unwrap(),
                    "{ip} {fields} {lang:?}"
                );
            }
        }
    }
}

macro_rules! ip_golden_test {
    ($name:ident, $ip:expr, $lang:expr) => {
        #[test]
        fn $name() {
            let (_dir, engine) = ip_engine();
            insta::assert_snapshot!(ip_golden(&engine, $ip, $lang));
        }
    };
}

ip_golden_test!(golden_ip_listed, "203.0.113.7", Lang::Zh);
ip_golden_test!(golden_ip_in_listed_network, "198.51.100.99", Lang::En);
ip_golden_test!(golden_ip_allowlisted_resolver, "8.8.8.8", Lang::En);
ip_golden_test!(golden_ip_unknown, "192.0.2.1", Lang::Zh);

#[test]
fn golden_ip_native_explanation() {
    let (_dir, engine) = ip_engine();
    let report = ip_native(&engine, "8.8.8.8", FieldSet::ALL);
    insta::assert_snapshot!(serde_json::to_string_pretty(&report).unwrap());
}
