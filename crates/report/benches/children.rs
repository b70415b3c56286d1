//! Reports on a zone with many listed subdomains: `listed.example` with 100,000 and with
//! 1,000,000 names below it, each listed as a C&C server by a feed. The report judges the
//! zone's children for `malicious_child_domain_cnt` (an exact query) and merges them (a
//! wildcard query); both stay bounded by `MAX_CHILDREN_JUDGED`.
//!
//! Run: `cargo bench -p threatintel-report --bench children`. The first run writes the stores
//! through the store's writer to `target/bench-store/children-{100k,1m}.db` (deterministic) and
//! reuses them afterwards; delete a file to regenerate it.

#[path = "support/cached.rs"]
mod cached;

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::Criterion;
use threatintel_model::*;
use threatintel_report::{FieldSet, ReportEngine, ReportRequest, MAX_CHILDREN_JUDGED};
use threatintel_store::StoreWriter;

const ZONE: &str = "listed.example";
const BATCH: usize = 100_000;

fn report_time() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

/// Writes `children` listed names below the zone.
fn fill(w: &mut dyn StoreWriter, children: usize) {
    w.put(&Evidence::Source(Source {
        name: "feed-a".into(),
        reliability: Reliability::B,
        default_threat_type: None,
    }))
    .unwrap();
    let last_seen = report_time() - chrono::Duration::days(1);
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..children {
        batch.push(Evidence::Indicator(IndicatorRecord {
            name: DomainName::parse(&format!("c{i}.{ZONE}")).unwrap(),
            zone: false,
            source: "feed-a".into(),
            threat_type: "C&C Server".into(),
            label: None,
            risk: RiskLevel::High,
            scenario: None,
            attack_stage: None,
            first_seen: last_seen - chrono::Duration::days(10),
            last_seen,
            confidence: Some(80),
            reference: None,
            via_url: false,
        }));
        if batch.len() == BATCH {
            w.put_batch(&batch).unwrap();
            batch.clear();
        }
    }
    w.put_batch(&batch).unwrap();
}

fn engine(file: &str, children: usize) -> ReportEngine {
    cached::engine_on(file, |w| fill(w, children))
}

fn report(engine: &ReportEngine, query: &str) -> u64 {
    let report = engine
        .report(&ReportRequest {
            query: DomainQuery::parse(query).unwrap(),
            fields: FieldSet::ALL,
            at: report_time(),
            with_lists: false,
            heuristics: true,
        })
        .unwrap();
    report.basic.malicious_child_domain_cnt
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (file, children, label) in [
        ("children-100k.db", 100_000, "100k"),
        ("children-1m.db", 1_000_000, "1m"),
    ] {
        let engine = engine(file, children);
        let judged = report(&engine, ZONE);
        eprintln!("{label}: malicious_child_domain_cnt {judged}");
        assert_eq!(judged as usize, children.min(MAX_CHILDREN_JUDGED));
        let mut group = c.benchmark_group(format!("children_{label}"));
        group.bench_function("exact", |b| b.iter(|| black_box(report(&engine, ZONE))));
        let wildcard = format!("*.{ZONE}");
        group.bench_function("wildcard", |b| {
            b.iter(|| black_box(report(&engine, &wildcard)))
        });
        group.finish();
    }
    c.final_summary();
}
