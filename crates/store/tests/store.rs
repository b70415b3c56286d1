//! Store behaviour, written against the `Store` trait so every backend runs the same checks.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chrono::{Duration, TimeZone, Utc};
use threatintel_model::*;
use threatintel_store::{
    CommitMarker, FeedState, ImportDay, IndicatorHit, LookupState, PostgresStore, PutOutcome,
    SqliteStore, Store, StoreError, StoreOverview, StoreReader, StoreStats, WriteSummary,
    BATCH_RECORDS, SNAPSHOT_MAX_AGE, SWEEP_EVERY,
};

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

/// [`indicator`] of source `feed` at 0, changed by `edit`.
fn indicator_with(n: &str, edit: impl FnOnce(&mut IndicatorRecord)) -> Evidence {
    let Evidence::Indicator(mut r) = indicator(n, "feed", 0) else {
        unreachable!()
    };
    edit(&mut r);
    Evidence::Indicator(r)
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

/// The PostgreSQL server the suite runs against: 127.0.0.1:5432, database `test`, trust auth,
/// user `$PGUSER` or `postgres`. CI starts it (`scripts/ensure-postgres.sh`); without it the
/// tests fail rather than skip.
fn postgres_url() -> String {
    let user = std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into());
    format!("host=127.0.0.1 port=5432 dbname=test user={user}")
}

/// A schema of one test's own, dropped when the test ends, passed or failed.
struct PgSchema {
    name: String,
}

