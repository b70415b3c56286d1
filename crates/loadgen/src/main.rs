//! `threatintel-loadgen`: a load benchmark for `threatintel serve`.
//!
//! It keeps `--connections` HTTP/1.1 keep-alive connections busy for `--seconds`, each sending
//! DescribeDomainReport requests one after another, V1-signed (HMAC-SHA1, a fresh nonce and
//! timestamp each, as the SDKs send them: `POST /?...` with an empty body), asking for all four
//! Fields, over a mix of names that the benchmark store holds and names it does not. It reports
//! requests per second, latency percentiles and errors (non-200 answers and transport errors).
//!
//! By default the load is a closed loop: each connection sends its next request as soon as the
//! previous answer arrives, so latency is bound to throughput (about connections / requests per
//! second). `--rate N` makes it an open loop instead: N requests per second in all, on a fixed
//! schedule spread over the connections, which shows the latency a client sees at a given load.
//! A request sent late because its connection was still waiting for the previous answer is
//! timed from its scheduled slot, so a slow server is not hidden by its own slowness
//! ("coordinated omission").
//!
//! With `--compare-trivial` (alias `--trivial-server`) it then starts an in-process trivial
//! axum handler on 127.0.0.1:0 that answers every request with a small constant JSON, sends it
//! the same load (same signing work on the client side), and prints the ratio: how much of a
//! do-nothing HTTP server's throughput threatintel keeps. Without `--url` only the trivial
//! server is measured. `--trivial-body-bytes N` pads that JSON to `N` bytes (as
//! `scripts/bench-serve.py` does to set a report-sized answer beside a report).
//!
//! The reference run, on the 1M-indicator store of the report crate's benchmark:
//!
//! ```sh
//! # the store: target/bench-store/report-1m.db (generated on the first run of the bench)
//! cargo bench -p threatintel-report --bench report
//! # a key without a rate limit
//! printf '[store]\nload_demo_when_empty = false\n[[server.access_keys]]\nid = "LTAIloadgen"\nsecret = "loadgen-secret"\nrate_per_sec = 0\n' > /tmp/loadgen.toml
//! cargo build --release -p threatintel -p threatintel-loadgen
//! target/release/threatintel --config /tmp/loadgen.toml --store target/bench-store/report-1m.db \
//!     serve --listen 127.0.0.1:18080 2>/dev/null &
//! cargo run --release -p threatintel-loadgen -- --url http://127.0.0.1:18080 --seconds 20 \
//!     --connections 64 --key LTAIloadgen --secret loadgen-secret --compare-trivial
//! ```
//!
//! Hits are names of that store (`bad{n}.com`, `c2.bad{n}.com`, allowlisted `top{n}.org`),
//! misses are `never-seen-{n}.com`; `--hit-ratio` sets the share of hits (default 0.5). That
//! store's evidence ends in June 2024, so at today's report time most hits are decayed records:
//! the same lookups and scoring, mostly low or unknown verdicts. The
//! server keeps every nonce for 30 minutes (`server.max_nonces`, 2,000,000 by default), so very
//! long or repeated runs against one server can fill it and get `ServiceUnavailable`.
//!
//! Client and server share the machine: on a small one the figures measure both, and the
//! machine's own speed moves them (the trivial handler alone did 32,000-101,000 requests/s on the
//! same 2-core development VM on different days). On 2026-11-28, in the fastest of three sessions
//! that day (release build, a fresh server per run, 20 s per target, eight runs), the command above
//! gave 32,400-38,000 requests/s (p99 3.7-4.5 ms, no errors) against 64,300-78,000 for the trivial
//! handler in the same runs: a ratio of 0.43-0.57. In a slower session the same day, with an
//! earlier build, 12,000-14,800 requests/s (p99 9.6-11.7 ms) against 32,300-38,300 (p99 4.0-5.5
//! ms). Closed-loop latency follows throughput (64 connections / requests per second), so p99
//! moves with the machine as much as with the server. Open loop in the fast session (`--rate`,
//! 15 s, two runs each): a p99 of 0.5 ms at 2,000 requests/s (trivial handler 0.2-0.3 ms), 0.8-0.9
//! ms at 5,000 (0.3 ms) and 1.1-1.2 ms at 10,000 (0.4-0.5 ms); at 20,000, about half of capacity
//! with the client on the same cores, 5-7 ms (0.9-1.2 ms). Only loopback addresses are accepted as
//! targets.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Parser;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "threatintel-loadgen",
    about = "Load benchmark for threatintel's DescribeDomainReport"
)]
struct Args {
    /// The server, `http://127.0.0.1:PORT` (loopback only).
    #[arg(long)]
    url: Option<String>,
    /// Seconds of measured load per target.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of unmeasured load first (connections, caches).
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// AccessKeyId (give the key `rate_per_sec = 0`).
    #[arg(long, default_value = "LTAIloadgen")]
    key: String,
    #[arg(long, default_value = "loadgen-secret")]
    secret: String,
    /// Share of names the benchmark store holds.
    #[arg(long, default_value_t = 0.5)]
    hit_ratio: f64,
    /// Open loop: send this many requests per second in all, on a fixed schedule spread over
    /// the connections, whatever the answers' pace (0 = closed loop: each connection sends as
    /// soon as its previous answer arrives). A request sent late because its connection's
    /// previous answer came after the slot is timed from the slot.
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Also measure a trivial in-process axum handler with the same load, and print the ratio.
    #[arg(long, alias = "trivial-server")]
    compare_trivial: bool,
    /// Only serve the trivial handler (on 127.0.0.1:0, its address printed on stdout) until
    /// killed, as the baseline of a client of your own (`scripts/bench-serve.py`).
    #[arg(long, conflicts_with_all = ["url", "compare_trivial"])]
    serve_trivial: bool,
    /// Pad the trivial handler's JSON body to this many bytes (a `Padding` member), so that its
    /// cost can be set beside a report's of the same size: the kernel's share of a request
    /// grows with the bytes written. 0 (the default) leaves the small body alone.
    #[arg(long, default_value_t = 0)]
    trivial_body_bytes: usize,
}

