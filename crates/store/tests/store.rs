//! Store behaviour, written against the `Store` trait so every backend runs the same checks.

use std::net::IpAddr;

use chrono::{Duration, TimeZone, Utc};
use threatintel_model::*;
use threatintel_store::{PutOutcome, SqliteStore, Store, StoreError};

fn t(days: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap() + Duration::days(days)
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

fn source(n: &str) -> Evidence {
    Evidence::Source(Source {
        name: n.into(),
        reliability: Reliability::B,
        default_threat_type: None,
    })
}

fn indicator(n: &str, src: &str, last: i64) -> Evidence {
    Evidence::Indicator(IndicatorRecord {
        name: name(n),
        zone: false,
        source: src.into(),
        threat_type: "C&C Server".into(),
        label: None,
        risk: RiskLevel::High,
        scenario: None,
        attack_stage: None,
        first_seen: t(last - 1),
        last_seen: t(last),
        confidence: None,
        reference: None,
        via_url: false,
    })
}

fn resolution(n: &str, ip: &str, last: i64) -> Evidence {
    Evidence::Resolution(Resolution {
        name: name(n),
        ip: ip.parse().unwrap(),
        first_seen: t(last - 1),
        last_seen: t(last),
        count: 1,
    })
}

fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    (dir, store)
}

fn put_all(store: &dyn Store, evidence: &[Evidence]) {
    let mut w = store.writer().unwrap();
    for e in evidence {
        w.put(e).unwrap();
    }
    w.commit().unwrap();
}

/// Runs `check` against every backend.
fn each_backend(check: impl Fn(&dyn Store)) {
    let (_dir, store) = sqlite();
    check(&store);
}

#[test]
fn a_dropped_writer_leaves_nothing() {
    each_backend(|store| {
        {
            let mut w = store.writer().unwrap();
            w.put(&source("feed")).unwrap();
            w.put(&indicator("evil.com", "feed", 0)).unwrap();
            // Dropped without commit, as after an error or a kill.
        }
        assert_eq!(store.reader().unwrap().stats().unwrap().indicators, 0);
        assert_eq!(store.reader().unwrap().stats().unwrap().sources, 0);
        assert!(!store
            .reader()
            .unwrap()
            .knows_zone(&name("evil.com"))
            .unwrap());
    });
}

#[test]
fn a_failed_put_does_not_commit_the_batch() {
    each_backend(|store| {
        let mut w = store.writer().unwrap();
        w.put(&source("feed")).unwrap();
        w.put(&indicator("evil.com", "feed", 0)).unwrap();
        let err = w
            .put(&indicator("other.com", "no-such-feed", 0))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownSource(ref s) if s == "no-such-feed"),
            "{err}"
        );
        drop(w);
        assert_eq!(store.reader().unwrap().stats().unwrap().indicators, 0);
    });
}

#[test]
fn reimport_updates_times_and_counters_only() {
    each_backend(|store| {
        put_all(store, &[source("feed"), indicator("evil.com", "feed", 0)]);
        let mut w = store.writer().unwrap();
        assert_eq!(w.put(&source("feed")).unwrap(), PutOutcome::Updated);
        assert_eq!(
            w.put(&indicator("evil.com", "feed", 5)).unwrap(),
            PutOutcome::Updated
        );
        w.commit().unwrap();
        let hits = store
            .reader()
            .unwrap()
            .indicators_at(&[name("evil.com")])
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].sightings, 2);
        assert_eq!(
            (hits[0].record.first_seen, hits[0].record.last_seen),
            (t(-1), t(5))
        );
        assert_eq!(store.reader().unwrap().stats().unwrap().indicators, 1);
    });
}

#[test]
fn zone_ranges_respect_label_boundaries() {
    each_backend(|store| {
        put_all(
            store,
            &[
                source("feed"),
                indicator("example.com", "feed", 0),
                indicator("a.example.com", "feed", 0),
                indicator("b.a.example.com", "feed", 0),
                indicator("example-foo.com", "feed", 0),
                indicator("notexample.com", "feed", 0),
                resolution("www.example.com", "192.0.2.1", 0),
            ],
        );
        let below: Vec<String> = store
            .reader()
            .unwrap()
            .indicators_below(&name("example.com"))
            .unwrap()
            .iter()
            .map(|h| h.record.name.to_string())
            .collect();
        assert_eq!(below, ["example.com", "a.example.com", "b.a.example.com"]);
        assert_eq!(
            store
                .reader()
                .unwrap()
                .count_names_below(&name("example.com"))
                .unwrap(),
            3
        );
        let names: Vec<String> = store
            .reader()
            .unwrap()
            .names_below(&name("example.com"), 10)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            ["a.example.com", "b.a.example.com", "www.example.com"]
        );
        assert!(store
            .reader()
            .unwrap()
            .knows_zone(&name("example.com"))
            .unwrap());
        assert!(!store
            .reader()
            .unwrap()
            .knows_zone(&name("example.net"))
            .unwrap());
        assert!(!store
            .reader()
            .unwrap()
            .knows_zone(&name("ample.com"))
            .unwrap());
    });
}

