//! Judging a zone's children: which names count as malicious children, the budget a report
//! (or a batch of reports) may spend on them, and a guard against quadratic judging.

use std::time::{Duration, Instant};

use threatintel_report::MAX_CHILDREN_JUDGED;

use super::*;

/// An engine over a store holding `records`.
fn engine_with(records: impl IntoIterator<Item = Evidence>) -> (tempfile::TempDir, ReportEngine) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("children.db")).unwrap();
    let mut writer = store.writer().unwrap();
    writer.put(&source("feed-a", Reliability::B)).unwrap();
    let records: Vec<Evidence> = records.into_iter().collect();
    writer.put_batch(&records).unwrap();
    writer.commit().unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let engine =
        ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default()).unwrap();
    (dir, engine)
}

/// A name with a resolution only: known, not listed.
fn known(n: &str) -> Evidence {
    resolution(n, "192.0.2.7", 1)
}

fn request(domain: &str) -> ReportRequest {
    ReportRequest {
        query: DomainQuery::parse(domain).unwrap(),
        fields: FieldSet::NONE,
        at: at(),
        with_lists: false,
        heuristics: true,
    }
}

/// `n` listed children (`c{i}.zone`), plus what `extra` adds.
fn listed_children(zone: &str, n: usize) -> impl Iterator<Item = Evidence> + '_ {
    (0..n).map(move |i| c2(&format!("c{i}.{zone}"), "feed-a", 1))
}

/// (child_domain_cnt, malicious_child_domain_cnt) of `domain`.
fn counts(engine: &ReportEngine, domain: &str) -> (u64, u64) {
    let basic = engine.report(&request(domain)).unwrap().basic;
    (basic.child_domain_cnt, basic.malicious_child_domain_cnt)
}

fn check(records: Vec<Evidence>, domain: &str, expected: (u64, u64)) {
    let (_dir, engine) = engine_with(records);
    assert_eq!(counts(&engine, domain), expected, "{domain}");
}

#[test]
fn malicious_children_by_listed_subtrees() {
    // A few listed names: their subtrees are read one query each.
    check(
        vec![
            c2("a.zone.test", "feed-a", 1),
            known("x.a.zone.test"),
            known("y.x.a.zone.test"),
            known("b.zone.test"),
            known("a-b.zone.test"),
        ],
        "zone.test",
        (5, 3),
    );
    // Listed names nested in a listed one count once; `a-b` is a sibling of `a`, not inside it.
    check(
        vec![
            c2("a.zone.test", "feed-a", 1),
            c2("x.a.zone.test", "feed-a", 1),
            known("a-b.zone.test"),
            known("a-b.a.zone.test"),
        ],
        "zone.test",
        (4, 3),
    );
}

#[test]
fn many_listed_subtrees_count_as_few_do() {
    // Past 64 listed subtrees the zone is read once and walked; the counts must not change.
    for listed in [3, 64, 65, 300] {
        let mut records: Vec<Evidence> = listed_children("zone.test", listed).collect();
        // Each listed child has one known name inside it, and one sibling outside.
        for i in 0..listed {
            records.push(known(&format!("www.c{i}.zone.test")));
            records.push(known(&format!("c{i}-x.zone.test")));
        }
        records.push(c2("deep.www.c0.zone.test", "feed-a", 1));
        let children = 3 * listed as u64 + 1;
        check(records, "zone.test", (children, 2 * listed as u64 + 1));
    }
}

#[test]
fn a_shared_budget_bounds_the_children_judged() {
    let (_dir, engine) = engine_with(listed_children("zone.test", 50).collect::<Vec<_>>());
    let mut budget = 30;
    let first = engine
        .report_within(&request("zone.test"), &mut budget)
        .unwrap();
    assert_eq!(first.basic.malicious_child_domain_cnt, 30);
    assert_eq!(first.basic.child_domain_cnt, 50);
    assert_eq!(budget, 0);
    let second = engine
        .report_within(&request("*.zone.test"), &mut budget)
        .unwrap();
    assert_eq!(second.basic.malicious_child_domain_cnt, 0);
    // The apex's own verdict does not come from the budget.
    assert_eq!(second.verdict.level, ThreatLevel::Unknown);
    let mut budget = 1000;
    let full = engine
        .report_within(&request("*.zone.test"), &mut budget)
        .unwrap();
    assert_eq!(full.basic.malicious_child_domain_cnt, 50);
    assert_eq!(full.verdict.level, ThreatLevel::High);
    assert_eq!(budget, 950);
}

/// Judging used to compare every listed name with every subtree kept so far, read each subtree
/// with a query of its own and read every record below the zone: 40,000 listed names took about
/// 25 s a report in a debug build. Bounded, linear judging takes a fraction of the limit.
#[test]
fn forty_thousand_listed_children_are_judged_in_bounded_time() {
    const LIMIT: Duration = Duration::from_secs(8);
    let (_dir, engine) = engine_with(listed_children("zone.test", 40_000).collect::<Vec<_>>());
    for domain in ["zone.test", "*.zone.test"] {
        let started = Instant::now();
        let basic = engine.report(&request(domain)).unwrap().basic;
        let took = started.elapsed();
        assert_eq!(
            basic.malicious_child_domain_cnt as usize, MAX_CHILDREN_JUDGED,
            "{domain}"
        );
        assert_eq!(basic.child_domain_cnt, 40_000, "{domain}");
        assert!(took < LIMIT, "{domain}: {took:?}, limit {LIMIT:?}");
    }
}