/// What one run measured.
#[derive(Debug, Default)]
struct Outcome {
    ok: u64,
    /// Answers other than 200, by status.
    statuses: Vec<(StatusCode, u64)>,
    transport_errors: u64,
    first_error: Option<String>,
    /// Latencies of successful requests, in microseconds, sorted.
    latencies: Vec<u32>,
    elapsed: Duration,
}

impl Outcome {
    fn errors(&self) -> u64 {
        self.transport_errors + self.statuses.iter().map(|(_, n)| n).sum::<u64>()
    }

    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1);
        Duration::from_micros(self.latencies[i] as u64)
    }

    fn print(&self, label: &str) {
        println!(
            "{label:<12} {:>9.0} req/s   p50 {:>8.2?}   p99 {:>8.2?}   max {:>8.2?}   ok {}   errors {}",
            self.rate(),
            self.percentile(0.50),
            self.percentile(0.99),
            self.percentile(1.0),
            self.ok,
            self.errors(),
        );
        for (status, n) in &self.statuses {
            println!("{:<12} {n} answered {status}", "");
        }
        if self.transport_errors > 0 {
            println!("{:<12} {} transport errors", "", self.transport_errors);
        }
        if let Some(e) = &self.first_error {
            println!("{:<12} first error: {e}", "");
        }
    }
}

/// RFC 3986 percent-encoding as the V1 signature uses it.
fn enc(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Signs DescribeDomainReport requests (V1, HMAC-SHA1) with fresh nonces.
struct Signer {
    key: String,
    secret: String,
    nonce_prefix: String,
    counter: AtomicU64,
}

impl Signer {
    fn new(key: &str, secret: &str) -> Self {
        Self {
            key: key.into(),
            secret: secret.into(),
            nonce_prefix: uuid::Uuid::new_v4().simple().to_string()[..16].to_owned(),
            counter: AtomicU64::new(0),
        }
    }

    /// `/?<signed query>` for `domain`.
    fn path(&self, domain: &str) -> String {
        let nonce = format!(
            "{}{:016x}",
            self.nonce_prefix,
            self.counter.fetch_add(1, Ordering::Relaxed)
        );
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        // Sorted by key, as the canonical query is.
        let params = [
            ("AccessKeyId", self.key.as_str()),
            ("Action", "DescribeDomainReport"),
            ("Domain", domain),
            (
                "Field",
                "ThreatTypes,Intelligences,AttackPreferenceTop5,AttackCntByThreatType",
            ),
            ("Format", "JSON"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", &nonce),
            ("SignatureVersion", "1.0"),
            ("Timestamp", &timestamp),
            ("Version", "2020-05-12"),
        ];
        let mut path = String::with_capacity(600);
        path.push_str("/?");
        path.push_str(&signed_query(&self.secret, &params));
        path
    }
}

/// `k=v&...&Signature=...` for `params` sorted by key: V1, `POST`, HMAC-SHA1 keyed by
/// `secret&` over `POST&%2F&enc(canonical query)`.
fn signed_query(secret: &str, params: &[(&str, &str)]) -> String {
    let mut query = String::with_capacity(512);
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            query.push('&');
        }
        enc(k, &mut query);
        query.push('=');
        enc(v, &mut query);
    }
    let mut string_to_sign = String::with_capacity(query.len() * 2);
    string_to_sign.push_str("POST&%2F&");
    enc(&query, &mut string_to_sign);
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("any key");
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    query.push_str("&Signature=");
    enc(&signature, &mut query);
    query
}

