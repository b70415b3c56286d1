//! Report latency on a synthetic store of 1,000,000 indicator records, 1,000,000 resolutions
//! and 100,000 allowlist entries.
//!
//! Run: `cargo bench -p threatintel-report --bench report`. The first run generates the store
//! at `target/bench-store/report-1m.db` (deterministic, seeded; about a minute) and reuses it
//! afterwards; delete the file to regenerate. Besides criterion's estimates the bench prints
//! p50/p99 over 20,000 sequential reports per case, and the CPU time (user + system) of the
//! bench thread per report over them. Cases ending in `-nh` ask
//! for the verdict without the heuristic judge.
//!
//! What the judge adds (2026-12-03, the TLD and name-server signals in, on a 2-core machine
//! shared with six other builds, so criterion's means are noisy): p50 of a miss 11.5 µs with
//! the judge against 9.8 µs without (+1.7 µs; the target is at most 5 µs); p50 of a hit
//! 53.3 µs with against 59.3 µs without (nothing added: a record decides, the judge never runs).
//! The `gen` cases are misses on which every name signal runs its whole course (two subdomain
//! levels, lure words, a long label for the typosquat and brand searches, a long
//! generated-looking part): 2026-12-04, load average 8 on 2 cores, p50 7.4 µs with the judge
//! against 2.9 µs without (+4.5 µs; +4.1 µs before the fitted generated-name model), a plain
//! miss +1.2 µs. With the Kneser-Ney trigram and 5-gram models (2026-12-04, load average 8 to
//! 11 on 2 cores, the percentile loops alone, `--bench nomatch`, runs of the binaries before and
//! after alternated): `gen` p50 8.3 µs against 7.7 µs before, CPU 9.0 µs against 8.3 µs per
//! report, `gen-nh` 3.0 µs (CPU 3.0 to 3.5 µs): the judge adds about 5.3 µs (CPU 5.5 to 6.0 µs),
//! over the 5 µs target; without the 5-gram model's costs `gen` was 8.0 µs.
//!
//! 2026-12-05, after the judge's cheaper n-gram lookups (rolling context indices, one table
//! lookup for a seen context and character), skipped typosquat lookups and skeletons, with the
//! `y_vowel` and `hard_run` features in: the percentile loops alone
//! (`cargo bench -p threatintel-report --bench report -- nomatch`), the bench binaries of
//! `ef9a9e9` (before) and of this change (after) run alternately four times each, load average
//! about 4 on 2 cores: `gen` p50 4.1 µs against `gen-nh` 1.9 to 2.0 µs (+2.1 to 2.2 µs; before
//! 5.0 to 5.1 µs against 2.0 to 2.1 µs, +2.9 to 3.1 µs), CPU 4.0 to 4.5 µs against 1.5 to
//! 2.0 µs per report (before 5.0 against 1.5 to 2.5 µs). Criterion's means, one whole run of
//! each binary: `gen` 4.21 µs against `gen-nh` 2.01 µs (+2.20 µs; before 5.14 against 2.05 µs,
//! +3.09 µs), `miss` +0.36 µs (before +0.60 µs). callgrind on 2,000 `gen` reports each
//! way (a throwaway harness, not kept, calling this bench's `full_report` on its store): the judge
//! (`heuristics::apply`) 24.8k instructions per report before, 17.7k after; a `gen` report
//! 44k instructions more than its `gen-nh` before, 37k after (the rest is rendering the judge's
//! threat type and intelligence into the compatibility documents). The lighter load than the
//! 5.3 µs figure above explains part of the difference; the before and after runs shared it.
//!
//! 2026-12-05, with the zones of listed customers (`zone_listed_share`): the bench binaries of
//! `1949792` (before) and of this change (after) run alternately three times each with
//! `--bench nomatch`, load average 2.3 to 2.9 on 2 cores (builds beside): `gen` p50 7.4 to
//! 7.9 µs against `gen-nh` 3.4 to 3.7 µs before (+4.0 to 4.2 µs), 7.4 to 7.7 µs against 3.4 to
//! 3.5 µs after (+3.9 to 4.2 µs); `miss` +0.6 to 0.9 µs both. This store has no zone of listed
//! customers (each `bad{n}.com` has one listed child), so the judge's zone table is empty here;
//! with zones it costs one more hash lookup per ancestor of the name. Building the judge's
//! model (`prepare_heuristics`, printed first) took 2.6 to 2.8 s before and 2.9 to 3.1 s after:
//! the zones' query reads the names once more (0.56 s alone in the `sqlite3` shell).
//!
//! 2026-12-05, with the two weights of `zone_listed_share` (the signal's `top_site`, one more
//! hash lookup when a zone of listed customers is above the name, none here): the bench binaries
//! of `da45d75` (before) and of this change (after) run alternately three times each with
//! `--bench nomatch`, load average 1.9 to 2.7 on 2 cores: `gen` p50 4.9 to 5.1 µs against
//! `gen-nh` 2.2 to 2.4 µs before, 4.8 to 4.9 µs against 2.2 µs after (+2.6 to 2.7 µs both
//! ways); `miss` +0.5 µs both.
//!
//! Measurements behind the SQLite reader's design (ARCHITECTURE.md gives the design, not the
//! figures), taken when each change was made, with callgrind on this bench's reports: keeping a
//! pooled reader's snapshot between reports (`snapshots.rs`) saves the three system calls of
//! starting and ending a read transaction, about a tenth of the API server's CPU per report;
//! the known zone (`known_zone.rs`) lets a hit's report run about half the queries it would,
//! 23.6% fewer instructions per report.
//!
//! 2026-12-07, with the SQLite filter of stored names built as `serve` builds it (445 ms here),
//! on a host about 2.5 times slower than usual (a trivial HTTP handler cost 20-25 µs of CPU a
//! request against 8-9 µs that morning), `-- nomatch`: hit p50 51.0 µs, `hit-nh` 32.0 µs, miss
//! 5.7 µs (CPU 5.5), `miss-nh` 2.6 µs (CPU 3.0), `gen` 7.2 µs, `gen-nh` 4.1 µs.

