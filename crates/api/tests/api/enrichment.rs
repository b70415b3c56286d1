//! Live enrichment through the HTTP API: a server with an enricher whose lookups go to the
//! enrich tests' fake RDAP, WHOIS, DNS and TLS servers on 127.0.0.1 (which count what they
//! are asked), and the refresh route, the reports and the native `enrichment` section on top.

#[allow(dead_code)]
#[path = "../../../enrich/tests/enrich/fakes.rs"]
mod fakes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use parking_lot::Mutex;
use serde_json::Value;
use threatintel_enrich::bootstrap::Bootstrap;
use threatintel_enrich::EnrichConfig;
use threatintel_model::Timestamp;

use self::fakes::Fakes;
use crate::support::*;

/// A server with an enricher, the fake servers it talks to and the enricher's clock.
struct Enriched {
    server: Server,
    fakes: Fakes,
    now: Arc<Mutex<Timestamp>>,
    /// Runs the fake servers; dropped last.
    _runtime: tokio::runtime::Runtime,
}

impl Enriched {
    /// `adjust` changes the fakes' `[enrich]` settings (inline mode).
    fn start(adjust: impl FnOnce(EnrichConfig) -> EnrichConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fakes = runtime.block_on(Fakes::start());
        let now = Arc::new(Mutex::new(Utc::now()));
        let clock_now = now.clone();
        let enrichment = Enrichment {
            config: adjust(fakes.config()),
            bootstrap: Bootstrap::parse(&fakes.bootstrap()).unwrap(),
            clock: Arc::new(move || *clock_now.lock()),
        };
        Self {
            server: Server::start_with(config(), Some(enrichment)),
            fakes,
            now,
            _runtime: runtime,
        }
    }

    fn refresh(&self, domain: &str, query: &str, authorization: Option<&str>) -> Response {
        let headers: Vec<(&str, &str)> = authorization
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        let url = self
            .server
            .url(&format!("/api/v1/domains/{domain}/refresh{query}"));
        call("POST", &url, &headers, b"")
    }