impl PgSchema {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Self {
            name: format!(
                "store_test_{}_{}_{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    fn open(&self) -> PostgresStore {
        PostgresStore::connect(&postgres_url(), Some(&self.name)).unwrap_or_else(|e| {
            panic!(
                "the store tests need PostgreSQL on 127.0.0.1:5432 with database `test` \
                 ({}; scripts/ensure-postgres.sh starts it): {e}",
                postgres_url()
            )
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&postgres_url(), postgres::NoTls) {
            let _ =
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
        }
    }
}

/// The one indicator record stored for the name `n`, as a new reader reads it.
fn only_indicator(store: &dyn Store, n: &str) -> IndicatorHit {
    let mut hits = store.reader().unwrap().indicators_at(&[name(n)]).unwrap();
    assert_eq!(hits.len(), 1, "{n}'s indicators: {hits:?}");
    hits.remove(0)
}

fn put_all(store: &dyn Store, evidence: &[Evidence]) {
    let mut w = store.writer().unwrap();
    for e in evidence {
        w.put(e).unwrap();
    }
    w.commit().unwrap();
}

/// Puts `setup`, then writes each of `batches` in a transaction of its own: one record at a time on
/// SQLite, with `put_batch` on every backend. The batched writes must count (per transaction) and
/// leave (as `reads` sees it) what the one-by-one writes did; returns the one-by-one counts.
fn assert_batches_match_puts_one_by_one(
    setup: &[Evidence],
    batches: &[&[Evidence]],
    reads: impl Fn(&dyn Store) -> Vec<String>,
) -> Vec<WriteSummary> {
    let write = |store: &dyn Store, bulk: bool| -> Vec<WriteSummary> {
        put_all(store, setup);
        batches
            .iter()
            .map(|records| {
                let mut w = store.writer().unwrap();
                if bulk {
                    w.put_batch(records).unwrap();
                } else {
                    for e in records.iter() {
                        w.put(e).unwrap();
                    }
                }
                w.commit().unwrap()
            })
            .collect()
    };
    let (_dir, one_by_one) = sqlite();
    let expected_counts = write(&one_by_one, false);
    let expected_reads = reads(&one_by_one);
    each_backend(|store| {
        assert_eq!(write(store, true), expected_counts);
        let got = reads(store);
        assert_eq!(got.len(), expected_reads.len());
        for (got, want) in got.iter().zip(&expected_reads) {
            assert_eq!(got, want, "batch (left) and one by one (right) differ");
        }
    });
    expected_counts
}

/// Runs `check` against every backend: SQLite in a fresh file, PostgreSQL in a fresh schema.
fn each_backend(check: impl Fn(&dyn Store)) {
    // Each backend as the CLI reads it, and as a server does: its reads prepared (the filter of
    // stored names built) before the check writes anything.
    for prepared in [false, true] {
        {
            eprintln!("backend: SQLite, reads prepared: {prepared}");
            let (_dir, store) = sqlite();
            if prepared {
                store.prepare_reads().unwrap();
            }
            check(&store);
        }
        let schema = PgSchema::new();
        eprintln!(
            "backend: PostgreSQL (schema {}), reads prepared: {prepared}",
            schema.name
        );
        let store = schema.open();
        if prepared {
            store.prepare_reads().unwrap();
        }
        check(&store);
    }
}

#[test]
fn every_commit_and_only_a_commit_moves_the_commit_marker() {
    each_backend(|store| {
        let marker = || store.reader().unwrap().commit_marker().unwrap();
        assert_eq!(marker(), CommitMarker::default());
        {
            let mut w = store.writer().unwrap();
            w.put(&source("feed")).unwrap();
        }
        assert_eq!(marker(), CommitMarker::default(), "a dropped writer");
        let before = Utc::now().timestamp() - 1;
        put_all(store, &[source("feed"), indicator("evil.com", "feed", 0)]);
        let first = marker();
        assert_eq!(first.generation, 1);
        let at = first.committed_at.expect("a commit time").timestamp();
        assert!(at >= before && at <= Utc::now().timestamp(), "{at}");
        put_all(store, &[indicator("evil.com", "feed", 0)]);
        assert_eq!(marker().generation, 2, "a re-import is a commit too");
    });
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
fn one_source_and_emptiness_are_read_without_counting() {
    each_backend(|store| {
        let reader = store.reader().unwrap();
        assert!(reader.is_empty().unwrap());
        assert_eq!(reader.source("feed").unwrap(), None);
        drop(reader);
        put_all(store, &[source("feed"), indicator("evil.com", "feed", 0)]);
        let reader = store.reader().unwrap();
        assert!(!reader.is_empty().unwrap());
        let stored = reader.source("feed").unwrap().expect("the source");
        let listed = reader.sources().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(stored, listed[0].source);
        assert_eq!(reader.source("other").unwrap(), None);
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
fn a_postgres_batch_failing_while_the_next_is_staged_fails_the_next_call_and_rolls_back() {
    let schema = PgSchema::new();
    let store = schema.open();
    let mut w = store.writer().unwrap();
    w.put(&source("feed")).unwrap();
    // PostgreSQL text cannot hold a NUL: the batch's `COPY` fails on the writing thread.
    let nul = indicator_with("evil.com", |r| r.label = Some("a\0b".into()));
    w.put_batch_owned(vec![nul]).unwrap();
    let err = w
        .put_batch_owned(vec![indicator("other.com", "feed", 0)])
        .unwrap_err();
    assert!(matches!(err, StoreError::InEarlierBatch(_)), "{err}");
    assert!(
        err.to_string().ends_with("(writing an earlier batch)"),
        "{err}"
    );
    drop(w);
    assert_eq!(store.reader().unwrap().stats().unwrap().indicators, 0);
    // The schema's writer lock went with the transaction.
    let mut w = store.writer().unwrap();
    w.put(&source("feed")).unwrap();
    w.put_batch_owned(vec![indicator("other.com", "feed", 0)])
        .unwrap();
    assert_eq!(w.finish_batches().unwrap().added, 1);
    w.commit().unwrap();
    assert_eq!(store.reader().unwrap().stats().unwrap().indicators, 1);
}

#[test]
fn a_postgres_writer_asks_for_larger_batches_while_batches_find_their_names_stored() {
    let schema = PgSchema::new();
    let store = schema.open();
    let names = |range: std::ops::Range<usize>| -> Vec<Evidence> {
        range
            .map(|i| indicator(&format!("n{i}.com"), "feed", 0))
            .collect()
    };
    let mut w = store.writer().unwrap();
    assert_eq!(w.batch_records(), BATCH_RECORDS);
    w.put(&source("feed")).unwrap();
    w.put_batch_owned(names(0..60)).unwrap();
    w.finish_batches().unwrap();
    assert_eq!(w.batch_records(), BATCH_RECORDS, "new names");
    w.commit().unwrap();
    // A second transaction (the first's names are not known to it): batches of stored names.
    // The size is read once the batch is written: it doubles up to four times the default.
    let mut w = store.writer().unwrap();
    let mut asked = Vec::new();
    for first in [0, 10, 20, 30] {
        w.put_batch_owned(names(first..first + 10)).unwrap();
        w.finish_batches().unwrap();
        asked.push(w.batch_records() / BATCH_RECORDS);
    }
    assert_eq!(asked, [2, 4, 4, 4], "names stored");
    // 3 of 10 stored: back to the default.
    w.put_batch_owned(names(57..67)).unwrap();
    w.finish_batches().unwrap();
    assert_eq!(w.batch_records(), BATCH_RECORDS, "names mostly new");
}

/// A first import into an empty PostgreSQL store looks up only the names it does not remember
/// adding in bulk: a name added one by one in between, or remembered without the kind a batch
/// adds, is still found and widened (a stored name taken for new would fail the names' COPY).
#[test]
fn a_first_import_into_an_empty_postgres_store_finds_the_names_it_did_not_add_in_bulk() {
    let schema = PgSchema::new();
    let store = schema.open();
    let mut w = store.writer().unwrap();
    w.put(&source("feed")).unwrap();
    w.put_batch_owned(vec![
        indicator("a.com", "feed", 0),
        indicator("b.com", "feed", 0),
    ])
    .unwrap();
    w.finish_batches().unwrap();
    w.put(&indicator("c.com", "feed", 0)).unwrap();
    w.put_batch_owned(vec![
        indicator("b.com", "feed", 1),
        indicator("c.com", "feed", 1),
        resolution("a.com", "192.0.2.1", 1),
        indicator("d.com", "feed", 1),
    ])
    .unwrap();
    w.commit().unwrap();
    let r = store.reader().unwrap();
    assert_eq!(r.stats().unwrap().names, 4);
    let names = ["a.com", "b.com", "c.com", "d.com"].map(name);
    let last_seen: Vec<(String, Timestamp)> = r
        .indicators_at(&names)
        .unwrap()
        .into_iter()
        .map(|hit| (hit.record.name.to_string(), hit.record.last_seen))
        .collect();
    assert_eq!(
        last_seen,
        [
            ("a.com", t(0)),
            ("b.com", t(1)),
            ("c.com", t(1)),
            ("d.com", t(1))
        ]
        .map(|(n, seen)| (n.to_string(), seen))
    );
    let ips = r
        .resolved_ips(&DomainQuery::Exact(name("a.com")), t(-1), t(1))
        .unwrap();
    assert_eq!(ips.len(), 1);
}

#[test]
fn a_small_first_import_into_postgres_gives_its_tables_planner_statistics() {
    let schema = PgSchema::new();
    let store = schema.open();
    let never_analyzed = || -> Vec<String> {
        let mut client = postgres::Client::connect(&postgres_url(), postgres::NoTls).unwrap();
        client
            .query(
                "SELECT relname::text FROM pg_class WHERE relnamespace = $1::text::regnamespace \
                 AND relname IN ('names', 'indicators', 'resolutions') AND reltuples < 0 \
                 ORDER BY relname",
                &[&schema.name],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    assert_eq!(never_analyzed(), ["indicators", "names", "resolutions"]);
    put_all(&store, &[source("feed"), indicator("evil.com", "feed", 0)]);
    // The tables the import wrote; not the one it did not.
    assert_eq!(never_analyzed(), ["resolutions"]);
    // Which a later small import into it gets, the others known to have theirs.
    put_all(&store, &[resolution("evil.com", "192.0.2.1", 0)]);
    assert_eq!(never_analyzed(), Vec::<String>::new());
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
        let hit = only_indicator(store, "evil.com");
        assert_eq!(hit.sightings, 2);
        assert_eq!((hit.record.first_seen, hit.record.last_seen), (t(-1), t(5)));
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
        for limit in 0..5 {
            let first: Vec<String> = store
                .reader()
                .unwrap()
                .indicators_below_first(&name("example.com"), limit)
                .unwrap()
                .iter()
                .map(|h| h.record.name.to_string())
                .collect();
            assert_eq!(first, below[..limit.min(3)], "first {limit}");
        }
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
            .map(|(ip, intel)| {
                assert_eq!(intel.source, "feed", "{ip}: the record's source");
                ip.to_string()
            })
            .collect();
        assert_eq!(matched, ["203.0.113.200", "198.51.100.7", "2001:db8:1::1"]);
    });
}

/// What the readers of one commit generation share (the IP prefixes in use, a zone's
/// ancestors' kind bits) is read again after a commit: a network added since is found for an
/// address the zone's names resolve to.
#[test]
fn networks_added_since_the_last_report_are_found() {
    each_backend(|store| {
        put_all(
            store,
            &[
                source("feed"),
                indicator("www.evil.com", "feed", 0),
                resolution("www.evil.com", "192.0.2.7", 0),
            ],
        );
        let report = || {
            std::thread::sleep(SNAPSHOT_MAX_AGE);
            let reader = store.reader().unwrap();
            assert!(reader.knows_zone(&name("www.evil.com")).unwrap());
            let ips: Vec<IpAddr> = reader
                .resolved_ips(&DomainQuery::Exact(name("www.evil.com")), t(-10), t(10))
                .unwrap()
                .iter()
                .map(|r| r.ip)
                .collect();
            reader.ip_intel(&ips).unwrap().len()
        };
        assert_eq!(report(), 0);
        put_all(
            store,
            &[Evidence::IpIntel(IpIntel {
                network: "192.0.2.0/24".parse().unwrap(),
                risk: RiskLevel::High,
                source: "feed".into(),
                threat_type: None,
            })],
        );
        assert_eq!(report(), 1, "a network added since");
    });
}

fn ip_record(net: &str, src: &str, threat_type: &str, last: i64) -> Evidence {
    Evidence::IpRecord(IpRecord {
        network: net.parse().unwrap(),
        source: src.into(),
        threat_type: threat_type.into(),
        label: None,
        risk: RiskLevel::High,
        scenario: None,
        first_seen: t(last - 1),
        last_seen: t(last),
        confidence: Some(80),
        reference: None,
    })
}

fn allowlist(list: &str, enabled: bool) -> Evidence {
    Evidence::Allowlist(Allowlist {
        name: list.into(),
        kind: AllowlistKind::Curated,
        enabled,
    })
}

fn network_allowed(net: &str, list: &str) -> Evidence {
    Evidence::NetworkAllowEntry(NetworkAllowEntry {
        list: list.into(),
        network: net.parse().unwrap(),
    })
}

/// Address records and allowlisted networks: found by every network that contains the
/// address (most specific first), re-imports widen the window and count sightings, a put
/// batch stores what puts one by one store, disabled lists are invisible, and the records
/// show in `ip_intel` as the domain report reads resolved addresses.
#[test]
fn ip_records_and_allowlisted_networks_match_containing_networks() {
    each_backend(|store| {
        let records = [
            source("feed"),
            source("other"),
            ip_record("203.0.113.0/24", "feed", "C&C Server", 0),
            ip_record("203.0.113.9", "other", "Botnet", 0),
            ip_record("203.0.113.9", "feed", "C&C Server", 0),
            ip_record("2001:db8::/32", "feed", "Scanner", 0),
            allowlist("resolvers", true),
            allowlist("cloud", false),
            network_allowed("8.8.8.0/24", "resolvers"),
            network_allowed("8.8.8.8", "cloud"),
        ];
        let mut w = store.writer().unwrap();
        assert_eq!(w.put_batch(&records).unwrap().added, records.len() as u64);
        w.commit().unwrap();
        put_all(store, &[ip_record("203.0.113.9", "feed", "C&C Server", 5)]);

        let r = store.reader().unwrap();
        let found = |ip: &str| -> Vec<(String, String, u64, i64)> {
            r.ip_records(ip.parse().unwrap())
                .unwrap()
                .into_iter()
                .map(|h| {
                    let days = (h.record.last_seen - h.record.first_seen).num_days();
                    (
                        h.record.network.to_string(),
                        h.record.source,
                        h.sightings,
                        days,
                    )
                })
                .collect()
        };
        assert_eq!(
            found("203.0.113.9"),
            [
                ("203.0.113.9/32".to_owned(), "feed".to_owned(), 2, 6),
                ("203.0.113.9/32".into(), "other".into(), 1, 1),
                ("203.0.113.0/24".into(), "feed".into(), 1, 1),
            ]
        );
        assert_eq!(found("203.0.113.10").len(), 1);
        assert_eq!(found("2001:db8:ff::1")[0].0, "2001:db8::/32");
        assert!(found("203.0.114.9").is_empty());
        assert!(found("2001:db9::1").is_empty());

        let allowed = |ip: &str| -> Vec<(String, String)> {
            r.network_allowlist(ip.parse().unwrap())
                .unwrap()
                .into_iter()
                .map(|h| (h.entry.network.to_string(), h.entry.list))
                .collect()
        };
        assert_eq!(
            allowed("8.8.8.8"),
            [("8.8.8.0/24".to_owned(), "resolvers".to_owned())]
        );
        assert!(allowed("8.8.4.4").is_empty());

        let intel = r.ip_intel(&["203.0.113.9".parse().unwrap()]).unwrap();
        let sources: Vec<&str> = intel.iter().map(|(_, i)| i.source.as_str()).collect();
        assert_eq!(sources, ["feed", "other", "feed"]);
    });
}

/// An address lookup reads the prefix lengths in use once per reader and skips a table that
/// holds nothing between the address masked to the widest of them and the address itself:
/// neither shortcut hides a network at the ends of that range, behind IPv6 rows whose bytes
/// fall inside it, or one a later reader must see.
#[test]
fn address_lookups_skip_only_what_cannot_match() {
    each_backend(|store| {
        put_all(
            store,
            &[
                source("feed"),
                ip_record("10.0.0.0/8", "feed", "Scanner", 0),
                ip_record("10.255.255.255", "feed", "Botnet", 0),
                ip_record("10.1.0.0/16", "feed", "Scanner", 0),
                ip_record("a01:200::/32", "feed", "Scanner", 0),
                allowlist("resolvers", true),
                network_allowed("a01:100::/24", "resolvers"),
            ],
        );
        let networks = |r: &dyn StoreReader, ip: &str| -> Vec<String> {
            r.ip_records(ip.parse().unwrap())
                .unwrap()
                .into_iter()
                .map(|h| h.record.network.to_string())
                .collect()
        };
        let r = store.reader().unwrap();
        assert_eq!(networks(&*r, "10.0.0.0"), ["10.0.0.0/8"]);
        assert_eq!(
            networks(&*r, "10.255.255.255"),
            ["10.255.255.255/32", "10.0.0.0/8"]
        );
        assert_eq!(networks(&*r, "10.1.2.3"), ["10.1.0.0/16", "10.0.0.0/8"]);
        assert!(networks(&*r, "11.0.0.0").is_empty());
        assert!(networks(&*r, "9.255.255.255").is_empty());
        assert_eq!(networks(&*r, "a01:200:ff::1"), ["a01:200::/32"]);
        assert!(networks(&*r, "a01:300::1").is_empty());
        let allowed = r.network_allowlist("a01:1ff::1".parse().unwrap()).unwrap();
        assert_eq!(allowed.len(), 1);
        assert!(r
            .network_allowlist("10.1.0.1".parse().unwrap())
            .unwrap()
            .is_empty());
        drop(r);

        // A prefix length first used after a reader read the list: readers after the write
        // see it.
        put_all(store, &[ip_record("11.0.0.0/12", "feed", "Scanner", 0)]);
        let r = store.reader().unwrap();
        assert_eq!(networks(&*r, "11.0.0.1"), ["11.0.0.0/12"]);
        let intel = r.ip_intel(&["11.0.0.1".parse().unwrap()]).unwrap();
        assert_eq!(intel.len(), 1);
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

/// Addresses come in the stored order of their octets (an IPv6 address whose first byte is
/// smaller before an IPv4 one), merged per address, whichever way the reader gathers them:
/// by a key range, or by the names of the zone `knows_zone` read.
#[test]
fn resolved_addresses_come_in_octet_order() {
    each_backend(|store| {
        put_all(
            store,
            &[
                resolution("a.example.org", "192.0.2.9", 0),
                resolution("b.example.org", "2001:db8::1", 0),
                resolution("a.example.org", "10.0.0.1", 0),
                resolution("c.example.org", "2001:db8::1", -2),
            ],
        );
        let zone = DomainQuery::Wildcard(name("example.org"));
        // (address, count, first sighting): 2001:db8::1 merges b's and c's.
        let expected = [
            ("10.0.0.1", 1, -1),
            ("2001:db8::1", 2, -3),
            ("192.0.2.9", 1, -1),
        ]
        .map(|(ip, count, first)| (ip.to_owned(), count, t(first)));
        for known in [false, true] {
            let r = store.reader().unwrap();
            if known {
                assert!(r.knows_zone(&name("example.org")).unwrap());
            }
            let ips: Vec<(String, u64, Timestamp)> = r
                .resolved_ips(&zone, t(-365), t(0))
                .unwrap()
                .into_iter()
                .map(|ip| (ip.ip.to_string(), ip.count, ip.first_seen))
                .collect();
            assert_eq!(ips, expected, "after knows_zone: {known}");
        }
    });
}

fn registration(net: &str, name: &str, observed: i64) -> Evidence {
    Evidence::NetworkRegistration(NetworkRegistration {
        network: net.parse().unwrap(),
        range: format!("range of {net}"),
        name: Some(name.into()),
        organisation: Some("Example Org".into()),
        country: None,
        abuse_email: Some("abuse@example.net".into()),
        observed_at: t(observed),
    })
}

#[test]
fn network_registrations_come_most_specific_first_and_newest_wins() {
    each_backend(|store| {
        put_all(
            store,
            &[
                registration("192.0.2.0/24", "DOC-NET", -10),
                registration("192.0.0.0/16", "DOC-WIDE", -10),
                registration("2001:db8::/32", "DOC-SIX", -10),
            ],
        );
        let names = |ip: &str| -> Vec<(String, String)> {
            store
                .reader()
                .unwrap()
                .network_registrations(ip.parse().unwrap())
                .unwrap()
                .into_iter()
                .map(|r| (r.network.to_string(), r.name.unwrap_or_default()))
                .collect()
        };
        let pair = |n: &str, name: &str| (n.to_string(), name.to_string());
        assert_eq!(
            names("192.0.2.9"),
            [
                pair("192.0.2.0/24", "DOC-NET"),
                pair("192.0.0.0/16", "DOC-WIDE")
            ]
        );
        assert_eq!(names("192.0.3.1"), [pair("192.0.0.0/16", "DOC-WIDE")]);
        assert_eq!(names("2001:db8:1::1"), [pair("2001:db8::/32", "DOC-SIX")]);
        assert!(names("198.51.100.1").is_empty());
        // An older answer does not replace a newer one; a newer one does.
        let mut w = store.writer().unwrap();
        assert_eq!(
            w.put(&registration("192.0.2.0/24", "OLDER", -20)).unwrap(),
            PutOutcome::Updated
        );
        w.commit().unwrap();
        assert_eq!(names("192.0.2.9")[0].1, "DOC-NET");
        put_all(store, &[registration("192.0.2.0/24", "NEWER", -1)]);
        assert_eq!(names("192.0.2.9")[0].1, "NEWER");
        let newest = store
            .reader()
            .unwrap()
            .network_registrations("192.0.2.9".parse().unwrap())
            .unwrap();
        assert_eq!(newest[0].observed_at, t(-1));
        assert_eq!(newest[0].abuse_email.as_deref(), Some("abuse@example.net"));
    });
}

#[test]
fn names_resolving_to_an_address_come_in_name_key_order() {
    each_backend(|store| {
        put_all(
            store,
            &[
                resolution("b.example.com", "192.0.2.1", -3),
                resolution("a.example.org", "192.0.2.1", 0),
                resolution("a.example.com", "192.0.2.1", -1),
                resolution("a.example.com", "2001:db8::1", 0),
                resolution("other.example.com", "192.0.2.2", 0),
            ],
        );
        // A re-import merges into the same row and adds no name.
        put_all(store, &[resolution("b.example.com", "192.0.2.1", 0)]);
        let r = store.reader().unwrap();
        let names = |ip: &str, limit| {
            r.names_resolving_to(ip.parse().unwrap(), limit)
                .unwrap()
                .into_iter()
                .map(|n| (n.name.to_string(), n.count, n.first_seen, n.last_seen))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("192.0.2.1", 10),
            [
                ("a.example.com".to_string(), 1, t(-2), t(-1)),
                ("b.example.com".to_string(), 2, t(-4), t(0)),
                ("a.example.org".to_string(), 1, t(-1), t(0)),
            ]
        );
        assert_eq!(names("192.0.2.1", 1).len(), 1);
        assert_eq!(names("2001:db8::1", 10)[0].0, "a.example.com");
        assert!(names("192.0.2.3", 10).is_empty());
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
            whois_record("example.com", registrar, Some(t(-1000)), t(days))
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

fn file_record(of: &[&str], src: &str, names: &[&str], last: i64) -> Evidence {
    Evidence::FileRecord(Box::new(FileRecord {
        hashes: FileHashes::new(of.iter().map(|h| h.parse().unwrap())).unwrap(),
        source: src.into(),
        threat_type: "Malware".into(),
        label: Some("Emotet".into()),
        risk: RiskLevel::High,
        scenario: None,
        file_type: (last > 0).then(|| "exe".to_owned()),
        size: None,
        file_names: names.iter().map(|n| (*n).to_owned()).collect(),
        first_seen: t(last - 1),
        last_seen: t(last),
        confidence: None,
        reference: None,
    }))
}

/// Hashes a record gives together are linked to one file: a lookup by any of them is the
/// file's records (with every linked hash), a re-import merges names and counts a sighting,
/// and a hash linked to a file stays linked to it.
#[test]
fn file_records_are_found_by_any_linked_hash() {
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    let sha1 = "3395856ce81f2b7382dee72602f798b642f14140";
    let sha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
    let other_sha256 = "a".repeat(64);
    each_backend(|store| {
        let mut w = store.writer().unwrap();
        let summary = w
            .put_batch(&[
                source("feed"),
                source("bazaar"),
                file_record(&[md5], "feed", &["a.doc"], 0),
                file_record(&[md5, sha1, sha256], "bazaar", &["b.exe"], 2),
                file_record(&[md5], "feed", &["c.doc", "a.doc"], 1),
                // The MD5 is linked already: this SHA-256 joins that file, not a new one.
                file_record(&[md5, &other_sha256], "other-feed-unknown", &[], 1),
            ])
            .map(|s| s.added);
        assert!(
            matches!(summary, Err(StoreError::UnknownSource(_))),
            "{summary:?}"
        );
        drop(w);
        put_all(
            store,
            &[
                source("feed"),
                source("bazaar"),
                file_record(&[md5], "feed", &["a.doc"], 0),
                file_record(&[md5, sha1, sha256], "bazaar", &["b.exe"], 2),
                file_record(&[md5], "feed", &["c.doc", "a.doc"], 1),
                file_record(&[&other_sha256.to_ascii_uppercase(), md5], "feed", &[], 1),
            ],
        );
        let r = store.reader().unwrap();
        let found = |h: &str| {
            r.file_records(&h.parse().unwrap())
                .unwrap()
                .into_iter()
                .map(|h| {
                    let hashes: Vec<String> =
                        h.record.hashes.iter().map(|h| h.to_string()).collect();
                    (
                        h.record.source,
                        hashes,
                        h.record.file_names,
                        h.record.file_type,
                        h.sightings,
                        (h.record.last_seen - h.record.first_seen).num_days(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let all = vec![md5.to_owned(), sha1.to_owned(), sha256.to_owned()];
        let expected = vec![
            (
                "bazaar".to_owned(),
                all.clone(),
                vec!["b.exe".to_owned()],
                Some("exe".to_owned()),
                1,
                1,
            ),
            (
                "feed".to_owned(),
                all.clone(),
                vec!["a.doc".to_owned(), "c.doc".to_owned()],
                Some("exe".to_owned()),
                3,
                2,
            ),
        ];
        assert_eq!(found(md5), expected);
        assert_eq!(found(sha1), expected);
        assert_eq!(found(&sha256.to_ascii_uppercase()), expected);
        assert_eq!(found(&other_sha256), expected, "linked to the MD5's file");
        assert!(found(&"b".repeat(40)).is_empty());
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

/// A store written by schema version 1 (names with a rowid and foreign keys) opens as the
/// current version with its records, and new names get ids of their own.
#[test]
fn a_version_1_store_migrates_with_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(include_str!("../src/sqlite/schema.sql"))
        .unwrap();
    conn.execute_batch(
        "PRAGMA user_version = 1;
         INSERT INTO sources (id, name, reliability) VALUES (1, 'feed', 'B');
         INSERT INTO names (id, rev, kinds) VALUES (7, 'com.evil.', 1), (9, 'com.evil.www.', 1);
         INSERT INTO indicators (name_id, zone, source_id, threat_type, risk, first_seen, last_seen)
             VALUES (7, 0, 1, 'C&C Server', 3, 0, 86400), (9, 0, 1, 'Phishing', 2, 0, 86400);
         INSERT INTO resolutions (name_id, ip, first_seen, last_seen, count)
             VALUES (9, X'C0000201', 0, 86400, 3);",
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 9);
    put_all(&store, &[indicator("new.evil.com", "feed", 0)]);
    let r = store.reader().unwrap();
    let types = |n: &str| -> Vec<String> {
        r.indicators_at(&[name(n)])
            .unwrap()
            .into_iter()
            .map(|h| h.record.threat_type)
            .collect()
    };
    assert_eq!(types("evil.com"), ["C&C Server"]);
    assert_eq!(types("www.evil.com"), ["Phishing"]);
    assert_eq!(types("new.evil.com"), ["C&C Server"]);
    assert_eq!(r.count_names_below(&name("evil.com")).unwrap(), 2);
    // Reverse passive DNS covers the resolutions stored before it.
    let resolved = r
        .names_resolving_to("192.0.2.1".parse().unwrap(), 10)
        .unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        (resolved[0].name.as_str(), resolved[0].count),
        ("www.evil.com", 3)
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

/// Readers keep their SQLite snapshot for a few milliseconds between reports: a commit
/// through the store is seen by the next reader at once, one by another process within
/// `SNAPSHOT_MAX_AGE`.
#[test]
fn sqlite_readers_see_commits_through_the_store_at_once_and_others_soon() {
    let (dir, store) = sqlite();
    put_all(&store, &[source("feed"), indicator("evil.com", "feed", 0)]);
    let count = |store: &SqliteStore| store.reader().unwrap().stats().unwrap().indicators;
    assert_eq!(count(&store), 1);
    put_all(&store, &[indicator("other.com", "feed", 0)]);
    assert_eq!(
        count(&store),
        2,
        "a commit through this store is seen at once"
    );

    // Another process: a second store on the same file.
    let other = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    put_all(&other, &[indicator("third.com", "feed", 0)]);
    std::thread::sleep(SNAPSHOT_MAX_AGE);
    assert_eq!(
        count(&store),
        3,
        "another writer's commit is seen after SNAPSHOT_MAX_AGE"
    );
}

/// The kind bits of public suffixes a SQLite reader keeps from one snapshot to the next are
/// dropped when another connection commits: a zone listing on a suffix, written through the
/// store or by another process, makes the suffix's unlisted names known.
#[test]
fn sqlite_readers_kept_suffix_kinds_follow_commits() {
    let (dir, store) = sqlite();
    put_all(&store, &[source("feed"), indicator("evil.com", "feed", 0)]);
    let knows = |store: &SqliteStore, zone: &str| {
        std::thread::sleep(SNAPSHOT_MAX_AGE);
        store.reader().unwrap().knows_zone(&name(zone)).unwrap()
    };
    assert!(!knows(&store, "unlisted.com"));
    assert!(!knows(&store, "unlisted.com"), "read from the kept kinds");
    let zone_listing = |suffix: &str| {
        let mut listing = indicator(suffix, "feed", 0);
        if let Evidence::Indicator(rec) = &mut listing {
            rec.zone = true;
        }
        listing
    };
    put_all(&store, &[zone_listing("com")]);
    assert!(knows(&store, "unlisted.com"), "a commit through the store");

    assert!(!knows(&store, "unlisted.net"));
    let other = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    put_all(&other, &[zone_listing("net")]);
    assert!(knows(&store, "unlisted.net"), "another process's commit");
}

/// Zones the filter of stored names lacks hold no names: names put through the store (one by
/// one, and by `put_batch`, new and stored names mixed) join it as they commit; after another
/// process's commit the filter is behind, and the store is read. The kind bits of a lacking
/// zone's ancestors speak for the generation they were read at: a zone listing put on one
/// later is seen.
fn zones_the_name_filter_lacks_hold_no_names<S: Store>(store: &S, other_process: &dyn Store) {
    put_all(
        store,
        &[source("feed"), indicator("www.evil.com", "feed", 0)],
    );
    store.prepare_reads().unwrap();
    let knows = |zone: &str| {
        std::thread::sleep(SNAPSHOT_MAX_AGE);
        store.reader().unwrap().knows_zone(&name(zone)).unwrap()
    };
    assert!(knows("evil.com"));
    assert!(knows("www.evil.com"));
    assert!(!knows("unlisted.com"));
    assert!(!knows("absent.evil.com"));
    put_all(store, &[indicator_with("evil.com", |r| r.zone = true)]);
    assert!(knows("absent.evil.com"), "under a zone listed since");

    put_all(store, &[indicator("a.added.com", "feed", 0)]);
    assert!(knows("added.com"), "a name put through the store");
    let mut batch: Vec<Evidence> = (0..150)
        .map(|i| indicator(&format!("bulk{i}.org"), "feed", 0))
        .collect();
    batch.insert(70, indicator("www.evil.com", "feed", 1));
    let mut writer = store.writer().unwrap();
    writer.put_batch(&batch).unwrap();
    writer.commit().unwrap();
    for zone in ["bulk0.org", "bulk63.org", "bulk100.org", "bulk149.org"] {
        assert!(knows(zone), "{zone}, put in a batch");
    }
    assert!(!knows("bulk150.org"));

    put_all(other_process, &[indicator("b.elsewhere.net", "feed", 0)]);
    assert!(knows("elsewhere.net"), "another process's commit");
    let reader = store.reader().unwrap();
    assert!(reader.knows_zone(&name("elsewhere.net")).unwrap());
    let hits = reader.indicators_below(&name("elsewhere.net")).unwrap();
    assert_eq!(hits.len(), 1, "the evidence of another process's commit");
    drop(reader);
    put_all(other_process, &[indicator_with("org", |r| r.zone = true)]);
    assert!(knows("never.org"), "under a zone another process listed");
    put_all(
        other_process,
        &[indicator_with("listed-zone.net", |r| r.zone = true)],
    );
    assert!(
        knows("sub.listed-zone.net"),
        "under a zone another process listed, new to the filter"
    );
}

#[test]
fn sqlite_zones_the_name_filter_lacks_hold_no_names() {
    let (dir, store) = sqlite();
    let other = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    zones_the_name_filter_lacks_hold_no_names(&store, &other);
}

#[test]
fn postgres_zones_the_name_filter_lacks_hold_no_names() {
    let schema = PgSchema::new();
    zones_the_name_filter_lacks_hold_no_names(&schema.open(), &schema.open());
}

/// An indicator's source reliability is read as the report's snapshot sees it. SQLite readers
/// keep the sources between snapshots, and must read them again once another connection has
/// committed: the store's own writer (seen by the next reader) or another process (seen once
/// the kept snapshot has aged).
#[test]
fn sqlite_readers_see_a_sources_new_reliability() {
    let (dir, store) = sqlite();
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    put_all(
        &store,
        &[
            source("feed"),
            indicator("evil.com", "feed", 0),
            ip_record("198.51.100.0/24", "feed", "C2", 0),
            file_record(&[md5], "feed", &["a.exe"], 0),
        ],
    );
    // The source of an indicator, an address record and a file record, as each is read.
    let reliability = || {
        let hit = only_indicator(&store, "evil.com");
        assert_eq!(hit.record.source, "feed");
        let reader = store.reader().unwrap();
        let address = reader.ip_records("198.51.100.7".parse().unwrap()).unwrap();
        let file = reader.file_records(&md5.parse().unwrap()).unwrap();
        assert_eq!((address.len(), file.len()), (1, 1));
        assert_eq!(address[0].record.source, "feed");
        assert_eq!(file[0].record.source, "feed");
        for other in [address[0].reliability, file[0].reliability] {
            assert_eq!(
                other, hit.reliability,
                "every record of a source reads alike"
            );
        }
        hit.reliability
    };
    assert_eq!(reliability(), Reliability::B);
    let graded = |reliability| {
        Evidence::Source(Source {
            name: "feed".into(),
            reliability,
            default_threat_type: None,
        })
    };
    put_all(&store, &[graded(Reliability::D)]);
    assert_eq!(reliability(), Reliability::D, "a commit through the store");
    let other = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    other
        .execute_batch("UPDATE sources SET reliability = 'A'")
        .unwrap();
    std::thread::sleep(SNAPSHOT_MAX_AGE * 2);
    assert_eq!(reliability(), Reliability::A, "another process's commit");
}

/// An idle reader does not hold back a checkpoint for long: the sweeper ends its snapshot.
#[test]
fn idle_sqlite_readers_release_their_snapshot() {
    let (dir, store) = sqlite();
    put_all(&store, &[source("feed"), indicator("evil.com", "feed", 0)]);
    assert_eq!(store.reader().unwrap().stats().unwrap().indicators, 1);
    let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    conn.busy_timeout(std::time::Duration::ZERO).unwrap();
    conn.execute_batch("UPDATE sources SET reliability = 'A'")
        .unwrap();
    let checkpoint = || -> i64 {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap()
    };
    std::thread::sleep(SWEEP_EVERY + SNAPSHOT_MAX_AGE * 5);
    assert_eq!(checkpoint(), 0, "the sweeper ended the idle snapshot");
}

/// PostgreSQL readers keep their snapshot between reports as SQLite's do: a commit through the
/// store is seen by the next reader at once, one by another process within
/// `SNAPSHOT_MAX_AGE`, and a statement that fails does not leave its aborted transaction to
/// the next reader.
#[test]
fn postgres_readers_see_commits_through_the_store_at_once_and_others_soon() {
    let schema = PgSchema::new();
    let store = schema.open();
    put_all(&store, &[source("feed"), indicator("evil.com", "feed", 0)]);
    let count = |store: &PostgresStore| store.reader().unwrap().stats().unwrap().indicators;
    assert_eq!(count(&store), 1);
    put_all(&store, &[indicator("other.com", "feed", 0)]);
    assert_eq!(
        count(&store),
        2,
        "a commit through this store is seen at once"
    );

    let other = schema.open();
    put_all(&other, &[indicator("third.com", "feed", 0)]);
    std::thread::sleep(SNAPSHOT_MAX_AGE);
    assert_eq!(
        count(&store),
        3,
        "another writer's commit is seen after SNAPSHOT_MAX_AGE"
    );

    // A failing statement aborts the transaction; the next reader on the connection starts
    // a new one.
    let single =
        PostgresStore::connect_with_pool_size(&postgres_url(), Some(&schema.name), 1).unwrap();
    assert_eq!(count(&single), 3);
    let mut client = postgres::Client::connect(&postgres_url(), postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("DROP TABLE \"{}\".feed_state", schema.name))
        .unwrap();
    let reader = single.reader().unwrap();
    assert!(reader.feed_state("feed").is_err());
    assert!(reader.stats().is_err(), "the transaction is aborted");
    drop(reader);
    assert_eq!(
        count(&single),
        3,
        "the next reader is not in the aborted one"
    );
}

/// An idle reader does not hold its PostgreSQL snapshot (and the locks of the tables it read)
/// for long: the sweeper ends it, so DDL does not wait.
#[test]
fn idle_postgres_readers_release_their_snapshot() {
    let schema = PgSchema::new();
    let store = schema.open();
    put_all(&store, &[source("feed"), indicator("evil.com", "feed", 0)]);
    assert_eq!(store.reader().unwrap().stats().unwrap().indicators, 1);
    std::thread::sleep(SWEEP_EVERY + SNAPSHOT_MAX_AGE * 5);
    let mut client = postgres::Client::connect(&postgres_url(), postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE \"{}\".indicators IN ACCESS EXCLUSIVE MODE NOWAIT; ROLLBACK",
            schema.name
        ))
        .expect("the sweeper ended the idle snapshot");
}

#[test]
fn a_postgres_store_from_a_newer_version_is_refused() {
    let schema = PgSchema::new();
    drop(schema.open());
    let mut client = postgres::Client::connect(&postgres_url(), postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO \"{}\".threatintel_migrations (version) VALUES (99)",
            schema.name
        ))
        .unwrap();
    let err = PostgresStore::connect(&postgres_url(), Some(&schema.name)).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
}

#[test]
fn a_postgres_store_migrates_once_and_keeps_its_data() {
    let schema = PgSchema::new();
    let store = schema.open();
    assert_eq!(store.schema_version().unwrap(), 9);
    put_all(&store, &[source("feed"), indicator("evil.com", "feed", 0)]);
    drop(store);
    let again = schema.open();
    assert_eq!(again.schema_version().unwrap(), 9);
    assert_eq!(again.reader().unwrap().stats().unwrap().indicators, 1);
}

#[test]
fn an_unreachable_postgres_is_an_open_error_without_the_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let err =
        PostgresStore::connect("postgresql://someone:s3cret@127.0.0.1:1/test", None).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    let message = format!("{err} {err:?}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn put_batch_counts_and_merges_as_puts_one_by_one_would() {
    each_backend(|store| {
        put_all(
            store,
            &[
                source("feed"),
                source("ids"),
                Evidence::Allowlist(Allowlist {
                    name: "top".into(),
                    kind: AllowlistKind::TopSites,
                    enabled: true,
                }),
                indicator("evil.com", "feed", 0),
            ],
        );
        let entry = |rank: u32| {
            Evidence::AllowlistEntry(AllowlistEntry {
                name: name("good.com"),
                matching: AllowMatch::Exact,
                list: "top".into(),
                rank: Some(rank),
            })
        };
        let event = |count: u64| {
            Evidence::Event(SecurityEvent {
                name: name("evil.com"),
                time: t(-2),
                stage: "delivery".into(),
                industry: "finance".into(),
                count,
                source: "ids".into(),
            })
        };
        let whois = |registrar: &str| whois_record("example.com", registrar, None, t(-1));
        let intel = |risk: RiskLevel| {
            Evidence::IpIntel(IpIntel {
                network: "203.0.113.0/24".parse().unwrap(),
                risk,
                source: "feed".into(),
                threat_type: None,
            })
        };
        let cert = |seen: i64| {
            Evidence::Certificate(Box::new(Certificate {
                serial: "1".into(),
                issuer: "CN=CA".into(),
                subject: "CN=evil.com".into(),
                sans: vec!["evil.com".into()],
                covers: vec![DomainQuery::Exact(name("evil.com"))],
                not_before: t(-10),
                not_after: t(80),
                sha256: "aa".into(),
                seen_at: t(seen),
                seen_where: "192.0.2.1:443".into(),
            }))
        };
        let batch = [
            indicator("evil.com", "feed", 5),
            cert(-3),
            indicator("new.com", "feed", 1),
            indicator("evil.com", "feed", 7),
            resolution("new.com", "192.0.2.1", 0),
            event(3),
            entry(3),
            whois("Old Registrar"),
            intel(RiskLevel::High),
            indicator("new.com", "feed", 2),
            resolution("new.com", "192.0.2.1", 3),
            event(5),
            entry(1),
            whois("New Registrar"),
            intel(RiskLevel::Low),
            cert(-1),
            // Sources come first whatever their place in the batch.
            source("feed"),
        ];
        let mut w = store.writer().unwrap();
        let summary = w.put_batch(&batch).unwrap();
        // Added: new.com's indicator, the resolution, event, entry, WHOIS, network, certificate.
        assert_eq!(
            summary,
            WriteSummary {
                added: 7,
                updated: 10
            }
        );
        assert_eq!(w.commit().unwrap(), summary);

        let r = store.reader().unwrap();
        let hits = r
            .indicators_at(&[name("evil.com"), name("new.com")])
            .unwrap();
        let seen: Vec<_> = hits
            .iter()
            .map(|h| {
                (
                    h.record.name.to_string(),
                    h.sightings,
                    h.record.first_seen,
                    h.record.last_seen,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("evil.com".to_string(), 3, t(-1), t(7)),
                ("new.com".to_string(), 2, t(0), t(2)),
            ]
        );
        let ips = r
            .resolved_ips(&DomainQuery::Exact(name("new.com")), t(-10), t(10))
            .unwrap();
        assert_eq!(
            (ips.len(), ips[0].count, ips[0].first_seen, ips[0].last_seen),
            (1, 2, t(-1), t(3))
        );
        let totals = r
            .event_totals(&DomainQuery::Exact(name("evil.com")), t(0))
            .unwrap();
        assert_eq!(totals[0].count, 5, "a re-imported event replaces its count");
        let allowed = r.allowlist_at(&[name("good.com")]).unwrap();
        assert_eq!(allowed[0].entry.rank, Some(1));
        assert_eq!(
            r.latest_whois(&name("example.com"))
                .unwrap()
                .unwrap()
                .registrar
                .name,
            "New Registrar"
        );
        let intel = r.ip_intel(&["203.0.113.9".parse().unwrap()]).unwrap();
        assert_eq!(intel[0].1.risk, RiskLevel::Low);
        assert_eq!(
            r.latest_certificate(&name("evil.com"))
                .unwrap()
                .unwrap()
                .seen_at,
            t(-1)
        );
        let stats = r.stats().unwrap();
        assert_eq!(
            (
                stats.indicators,
                stats.resolutions,
                stats.events,
                stats.allowlist_entries,
                stats.whois_records,
                stats.ip_intel,
                stats.certificates,
                stats.sources,
            ),
            (2, 1, 1, 1, 1, 1, 1, 2)
        );
    });
}

/// Rows a transaction adds for a name that had none of their kind go straight in; a later
/// batch of the same transaction that repeats one merges it, whether a batch or a put one by
/// one added it (PostgreSQL would refuse a second copy of the row).
#[test]
fn later_batches_merge_the_rows_their_transaction_added() {
    let r = resolution;
    let first = [
        r("a.example", "192.0.2.1", -3),
        r("b.example", "192.0.2.1", -3),
    ];
    let one = r("b.example", "192.0.2.2", -2);
    let later = [
        r("a.example", "192.0.2.1", -1),
        r("a.example", "192.0.2.2", -1),
        r("b.example", "192.0.2.2", -1),
    ];
    let write = |store: &dyn Store, bulk: bool| {
        let mut w = store.writer().unwrap();
        for step in [&first[..], std::slice::from_ref(&one), &later[..]] {
            if bulk && step.len() > 1 {
                w.put_batch(step).unwrap();
            } else {
                for e in step {
                    w.put(e).unwrap();
                }
            }
        }
        let summary = w.commit().unwrap();
        let reader = store.reader().unwrap();
        let reads: Vec<String> = ["a.example", "b.example"]
            .map(|n| {
                let scope = DomainQuery::Exact(name(n));
                format!("{:?}", reader.resolved_ips(&scope, t(-10), t(0)).unwrap())
            })
            .into_iter()
            .chain(["192.0.2.1", "192.0.2.2"].map(|ip| {
                format!(
                    "{:?}",
                    reader.names_resolving_to(ip.parse().unwrap(), 10).unwrap()
                )
            }))
            .collect();
        (summary, reads)
    };
    let (_dir, one_by_one) = sqlite();
    let expected = write(&one_by_one, false);
    assert_eq!(
        expected.0,
        WriteSummary {
            added: 4,
            updated: 2
        }
    );
    each_backend(|store| assert_eq!(write(store, true), expected));
}

#[test]
fn put_batch_refuses_records_of_unknown_sources_and_lists() {
    each_backend(|store| {
        put_all(store, &[source("feed")]);
        let mut w = store.writer().unwrap();
        let err = w
            .put_batch(&[
                indicator("a.com", "feed", 0),
                indicator("b.com", "no-such-feed", 0),
            ])
            .unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownSource(ref s) if s == "no-such-feed"),
            "{err}"
        );
        drop(w);
        let mut w = store.writer().unwrap();
        let err = w
            .put_batch(&[Evidence::AllowlistEntry(AllowlistEntry {
                name: name("good.com"),
                matching: AllowMatch::Hostname,
                list: "no-such-list".into(),
                rank: None,
            })])
            .unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownAllowlist(ref s) if s == "no-such-list"),
            "{err}"
        );
        drop(w);
        assert_eq!(store.reader().unwrap().stats().unwrap().indicators, 0);
    });
}

#[test]
fn reads_come_in_byte_order() {
    each_backend(|store| {
        let typed = |n: &str, src: &str, zone: bool, threat: &str, label: Option<&str>| {
            let Evidence::Indicator(mut rec) = indicator(n, src, 0) else {
                unreachable!()
            };
            rec.zone = zone;
            rec.threat_type = threat.into();
            rec.label = label.map(Into::into);
            Evidence::Indicator(rec)
        };
        let event = |industry: &str| {
            Evidence::Event(SecurityEvent {
                name: name("a.example.com"),
                time: t(-1),
                stage: "delivery".into(),
                industry: industry.into(),
                count: 1,
                source: "feed1".into(),
            })
        };
        put_all(
            store,
            &[
                source("feed1"),
                source("feed2"),
                source("beta"),
                source("Alpha"),
                source("alpha"),
                typed("a.example.com", "feed2", false, "Phishing", None),
                typed("a.example.com", "feed1", true, "Malware", None),
                typed("a.example.com", "feed1", false, "botnet", None),
                typed("a.example.com", "feed1", false, "C&C Server", Some("x")),
                typed("a.example.com", "feed1", false, "C&C Server", None),
                typed("b.a.example.com", "feed1", false, "Phishing", None),
                typed("a-b.example.com", "feed1", false, "Phishing", None),
                event("finance"),
                event("energy"),
                event("Energy"),
            ],
        );
        let r = store.reader().unwrap();
        let at: Vec<(String, bool, String, Option<String>)> = r
            .indicators_at(&[name("b.a.example.com"), name("a.example.com")])
            .unwrap()
            .into_iter()
            .map(|h| {
                (
                    h.record.name.to_string(),
                    h.record.zone,
                    format!("{}/{}", h.record.source, h.record.threat_type),
                    h.record.label,
                )
            })
            .collect();
        let row = |n: &str, z: bool, st: &str, l: Option<&str>| {
            (n.to_string(), z, st.to_string(), l.map(String::from))
        };
        assert_eq!(
            at,
            [
                row("b.a.example.com", false, "feed1/Phishing", None),
                row("a.example.com", false, "feed1/C&C Server", None),
                row("a.example.com", false, "feed1/C&C Server", Some("x")),
                row("a.example.com", false, "feed1/botnet", None),
                row("a.example.com", false, "feed2/Phishing", None),
                row("a.example.com", true, "feed1/Malware", None),
            ]
        );
        let below: Vec<String> = r
            .indicators_below(&name("example.com"))
            .unwrap()
            .iter()
            .map(|h| h.record.name.to_string())
            .collect();
        assert_eq!(
            below,
            [
                "a-b.example.com",
                "a.example.com",
                "a.example.com",
                "a.example.com",
                "a.example.com",
                "a.example.com",
                "b.a.example.com"
            ]
        );
        let names: Vec<String> = r
            .names_below(&name("example.com"), 10)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            ["a-b.example.com", "a.example.com", "b.a.example.com"]
        );
        let sources: Vec<String> = r
            .sources()
            .unwrap()
            .into_iter()
            .map(|s| s.source.name)
            .collect();
        assert_eq!(sources, ["Alpha", "alpha", "beta", "feed1", "feed2"]);
        let industries: Vec<String> = r
            .event_totals(&DomainQuery::Wildcard(name("example.com")), t(0))
            .unwrap()
            .into_iter()
            .map(|e| e.industry)
            .collect();
        assert_eq!(industries, ["Energy", "energy", "finance"]);
    });
}

fn relation(n: &str, kind: RelationKind, target: &str, last: i64, source: &str) -> Evidence {
    Evidence::Relation(DnsRelation {
        name: name(n),
        kind,
        target: name(target),
        first_seen: t(last - 1),
        last_seen: t(last),
        count: 1,
        source: source.into(),
    })
}

#[test]
fn relations_are_kept_per_kind_and_target_and_merged() {
    each_backend(|store| {
        put_all(
            store,
            &[
                relation(
                    "www.example.com",
                    RelationKind::Ns,
                    "ns2.host.net",
                    0,
                    "pdns",
                ),
                relation(
                    "www.example.com",
                    RelationKind::Cname,
                    "edge.cdn.net",
                    -5,
                    "pdns",
                ),
                relation(
                    "www.example.com",
                    RelationKind::Mx,
                    "mx.example.com",
                    0,
                    "dns",
                ),
                relation("example.com", RelationKind::Ns, "ns1.host.net", 0, "dns"),
            ],
        );
        // Seen again by a lookup: the window widens, the count adds up, the source is the last.
        put_all(
            store,
            &[relation(
                "www.example.com",
                RelationKind::Cname,
                "edge.cdn.net",
                2,
                "dns",
            )],
        );
        let found = store
            .reader()
            .unwrap()
            .relations(&name("www.example.com"))
            .unwrap();
        let summary: Vec<_> = found
            .iter()
            .map(|r| {
                (
                    r.kind,
                    r.target.as_str(),
                    r.first_seen,
                    r.last_seen,
                    r.count,
                    r.source.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (RelationKind::Cname, "edge.cdn.net", t(-6), t(2), 2, "dns"),
                (RelationKind::Mx, "mx.example.com", t(-1), t(0), 1, "dns"),
                (RelationKind::Ns, "ns2.host.net", t(-1), t(0), 1, "pdns"),
            ]
        );
        let reader = store.reader().unwrap();
        assert!(reader.relations(&name("edge.cdn.net")).unwrap().is_empty());
        assert!(reader
            .relations(&name("other.example.com"))
            .unwrap()
            .is_empty());
        // A relation is evidence on its name only: the targets are not names of the store.
        assert!(!reader.knows_zone(&name("cdn.net")).unwrap());
    });
}

#[test]
fn lookups_replace_per_topic_and_commit_with_the_writer() {
    each_backend(|store| {
        let state = |topic: &str, outcome: &str, at: i64| LookupState {
            name: name("example.com"),
            topic: topic.into(),
            kind: if topic == "registration" {
                "rdap"
            } else {
                topic
            }
            .into(),
            at: t(at),
            server: "https://rdap.example/".into(),
            outcome: outcome.into(),
            error: (outcome == "timeout").then(|| "no answer".into()),
            records: u64::from(outcome == "stored"),
            latency_ms: 12,
            next_due: t(at + 7),
            failures: u32::from(outcome == "timeout"),
        };
        {
            let mut w = store.writer().unwrap();
            w.put_lookup(&state("dns", "stored", 0)).unwrap();
        }
        let reader = store.reader().unwrap();
        assert!(reader.lookups(&name("example.com")).unwrap().is_empty());
        drop(reader);
        let mut w = store.writer().unwrap();
        w.put_lookup(&state("registration", "timeout", 0)).unwrap();
        w.put_lookup(&state("dns", "stored", 0)).unwrap();
        w.commit().unwrap();
        let mut w = store.writer().unwrap();
        w.put_lookup(&state("registration", "stored", 1)).unwrap();
        w.commit().unwrap();
        let reader = store.reader().unwrap();
        assert_eq!(
            reader.lookups(&name("example.com")).unwrap(),
            [
                state("dns", "stored", 0),
                state("registration", "stored", 1)
            ]
        );
        assert!(reader.lookups(&name("www.example.com")).unwrap().is_empty());
        // A lookup record does not make its name known.
        assert!(!reader.knows_zone(&name("example.com")).unwrap());
    });
}

#[test]
fn feed_state_commits_with_the_writer() {
    each_backend(|store| {
        let state = |etag: Option<&str>| FeedState {
            name: "urlhaus".into(),
            etag: etag.map(Into::into),
            last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
            refreshed_at: t(0),
        };
        {
            let mut w = store.writer().unwrap();
            w.put_feed_state(&state(Some("\"v1\""))).unwrap();
        }
        assert_eq!(store.reader().unwrap().feed_state("urlhaus").unwrap(), None);
        let mut w = store.writer().unwrap();
        w.put_feed_state(&state(Some("\"v1\""))).unwrap();
        w.commit().unwrap();
        assert_eq!(
            store.reader().unwrap().feed_state("urlhaus").unwrap(),
            Some(state(Some("\"v1\"")))
        );
        let mut w = store.writer().unwrap();
        w.put_feed_state(&state(None)).unwrap();
        w.commit().unwrap();
        assert_eq!(
            store.reader().unwrap().feed_state("urlhaus").unwrap(),
            Some(state(None))
        );
        assert_eq!(store.reader().unwrap().feed_state("other").unwrap(), None);
    });
}

#[test]
fn sources_count_their_indicators_and_last_import() {
    each_backend(|store| {
        put_all(
            store,
            &[
                source("feed"),
                source("quiet"),
                indicator("a.com", "feed", 0),
                indicator("b.com", "feed", 0),
            ],
        );
        let sources = store.reader().unwrap().sources().unwrap();
        let summary: Vec<(&str, u64, bool)> = sources
            .iter()
            .map(|s| {
                (
                    s.source.name.as_str(),
                    s.indicators,
                    s.last_import.is_some(),
                )
            })
            .collect();
        assert_eq!(summary, [("feed", 2, true), ("quiet", 0, true)]);
        assert_eq!(sources[0].source.reliability, Reliability::B);
    });
}

#[test]
fn the_overview_counts_threat_types_families_and_imports_per_day() {
    each_backend(|store| {
        let family = |n: &str, threat_type: &str, label: Option<&str>| {
            let Evidence::Indicator(mut record) = indicator(n, "feed", 0) else {
                unreachable!()
            };
            record.threat_type = threat_type.into();
            record.label = label.map(str::to_owned);
            Evidence::Indicator(record)
        };
        let empty = store.reader().unwrap().overview(10, t(0)).unwrap();
        assert_eq!(empty, StoreOverview::default());
        put_all(
            store,
            &[
                source("feed"),
                family("a.com", "Phishing", Some("Kit")),
                family("b.com", "Phishing", Some("Kit")),
                family("c.com", "C&C Server", Some("Emotet")),
                family("d.com", "C&C Server", Some("Agent")),
                family("e.com", "C&C Server", None),
            ],
        );
        // A commit that names no source is not an import.
        put_all(store, &[resolution("a.com", "192.0.2.1", 0)]);
        put_all(
            store,
            &[source("feed"), family("f.com", "Malware", Some("Kit"))],
        );
        let overview = store.reader().unwrap().overview(2, t(0)).unwrap();
        let counted = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
            pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
        };
        assert_eq!(
            overview.by_threat_type,
            counted(&[("C&C Server", 3), ("Phishing", 2), ("Malware", 1)])
        );
        assert_eq!(overview.top_families, counted(&[("Kit", 3), ("Agent", 1)]));
        // Both imports committed today (the writer's clock); their records count every row
        // written, the source's included (added, then updated).
        let today = Utc::now().timestamp().div_euclid(86_400) * 86_400;
        assert_eq!(
            overview.imports_by_day,
            [ImportDay {
                day: Utc.timestamp_opt(today, 0).unwrap(),
                imports: 2,
                records: 8,
            }]
        );
        let tomorrow = Utc.timestamp_opt(today + 86_400, 0).unwrap();
        assert!(store
            .reader()
            .unwrap()
            .overview(2, tomorrow)
            .unwrap()
            .imports_by_day
            .is_empty());
    });
}

#[test]
fn writers_take_turns() {
    each_backend(|store| {
        let mut first = store.writer().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut second = store.writer().unwrap();
                tx.send(()).unwrap();
                second.put(&source("second")).unwrap();
                second.commit().unwrap();
            });
            assert!(
                rx.recv_timeout(std::time::Duration::from_millis(300))
                    .is_err(),
                "a second writer waits for the first"
            );
            first.put(&source("first")).unwrap();
            first.commit().unwrap();
            rx.recv_timeout(std::time::Duration::from_secs(30))
                .expect("the second writer starts once the first commits");
        });
        assert_eq!(store.reader().unwrap().stats().unwrap().sources, 2);
    });
}

/// A small deterministic generator, so both backends get the same varied data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    /// A time within `days` of t(0), with milliseconds (stores keep whole seconds).
    fn time(&mut self, days: i64) -> Timestamp {
        t(0) + Duration::milliseconds(self.below((2 * days * 86_400_000) as u64) as i64)
            - Duration::days(days)
    }
}

const ZONES: [&str; 4] = ["example.com", "example-foo.com", "test.org", "foo.co.uk"];
const PREFIXES: [&str; 7] = ["", "www.", "a.", "a-b.", "b.a.", "mail.", "x1.www."];
const SOURCES: [&str; 3] = ["feed-a", "Feed-B", "ids"];
const LISTS: [&str; 3] = ["top", "curated", "off"];
const IPS: [&str; 6] = [
    "192.0.2.1",
    "192.0.2.77",
    "203.0.113.9",
    "2001:db8::1",
    "2001:db8:1::5",
    "10.1.2.3",
];

fn all_names() -> Vec<DomainName> {
    ZONES
        .iter()
        .flat_map(|z| PREFIXES.iter().map(move |p| name(&format!("{p}{z}"))))
        .collect()
}

fn random_record(rng: &mut Lcg, names: &[DomainName]) -> Evidence {
    let n = rng.pick(names).clone();
    match rng.below(8) {
        0 | 1 => {
            let first = rng.time(30);
            Evidence::Indicator(IndicatorRecord {
                name: n,
                zone: rng.chance(6),
                source: rng.pick(&SOURCES).to_string(),
                threat_type: rng.pick(&["C&C Server", "Phishing", "botnet"]).to_string(),
                label: rng.pick(&[None, Some("x"), Some("Y")]).map(Into::into),
                risk: *rng.pick(&[RiskLevel::Low, RiskLevel::Medium, RiskLevel::High]),
                scenario: rng.chance(2).then(|| "phishing".into()),
                attack_stage: rng.chance(2).then(|| "delivery".into()),
                first_seen: first,
                last_seen: first + Duration::seconds(rng.below(86_400 * 5) as i64),
                confidence: rng.chance(2).then(|| rng.below(101) as u8),
                reference: rng.chance(3).then(|| "https://ref.example/1".into()),
                via_url: rng.chance(2),
            })
        }
        2 => Evidence::AllowlistEntry(AllowlistEntry {
            name: n,
            matching: *rng.pick(&[AllowMatch::Exact, AllowMatch::Hostname]),
            list: rng.pick(&LISTS).to_string(),
            rank: rng.chance(2).then(|| rng.below(1000) as u32 + 1),
        }),
        3 => {
            let registrar = *rng.pick(&["Old Registrar", "New Registrar", "Third"]);
            let created = Some(rng.time(3000));
            // Few distinct days (and sub-second parts) so that identities repeat.
            let observed =
                t(-(rng.below(4) as i64)) + Duration::milliseconds(rng.below(900) as i64);
            let mut record = whois_record(rng.pick::<&str>(&ZONES), registrar, created, observed);
            if let Evidence::Whois(w) = &mut record {
                w.nameservers = vec!["ns1.example.net".into()];
                w.raw = "raw text".into();
            }
            record
        }
        4 => {
            let mut covers = vec![DomainQuery::Exact(n.clone())];
            if rng.chance(2) {
                covers.push(DomainQuery::Wildcard(rng.pick(names).clone()));
            }
            Evidence::Certificate(Box::new(Certificate {
                serial: rng.below(100).to_string(),
                issuer: "CN=CA".into(),
                subject: format!("CN={n}"),
                sans: vec![n.to_string()],
                covers,
                not_before: t(-100),
                not_after: t(100),
                sha256: rng.pick(&["aa", "bb", "cc", "dd"]).to_string(),
                seen_at: rng.time(20),
                seen_where: rng.pick(&["192.0.2.1:443", "192.0.2.2:443"]).to_string(),
            }))
        }
        5 => {
            let first = rng.time(60);
            Evidence::Resolution(Resolution {
                name: n,
                ip: rng.pick(&IPS).parse().unwrap(),
                first_seen: first,
                last_seen: first + Duration::seconds(rng.below(86_400 * 10) as i64),
                count: rng.below(5) + 1,
            })
        }
        6 => Evidence::IpIntel(IpIntel {
            network: rng
                .pick(&[
                    "203.0.113.0/24",
                    "203.0.113.9",
                    "198.51.100.0/22",
                    "192.0.2.0/25",
                    "2001:db8::/32",
                    "2001:db8:1::/48",
                    "10.0.0.0/8",
                ])
                .parse()
                .unwrap(),
            risk: *rng.pick(&[RiskLevel::Low, RiskLevel::High]),
            source: rng.pick(&SOURCES).to_string(),
            threat_type: rng.chance(2).then(|| "scanner".into()),
        }),
        _ => Evidence::Event(SecurityEvent {
            name: n,
            time: t(-(rng.below(5) as i64)) + Duration::milliseconds(rng.below(2000) as i64),
            stage: rng.pick(&["delivery", "command-and-control"]).to_string(),
            industry: rng.pick(&["finance", "Energy", "energy"]).to_string(),
            count: rng.below(10) + 1,
            source: rng.pick(&SOURCES).to_string(),
        }),
    }
}

/// The sources and allowlists every generated record refers to.
fn dataset_header() -> Vec<Evidence> {
    let mut header: Vec<Evidence> = SOURCES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Evidence::Source(Source {
                name: s.to_string(),
                reliability: Reliability::ALL[i],
                default_threat_type: None,
            })
        })
        .collect();
    header.extend(LISTS.iter().enumerate().map(|(i, l)| {
        Evidence::Allowlist(Allowlist {
            name: l.to_string(),
            kind: [
                AllowlistKind::TopSites,
                AllowlistKind::Curated,
                AllowlistKind::Operator,
            ][i],
            enabled: *l != "off",
        })
    }));
    header
}

/// The same writes, through the bulk path and one by one, into `store`: what each returned.
fn write_dataset(store: &dyn Store) -> Vec<WriteSummary> {
    let mut rng = Lcg(20_240_601);
    let names = all_names();
    let header = dataset_header();
    let records: Vec<Evidence> = (0..3000).map(|_| random_record(&mut rng, &names)).collect();
    let mut out = Vec::new();

    let mut w = store.writer().unwrap();
    let mut first = header.clone();
    // Address records on networks of lengths the random `ip_intel` rows do not use.
    first.extend([
        ip_record("192.0.2.0/26", "Feed-B", "Scanner", -3),
        ip_record("192.0.2.0/26", "feed-a", "Botnet", -2),
        ip_record("10.1.2.0/23", "ids", "Scanner", -1),
        ip_record("2001:db8:1::/60", "feed-a", "Scanner", -1),
    ]);
    first.extend_from_slice(&records[..1200]);
    // Sources and lists to put: written at once even when owned.
    out.push(w.put_batch_owned(first).unwrap());
    out.push(w.finish_batches().unwrap());
    out.push(w.commit().unwrap());

    // Several batches in one transaction: a later one repeats rows an earlier one added. Taken
    // owned, they are written while the next is staged (PostgreSQL): counted together, as
    // their counts come with later calls.
    let mut w = store.writer().unwrap();
    let mut owned = WriteSummary::default();
    for batch in [1200..1800, 1800..2400, 1500..1700] {
        owned += w.put_batch_owned(records[batch].to_vec()).unwrap();
    }
    // A put waits for the batch being written, whose count then comes with `finish_batches`.
    for e in &records[2400..2500] {
        let outcome = w.put(e).unwrap();
        out.push(WriteSummary {
            added: u64::from(outcome == PutOutcome::Added),
            updated: u64::from(outcome == PutOutcome::Updated),
        });
    }
    owned += w.finish_batches().unwrap();
    out.push(owned);
    out.push(w.put_batch(&records[2500..]).unwrap());
    w.put_feed_state(&FeedState {
        name: "feed-a".into(),
        etag: Some("\"e\"".into()),
        last_modified: None,
        refreshed_at: t(0) + Duration::milliseconds(250),
    })
    .unwrap();
    out.push(w.commit().unwrap());

    // Re-imports of records already stored, one by one and as a batch.
    let mut w = store.writer().unwrap();
    for _ in 0..100 {
        let e = &records[rng.below(records.len() as u64) as usize];
        w.put(e).unwrap();
    }
    let again: Vec<Evidence> = (0..500)
        .map(|_| records[rng.below(records.len() as u64) as usize].clone())
        .collect();
    out.push(w.put_batch(&again).unwrap());
    out.push(w.commit().unwrap());
    out
}

/// Every read about the name `n` (and its zone) but `knows_zone`, rendered for comparison.
fn reads_about(r: &dyn StoreReader, n: &DomainName) -> String {
    let ms = Duration::milliseconds(500);
    let exact = DomainQuery::Exact(n.clone());
    let wildcard = DomainQuery::Wildcard(n.clone());
    let siblings = [
        n.clone(),
        n.parent().unwrap_or_else(|| n.clone()),
        n.clone(),
    ];
    let resolved: Vec<IpAddr> = r
        .resolved_ips(&wildcard, t(-90), t(90))
        .unwrap()
        .iter()
        .map(|r| r.ip)
        .collect();
    format!(
        "indicators_at {:?}\nindicators_below {:?}\n\
         allowlist_at {:?}\nallowlist_below {:?}\n\
         count_names_below {:?}\nnames_below(3) {:?}\nnames_below {:?}\n\
         latest_whois {:?}\nwhois_history {:?}\n\
         certificates {:?}\nlatest_certificate {:?}\n\
         resolved_ips {:?} {:?} {:?}\n\
         ip_intel {:?} {:?}\n\
         event_totals {:?} {:?}",
        r.indicators_at(&siblings).unwrap(),
        (
            r.indicators_below(n).unwrap(),
            r.indicators_below_first(n, 2).unwrap()
        ),
        r.allowlist_at(&siblings).unwrap(),
        r.allowlist_below(n).unwrap(),
        r.count_names_below(n).unwrap(),
        r.names_below(n, 3).unwrap(),
        r.names_below(n, 1000).unwrap(),
        r.latest_whois(n).unwrap(),
        r.whois_history(n).unwrap(),
        r.certificates(n).unwrap(),
        r.latest_certificate(n).unwrap(),
        r.resolved_ips(&exact, t(-90), t(90)).unwrap(),
        r.resolved_ips(&wildcard, t(-90), t(90)).unwrap(),
        r.resolved_ips(&wildcard, t(-5) + ms, t(5) + ms).unwrap(),
        // As a report asks (the addresses its names resolved to), and with one they did not.
        r.ip_intel(&resolved).unwrap(),
        r.ip_intel(&[&resolved[..], &["198.51.100.9".parse().unwrap()]].concat())
            .unwrap(),
        r.event_totals(&exact, t(0)).unwrap(),
        r.event_totals(&wildcard, t(-2) + ms).unwrap(),
    )
}

/// Every read of the trait over the generated data, rendered for comparison.
fn read_everything(store: &dyn Store) -> Vec<String> {
    let r = store.reader().unwrap();
    let mut out = Vec::new();
    let mut zones: Vec<DomainName> = all_names();
    zones.extend(all_names().iter().flat_map(|n| n.ancestors()));
    zones.push(name("unknown.example.com"));
    zones.push(name("example.net"));
    zones.sort();
    zones.dedup();
    for n in &zones {
        out.push(format!(
            "{n} knows_zone {:?}\n{}",
            r.knows_zone(n).unwrap(),
            reads_about(&*r, n)
        ));
    }
    let mut ips: Vec<IpAddr> = IPS.iter().map(|s| s.parse().unwrap()).collect();
    ips.extend(["198.51.101.200", "2001:db9::1", "8.8.8.8"].map(|s| s.parse::<IpAddr>().unwrap()));
    ips.push(ips[0]);
    out.push(format!("ip_intel {:?}", r.ip_intel(&ips).unwrap()));
    for ip in &ips {
        out.push(format!(
            "names_resolving_to {ip} {:?} {:?}",
            r.names_resolving_to(*ip, 1000).unwrap(),
            r.names_resolving_to(*ip, 2).unwrap()
        ));
    }
    // The time of the last import is the clock's, not the data's.
    let sources: Vec<_> = r
        .sources()
        .unwrap()
        .into_iter()
        .map(|s| (s.source, s.indicators, s.last_import.is_some()))
        .collect();
    out.push(format!("sources {sources:?}"));
    out.push(format!("stats {:?}", r.stats().unwrap()));
    out.push(format!(
        "feed_state {:?} {:?}",
        r.feed_state("feed-a").unwrap(),
        r.feed_state("feed-b").unwrap()
    ));
    out
}

/// The conformance check across backends: the same writes give the same counts, and every
/// read returns the same values in the same order.
#[test]
fn both_backends_write_and_read_alike() {
    let (_dir, sqlite) = sqlite();
    let schema = PgSchema::new();
    let postgres = schema.open();
    let sqlite_writes = write_dataset(&sqlite);
    let postgres_writes = write_dataset(&postgres);
    assert_eq!(sqlite_writes, postgres_writes, "write summaries");
    let sqlite_reads = read_everything(&sqlite);
    let postgres_reads = read_everything(&postgres);
    assert_eq!(sqlite_reads.len(), postgres_reads.len());
    for (s, p) in sqlite_reads.iter().zip(&postgres_reads) {
        assert_eq!(s, p, "SQLite (left) and PostgreSQL (right) differ");
    }
    // And as a server reads them: the filter of stored names built.
    for store in [&sqlite as &dyn Store, &postgres] {
        store.prepare_reads().unwrap();
        std::thread::sleep(SNAPSHOT_MAX_AGE);
        let prepared = read_everything(store);
        for (s, p) in sqlite_reads.iter().zip(&prepared) {
            assert_eq!(
                s, p,
                "unprepared SQLite (left) and a prepared store (right) differ"
            );
        }
    }
    // The data exercises what it should.
    let stats = sqlite.reader().unwrap().stats().unwrap();
    assert!(
        stats.indicators > 100 && stats.certificates == 4 && stats.events > 50,
        "{stats:?}"
    );
}

/// After `knows_zone` a reader may skip the reads that the kinds of the zone's names show would
/// find nothing (SQLite keeps small zones): every read about the zone's names, its ancestors and
/// names outside it is what a reader that never asked gives. Each name carries one kind only.
#[test]
fn reads_after_knows_zone_are_the_reads_without_it() {
    each_backend(|store| {
        let certificate = |covers: DomainQuery| {
            Evidence::Certificate(Box::new(Certificate {
                serial: covers.to_string(),
                issuer: "CN=CA".into(),
                subject: format!("CN={covers}"),
                sans: vec![covers.to_string()],
                covers: vec![covers],
                not_before: t(-100),
                not_after: t(100),
                sha256: format!("{:?}", t(0)),
                seen_at: t(-1),
                seen_where: "192.0.2.1:443".into(),
            }))
        };
        let mut zone_listing = indicator("z.sparse.com", "feed", 0);
        if let Evidence::Indicator(rec) = &mut zone_listing {
            rec.zone = true;
        }
        put_all(
            store,
            &[
                source("feed"),
                Evidence::Allowlist(Allowlist {
                    name: "top".into(),
                    kind: AllowlistKind::TopSites,
                    enabled: true,
                }),
                whois_record("sparse.com", "Registrar", Some(t(-400)), t(-1)),
                Evidence::AllowlistEntry(AllowlistEntry {
                    name: name("a.sparse.com"),
                    matching: AllowMatch::Hostname,
                    list: "top".into(),
                    rank: Some(1),
                }),
                resolution("b.sparse.com", "192.0.2.7", 0),
                certificate(DomainQuery::Exact(name("c.sparse.com"))),
                certificate(DomainQuery::Wildcard(name("w.sparse.com"))),
                indicator("x.w.sparse.com", "feed", 0),
                Evidence::Event(SecurityEvent {
                    name: name("e.sparse.com"),
                    time: t(-1),
                    stage: "delivery".into(),
                    industry: "finance".into(),
                    count: 2,
                    source: "feed".into(),
                }),
                zone_listing,
                indicator("other.com", "feed", 0),
            ],
        );
        // Several records per name, in every part of their identity, and addresses shared
        // between names of the zone (summed per address), inside and outside the windows.
        let mut more = vec![
            source("a-feed"),
            Evidence::Allowlist(Allowlist {
                name: "curated".into(),
                kind: AllowlistKind::Curated,
                enabled: true,
            }),
            indicator("z.sparse.com", "a-feed", 0),
            Evidence::AllowlistEntry(AllowlistEntry {
                name: name("a.sparse.com"),
                matching: AllowMatch::Exact,
                list: "top".into(),
                rank: Some(3),
            }),
            Evidence::AllowlistEntry(AllowlistEntry {
                name: name("a.sparse.com"),
                matching: AllowMatch::Hostname,
                list: "curated".into(),
                rank: None,
            }),
            resolution("b.sparse.com", "192.0.2.8", -3),
            resolution("c.sparse.com", "192.0.2.7", -4),
            resolution("sparse.com", "2001:db8::1", 2),
            resolution("sparse.com", "192.0.2.9", -200),
        ];
        for (i, (threat_type, label)) in [("Phishing", "b"), ("C&C Server", "a"), ("Phishing", "")]
            .into_iter()
            .enumerate()
        {
            for src in ["feed", "a-feed"] {
                if let Evidence::Indicator(mut rec) = indicator("x.w.sparse.com", src, -(i as i64))
                {
                    rec.threat_type = threat_type.into();
                    rec.label = (!label.is_empty()).then(|| label.into());
                    more.push(Evidence::Indicator(rec));
                }
            }
        }
        // A zone with more records than the known zone's statement brings.
        for i in 0..300 {
            if let Evidence::Indicator(mut rec) = indicator("busy.com", "feed", 0) {
                rec.label = Some(format!("family{i}"));
                more.push(Evidence::Indicator(rec));
            }
            more.push(resolution(
                "www.busy.com",
                &format!("198.51.100.{}", i % 250),
                -(i % 3),
            ));
        }
        put_all(store, &more);
        let names = [
            "sparse.com",
            "a.sparse.com",
            "b.sparse.com",
            "c.sparse.com",
            "w.sparse.com",
            "x.w.sparse.com",
            "y.w.sparse.com",
            "e.sparse.com",
            "z.sparse.com",
            "q.z.sparse.com",
            "missing.sparse.com",
            "com",
            "other.com",
            "busy.com",
            "www.busy.com",
        ]
        .map(name);
        for zone in ["sparse.com", "busy.com"] {
            let asked = store.reader().unwrap();
            assert!(asked.knows_zone(&name(zone)).unwrap());
            let never_asked = store.reader().unwrap();
            for n in &names {
                assert_eq!(
                    reads_about(&*asked, n),
                    reads_about(&*never_asked, n),
                    "reads about {n} after knows_zone({zone})"
                );
            }
        }
    });
}

/// Long runs of indicators (which the SQLite backend writes a group at a time) store and count
/// what the same records put one by one do: names that exist (with other kinds of evidence or
/// earlier indicators), names that do not, repeats within a run, and a whole batch again.
#[test]
fn indicator_runs_in_a_batch_match_puts_one_by_one() {
    let mut rng = Lcg(77);
    let mut names = all_names();
    names.extend((0..300).map(|i| name(&format!("n{i}.example.com"))));
    let earlier: Vec<Evidence> = (0..200)
        .map(|_| random_record(&mut rng, &all_names()))
        .collect();
    let run: Vec<Evidence> = std::iter::from_fn(|| Some(random_record(&mut rng, &names)))
        .filter(|e| matches!(e, Evidence::Indicator(_)))
        .take(2000)
        .collect();
    let fresh: Vec<Evidence> = (300..500)
        .map(|i| indicator(&format!("n{i}.example.com"), "feed-a", i % 7))
        .collect();
    let mut setup = dataset_header();
    setup.extend(earlier);
    let expected_counts =
        assert_batches_match_puts_one_by_one(&setup, &[&run, &fresh, &run], read_everything);
    assert!(
        expected_counts[1].added == 200 && expected_counts[2].added == 0,
        "{expected_counts:?}"
    );
}

#[test]
fn times_are_kept_to_the_second() {
    each_backend(|store| {
        let ms = |n: i64| Duration::milliseconds(n);
        let Evidence::Indicator(mut rec) = indicator("evil.com", "feed", 0) else {
            unreachable!()
        };
        rec.first_seen = t(-1) + ms(700);
        rec.last_seen = t(0) + ms(700);
        put_all(
            store,
            &[
                source("feed"),
                Evidence::Indicator(rec),
                Evidence::Resolution(Resolution {
                    name: name("evil.com"),
                    ip: "192.0.2.1".parse().unwrap(),
                    first_seen: t(-1) + ms(300),
                    last_seen: t(0) + ms(300),
                    count: 1,
                }),
                Evidence::Event(SecurityEvent {
                    name: name("evil.com"),
                    time: t(0) + ms(400),
                    stage: "delivery".into(),
                    industry: "finance".into(),
                    count: 2,
                    source: "feed".into(),
                }),
            ],
        );
        let r = store.reader().unwrap();
        let hit = &r.indicators_at(&[name("evil.com")]).unwrap()[0];
        assert_eq!((hit.record.first_seen, hit.record.last_seen), (t(-1), t(0)));
        let exact = DomainQuery::Exact(name("evil.com"));
        // Bounds compare in whole seconds too.
        let ips = r.resolved_ips(&exact, t(0) + ms(900), t(1)).unwrap();
        assert_eq!(ips.len(), 1);
        assert_eq!((ips[0].first_seen, ips[0].last_seen), (t(-1), t(0)));
        let totals = r.event_totals(&exact, t(0)).unwrap();
        assert_eq!((totals[0].count, totals[0].last), (2, t(0)));
    });
}

/// Import rate of the bulk path, not a timed test: run it in release mode by hand,
/// `cargo test --release -p threatintel-store --test store -- --ignored --nocapture import_rate`.
#[test]
#[ignore = "a measurement; run by hand in release mode"]
fn import_rate_of_a_million_indicators() {
    const TOTAL: usize = 1_000_000;
    const BATCH: usize = 200_000; // as threatintel-ingest batches
    let records: Vec<Evidence> = (0..TOTAL)
        .map(|i| {
            let Evidence::Indicator(mut rec) = indicator(
                &format!("h{i}.z{}.example{}.com", i % 5000, i % 7),
                "feed",
                0,
            ) else {
                unreachable!()
            };
            rec.label = (i % 3 == 0).then(|| "family".into());
            Evidence::Indicator(rec)
        })
        .collect();
    let import = |store: &dyn Store| {
        let started = std::time::Instant::now();
        let mut w = store.writer().unwrap();
        w.put(&source("feed")).unwrap();
        for chunk in records.chunks(BATCH) {
            w.put_batch(chunk).unwrap();
        }
        let summary = w.commit().unwrap();
        let secs = started.elapsed().as_secs_f64();
        (summary, secs, TOTAL as f64 / secs)
    };
    let (_dir, sqlite) = sqlite();
    let schema = PgSchema::new();
    let postgres = schema.open();
    for (backend, store) in [
        ("PostgreSQL", &postgres as &dyn Store),
        ("SQLite", &sqlite as &dyn Store),
    ] {
        let (summary, secs, rate) = import(store);
        assert_eq!(summary.added, TOTAL as u64 + 1);
        eprintln!("{backend}: {TOTAL} new indicators in {secs:.1} s: {rate:.0} records/s");
        let (summary, secs, rate) = import(store);
        assert_eq!(summary.updated, TOTAL as u64 + 1);
        eprintln!("{backend}: {TOTAL} re-imported indicators in {secs:.1} s: {rate:.0} records/s");
    }
}

#[test]
fn a_failed_postgres_bulk_write_rolls_back_and_leaves_the_store_usable() {
    let schema = PgSchema::new();
    let store = schema.open();
    put_all(&store, &[source("feed")]);
    let Evidence::Indicator(mut bad) = indicator("evil.com", "feed", 0) else {
        unreachable!()
    };
    // PostgreSQL text cannot hold NUL; SQLite stores it. The COPY fails mid-batch.
    bad.threat_type = "C&C\0Server".into();
    let mut w = store.writer().unwrap();
    let err = w
        .put_batch(&[indicator("good.com", "feed", 0), Evidence::Indicator(bad)])
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err}");
    drop(w);
    put_all(&store, &[indicator("other.com", "feed", 0)]);
    let r = store.reader().unwrap();
    assert_eq!(r.stats().unwrap().indicators, 1);
    assert!(!r.knows_zone(&name("good.com")).unwrap());
}

/// A WHOIS record with the given registrar and dates, everything else empty.
fn whois_record(
    domain: &str,
    registrar: &str,
    created: Option<Timestamp>,
    observed_at: Timestamp,
) -> Evidence {
    Evidence::Whois(Box::new(WhoisRecord {
        domain: name(domain),
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
        created,
        expires: created.map(|_| t(100)),
        updated: None,
        observed_at,
        raw: String::new(),
    }))
}

#[test]
fn name_model_inputs_gather_top_sites_shared_zones_zone_listings_and_phishing_targets() {
    each_backend(|store| {
        let list = |n: &str, kind, enabled| {
            Evidence::Allowlist(Allowlist {
                name: n.into(),
                kind,
                enabled,
            })
        };
        let entry = |n: &str, l: &str, rank| {
            Evidence::AllowlistEntry(AllowlistEntry {
                name: name(n),
                matching: AllowMatch::Hostname,
                list: l.into(),
                rank,
            })
        };
        let phishing = |n: &str, zone: bool, label: Option<&str>| {
            indicator_with(n, |r| {
                r.zone = zone;
                r.threat_type = "Phishing".into();
                r.label = label.map(str::to_owned);
            })
        };
        put_all(
            store,
            &[
                source("feed"),
                list("tranco", AllowlistKind::TopSites, true),
                list("majestic", AllowlistKind::TopSites, false),
                list("dynamic-dns", AllowlistKind::Curated, false),
                list("curated-on", AllowlistKind::Curated, true),
                entry("paypal.com", "tranco", Some(40)),
                entry("paypal.com", "majestic", Some(7)),
                entry("example.org", "majestic", None),
                entry("duckdns.org", "dynamic-dns", None),
                entry("google.com", "curated-on", None),
                phishing("cc", true, None),
                phishing("duckdns.org", true, Some("PayPal")),
                phishing("login-paypal.com", false, Some("PayPal")),
                phishing("x.example.net", false, Some("Amazon")),
                phishing("y.example.net", false, None),
                indicator("evil.com", "feed", 0),
            ],
        );
        let inputs = store.reader().unwrap().name_model_inputs().unwrap();
        assert_eq!(
            inputs.top_sites,
            vec![(name("paypal.com"), Some(7)), (name("example.org"), None)]
        );
        assert_eq!(inputs.shared_zones, vec![name("duckdns.org")]);
        let zones: Vec<&str> = inputs
            .zone_listings
            .iter()
            .map(|h| h.record.name.as_str())
            .collect();
        assert_eq!(zones, ["cc", "duckdns.org"]);
        assert!(inputs.zone_listings.iter().all(|h| h.record.zone));
        assert_eq!(inputs.phishing_labels, ["Amazon", "PayPal"]);
    });
}

#[test]
fn name_model_inputs_count_listed_names_per_tld_and_per_name_server() {
    use threatintel_store::ListedShare;
    each_backend(|store| {
        let served_by = |domain: &str, servers: &[&str], observed_at| {
            let Evidence::Whois(mut w) = whois_record(domain, "r", None, observed_at) else {
                unreachable!()
            };
            w.nameservers = servers.iter().map(|s| s.to_string()).collect();
            Evidence::Whois(w)
        };
        let low = |n: &str| indicator_with(n, |r| r.risk = RiskLevel::Low);
        let zone = |n: &str| indicator_with(n, |r| r.zone = true);
        put_all(
            store,
            &[
                source("feed"),
                // .top: two names, one listed below its domain; .com: three names, one listed.
                indicator("login.bad.top", "feed", 0),
                served_by(
                    "bad.top",
                    &["NS1.Shady.example.", "ns2.shady.example"],
                    t(1),
                ),
                served_by("good.com", &["ns1.shady.example"], t(1)),
                // Only the newest record counts: `ns.old.example` served good.com before.
                served_by("good.com", &["ns.old.example"], t(0)),
                indicator("evil.com", "feed", 0),
                served_by("evil.com", &["ns1.shady.example"], t(1)),
                low("meh.com"),
                zone("cc"),
            ],
        );
        let inputs = store.reader().unwrap().name_model_inputs().unwrap();
        let share = |key: &str, names, listed| ListedShare {
            key: key.into(),
            names,
            listed,
        };
        assert_eq!(
            inputs.tld_listings,
            vec![share("cc", 1, 0), share("com", 3, 1), share("top", 2, 1)]
        );
        assert_eq!(
            inputs.nameserver_listings,
            vec![
                share("ns1.shady.example", 3, 2),
                share("ns2.shady.example", 1, 1)
            ]
        );
    });
}

#[test]
fn name_model_inputs_count_the_listed_direct_children_of_zones() {
    use threatintel_store::{ListedShare, LISTED_CHILDREN_MIN};
    assert_eq!(LISTED_CHILDREN_MIN, 3);
    each_backend(|store| {
        let known = |n: &str| resolution(n, "192.0.2.1", 0);
        put_all(
            store,
            &[
                source("feed"),
                // sites.example: six direct children, three listed (one under a label of
                // digits, `-` and `_`), one low, one a zone listing, one only resolved; a
                // listed grandchild counts for its own parent, not for sites.example.
                indicator("a.sites.example", "feed", 0),
                indicator("b-2_x.sites.example", "feed", 0),
                indicator("c.sites.example", "feed", 0),
                indicator_with("low.sites.example", |r| r.risk = RiskLevel::Low),
                indicator_with("zone.sites.example", |r| r.zone = true),
                known("plain.sites.example"),
                indicator("deep.a.sites.example", "feed", 0),
                // A neighbour whose key shares the zone's prefix, with two listed children.
                indicator("a.sitesx.example", "feed", 0),
                indicator("b.sitesx.example", "feed", 0),
                known("sites.example"),
                // Three listed names under a TLD: TLDs are not zones here.
                indicator("one.com", "feed", 0),
                indicator("two.com", "feed", 0),
                indicator("three.com", "feed", 0),
            ],
        );
        let inputs = store.reader().unwrap().name_model_inputs().unwrap();
        assert_eq!(
            inputs.listed_children,
            vec![ListedShare {
                key: "sites.example".into(),
                names: 6,
                listed: 3,
            }]
        );
    });
}

#[test]
fn every_indicator_and_allowlist_entry_in_key_order() {
    use std::ops::ControlFlow;
    use threatintel_store::name_key;
    each_backend(|store| {
        let zone_listing = |n: &str| match indicator(n, "feed", 0) {
            Evidence::Indicator(mut r) => {
                r.zone = true;
                Evidence::Indicator(r)
            }
            _ => unreachable!(),
        };
        let list = |n: &str, enabled: bool| {
            Evidence::Allowlist(Allowlist {
                name: n.into(),
                kind: AllowlistKind::Curated,
                enabled,
            })
        };
        let entry = |n: &str, l: &str| {
            Evidence::AllowlistEntry(AllowlistEntry {
                name: name(n),
                matching: AllowMatch::Hostname,
                list: l.into(),
                rank: None,
            })
        };
        put_all(
            store,
            &[
                source("feed"),
                list("on", true),
                list("off", false),
                indicator("www.example-x.com", "feed", 0),
                indicator("a.example.com", "feed", 0),
                zone_listing("example.com"),
                indicator("evil.org", "feed", 0),
                resolution("other.net", "192.0.2.1", 0),
                entry("good.example.com", "on"),
                entry("cdn.net", "on"),
                entry("hidden.net", "off"),
            ],
        );
        let reader = store.reader().unwrap();
        let mut indicators = Vec::new();
        reader
            .each_indicator(&mut |hit| {
                indicators.push((hit.record.name.to_string(), hit.record.zone));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(
            indicators,
            // `com.example-x.www.` sorts before `com.example.` ('-' < '.').
            [
                ("www.example-x.com".to_owned(), false),
                ("example.com".to_owned(), true),
                ("a.example.com".to_owned(), false),
                ("evil.org".to_owned(), false),
            ]
        );
        let keys: Vec<String> = indicators.iter().map(|(n, _)| name_key(&name(n))).collect();
        assert!(keys.is_sorted(), "{keys:?}");
        let mut entries = Vec::new();
        reader
            .each_allowlist_entry(&mut |hit| {
                entries.push(hit.entry.name.to_string());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(entries, ["good.example.com", "cdn.net"]);
        let mut first = Vec::new();
        reader
            .each_indicator(&mut |hit| {
                first.push(hit.record.name.to_string());
                ControlFlow::Break(())
            })
            .unwrap();
        assert_eq!(first, ["www.example-x.com"]);
    });
}

/// Counts rows with a `SELECT count(*) ...` in the store's own database, bypassing the store.
type CountRows<'a> = &'a dyn Fn(&str) -> u64;

/// `stats()` and `sources()` (the maintained counts) are what counting the tables gives.
fn assert_counts_are_real(store: &dyn Store, count: CountRows<'_>) {
    let r = store.reader().unwrap();
    let real = |table: &str| count(&format!("SELECT count(*) FROM {table}"));
    let stats = r.stats().unwrap();
    assert_eq!(
        stats,
        StoreStats {
            names: real("names"),
            sources: real("sources"),
            indicators: real("indicators"),
            allowlists: real("allowlists"),
            allowlist_entries: real("allowlist_entries"),
            whois_records: real("whois"),
            certificates: real("certificates"),
            resolutions: real("resolutions"),
            ip_intel: real("ip_intel"),
            events: real("events"),
        }
    );
    for s in r.sources().unwrap() {
        let name = &s.source.name;
        assert_eq!(
            s.indicators,
            count(&format!(
                "SELECT count(*) FROM indicators i JOIN sources s ON s.id = i.source_id \
                 WHERE s.name = '{name}'"
            )),
            "indicators of {name}"
        );
    }
    // The dashboard's records per threat type and families, every one of them.
    let overview = r.overview(usize::MAX >> 1, t(0)).unwrap();
    let quoted = |s: &str| s.replace('\'', "''");
    for (column, counted) in [
        ("threat_type", &overview.by_threat_type),
        ("label", &overview.top_families),
    ] {
        for (value, n) in counted {
            let value = quoted(value);
            let real = count(&format!(
                "SELECT count(*) FROM indicators WHERE {column} = '{value}'"
            ));
            assert_eq!(*n, real, "indicators with {column} {value}");
        }
        let distinct = count(&format!(
            "SELECT count(DISTINCT {column}) FROM indicators WHERE {column} <> ''"
        ));
        assert_eq!(counted.len() as u64, distinct, "{column}s");
    }
}

/// Writes of every kind, added and updated, in batches and one by one, committed and rolled
/// back, each followed by a check of the counts against the tables.
fn counts_follow_writes(store: &dyn Store, count: CountRows<'_>) {
    assert_counts_are_real(store, count);
    write_dataset(store);
    assert_counts_are_real(store, count);

    // Runs of new indicators (the bulk statements), then the same with new names among them
    // (updates and adds in one run), one by one too; every third of a family.
    let run = |from: usize, to: usize| -> Vec<Evidence> {
        (from..to)
            .map(|i| {
                let mut e = indicator(&format!("run{i}.example.org"), SOURCES[i % 2], 0);
                if let Evidence::Indicator(rec) = &mut e {
                    rec.label = (i % 3 == 0).then(|| "Emotet".into());
                }
                e
            })
            .collect()
    };
    let mut w = store.writer().unwrap();
    assert_eq!(w.put_batch(&run(0, 200)).unwrap().added, 200);
    w.commit().unwrap();
    assert_counts_are_real(store, count);
    let mut w = store.writer().unwrap();
    let summary = w.put_batch(&run(100, 300)).unwrap();
    assert_eq!((summary.added, summary.updated), (100, 100));
    for e in run(250, 350) {
        w.put(&e).unwrap();
    }
    w.commit().unwrap();
    assert_counts_are_real(store, count);
    let stats = store.reader().unwrap().stats().unwrap();

    // A writer dropped without commit leaves the counts as they were.
    {
        let mut w = store.writer().unwrap();
        w.put(&source("dropped")).unwrap();
        w.put_batch(&run(1000, 1300)).unwrap();
        w.put(&indicator("dropped.example.org", "dropped", 0))
            .unwrap();
        w.put(&resolution("dropped.example.org", "192.0.2.9", 0))
            .unwrap();
    }
    assert_eq!(store.reader().unwrap().stats().unwrap(), stats);
    assert_counts_are_real(store, count);
    // A re-import of everything adds nothing.
    write_dataset(store);
    assert_eq!(
        store.reader().unwrap().stats().unwrap(),
        stats,
        "a re-import"
    );
}

/// A counter of rows in the SQLite file at `path`, through a connection of its own.
fn sqlite_counter(path: &std::path::Path) -> impl Fn(&str) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    move |sql| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

/// A counter of rows in the PostgreSQL schema `schema`, through a connection of its own.
fn postgres_counter(schema: &str) -> impl Fn(&str) -> u64 {
    let mut client = postgres::Client::connect(&postgres_url(), postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("SET search_path TO \"{schema}\""))
        .unwrap();
    let client = std::cell::RefCell::new(client);
    move |sql| {
        client
            .borrow_mut()
            .query_one(sql, &[])
            .unwrap()
            .get::<_, i64>(0) as u64
    }
}

#[test]
fn counts_are_maintained_exactly_by_every_write() {
    let (dir, store) = sqlite();
    counts_follow_writes(&store, &sqlite_counter(&dir.path().join("s.db")));
    let schema = PgSchema::new();
    let store = schema.open();
    counts_follow_writes(&store, &postgres_counter(&schema.name));
}

/// Rows of every counted kind, in a store of the schema before the counts (the same SQL for
/// both backends but the name ids, which SQLite's writer hands out from `name_counter`).
const ROWS_BEFORE_COUNTS: &str = "
    INSERT INTO sources (name, reliability) VALUES ('feed', 'B'), ('ids', 'C'), ('quiet', 'A');
    INSERT INTO indicators (name_id, zone, source_id, threat_type, risk, first_seen, last_seen)
    SELECT n.id, false, s.id, 'C&C Server', 3, TS0, TS1 FROM names n, sources s
    WHERE n.rev LIKE 'com.evil.%' AND (s.name = 'feed' OR (s.name = 'ids' AND n.rev = 'com.evil.'));
    INSERT INTO resolutions (name_id, ip, first_seen, last_seen, count)
    SELECT id, IP, TS0, TS1, 3 FROM names WHERE rev = 'com.evil.www.';
    INSERT INTO allowlists (name, kind, enabled) VALUES ('top', 'top_sites', true);
    INSERT INTO allowlist_entries (name_id, list_id, matching, rank)
    SELECT n.id, l.id, 'exact', 1 FROM names n, allowlists l WHERE n.rev = 'com.good.';
";

/// What [`ROWS_BEFORE_COUNTS`] holds: three names, three sources, three indicators (two of
/// `feed`, one of `ids`), one resolution, one list with one entry.
fn assert_rows_before_counts(store: &dyn Store) {
    let r = store.reader().unwrap();
    let stats = r.stats().unwrap();
    assert_eq!(
        stats,
        StoreStats {
            names: 3,
            sources: 3,
            indicators: 3,
            allowlists: 1,
            allowlist_entries: 1,
            resolutions: 1,
            ..StoreStats::default()
        }
    );
    let per_source: Vec<(String, u64)> = r
        .sources()
        .unwrap()
        .into_iter()
        .map(|s| (s.source.name, s.indicators))
        .collect();
    assert_eq!(
        per_source,
        [("feed".into(), 2), ("ids".into(), 1), ("quiet".into(), 0)]
    );
}

/// A store of schema version 8 (before the counts) opens with counts of what it holds, which
/// the writes after keep exact.
#[test]
fn a_version_8_sqlite_store_migrates_to_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    for sql in [
        include_str!("../src/sqlite/schema.sql"),
        include_str!("../src/sqlite/schema_2.sql"),
        include_str!("../src/sqlite/schema_3.sql"),
        include_str!("../src/sqlite/schema_4.sql"),
        include_str!("../src/sqlite/schema_5.sql"),
        include_str!("../src/sqlite/schema_6.sql"),
        include_str!("../src/sqlite/schema_7.sql"),
        include_str!("../src/sqlite/schema_8.sql"),
    ] {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch(
        "PRAGMA user_version = 8;
         INSERT INTO names (id, rev, kinds) VALUES (1, 'com.evil.', 1), (2, 'com.evil.www.', 9),
             (3, 'com.good.', 4);
         UPDATE name_counter SET next_id = 4;",
    )
    .unwrap();
    conn.execute_batch(
        &ROWS_BEFORE_COUNTS
            .replace("TS0", "0")
            .replace("TS1", "86400")
            .replace("IP", "X'C0000201'")
            .replace("true", "1")
            .replace("false", "0"),
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 9);
    assert_rows_before_counts(&store);
    counts_follow_writes(&store, &sqlite_counter(&path));
}

#[test]
fn a_version_7_postgres_store_migrates_to_exact_counts() {
    let schema = PgSchema::new();
    let mut client = postgres::Client::connect(&postgres_url(), postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{0}\"; SET search_path TO \"{0}\"",
            schema.name
        ))
        .unwrap();
    for sql in [
        include_str!("../src/postgres/schema.sql"),
        include_str!("../src/postgres/schema_2.sql"),
        include_str!("../src/postgres/schema_3.sql"),
        include_str!("../src/postgres/schema_4.sql"),
        include_str!("../src/postgres/schema_5.sql"),
        include_str!("../src/postgres/schema_6.sql"),
        include_str!("../src/postgres/schema_7_ip_report.sql"),
    ] {
        client.batch_execute(sql).unwrap();
    }
    client
        .batch_execute(
            "CREATE TABLE threatintel_migrations (
                 version    integer     PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );
             INSERT INTO threatintel_migrations (version) SELECT generate_series(1, 7);
             INSERT INTO names (rev, kinds) VALUES ('com.evil.', 1), ('com.evil.www.', 9),
                 ('com.good.', 4);",
        )
        .unwrap();
    client
        .batch_execute(
            &ROWS_BEFORE_COUNTS
                .replace("TS0", "'2024-06-01T00:00:00Z'")
                .replace("TS1", "'2024-06-02T00:00:00Z'")
                .replace("IP", "'\\xc0000201'::bytea"),
        )
        .unwrap();
    drop(client);

    let store = schema.open();
    assert_eq!(store.schema_version().unwrap(), 9);
    assert_rows_before_counts(&store);
    counts_follow_writes(&store, &postgres_counter(&schema.name));
}

/// A TCP relay to the test PostgreSQL server that counts the client's round trips (the `Sync`
/// and simple `Query` messages it sends: the client waits for the answer to each) and keeps
/// the text of each statement it runs (a simple `Query`, or a `Bind` of a parsed statement).
struct CountingRelay {
    port: u16,
    seen: std::sync::Arc<Seen>,
}

#[derive(Default)]
struct Seen {
    round_trips: std::sync::atomic::AtomicU64,
    statements: std::sync::Mutex<Vec<String>>,
}

impl Seen {
    fn run(&self, statement: Option<std::borrow::Cow<'_, str>>) {
        if let Some(text) = statement {
            self.statements.lock().unwrap().push(text.into_owned());
        }
    }
}

impl CountingRelay {
    fn start() -> Self {
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(Seen::default());
        let shared = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect("127.0.0.1:5432").unwrap();
                let (back_to, back_from) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut &back_from, &mut &back_to));
                let seen = std::sync::Arc::clone(&shared);
                std::thread::spawn(move || relay_counting(client, server, &seen));
            }
        });
        Self { port, seen }
    }

    fn url(&self) -> String {
        postgres_url().replace("port=5432", &format!("port={}", self.port))
    }

    /// The round trips since the last call.
    fn take(&self) -> u64 {
        self.seen.round_trips.swap(0, Ordering::SeqCst)
    }

    /// The statements run since the last call.
    fn take_statements(&self) -> Vec<String> {
        std::mem::take(&mut self.seen.statements.lock().unwrap())
    }
}

/// Relays the client's messages to the server, counting its round trips and keeping the
/// statements it runs.
fn relay_counting(
    mut client: std::net::TcpStream,
    mut server: std::net::TcpStream,
    seen: &Seen,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut prepared = std::collections::HashMap::<String, String>::new();
    // The startup packets (a startup message, after any SSL or GSS request) have no type byte.
    loop {
        let mut len = [0u8; 4];
        client.read_exact(&mut len)?;
        let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
        client.read_exact(&mut body)?;
        server.write_all(&len)?;
        server.write_all(&body)?;
        const SSL_REQUEST: u32 = 80_877_103;
        const GSS_REQUEST: u32 = 80_877_104;
        let code = body
            .get(..4)
            .map_or(0, |c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        if code != SSL_REQUEST && code != GSS_REQUEST {
            break;
        }
    }
    loop {
        let mut head = [0u8; 5];
        client.read_exact(&mut head)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        client.read_exact(&mut body)?;
        if matches!(head[0], b'S' | b'Q') {
            seen.round_trips.fetch_add(1, Ordering::SeqCst);
        }
        // A simple query is its text, run; a parse names a statement's text; a bind runs a
        // named statement (after the portal's name).
        let mut strings = body.split(|&b| b == 0).map(String::from_utf8_lossy);
        match head[0] {
            b'Q' => seen.run(strings.next()),
            b'P' => {
                if let (Some(name), Some(text)) = (strings.next(), strings.next()) {
                    prepared.insert(name.into_owned(), text.into_owned());
                }
            }
            b'B' => seen.run(
                strings
                    .nth(1)
                    .and_then(|name| prepared.get(&*name).cloned().map(Into::into)),
            ),
            _ => {}
        }
        server.write_all(&head)?;
        server.write_all(&body)?;
    }
}

/// A PostgreSQL report of a listed name with resolutions, on a store with address intel, is
/// two round trips once its statements are prepared (the known zone; the evidence of the
/// zone's names, its ancestors and their addresses); a name the store does not know, one. With
/// the reads prepared, as a server's are, one (the zone's names with their evidence) and none.
#[test]
fn a_postgres_report_takes_two_round_trips() {
    let relay = CountingRelay::start();
    let schema = PgSchema::new();
    let store = PostgresStore::connect_with_pool_size(&relay.url(), Some(&schema.name), 1).unwrap();
    put_all(
        &store,
        &[
            source("feed"),
            allowlist("curated", true),
            indicator("bad.example.net", "feed", -1),
            indicator("www.bad.example.net", "feed", -2),
            Evidence::AllowlistEntry(AllowlistEntry {
                name: name("example.net"),
                matching: AllowMatch::Exact,
                list: "curated".into(),
                rank: None,
            }),
            resolution("bad.example.net", "203.0.113.9", -1),
            resolution("www.bad.example.net", "2001:db8::1", -1),
            // Addresses no stored network contains, as most are; a zone with only such.
            resolution("bad.example.net", "198.51.100.1", -1),
            indicator("worse.example.org", "feed", -1),
            resolution("worse.example.org", "198.51.100.2", -1),
            Evidence::IpIntel(IpIntel {
                network: "203.0.113.0/24".parse().unwrap(),
                risk: RiskLevel::High,
                source: "feed".into(),
                threat_type: None,
            }),
            ip_record("2001:db8::/32", "feed", "Scanner", -1),
        ],
    );
    // The reads a report of `apex` makes (`ReportEngine::report`).
    let report = |r: &dyn StoreReader, apex: &str| {
        let apex = name(apex);
        let sld = apex.registrable().unwrap();
        assert!(r.knows_zone(&sld).unwrap());
        r.indicators_below_first(&apex, 33).unwrap();
        let ancestors: Vec<DomainName> = apex.ancestors().collect();
        r.indicators_at(&ancestors).unwrap();
        r.allowlist_below(&apex).unwrap();
        r.allowlist_at(std::slice::from_ref(&sld)).unwrap();
        r.count_names_below(&apex).unwrap();
        let ips: Vec<IpAddr> = r
            .resolved_ips(&DomainQuery::Wildcard(apex.clone()), t(-30), t(0))
            .unwrap()
            .iter()
            .map(|r| r.ip)
            .collect();
        let intel = r.ip_intel(&ips).unwrap();
        r.latest_whois(&sld).unwrap();
        r.latest_certificate(&apex).unwrap();
        (ips.len(), intel.len())
    };
    let r = store.reader().unwrap();
    for (apex, found) in [("bad.example.net", (3, 2)), ("worse.example.org", (1, 0))] {
        assert_eq!(report(&*r, apex), found);
        relay.take();
        assert_eq!(report(&*r, apex), found);
        assert_eq!(relay.take(), 2, "round trips of the report of {apex}");
    }
    assert!(!r.knows_zone(&name("nothing-here.example.org")).unwrap());
    assert_eq!(relay.take(), 1, "round trips of an unknown name's report");

    // As a server reads: the filter of stored names built, a snapshot knows its generation,
    // and what a generation's readers share is read once (the first report of each zone).
    drop(r);
    store.prepare_reads().unwrap();
    std::thread::sleep(SNAPSHOT_MAX_AGE);
    let r = store.reader().unwrap();
    for (apex, found) in [("bad.example.net", (3, 2)), ("worse.example.org", (1, 0))] {
        assert_eq!(report(&*r, apex), found);
        relay.take();
        assert_eq!(report(&*r, apex), found);
        assert_eq!(
            relay.take(),
            1,
            "round trips of the report of {apex}, reads prepared"
        );
    }
    for _ in 0..2 {
        assert!(!r.knows_zone(&name("nothing-here.example.org")).unwrap());
    }
    relay.take();
    assert!(!r.knows_zone(&name("nothing-here.example.org")).unwrap());
    assert_eq!(
        relay.take(),
        0,
        "round trips of an unknown name's report, reads prepared"
    );
}

/// A PostgreSQL store tells that it knows nothing of a zone without a reader only as a reader
/// reusing the last snapshot begun would: the filter lacks the zone, no ancestor the snapshot
/// holds carries a zone listing (kept for its generation), the snapshot is young enough and
/// nothing was committed through the store since.
#[test]
fn a_postgres_store_tells_what_it_knows_nothing_of_as_a_reused_snapshot_would() {
    let schema = PgSchema::new();
    let store = schema.open();
    put_all(
        &store,
        &[
            source("feed"),
            indicator("www.evil.com", "feed", 0),
            indicator_with("listed-zone.net", |r| r.zone = true),
            indicator_with("example.org", |r| r.zone = true),
        ],
    );
    store.prepare_reads().unwrap();
    let nothing_of = |zone: &str| store.knows_nothing_of(&name(zone));
    let read = |zone: &str| store.reader().unwrap().knows_zone(&name(zone)).unwrap();
    assert!(!nothing_of("unlisted.com"), "before any snapshot began");
    // What the store tells of `zone` while the snapshot a new reader of `read` began could be
    // reused (tried again when this thread was held up past that).
    let told_fresh = |read_zone: &str, zone: &str| {
        for _ in 0..1000 {
            std::thread::sleep(SNAPSHOT_MAX_AGE);
            let began = Instant::now();
            read(read_zone);
            let told = nothing_of(zone);
            if began.elapsed() < SNAPSHOT_MAX_AGE {
                return told;
            }
        }
        panic!("held up past SNAPSHOT_MAX_AGE a thousand times");
    };
    assert!(read("sub.listed-zone.net"));
    assert!(told_fresh("unlisted.com", "unlisted.com"));
    assert!(told_fresh("unlisted.com", "other.com"));
    assert!(
        !told_fresh("unlisted.com", "evil.com"),
        "a zone the filter may hold"
    );
    assert!(
        !told_fresh("unlisted.com", "sub.listed-zone.net"),
        "below a zone listing kept for the snapshot's generation"
    );
    assert!(
        !told_fresh("unlisted.com", "sub.example.org"),
        "below a zone listing not read for the snapshot's generation"
    );

    assert!(told_fresh("unlisted.com", "unlisted.com"));
    std::thread::sleep(SNAPSHOT_MAX_AGE);
    assert!(!nothing_of("unlisted.com"), "a snapshot too old to reuse");

    assert!(told_fresh("unlisted.com", "unlisted.com"));
    put_all(&store, &[indicator("x.unlisted.com", "feed", 0)]);
    assert!(
        !nothing_of("unlisted.com"),
        "after a commit through the store"
    );
    assert!(read("unlisted.com"));
}

/// A PostgreSQL writer asks whether the store holds any name (for a first import into an empty
/// store) once per store, not in every transaction: enrichment commits small groups.
#[test]
fn a_postgres_store_asks_whether_it_holds_names_once() {
    let schema = PgSchema::new();
    put_all(
        &schema.open(),
        &[source("feed"), indicator("a.com", "feed", 0)],
    );
    let relay = CountingRelay::start();
    let store = PostgresStore::connect_with_pool_size(&relay.url(), Some(&schema.name), 1).unwrap();
    let asked = |names: [&str; 2]| {
        relay.take_statements();
        let mut w = store.writer().unwrap();
        w.put_batch(&names.map(|n| indicator(n, "feed", 1)))
            .unwrap();
        w.commit().unwrap();
        relay
            .take_statements()
            .iter()
            .filter(|sql| sql.contains("EXISTS (SELECT 1 FROM names)"))
            .count()
    };
    let asked = [
        asked(["b.com", "c.com"]),
        asked(["d.com", "e.com"]),
        asked(["f.com", "g.com"]),
    ];
    assert_eq!(asked, [1, 0, 0]);
}

/// A batch of address records (repeats of one identity included, over networks of several
/// lengths) leaves what the same records put one by one leave, on both backends.
#[test]
fn address_records_in_a_batch_match_puts_one_by_one() {
    let mut rng = Lcg(4711);
    let networks = [
        "192.0.2.0/26",
        "192.0.2.0/24",
        "192.0.2.77",
        "10.0.0.0/8",
        "2001:db8::/32",
        "2001:db8:1::/60",
    ];
    let records: Vec<Evidence> = (0..400)
        .map(|_| {
            let first = rng.time(30);
            Evidence::IpRecord(IpRecord {
                network: rng.pick(&networks).parse().unwrap(),
                source: rng.pick(&SOURCES).to_string(),
                threat_type: rng.pick(&["Scanner", "Botnet"]).to_string(),
                label: rng.pick(&[None, Some("x")]).map(Into::into),
                risk: *rng.pick(&[RiskLevel::Low, RiskLevel::High]),
                scenario: rng.chance(2).then(|| "scan".into()),
                first_seen: first,
                last_seen: first + Duration::seconds(rng.below(86_400) as i64),
                confidence: rng.chance(2).then_some(70),
                reference: rng.chance(3).then(|| "https://example.org/r".into()),
            })
        })
        .collect();
    let reads = |store: &dyn Store| -> Vec<String> {
        let r = store.reader().unwrap();
        [
            "192.0.2.77",
            "192.0.2.5",
            "10.1.2.3",
            "2001:db8:1::5",
            "2001:db8:ff::1",
        ]
        .iter()
        .map(|ip| format!("{ip} {:?}", r.ip_records(ip.parse().unwrap()).unwrap()))
        .collect()
    };
    let expected_counts = assert_batches_match_puts_one_by_one(
        &dataset_header(),
        &[&records[..250], &records[150..]],
        reads,
    );
    assert!(expected_counts[1].updated > 0, "{expected_counts:?}");
}