/// The names asked about: hits of the benchmark store, then misses, interleaved by ratio.
fn names(hit_ratio: f64) -> Vec<String> {
    let total = 1000;
    let hits = ((total as f64) * hit_ratio.clamp(0.0, 1.0)).round() as usize;
    let mut out = Vec::with_capacity(total);
    for i in 0..total {
        // Spread hits evenly among misses.
        let is_hit = (i + 1) * hits / total > i * hits / total;
        out.push(if is_hit {
            match i % 3 {
                0 => format!("bad{}.com", i * 211),
                1 => format!("c2.bad{}.com", i * 97),
                _ => format!("top{}.org", i * 53),
            }
        } else {
            format!("never-seen-{i}.com")
        });
    }
    out
}

/// The send schedule of one connection under `--rate`.
struct Pace {
    next: Instant,
    every: Duration,
}

/// When a request goes out under a [`Pace`].
#[derive(Debug, PartialEq, Eq)]
enum Slot {
    /// Its slot has passed: send now, and time it from the slot (the wait was the server's).
    Late(Instant),
    /// Send at this instant, and time it from when it is actually sent.
    At(Instant),
}

impl Pace {
    fn take(&mut self, now: Instant) -> Slot {
        let slot = self.next;
        self.next += self.every;
        if now >= slot {
            Slot::Late(slot)
        } else {
            Slot::At(slot)
        }
    }
}

fn record_error(outcome: &mut Outcome, e: String, counted: bool) {
    if counted {
        outcome.transport_errors += 1;
    }
    outcome.first_error.get_or_insert(e);
}

/// What every connection of one run shares.
struct Load {
    addr: SocketAddr,
    host: String,
    signer: Signer,
    names: Vec<String>,
    /// Requests started before this are warm-up.
    measure_from: Instant,
    until: Instant,
}