#[path = "support/store.rs"]
mod store;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use threatintel_model::*;
use threatintel_report::{CompatReport, FieldSet, Lang, ReportEngine, ReportRequest};

use crate::store::{engine, report_time};

/// One full report as the API serves it: all four Fields, rendered to JSON; `heuristics`
/// lets the heuristic judge decide names no record decides (the API's default).
fn full_report(engine: &ReportEngine, query: &str, heuristics: bool) -> String {
    let query = DomainQuery::parse(query).unwrap();
    let report = engine
        .report(&ReportRequest {
            query,
            fields: FieldSet::ALL,
            at: report_time(),
            with_lists: false,
            heuristics,
        })
        .unwrap();
    serde_json::to_string(&CompatReport::render(
        &report,
        Lang::Zh,
        engine.offset(),
        String::new(),
    ))
    .unwrap()
}

/// CPU time (user + system) of the calling thread so far, from `/proc/thread-self/stat`
/// (clock ticks of 10 ms: 20,000 reports take long enough for that).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // The fields after the command name (which ends with the last `)`): utime is the 12th.
    let fields: Vec<u64> = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    Duration::from_millis((fields[11] + fields[12]) * 10)
}

fn percentiles(engine: &ReportEngine, case: &str, queries: &[String], heuristics: bool) {
    let mut samples: Vec<Duration> = Vec::with_capacity(20_000);
    let cpu = thread_cpu();
    for i in 0..20_000 {
        let q = &queries[i % queries.len()];
        let t = Instant::now();
        black_box(full_report(engine, q, heuristics));
        samples.push(t.elapsed());
    }
    let cpu = (thread_cpu() - cpu) / samples.len() as u32;
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{case:<10} p50 {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}  cpu {:>9.1?}",
        p(0.50),
        p(0.99),
        samples[samples.len() - 1],
        cpu
    );
}

fn main() {
    let engine = engine();
    // What a server does before it listens: the judge's model from the whole store, then the
    // store's filter of stored names.
    let started = Instant::now();
    engine.prepare_heuristics().unwrap();
    println!(
        "heuristic model built from the store in {:.1?}",
        started.elapsed()
    );
    let started = Instant::now();
    engine.store().prepare_reads().unwrap();
    println!(
        "store reads prepared (the filter of stored names) in {:.1?}",
        started.elapsed()
    );
    let hits: Vec<String> = (0..1000).map(|i| format!("bad{}.com", i * 211)).collect();
    let misses: Vec<String> = (0..1000).map(|i| format!("never-seen-{i}.com")).collect();
    // Misses that every name signal of the judge reads to the end.
    let generated: Vec<String> = (0..1000)
        .map(|i| format!("login.secure.wkbekx{i}dhwoqzt-paypal.xyz"))
        .collect();
    let wildcards: Vec<String> = (0..1000)
        .map(|i| format!("*.bad{}.com", i * 211 + 7))
        .collect();
    assert!(
        full_report(&engine, &hits[0], true).contains("\"ThreatLevel\":\"3\"")
            || full_report(&engine, &hits[0], true).contains("\"ThreatLevel\":\"2\"")
    );
    assert!(full_report(&engine, &misses[0], false).contains("\"ThreatLevel\":\"-1\""));
    // The cases with and without the heuristic judge: what it adds to a miss (it judges the
    // name) and to a hit (nothing: a record decides).
    let cases = [
        ("hit", &hits, true),
        ("hit-nh", &hits, false),
        ("miss", &misses, true),
        ("miss-nh", &misses, false),
        ("gen", &generated, true),
        ("gen-nh", &generated, false),
        ("wildcard", &wildcards, true),
    ];

    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5));
    let mut group = criterion.benchmark_group("report");
    for (case, queries, heuristics) in cases {
        let mut i = 0;
        group.bench_function(case, |b| {
            b.iter(|| {
                i += 1;
                black_box(full_report(
                    &engine,
                    &queries[i % queries.len()],
                    heuristics,
                ))
            })
        });
    }
    group.finish();
    criterion.final_summary();

    println!("\nlatency over 20,000 sequential full reports (all four Fields, rendered):");
    for (case, queries, heuristics) in cases {
        percentiles(&engine, case, queries, heuristics);
    }
}
