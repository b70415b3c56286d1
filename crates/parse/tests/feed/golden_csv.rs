//! Golden tests of the CSV / JSON export parsers on real abuse.ch, PhishTank and TweetFeed files.

use insta::assert_json_snapshot;
use serde_json::json;
use threatintel_parse::feed::{CsvMapping, FeedDefaults};
use threatintel_parse::{Context, Format};

use super::{
    corpus, defaults, full_corpus_present, read_as, read_in, reason_kinds, summary, via_url_split,
};

fn empty_type(source: &str) -> FeedDefaults {
    let mut d = defaults(source, "");
    d.threat_type.clear();
    d
}

#[test]
fn urlhaus() {
    if !full_corpus_present("urlhaus") {
        return;
    }
    let text = corpus("abusech_feeds/visible/urlhaus_2025-04-21.csv");
    let p = read_as(Format::UrlhausCsv, &text, &empty_type("urlhaus"));
    assert_eq!(
        p.evidence.len() + p.rejects.len() + p.skipped as usize,
        text.lines().count() - 1
    );
    // URLhaus lists URLs: every name record is a URL's host.
    let (via_url, listed) = via_url_split(&p);
    assert!(
        via_url > 0 && listed == 0,
        "{via_url} via URL, {listed} listed"
    );
    assert_json_snapshot!(
        json!({"summary": summary(&p, 4), "reject_kinds": reason_kinds(&p.rejects)})
    );
}

#[test]
fn feodo() {
    let text = corpus("abusech_feeds/visible/feodotracker_ipblocklist_2024-04-04.csv");
    let p = read_as(Format::FeodoCsv, &text, &empty_type("feodotracker"));
    // 23 rows, one of them glued to the `# END 28 entries` banner.
    assert_eq!(p.evidence.len(), 23);
    assert_json_snapshot!(summary(&p, 3));
}

#[test]
fn threatfox_jsonl() {
    if !full_corpus_present("threatfox_jsonl") {
        return;
    }
    let text = corpus("abusech_feeds/visible/threatfox_iocs_defanged.jsonl");
    let p = read_as(
        Format::ThreatFoxJson,
        &text,
        &defaults("threatfox", "C&C Server"),
    );
    assert_eq!(
        p.evidence.len() + p.rejects.len() + p.skipped as usize,
        17_176
    );
    assert_json_snapshot!(
        json!({"summary": summary(&p, 4), "reject_kinds": reason_kinds(&p.rejects)})
    );
}

#[test]
fn threatfox_snapshot() {
    let text = corpus("abusech_feeds/raw/threatfox_latest_snapshot.json");
    let p = read_as(
        Format::ThreatFoxJson,
        &text,
        &defaults("threatfox", "C&C Server"),
    );
    assert_eq!(p.evidence.len() + p.rejects.len() + p.skipped as usize, 40);
    assert_json_snapshot!(summary(&p, 3));
}

#[test]
fn phishtank_preset() {
    if !full_corpus_present("phishtank_preset") {
        return;
    }
    let text = corpus("phishing_feeds/visible/phishtank_verified_online_2021-03-14.csv");
    let p = read_as(Format::PhishTankCsv, &text, &empty_type("phishtank"));
    let (via_url, listed) = via_url_split(&p);
    assert!(
        via_url > 0 && listed == 0,
        "{via_url} via URL, {listed} listed"
    );
    assert_json_snapshot!(
        json!({"summary": summary(&p, 3), "reject_kinds": reason_kinds(&p.rejects)})
    );
}

#[test]
fn tweetfeed_preset() {
    let text = corpus("cti_formats/tweetfeed_csv/week.csv");
    let p = read_as(Format::TweetFeedCsv, &text, &empty_type("TweetFeed"));
    // `domain` rows name hosts, `url` rows give URLs on them.
    let url_rows = text
        .lines()
        .filter(|l| l.split(',').nth(2) == Some("url"))
        .count();
    let domain_rows = text
        .lines()
        .filter(|l| l.split(',').nth(2) == Some("domain"))
        .count();
    let (via_url, listed) = via_url_split(&p);
    assert!(
        via_url > 0 && via_url <= url_rows,
        "{via_url} of {url_rows}"
    );
    assert_eq!(listed, domain_rows);
    assert_json_snapshot!(
        json!({"summary": summary(&p, 4), "reject_kinds": reason_kinds(&p.rejects)})
    );
}

/// A mapping as an operator would write it (here as JSON; TOML works the same through serde).
#[test]
fn generic_mapping_on_phishtank() {
    if !full_corpus_present("generic_mapping_on_phishtank") {
        return;
    }
    let mapping: CsvMapping = serde_json::from_value(json!({
        "url": "url",
        "family": "target",
        "first_seen": "submission_time",
        "reference": "phish_detail_url",
    }))
    .unwrap();
    let text = corpus("phishing_feeds/visible/phishtank_verified_online_2021-03-14.csv");
    let p = read_in(
        Format::Csv,
        &text,
        &Context {
            csv_mapping: Some(mapping),
            ..Context::new("phishtank.csv", defaults("phishtank", "phishing"))
        },
    );
    let preset = read_as(Format::PhishTankCsv, &text, &empty_type("phishtank"));
    assert_eq!(p.evidence.len(), preset.evidence.len());
    assert!(serde_json::from_value::<CsvMapping>(json!({"url": "url", "hostname": "x"})).is_err());
}

/// MalwareBazaar's CSV export: detected by its header comment; each row is one file with its
/// three hashes linked, its name, type and family; a cut hash is a reject.
#[test]
fn malwarebazaar_csv() {
    let text = super::fixture("malwarebazaar_recent.csv");
    assert_eq!(
        threatintel_parse::detect("recent.csv", text.as_bytes()),
        Some(Format::MalwareBazaarCsv)
    );
    let p = read_as(
        Format::MalwareBazaarCsv,
        &text,
        &empty_type("malwarebazaar"),
    );
    assert_eq!((p.evidence.len(), p.rejects.len()), (3, 1));
    assert_json_snapshot!(summary(&p, 3));
}

/// ThreatFox hash IOCs are file records; a hash the carrier cut short is a reject saying so.
#[test]
fn threatfox_hashes() {
    let text = r#"{"ioc": "44D88612FEA8A8F36DE82E1278ABB02F", "type": "md5_hash", "malware": "Remcos", "confidence": 100, "first_seen": "2026-06-25 03:14:20 UTC"}
{"ioc": "363ee51fc02f...92f9", "type": "sha256_hash", "malware": "Remcos", "confidence": 100, "first_seen": "2026-06-25 03:14:20 UTC"}
{"ioc_value": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "ioc_type": "sha256_hash", "threat_type": "payload", "malware_printable": "Unknown malware", "first_seen_utc": "2026-06-25 03:14:20"}
"#;
    let p = read_as(
        Format::ThreatFoxJsonl,
        text,
        &defaults("threatfox", "C&C Server"),
    );
    assert_json_snapshot!(summary(&p, 2));
    let csv = "date,ioc,type\n2026-06-25,3395856ce81f2b7382dee72602f798b642f14140,sha1_hash\n";
    let mapping: CsvMapping =
        serde_json::from_value(json!({"value": "ioc", "value_type": "type", "first_seen": "date"}))
            .unwrap();
    let mut context = Context::new("test", defaults("csv-feed", "Malware"));
    context.csv_mapping = Some(mapping);
    let p = read_in(Format::Csv, csv, &context);
    assert_eq!(
        threatintel_parse::feed::evidence_kind(&p.evidence[0]),
        "file_record"
    );
}