#[test]
fn allowlist_only_names_are_not_counted_children_and_disabled_lists_are_invisible() {
    each_backend(|store| {
        put_all(
            store,
            &[
                Evidence::Allowlist(Allowlist {
                    name: "top".into(),
                    kind: AllowlistKind::TopSites,
                    enabled: true,
                }),
                Evidence::Allowlist(Allowlist {
                    name: "off".into(),
                    kind: AllowlistKind::Curated,
                    enabled: false,
                }),
                Evidence::AllowlistEntry(AllowlistEntry {
                    name: name("www.site.com"),
                    matching: AllowMatch::Exact,
                    list: "top".into(),
                    rank: Some(3),
                }),
                Evidence::AllowlistEntry(AllowlistEntry {
                    name: name("site.com"),
                    matching: AllowMatch::Hostname,
                    list: "off".into(),
                    rank: None,
                }),
            ],
        );
        assert_eq!(
            store
                .reader()
                .unwrap()
                .count_names_below(&name("site.com"))
                .unwrap(),
            0
        );
        let hits = store
            .reader()
            .unwrap()
            .allowlist_below(&name("site.com"))
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].entry.rank, Some(3));
        assert!(store
            .reader()
            .unwrap()
            .allowlist_at(&[name("site.com")])
            .unwrap()
            .is_empty());
    });
}