/// One connection's loop until `load.until`, asking from the `offset`-th name on.
async fn worker(load: Arc<Load>, offset: usize, mut pace: Option<Pace>) -> Outcome {
    let Load {
        addr,
        ref host,
        ref signer,
        ref names,
        measure_from,
        until,
    } = *load;
    let mut outcome = Outcome::default();
    let mut i = offset;
    let mut sender: Option<hyper::client::conn::http1::SendRequest<Empty<Bytes>>> = None;
    while Instant::now() < until {
        let s = match &mut sender {
            Some(s) => s,
            None => match connect(addr).await {
                Ok(s) => sender.insert(s),
                Err(e) => {
                    record_error(&mut outcome, e, Instant::now() >= measure_from);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let path = signer.path(&names[i % names.len()]);
        i += 1;
        let request = Request::post(path)
            .header(hyper::header::HOST, host)
            .body(Empty::<Bytes>::new())
            .expect("a valid request");
        let started = match pace.as_mut().map(|p| p.take(Instant::now())) {
            None => Instant::now(),
            Some(Slot::Late(slot)) => slot,
            Some(Slot::At(slot)) => {
                tokio::time::sleep_until(slot.into()).await;
                Instant::now()
            }
        };
        if started >= until {
            break;
        }
        let result = async {
            s.ready().await.map_err(|e| e.to_string())?;
            let response = s.send_request(request).await.map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, body))
        }
        .await;
        let measured = started >= measure_from;
        match result {
            Ok((StatusCode::OK, _)) => {
                if measured {
                    outcome.ok += 1;
                    outcome
                        .latencies
                        .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            Ok((status, body)) => {
                if measured {
                    match outcome.statuses.iter_mut().find(|(s, _)| *s == status) {
                        Some((_, n)) => *n += 1,
                        None => outcome.statuses.push((status, 1)),
                    }
                }
                let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                record_error(&mut outcome, format!("{status}: {text}"), false);
            }
            Err(e) => {
                record_error(&mut outcome, e, measured);
                sender = None;
            }
        }
    }
    outcome
}

async fn connect(
    addr: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The load against `addr`, all connections at once.
async fn run(addr: SocketAddr, args: &Args) -> Outcome {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let until = measure_from + Duration::from_secs(args.seconds);
    let load = Arc::new(Load {
        addr,
        host: addr.to_string(),
        signer: Signer::new(&args.key, &args.secret),
        names: names(args.hit_ratio),
        measure_from,
        until,
    });
    let connections = args.connections.max(1);
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            // Each connection sends every connections/rate seconds, the connections' slots
            // spread evenly over that interval.
            let pace = (args.rate > 0).then(|| {
                let every = Duration::from_secs_f64(connections as f64 / f64::from(args.rate));
                Pace {
                    next: start + every.mul_f64(c as f64 / connections as f64),
                    every,
                }
            });
            tokio::spawn(worker(load.clone(), c * 7919, pace))
        })
        .collect();
    let mut total = Outcome::default();
    for task in tasks {
        let o = task.await.expect("a worker panicked");
        total.ok += o.ok;
        total.transport_errors += o.transport_errors;
        for (status, n) in o.statuses {
            match total.statuses.iter_mut().find(|(s, _)| *s == status) {
                Some((_, m)) => *m += n,
                None => total.statuses.push((status, n)),
            }
        }
        if total.first_error.is_none() {
            total.first_error = o.first_error;
        }
        total.latencies.extend(o.latencies);
    }
    total.elapsed = until.saturating_duration_since(measure_from);
    total.latencies.sort_unstable();
    total
}

/// The trivial handler's body: a small JSON document, padded to `bytes` when that is longer.
fn trivial_body(bytes: usize) -> String {
    const SMALL: &str =
        r#"{"RequestId":"00000000-0000-4000-8000-000000000000","ThreatLevel":"-1"}"#;
    const PADDING: &str = r#","Padding":""#;
    let padding = bytes.saturating_sub(SMALL.len() + PADDING.len() + 1);
    if padding == 0 {
        return SMALL.to_owned();
    }
    let open = &SMALL[..SMALL.len() - 1];
    format!("{open}{PADDING}{}\"}}", "x".repeat(padding))
}

/// A do-nothing server: every request gets the same JSON ([`trivial_body`]). Its own runtime,
/// with as many workers as `threatintel serve` has (one per core).
fn start_trivial_server(body_bytes: usize) -> std::io::Result<SocketAddr> {
    // Made once per process and served for its lifetime: a static body, as the small one was.
    let body: &'static str = Box::leak(trivial_body(body_bytes).into_boxed_str());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
            let app = axum::Router::new().fallback(move || async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/json;charset=utf-8",
                    )],
                    body,
                )
            });
            let _ = axum::serve(listener, app).await;
        });
    });
    Ok(addr)
}

