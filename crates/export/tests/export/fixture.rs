//! A store written in the test: one name for each rule of the selection.

use chrono::{Duration, TimeZone, Utc};
use threatintel_export::{export, Format, FormatOptions, Selection};
use threatintel_model::*;
use threatintel_report::VerdictConfig;
use threatintel_store::{SqliteStore, Store};

/// The export time of every test.
pub fn at() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

pub fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

pub fn indicator(n: &str, source: &str, days_ago: i64) -> IndicatorRecord {
    IndicatorRecord {
        name: name(n),
        zone: false,
        source: source.into(),
        threat_type: "C&C Server".into(),
        label: Some("mykings".into()),
        risk: RiskLevel::High,
        scenario: None,
        attack_stage: Some("command-and-control".into()),
        first_seen: at() - Duration::days(days_ago + 10),
        last_seen: at() - Duration::days(days_ago),
        confidence: Some(90),
        reference: None,
        via_url: false,
    }
}

/// The evidence behind the expected exports:
/// - `evil.com`: a C&C server (its names below inherit it, so `*.evil.com` too);
/// - `zonebad.net`: a zone listing (`*.zonebad.net`), except `good.zonebad.net`, allowlisted;
/// - `phish.example.org`: a medium phishing name of an unreliable second source;
/// - `allowlisted.org`: listed by an unreliable source but on a curated allowlist;
/// - `shorty.io`: only URLs on it were reported (a shared service);
/// - `old.com`: a record long decayed.
pub fn evidence() -> Vec<Evidence> {
    let mut zone = indicator("zonebad.net", "feed-a", 1);
    zone.zone = true;
    let mut phish = indicator("phish.example.org", "feed-b", 0);
    phish.threat_type = "Phishing".into();
    phish.label = None;
    phish.attack_stage = None;
    phish.risk = RiskLevel::Medium;
    let mut url_only = indicator("shorty.io", "feed-a", 1);
    url_only.via_url = true;
    let list = |n: &str, kind| {
        Evidence::Allowlist(Allowlist {
            name: n.into(),
            kind,
            enabled: true,
        })
    };
    let entry = |n: &str, list: &str, rank| {
        Evidence::AllowlistEntry(AllowlistEntry {
            name: name(n),
            matching: AllowMatch::Hostname,
            list: list.into(),
            rank,
        })
    };
    vec![
        Evidence::Source(Source {
            name: "feed-a".into(),
            reliability: Reliability::B,
            default_threat_type: None,
        }),
        Evidence::Source(Source {
            name: "feed-b".into(),
            reliability: Reliability::D,
            default_threat_type: None,
        }),
        list("warninglist", AllowlistKind::Curated),
        list("tranco", AllowlistKind::TopSites),
        Evidence::Indicator(indicator("evil.com", "feed-a", 1)),
        Evidence::Indicator(zone),
        Evidence::Indicator(phish),
        Evidence::Indicator(indicator("allowlisted.org", "feed-b", 1)),
        Evidence::Indicator(url_only),
        Evidence::Indicator(indicator("old.com", "feed-a", 400)),
        entry("allowlisted.org", "warninglist", None),
        entry("good.zonebad.net", "tranco", Some(5000)),
        entry("google.com", "tranco", Some(1)),
    ]
}

/// A fresh SQLite store holding [`evidence`].
pub fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
    put(&store, &evidence());
    (dir, store)
}

pub fn put(store: &dyn Store, evidence: &[Evidence]) {
    let mut writer = store.writer().unwrap();
    writer.put_batch(evidence).unwrap();
    writer.commit().unwrap();
}

pub fn config() -> VerdictConfig {
    VerdictConfig::default()
}

/// `format`'s whole output for `store`, with the default selection and options at [`at`].
pub fn export_of(store: &dyn Store, format: Format) -> String {
    let mut out = Vec::new();
    export(
        store,
        &config(),
        &Selection::new(at()),
        format,
        &FormatOptions::new(at()),
        &mut out,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}