#[test]
fn ip_intel_matches_containing_networks() {
    each_backend(|store| {
        let intel = |net: &str| {
            Evidence::IpIntel(IpIntel {
                network: net.parse().unwrap(),
                risk: RiskLevel::High,
                source: "feed".into(),
                threat_type: None,
            })
        };
        put_all(
            store,
            &[
                source("feed"),
                intel("203.0.113.0/24"),
                intel("198.51.100.7"),
                intel("2001:db8::/32"),
            ],
        );
        let ips: Vec<IpAddr> = [
            "203.0.113.200",
            "203.0.114.1",
            "198.51.100.7",
            "198.51.100.8",
            "2001:db8:1::1",
            "2001:db9::1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let matched: Vec<String> = store
            .reader()
            .unwrap()
            .ip_intel(&ips)
            .unwrap()
            .iter()
            .map(|(ip, _)| ip.to_string())
            .collect();
        assert_eq!(matched, ["203.0.113.200", "198.51.100.7", "2001:db8:1::1"]);
    });
}

#[test]
fn resolutions_are_windowed_and_merged_per_address() {
    each_backend(|store| {
        put_all(
            store,
            &[
                resolution("a.example.com", "192.0.2.1", 0),
                resolution("b.example.com", "192.0.2.1", -3),
                resolution("example.com", "192.0.2.2", -400),
            ],
        );
        let zone = DomainQuery::Wildcard(name("example.com"));
        let ips = store
            .reader()
            .unwrap()
            .resolved_ips(&zone, t(-365), t(0))
            .unwrap();
        assert_eq!(ips.len(), 1);
        assert_eq!(
            (ips[0].count, ips[0].first_seen, ips[0].last_seen),
            (2, t(-4), t(0))
        );
        let exact = DomainQuery::Exact(name("example.com"));
        assert!(store
            .reader()
            .unwrap()
            .resolved_ips(&exact, t(-365), t(0))
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .reader()
                .unwrap()
                .resolved_ips(&exact, t(-500), t(0))
                .unwrap()
                .len(),
            1
        );
    });
}

#[test]
fn certificates_cover_names_exactly_and_by_wildcard() {
    each_backend(|store| {
        let cert = |sha: &str, seen: i64| {
            Evidence::Certificate(Box::new(Certificate {
                serial: "1".into(),
                issuer: "CN=CA".into(),
                subject: "CN=example.com".into(),
                sans: vec!["example.com".into(), "*.example.com".into()],
                covers: vec![
                    DomainQuery::Exact(name("example.com")),
                    DomainQuery::Wildcard(name("example.com")),
                ],
                not_before: t(-10),
                not_after: t(80),
                sha256: sha.into(),
                seen_at: t(seen),
                seen_where: "192.0.2.1:443".into(),
            }))
        };
        put_all(store, &[cert("aa", -5), cert("bb", -1)]);
        let history: Vec<String> = store
            .reader()
            .unwrap()
            .certificates(&name("www.example.com"))
            .unwrap()
            .into_iter()
            .map(|c| c.sha256)
            .collect();
        assert_eq!(history, ["bb", "aa"], "newest first");
        assert_eq!(
            store
                .reader()
                .unwrap()
                .latest_certificate(&name("www.example.com"))
                .unwrap()
                .unwrap()
                .sha256,
            "bb"
        );
        assert_eq!(
            store
                .reader()
                .unwrap()
                .latest_certificate(&name("example.com"))
                .unwrap()
                .unwrap()
                .sha256,
            "bb"
        );
        assert!(store
            .reader()
            .unwrap()
            .latest_certificate(&name("a.b.example.com"))
            .unwrap()
            .is_none());
        // A wildcard SAN is not a known name.
        assert_eq!(
            store
                .reader()
                .unwrap()
                .count_names_below(&name("example.com"))
                .unwrap(),
            0
        );
    });
}

#[test]
fn whois_history_is_kept_newest_first() {
    each_backend(|store| {
        let whois = |days: i64, registrar: &str| {
            Evidence::Whois(Box::new(WhoisRecord {
                domain: name("example.com"),
                registrar: Registrar {
                    name: registrar.into(),
                    ..Default::default()
                },
                registrant: Contact::default(),
                admin: Contact::default(),
                tech: Contact::default(),
                whois_server: String::new(),
                dnssec: String::new(),
                nameservers: vec![],
                status: vec![],
                created: Some(t(-1000)),
                expires: Some(t(100)),
                updated: None,
                observed_at: t(days),
                raw: String::new(),
            }))
        };
        put_all(
            store,
            &[whois(-30, "Old Registrar"), whois(-1, "New Registrar")],
        );
        assert_eq!(
            store
                .reader()
                .unwrap()
                .latest_whois(&name("example.com"))
                .unwrap()
                .unwrap()
                .registrar
                .name,
            "New Registrar"
        );
        let history: Vec<String> = store
            .reader()
            .unwrap()
            .whois_history(&name("example.com"))
            .unwrap()
            .into_iter()
            .map(|w| w.registrar.name)
            .collect();
        assert_eq!(history, ["New Registrar", "Old Registrar"]);
    });
}

#[test]
fn events_are_summed_per_industry_and_stage() {
    each_backend(|store| {
        let event = |n: &str, days: i64, count: u64| {
            Evidence::Event(SecurityEvent {
                name: name(n),
                time: t(days),
                stage: "command-and-control".into(),
                industry: "finance".into(),
                count,
                source: "ids".into(),
            })
        };
        put_all(
            store,
            &[
                source("ids"),
                event("evil.com", -2, 3),
                event("evil.com", -1, 4),
                event("evil.com", 5, 9),
            ],
        );
        // Re-importing the same event replaces its count rather than adding to it.
        put_all(store, &[event("evil.com", -2, 3)]);
        let totals = store
            .reader()
            .unwrap()
            .event_totals(&DomainQuery::Exact(name("evil.com")), t(0))
            .unwrap();
        assert_eq!(totals.len(), 1);
        assert_eq!((totals[0].count, totals[0].last), (7, t(-1)));
    });
}

#[test]
fn a_store_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
}

#[test]
fn a_reader_sees_one_snapshot() {
    each_backend(|store| {
        put_all(store, &[source("feed"), indicator("evil.com", "feed", 0)]);
        let reader = store.reader().unwrap();
        assert_eq!(reader.stats().unwrap().indicators, 1);
        put_all(store, &[indicator("other.com", "feed", 0)]);
        assert_eq!(
            reader.stats().unwrap().indicators,
            1,
            "the snapshot is fixed at its first read"
        );
        assert!(!reader.knows_zone(&name("other.com")).unwrap());
        drop(reader);
        assert_eq!(store.reader().unwrap().stats().unwrap().indicators, 2);
    });
}
