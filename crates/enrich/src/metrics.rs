//! Counters for `/metrics`: fetches by kind and outcome, their latency, the queue.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::{Kind, Outcome};

#[derive(Default)]
pub struct Metrics {
    fetches: Mutex<BTreeMap<(Kind, Outcome), u64>>,
    /// Per kind: seconds summed, fetches.
    latency: Mutex<BTreeMap<Kind, (f64, u64)>>,
    pub overflow: AtomicU64,
}

impl Metrics {
    pub fn fetched(&self, kind: Kind, outcome: Outcome, took: Duration) {
        *self.fetches.lock().entry((kind, outcome)).or_default() += 1;
        let mut latency = self.latency.lock();
        let entry = latency.entry(kind).or_default();
        entry.0 += took.as_secs_f64();
        entry.1 += 1;
    }

    /// Fetches so far of `kind` with `outcome`.
    pub fn count(&self, kind: Kind, outcome: Outcome) -> u64 {
        self.fetches
            .lock()
            .get(&(kind, outcome))
            .copied()
            .unwrap_or(0)
    }

    /// Prometheus text exposition.
    pub fn render(&self, queue_depth: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP threatintel_enrich_fetches_total Lookups by kind and outcome.\n");
        out.push_str("# TYPE threatintel_enrich_fetches_total counter\n");
        for ((kind, outcome), n) in self.fetches.lock().iter() {
            let _ = writeln!(
                out,
                "threatintel_enrich_fetches_total{{kind=\"{}\",outcome=\"{}\"}} {n}",
                kind.as_str(),
                outcome.as_str()
            );
        }
        out.push_str("# HELP threatintel_enrich_fetch_seconds Lookup latency by kind.\n");
        out.push_str("# TYPE threatintel_enrich_fetch_seconds summary\n");
        for (kind, (sum, count)) in self.latency.lock().iter() {
            let kind = kind.as_str();
            let _ = writeln!(
                out,
                "threatintel_enrich_fetch_seconds_sum{{kind=\"{kind}\"}} {sum:.6}"
            );
            let _ = writeln!(
                out,
                "threatintel_enrich_fetch_seconds_count{{kind=\"{kind}\"}} {count}"
            );
        }
        out.push_str("# HELP threatintel_enrich_queue_depth Names waiting for a lookup.\n");
        out.push_str("# TYPE threatintel_enrich_queue_depth gauge\n");
        let _ = writeln!(out, "threatintel_enrich_queue_depth {queue_depth}");
        out.push_str(
            "# HELP threatintel_enrich_queue_overflow_total Names dropped because the queue was full.\n",
        );
        out.push_str("# TYPE threatintel_enrich_queue_overflow_total counter\n");
        let _ = writeln!(
            out,
            "threatintel_enrich_queue_overflow_total {}",
            self.overflow.load(Ordering::Relaxed)
        );
        out
    }
}
