//! Prometheus metrics: requests and latency per route, errors by code, throttles.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0,
];

pub struct Metrics {
    inner: Mutex<Inner>,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            started: Instant::now(),
        }
    }
}

#[derive(Default)]
struct Inner {
    /// (route, code) → requests.
    requests: BTreeMap<(&'static str, &'static str), u64>,
    /// route → (bucket counts, sum of seconds, count).
    latency: BTreeMap<&'static str, ([u64; BUCKETS.len()], f64, u64)>,
}

impl Metrics {
    /// Records one answered request; `code` is `OK` or the error code.
    pub fn record(&self, route: &'static str, code: &'static str, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut inner = self.inner.lock();
        *inner.requests.entry((route, code)).or_default() += 1;
        let (buckets, sum, count) =
            inner
                .latency
                .entry(route)
                .or_insert(([0; BUCKETS.len()], 0.0, 0));
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                buckets[i] += 1;
            }
        }
        *sum += seconds;
        *count += 1;
    }

    /// Requests answered per route (any result) and the seconds since the server started.
    pub fn requests_by_route(&self) -> (Vec<(&'static str, u64)>, f64) {
        let inner = self.inner.lock();
        let mut by_route: BTreeMap<&'static str, u64> = BTreeMap::new();
        for ((route, _), n) in &inner.requests {
            *by_route.entry(route).or_default() += n;
        }
        (
            by_route.into_iter().collect(),
            self.started.elapsed().as_secs_f64(),
        )
    }

    pub fn render(&self) -> String {
        let inner = self.inner.lock();
        let mut out = String::new();
        out.push_str(
            "# HELP threatintel_requests_total Requests answered, by route and result code.\n",
        );
        out.push_str("# TYPE threatintel_requests_total counter\n");
        for ((route, code), n) in &inner.requests {
            let _ = writeln!(
                out,
                "threatintel_requests_total{{route=\"{route}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP threatintel_throttled_total Requests refused by a rate limit.\n");
        out.push_str("# TYPE threatintel_throttled_total counter\n");
        let throttled: u64 = inner
            .requests
            .iter()
            .filter(|((_, c), _)| *c == "Throttling.User")
            .map(|(_, n)| n)
            .sum();
        let _ = writeln!(out, "threatintel_throttled_total {throttled}");
        out.push_str("# HELP threatintel_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE threatintel_request_duration_seconds histogram\n");
        for (route, (buckets, sum, count)) in &inner.latency {
            for (bound, n) in BUCKETS.iter().zip(buckets) {
                let _ = writeln!(out, "threatintel_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(out, "threatintel_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(
                out,
                "threatintel_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "threatintel_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        out
    }
}