/// The socket address of `url` (`http://` only, loopback only).
async fn resolve(url: &str) -> Result<SocketAddr, String> {
    let uri: Uri = url.parse().map_err(|e| format!("--url {url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("--url {url:?}: only http:// is supported"));
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("--url {url:?}: no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("--url {url:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--url {url:?}: no address"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--url {url:?} is {addr}: only loopback targets are allowed"
        ));
    }
    Ok(addr)
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.serve_trivial {
        return match start_trivial_server(args.trivial_body_bytes) {
            Ok(addr) => {
                println!("http://{addr}");
                loop {
                    std::thread::park();
                }
            }
            Err(e) => {
                eprintln!("threatintel-loadgen: trivial server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.url.is_none() && !args.compare_trivial {
        eprintln!(
            "threatintel-loadgen: give --url, --compare-trivial (or both), or --serve-trivial"
        );
        return ExitCode::FAILURE;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let pacing = match args.rate {
            0 => "closed loop".to_owned(),
            rate => format!("open loop at {rate} requests/s"),
        };
        println!(
            "{} connections, {pacing}, {} s (+{} s warm-up) per target, V1-signed DescribeDomainReport, all four Fields, {:.0}% hits; {} cores shared by client and server(s)",
            args.connections,
            args.seconds,
            args.warmup,
            args.hit_ratio * 100.0,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        let mut measured = None;
        if let Some(url) = &args.url {
            let addr = match resolve(url).await {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("threatintel-loadgen: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let outcome = run(addr, &args).await;
            outcome.print("threatintel");
            measured = Some(outcome);
        }
        if args.compare_trivial {
            let addr = match start_trivial_server(args.trivial_body_bytes) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("threatintel-loadgen: trivial server: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let trivial = run(addr, &args).await;
            trivial.print("trivial");
            if let Some(m) = measured.as_ref().filter(|_| args.rate == 0) {
                println!(
                    "ratio        threatintel serves {:.2} of the trivial handler's requests per second (p50 latency x{:.1})",
                    m.rate() / trivial.rate().max(f64::MIN_POSITIVE),
                    m.percentile(0.5).as_secs_f64()
                        / trivial.percentile(0.5).as_secs_f64().max(f64::MIN_POSITIVE),
                );
            }
        }
        match measured {
            Some(m) if m.ok == 0 => {
                eprintln!("threatintel-loadgen: no request succeeded");
                ExitCode::FAILURE
            }
            _ => ExitCode::SUCCESS,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protocol reference's vector V1-A (aliyun-rpc-protocol.md §5.3).
    #[test]
    fn signs_the_reference_vector() {
        let query = signed_query(
            "FAKEsecretFAKEsecretFAKEsecret01",
            &[
                ("AccessKeyId", "LTAI5tFAKEAccessKeyId01"),
                ("Action", "DescribeDomainReport"),
                ("Domain", "example.com"),
                ("Field", "ThreatTypes,Intelligences"),
                ("Format", "json"),
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
                ("SignatureVersion", "1.0"),
                ("Timestamp", "2024-05-01T12:00:00Z"),
                ("Version", "2020-05-12"),
            ],
        );
        assert!(
            query.ends_with("&Signature=mNH1Nc1cAZyaewcNTw7digRZf%2Bs%3D"),
            "{query}"
        );
    }

    #[test]
    fn signed_paths_carry_every_parameter_and_fresh_nonces() {
        let signer = Signer::new("K", "S");
        let a = signer.path("例え.jp");
        let b = signer.path("例え.jp");
        assert_ne!(a, b);
        assert!(a.starts_with("/?AccessKeyId=K&Action=DescribeDomainReport&Domain=%E4%BE%8B"));
        assert!(a.contains(
            "&Field=ThreatTypes%2CIntelligences%2CAttackPreferenceTop5%2CAttackCntByThreatType&"
        ));
    }

    #[test]
    fn a_late_request_is_timed_from_its_slot() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut pace = Pace {
            next: t0 + ms(10),
            every: ms(10),
        };
        assert_eq!(pace.take(t0), Slot::At(t0 + ms(10)));
        // The answer to the first came 15 ms late: the second is charged from its slot.
        assert_eq!(pace.take(t0 + ms(35)), Slot::Late(t0 + ms(20)));
        assert_eq!(pace.take(t0 + ms(36)), Slot::Late(t0 + ms(30)));
        assert_eq!(pace.take(t0 + ms(37)), Slot::At(t0 + ms(40)));
    }

    #[test]
    fn the_trivial_body_is_padded_to_the_size_asked() {
        let small = trivial_body(0);
        assert!(small.ends_with(r#""ThreatLevel":"-1"}"#), "{small}");
        assert_eq!(trivial_body(small.len()), small);
        for bytes in [small.len() + 15, 1024, 4096] {
            let padded = trivial_body(bytes);
            assert_eq!(padded.len(), bytes);
            assert!(padded.starts_with(&small[..small.len() - 1]), "{padded}");
            assert!(padded.ends_with(r#"x"}"#), "{padded}");
        }
    }

    #[test]
    fn names_mix_hits_and_misses() {
        let all = names(0.5);
        let misses = all.iter().filter(|n| n.starts_with("never-seen")).count();
        assert_eq!((all.len(), misses), (1000, 500));
        assert!(names(1.0).iter().all(|n| !n.starts_with("never-seen")));
        assert!(names(0.0).iter().all(|n| n.starts_with("never-seen")));
    }
}