    fn native(&self, path: &str) -> Value {
        let r = call(
            "GET",
            &self.server.url(path),
            &[("Authorization", &bearer())],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// DescribeDomainReport, V1-signed, as the SDKs send it.
    fn compat(&self, domain: &str) -> Value {
        let r = V1::new(domain).send_to(&self.server);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

/// (kind, outcome) of each fetch in a list the API answered.
fn outcomes(fetches: &Value) -> Vec<(String, String)> {
    fetches
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {fetches}"))
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn the_refresh_route_looks_up_at_once_and_the_native_report_shows_it() {
    let e = Enriched::start(|c| EnrichConfig {
        never: vec!["*.internal.example".into()],
        ..c
    });
    let missing = e.refresh("google.com", "", None);
    assert_want(&missing, Want::Missing("AccessKeyId"));
    assert_error(
        &e.refresh("google.com", "", Some(&format!("Bearer {KEY}:wrong"))),
        404,
        "InvalidAccessKeyId.NotFound",
    );
    assert_eq!(
        e.fakes.hits.total(""),
        0,
        "nothing looked up before authentication"
    );

    let r = e.refresh("google.com", "", Some(&bearer()));
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    assert_request_id(answer["request_id"].as_str().unwrap());
    assert_eq!(answer["domain"], "google.com");
    assert_eq!(
        outcomes(&answer["fetched"]),
        pairs(&[("dns", "stored"), ("tls", "stored"), ("rdap", "stored")])
    );
    for fetch in answer["fetched"].as_array().unwrap() {
        assert!(
            fetch["server"].as_str().is_some_and(|s| !s.is_empty()),
            "{fetch}"
        );
        assert!(
            fetch["at"].is_string() && fetch["next_due"].is_string(),
            "{fetch}"
        );
    }

    let report = e.native("/api/v1/domains/google.com/report");
    let section = &report["enrichment"];
    assert_eq!(section["mode"], "inline");
    assert_eq!(
        outcomes(&section["fetches"]),
        pairs(&[("rdap", "stored"), ("dns", "stored"), ("tls", "stored")])
    );
    let native = &report["report"];
    assert_eq!(native["whois"]["registrar"]["name"], "MarkMonitor Inc.");
    assert!(native["basic"]["ip_cnt"].as_u64().unwrap() >= 1, "{native}");
    let relations: Vec<(&str, &str)> = native["dns_relations"]
        .as_array()
        .unwrap_or_else(|| panic!("no dns_relations in {native}"))
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        relations,
        [("MX", "smtp.google.com"), ("NS", "ns1.google.com")]
    );

    assert_error(
        &e.refresh("google.com", "?kinds=rdap,ftp", Some(&bearer())),
        400,
        "InvalidParameter",
    );
    let never = e.refresh("host.internal.example", "", Some(&bearer()));
    let body = assert_error(&never, 400, "InvalidParameter");
    assert!(body.message.contains("enrich.never"), "{}", body.message);
    assert_eq!(e.fakes.hits.total("dns:host.internal.example"), 0);
}

/// The acceptance through the compatibility API: a report on a fresh store is filled;
/// a second one within the TTL asks nothing; after the TTL the name is fetched again and the
/// history holds both answers.
#[test]
fn reports_are_filled_once_per_ttl_and_history_grows() {
    let e = Enriched::start(|c| c);
    let first = e.compat("google.com");
    for field in ["Whois", "SslCert"] {
        assert_ne!(first[field], "", "{field} of {first}");
    }
    let basic: Value = serde_json::from_str(first["Basic"].as_str().unwrap()).unwrap();
    assert_ne!(basic["reg_date"], "", "{basic}");
    assert_ne!(basic["ip_cnt"], "0", "{basic}");
    let hits = &e.fakes.hits;
    let asked = (hits.total("rdap:"), hits.total("dns:"), hits.total("tls:"));
    assert_eq!(hits.get("rdap:google.com"), 1);

    *e.now.lock() += chrono::Duration::minutes(30);
    e.compat("google.com");
    assert_eq!(
        (hits.total("rdap:"), hits.total("dns:"), hits.total("tls:")),
        asked,
        "a second report within every TTL asks nothing"
    );

    *e.now.lock() += chrono::Duration::days(8);
    e.compat("google.com");
    assert_eq!(
        hits.get("rdap:google.com"),
        2,
        "after the TTL it fetches again"
    );
    let history = e.native("/api/v1/domains/google.com/history");
    assert_eq!(history["whois"].as_array().unwrap().len(), 2, "{history}");
}

#[test]
fn the_inline_budget_holds_through_the_http_report() {
    let e = Enriched::start(|c| EnrichConfig {
        inline_budget_ms: 200,
        timeout_ms: 10_000,
        ..c
    });
    let started = Instant::now();
    let report = e.compat("slow.com");
    // The RDAP server takes 3 s; the report answers after the budget with what the store has.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report["Whois"], "", "{report}");
}

#[test]
fn a_429_is_honoured_and_a_private_address_refused() {
    let e = Enriched::start(|c| c);
    let limited = e
        .refresh("ratelimited.com", "?kinds=rdap", Some(&bearer()))
        .json();
    assert_eq!(
        outcomes(&limited["fetched"]),
        pairs(&[("rdap", "rate_limited")])
    );
    let paused = e
        .refresh("google.com", "?kinds=rdap", Some(&bearer()))
        .json();
    assert_eq!(
        outcomes(&paused["fetched"]),
        pairs(&[("rdap", "rate_limited")]),
        "the server is paused for its Retry-After"
    );
    assert_eq!(e.fakes.hits.total("rdap:"), 1, "nothing sent while paused");

    let guarded = Enriched::start(|c| EnrichConfig {
        allow_private_addresses: false,
        ..c
    });
    let r = guarded
        .refresh("private.com", "?kinds=dns,tls", Some(&bearer()))
        .json();
    assert_eq!(
        outcomes(&r["fetched"]),
        pairs(&[("dns", "stored"), ("tls", "refused")])
    );
    let error = r["fetched"][1]["error"].as_str().unwrap();
    assert!(error.contains("10.0.0.5: private"), "{error}");
    assert_eq!(guarded.fakes.hits.total("tls:"), 0);
    let metrics = call("GET", &guarded.server.url("/metrics"), &[], b"");
    assert!(
        metrics
            .text()
            .contains("threatintel_enrich_fetches_total{kind=\"tls\",outcome=\"refused\"} 1"),
        "{}",
        metrics.text()
    );
}
