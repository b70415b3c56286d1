//! Scale-out comparison: the same synthetic data (1,000,000 indicator records, 10,000,000
//! resolutions) in SQLite and in PostgreSQL, bulk-loaded through `put_batch` (binary `COPY` on
//! PostgreSQL), then report latency on both.
//!
//! Run: `scripts/ensure-postgres.sh && cargo bench -p threatintel-report --bench scale`.
//! `BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1/test`) names the server; the data
//! goes to schema `bench_scale` (`BENCH_POSTGRES_SCHEMA` overrides it) and to
//! `target/bench-store/scale-10m.db`, both reused when present (drop the schema / delete the
//! file to reload). `BENCH_RESOLUTIONS` overrides the resolution count.
//!
//! 2026-12-05 08:05 UTC, the full 10M resolutions, load average 1-3 (another engineer's
//! callgrind runs): `BENCH_POSTGRES_SCHEMA=scale10m cargo bench -p threatintel-report --bench
//! scale`: PostgreSQL hit p50 64.8 µs (p99 229 µs), miss p50 32.2 µs (target p50 <= 0.4 ms),
//! two round trips for a hit (`knows_zone`, then the zone's evidence); SQLite hit 9.0 µs, miss
//! 2.1 µs; loads of 11M records: SQLite 206,991 records/s, PostgreSQL 150,205/s.
//!
//! 2026-12-04 18:55 UTC, the full 10M resolutions, load average 8-11 from other builds:
//! `BENCH_POSTGRES_SCHEMA=scale10m cargo bench -p threatintel-report --bench scale`: PostgreSQL
//! hit p50 109 µs (p99 17.7 ms), miss p50 24 µs (target p50 <= 0.4 ms); SQLite hit 14.7 µs, miss
//! 2.8 µs; loads of 11M records: SQLite 51,513 records/s, PostgreSQL 25,714/s (before the bulk
//! path's rework on branch `pgimport`).
//!
//! Earlier, 2026-12-04, load average 9-12 from other builds, the disk too full for 10M resolutions:
//! `BENCH_RESOLUTIONS=1000000 BENCH_POSTGRES_SCHEMA=pgread_scale cargo bench -p
//! threatintel-report --bench scale`: PostgreSQL hit p50 71 µs (p99 5.2 ms), miss p50 24 µs
//! (1.9 ms p50 and about 12 round trips before its readers kept their snapshot and read a zone's
//! evidence in one statement: two round trips now); SQLite hit 13.0 µs, miss 3.5 µs; the
//! PostgreSQL load 56,411 records/s.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use threatintel_model::*;
use threatintel_report::{
    CompatReport, FieldSet, Lang, ReportConfig, ReportEngine, ReportRequest, VerdictConfig,
};
use threatintel_store::{PostgresStore, SqliteStore, Store};

const INDICATORS: u64 = 1_000_000;
const BATCH: usize = 200_000;

fn report_time() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

/// Loads the data through `put_batch`; returns (records, seconds) of the load.
fn fill(store: &dyn Store, resolutions: u64) -> (u64, f64) {
    let started = Instant::now();
    let at = report_time();
    let mut rng = StdRng::seed_from_u64(20240601);
    let mut w = store.writer().unwrap();
    w.put(&Evidence::Source(Source {
        name: "feed-a".into(),
        reliability: Reliability::A,
        default_threat_type: None,
    }))
    .unwrap();
    w.put(&Evidence::Source(Source {
        name: "feed-b".into(),
        reliability: Reliability::B,
        default_threat_type: None,
    }))
    .unwrap();
    let mut batch = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<Evidence>,
                 w: &mut Box<dyn threatintel_store::StoreWriter + '_>| {
        w.put_batch(batch).unwrap();
        batch.clear();
    };
    for i in 0..INDICATORS {
        let sld = format!("bad{}.com", i / 2);
        let last = at - chrono::Duration::days(rng.gen_range(0..100));
        batch.push(Evidence::Indicator(IndicatorRecord {
            name: name(&sld),
            zone: false,
            source: if i % 2 == 0 { "feed-a" } else { "feed-b" }.into(),
            threat_type: "C&C Server".into(),
            label: Some(format!("family{}", i % 97)),
            risk: RiskLevel::High,
            scenario: None,
            attack_stage: None,
            first_seen: last - chrono::Duration::days(10),
            last_seen: last,
            confidence: Some(80),
            reference: None,
            via_url: false,
        }));
        if batch.len() == BATCH {
            flush(&mut batch, &mut w);
        }
    }
    for j in 0..resolutions {
        let n = if j % 10 == 0 {
            format!("bad{}.com", (j / 10) % (INDICATORS / 2))
        } else {
            format!("www.site{}.net", j / 4)
        };
        let last = at - chrono::Duration::days(rng.gen_range(0..500));
        batch.push(Evidence::Resolution(Resolution {
            name: name(&n),
            ip: IpAddr::V4(Ipv4Addr::from(rng.gen::<u32>())),
            first_seen: last - chrono::Duration::days(5),
            last_seen: last,
            count: 1,
        }));
        if batch.len() == BATCH {
            flush(&mut batch, &mut w);
        }
    }
    flush(&mut batch, &mut w);
    w.commit().unwrap();
    (INDICATORS + resolutions, started.elapsed().as_secs_f64())
}

fn latency(engine: &ReportEngine, queries: &[String]) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(5000);
    for i in 0..5000 {
        let query = DomainQuery::parse(&queries[i % queries.len()]).unwrap();
        let t = Instant::now();
        let report = engine
            .report(&ReportRequest {
                query,
                fields: FieldSet::ALL,
                at: report_time(),
                with_lists: false,
                heuristics: true,
            })
            .unwrap();
        std::hint::black_box(
            serde_json::to_string(&CompatReport::render(
                &report,
                Lang::Zh,
                engine.offset(),
                String::new(),
            ))
            .unwrap(),
        );
        samples.push(t.elapsed());
    }
    samples.sort();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

fn measure(label: &str, store: Arc<dyn Store>, resolutions: u64) {
    let stats = store.reader().unwrap().stats().unwrap();
    if stats.resolutions < resolutions {
        let (records, seconds) = fill(&*store, resolutions);
        println!(
            "{label:<10} loaded {records} records in {seconds:.1} s: {:.0} records/s",
            records as f64 / seconds
        );
    } else {
        println!(
            "{label:<10} reusing {} indicators, {} resolutions",
            stats.indicators, stats.resolutions
        );
    }
    let engine =
        ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default()).unwrap();
    let hits: Vec<String> = (0..500).map(|i| format!("bad{}.com", i * 997)).collect();
    let misses: Vec<String> = (0..500).map(|i| format!("never-seen-{i}.com")).collect();
    for (case, queries) in [("hit", &hits), ("miss", &misses)] {
        let (p50, p99) = latency(&engine, queries);
        println!("{label:<10} {case:<5} p50 {p50:>9.1?}  p99 {p99:>9.1?}");
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let resolutions: u64 = std::env::var("BENCH_RESOLUTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let url = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1/test".into());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-store");
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = SqliteStore::open_with_cache(&dir.join("scale-10m.db"), 1024).unwrap();
    measure("sqlite", Arc::new(sqlite), resolutions);
    let schema = std::env::var("BENCH_POSTGRES_SCHEMA").unwrap_or_else(|_| "bench_scale".into());
    let postgres = PostgresStore::connect(&url, Some(&schema))
        .expect("PostgreSQL (scripts/ensure-postgres.sh)");
    measure("postgres", Arc::new(postgres), resolutions);
}
