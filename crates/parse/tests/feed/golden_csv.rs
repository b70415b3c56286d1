//! Golden tests of the CSV / JSON export parsers on real abuse.ch, PhishTank and TweetFeed files.

use insta::assert_json_snapshot;
use serde_json::json;
use threatintel_parse::feed::{CsvMapping, FeedDefaults};
use threatintel_parse::{Context, Format};

use super::{corpus, defaults, read_as, read_in, reason_kinds, summary, via_url_split};

fn empty_type(source: &str) -> FeedDefaults {
    let mut d = defaults(source, "");
    d.threat_type.clear();
    d
}

#[test]
fn urlhaus() {
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
