//! What background enrichment costs a report on an already-enriched name: the same reports
//! with `mode = "off"` (the report alone) and `mode = "background"` (the enricher consulted
//! first: nothing is due, so nothing is queued), in one run. 200 names `bench-N.com` are
//! enriched first against the loopback servers of the test suite.
//!
//! `cargo bench -p threatintel-enrich --bench overhead`
//!
//! Figures (2 cores, otherwise idle, 2026-12-03): off 46.4 µs [43.4, 49.4], background 48.2 µs
//! [45.3, 51.4] per report, +3.9% (target: at most 5%).

#[allow(dead_code)]
#[path = "../tests/enrich/fakes.rs"]
mod fakes;

use std::sync::Arc;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use threatintel_enrich::bootstrap::Bootstrap;
use threatintel_enrich::{EnrichConfig, Enricher, Kind, Mode};
use threatintel_model::DomainQuery;
use threatintel_report::{FieldSet, ReportConfig, ReportEngine, ReportRequest, VerdictConfig};
use threatintel_store::{SqliteStore, Store};

const NAMES: usize = 200;

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let queries: Vec<DomainQuery> = (0..NAMES)
        .map(|i| DomainQuery::parse(&format!("bench-{i}.com")).unwrap())
        .collect();
    let enricher = runtime.block_on(async {
        let servers = fakes::Fakes::start().await;
        let config = EnrichConfig {
            mode: Mode::Background,
            whois_root: servers.whois_root.to_string(),
            dns_upstreams: vec![servers.dns.to_string()],
            tls_port: servers.tls.port(),
            allow_private_addresses: true,
            ..EnrichConfig::default()
        };
        let bootstrap = Bootstrap::parse(&servers.bootstrap()).unwrap();
        let enricher = Enricher::start(config, bootstrap, store.clone()).unwrap();
        for query in &queries {
            let fetched = enricher.refresh(query, &Kind::ALL).await;
            assert!(fetched.iter().all(|f| f.error.is_none()), "{fetched:?}");
        }
        enricher
    });
    let engine =
        ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default()).unwrap();
    let report = |query: &DomainQuery| {
        engine
            .report(&ReportRequest {
                query: query.clone(),
                fields: FieldSet::ALL,
                at: Utc::now(),
                with_lists: false,
                heuristics: true,
            })
            .unwrap()
    };
    let mut group = c.benchmark_group("report of an enriched name");
    let mut i = 0;
    group.bench_function("mode=off", |b| {
        b.iter(|| {
            i = (i + 1) % NAMES;
            report(&queries[i])
        })
    });
    group.bench_function("mode=background", |b| {
        b.iter(|| {
            i = (i + 1) % NAMES;
            runtime.block_on(enricher.before_report(&queries[i]));
            report(&queries[i])
        })
    });
    group.finish();
    assert_eq!(enricher.queue_depth(), 0, "nothing was due");
}

criterion_group!(benches, overhead);
criterion_main!(benches);
