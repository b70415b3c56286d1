//! Server time of the console's domain page on the 1M-record bench store (the report
//! bench's, `crates/report/benches/support/store.rs`): the report with every field and the
//! lists, the WHOIS history, certificates and IP intelligence reads, and the HTML; and the
//! size of the page's first load (HTML, stylesheet, script).
//!
//! Run: `cargo bench -p threatintel-console --bench domain_page` (the first run generates the
//! store, about a minute). Besides criterion's estimate it prints p50/p99 over 5,000 pages.
//!
//! Figures (2026-12-03, 2 shared cores also running another build and test suite): first load
//! 10,709 bytes (page 5,107, CSS 3,358, JS 2,244; target < 300 KB); domain page of a listed
//! name p50 104.5 µs, p99 4.3 ms over 5,000 pages, criterion 319–346 µs (target < 5 ms).

#[path = "../../report/benches/support/store.rs"]
mod store;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use threatintel_console::domain::{self, DomainView};
use threatintel_console::Page;
use threatintel_model::{DomainQuery, Lang};
use threatintel_report::{FieldSet, ReportEngine, ReportRequest};

use crate::store::{engine, report_time};

fn page(engine: &ReportEngine, query: &str) -> String {
    let report = engine
        .report(&ReportRequest {
            query: DomainQuery::parse(query).unwrap(),
            fields: FieldSet::ALL,
            at: report_time(),
            with_lists: true,
            heuristics: true,
        })
        .unwrap();
    let reader = engine.store().reader().unwrap();
    let ips: Vec<_> = report.resolutions.iter().map(|r| r.ip).collect();
    let (whois, certificates, malicious) = (
        reader.whois_history(&report.sld_domain).unwrap(),
        reader.certificates(&report.domain).unwrap(),
        reader.ip_intel(&ips).unwrap(),
    );
    let view = DomainView {
        report: &report,
        whois_history: &whois,
        certificates: &certificates,
        malicious_ips: &malicious,
        verdict_config: engine.verdict_config(),
    };
    let visitor = Page {
        lang: Lang::En,
        csrf: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        user: Some("LTAIbench"),
        anonymous: false,
        here: "/console/",
    };
    domain::page(&visitor, &view).into_string()
}

fn main() {
    let engine = engine();
    let listed: Vec<String> = (0..1000).map(|i| format!("bad{}.com", i * 211)).collect();
    let first = page(&engine, &listed[0]);
    assert!(first.contains("level high") || first.contains("level medium"));
    let load = first.len() + threatintel_console::CSS.len() + threatintel_console::JS.len();
    println!(
        "first load: {load} bytes (page {}, CSS {}, JS {})",
        first.len(),
        threatintel_console::CSS.len(),
        threatintel_console::JS.len()
    );
    let mut samples: Vec<Duration> = (0..5000)
        .map(|i| {
            let started = Instant::now();
            black_box(page(&engine, &listed[i % listed.len()]));
            started.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!("domain page p50 {:.1?} p99 {:.1?}", at(0.5), at(0.99));

    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5));
    let mut i = 0;
    criterion.bench_function("domain page, listed name", |b| {
        b.iter(|| {
            i += 1;
            black_box(page(&engine, &listed[i % listed.len()]))
        })
    });
    criterion.final_summary();
}
