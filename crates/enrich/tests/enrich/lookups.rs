//! Lookups against the fake servers, through the real store and report engine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SubsecRound, TimeZone, Utc};
use parking_lot::Mutex;
use threatintel_enrich::bootstrap::Bootstrap;
use threatintel_enrich::{Clock, EnrichConfig, Enricher, Fetch, Kind, Mode, Outcome};
use threatintel_model::{DomainName, DomainQuery, RelationKind, Timestamp};
use threatintel_report::{
    CompatReport, FieldSet, Lang, NativeReport, ReportConfig, ReportEngine, ReportRequest,
    VerdictConfig,
};
use threatintel_store::{SqliteStore, Store};

use crate::fakes::Fakes;

struct Setup {
    fakes: Fakes,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    now: Arc<Mutex<Timestamp>>,
}

impl Setup {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        Self {
            fakes: Fakes::start().await,
            store,
            _dir: dir,
            // Whole seconds, as the store keeps times.
            now: Arc::new(Mutex::new(Utc::now().trunc_subsecs(0))),
        }
    }

    fn config(&self, mode: Mode) -> EnrichConfig {
        EnrichConfig {
            mode,
            ..self.fakes.config()
        }
    }

    fn start(&self, config: EnrichConfig) -> Enricher {
        self.start_on(self.store.clone(), config)
    }

    fn start_on(&self, store: Arc<dyn Store>, config: EnrichConfig) -> Enricher {
        let now = self.now.clone();
        let clock: Clock = Arc::new(move || *now.lock());
        let bootstrap = Bootstrap::parse(&self.fakes.bootstrap()).unwrap();
        Enricher::start_with_clock(config, bootstrap, store, clock).unwrap()
    }

    /// The store file opened again, as a restarted server opens it.
    fn reopen(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&self._dir.path().join("s.db")).unwrap())
    }

    fn advance(&self, by: chrono::Duration) {
        *self.now.lock() += by;
    }

    fn report(&self, name: &str) -> NativeReport {
        let engine = ReportEngine::new(
            self.store.clone(),
            VerdictConfig::default(),
            ReportConfig::default(),
        )
        .unwrap();
        engine
            .report(&ReportRequest {
                query: query(name),
                fields: FieldSet::ALL,
                at: *self.now.lock(),
                with_lists: false,
                heuristics: true,
            })
            .unwrap()
    }
}

fn query(name: &str) -> DomainQuery {
    DomainQuery::parse(name).unwrap()
}

fn name(text: &str) -> DomainName {
    DomainName::parse(text).unwrap()
}

fn outcome_of(fetches: &[Fetch], kind: Kind) -> Outcome {
    fetches
        .iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} lookup in {fetches:?}"))
        .outcome
}

fn day(y: i32, m: u32, d: u32) -> Timestamp {
    Utc.with_ymd_and_hms(y, m, d, 4, 0, 0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_on_a_fresh_store_is_filled_by_an_inline_lookup() {
    let setup = Setup::new().await;
    let enricher = setup.start(setup.config(Mode::Inline));
    enricher.before_report(&query("google.com")).await;

    let report = setup.report("google.com");
    assert_eq!(report.basic.reg_date, Some(day(1997, 9, 15)));
    assert_eq!(report.basic.expire_date, Some(day(2028, 9, 14)));
    assert!(report.basic.ip_cnt >= 1, "{:?}", report.basic);
    let whois = report.whois.as_ref().expect("a WHOIS record");
    assert_eq!(whois.registrar.name, "MarkMonitor Inc.");
    assert!(
        whois.nameservers.contains(&"ns1.google.com".to_owned()),
        "{:?}",
        whois.nameservers
    );
    assert_eq!(
        whois.registrant.organization, "Google LLC",
        "merged from the registrar's RDAP"
    );
    assert_eq!(whois.registrant.country, "US");
    let cert = report.certificate.as_ref().expect("a certificate");
    assert!(
        cert.sans.contains(&"*.google.com".to_owned()),
        "{:?}",
        cert.sans
    );
    assert!(cert.sans.contains(&"google.com".to_owned()));
    assert!(!cert.issuer.is_empty() && !cert.subject.is_empty());
    assert!(cert.not_before < cert.not_after);
    assert!(
        cert.seen_where.starts_with("tls://127.0.0.1:"),
        "{}",
        cert.seen_where
    );

    let compat = serde_json::to_value(CompatReport::render(
        &report,
        Lang::En,
        chrono::FixedOffset::east_opt(0).unwrap(),
        "id".into(),
    ))
    .unwrap();
    for field in ["Whois", "SslCert"] {
        assert_ne!(compat[field], "", "{field} of {compat}");
    }

    let hits = &setup.fakes.hits;
    assert_eq!(hits.get("rdap:google.com"), 1);
    assert_eq!(hits.get("registrar:google.com"), 1);
    assert_eq!(hits.get("tls:google.com"), 1);
    assert_eq!(hits.get("dns:google.com:A"), 1);
    let kinds: Vec<Kind> = enricher
        .enrichment(&name("google.com"))
        .iter()
        .map(|f| f.kind)
        .collect();
    assert_eq!(kinds, [Kind::Rdap, Kind::Dns, Kind::Tls]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_the_ttl_nothing_is_asked_again_and_after_it_history_holds_both() {
    let setup = Setup::new().await;
    let enricher = setup.start(setup.config(Mode::Inline));
    enricher.before_report(&query("google.com")).await;
    enricher.before_report(&query("www.google.com")).await;
    let hits = &setup.fakes.hits;
    let asked = (
        hits.total("rdap:"),
        hits.total("dns:google.com:"),
        hits.total("tls:"),
    );

    setup.advance(chrono::Duration::minutes(30));
    enricher.before_report(&query("google.com")).await;
    enricher.idle().await;
    assert_eq!(
        (
            hits.total("rdap:"),
            hits.total("dns:google.com:"),
            hits.total("tls:")
        ),
        asked,
        "a second report within every TTL asks nothing"
    );

    setup.advance(chrono::Duration::days(8));
    enricher.before_report(&query("google.com")).await;
    assert_eq!(hits.get("rdap:google.com"), 2);
    assert_eq!(hits.get("tls:google.com"), 2);
    let reader = setup.store.reader().unwrap();
    assert_eq!(reader.whois_history(&name("google.com")).unwrap().len(), 2);
    let ips = reader
        .resolved_ips(&query("google.com"), day(2000, 1, 1), *setup.now.lock())
        .unwrap();
    assert!(
        ips.iter()
            .all(|r| r.count == 2 && r.first_seen < r.last_seen),
        "{ips:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_mode_answers_at_once_and_the_lookup_lands_later() {
    let setup = Setup::new().await;
    let enricher = setup.start(setup.config(Mode::Background));
    enricher.before_report(&query("google.com")).await;
    enricher.before_report(&query("google.com")).await;
    enricher.idle().await;
    assert_eq!(setup.fakes.hits.get("rdap:google.com"), 1, "queued once");
    assert!(setup.report("google.com").whois.is_some());
    assert!(enricher
        .render_metrics()
        .contains("threatintel_enrich_fetches_total{kind=\"rdap\",outcome=\"stored\"} 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inline_budget_holds_while_a_slow_server_answers() {
    let setup = Setup::new().await;
    let config = EnrichConfig {
        inline_budget_ms: 200,
        timeout_ms: 10_000,
        ..setup.config(Mode::Inline)
    };
    let enricher = setup.start(config);
    let started = Instant::now();
    enricher.before_report(&query("slow.com")).await;
    // The server takes 3 s; the report goes on after the budget.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        enricher.queue_depth(),
        0,
        "the lookup is running, not waiting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_the_server_for_its_retry_after() {
    let setup = Setup::new().await;
    let enricher = setup.start(setup.config(Mode::Off));
    let first = enricher
        .refresh(&query("ratelimited.com"), &[Kind::Rdap])
        .await;
    assert_eq!(outcome_of(&first, Kind::Rdap), Outcome::RateLimited);
    assert_eq!(
        first[0].next_due - first[0].at,
        chrono::Duration::seconds(120)
    );
    let second = enricher.refresh(&query("google.com"), &[Kind::Rdap]).await;
    assert_eq!(outcome_of(&second, Kind::Rdap), Outcome::RateLimited);
    assert_eq!(
        setup.fakes.hits.total("rdap:"),
        1,
        "nothing sent while paused"
    );

    setup.advance(chrono::Duration::seconds(121));
    let third = enricher.refresh(&query("google.com"), &[Kind::Rdap]).await;
    assert_eq!(outcome_of(&third, Kind::Rdap), Outcome::Stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_resolving_to_a_private_address_gets_no_connection() {
    crate::logs::capture();
    let setup = Setup::new().await;
    let config = EnrichConfig {
        allow_private_addresses: false,
        ..setup.config(Mode::Off)
    };
    let enricher = setup.start(config);
    let fetches = enricher
        .refresh(&query("private.com"), &[Kind::Dns, Kind::Tls])
        .await;
    assert_eq!(
        outcome_of(&fetches, Kind::Dns),
        Outcome::Stored,
        "what DNS said is kept"
    );
    assert_eq!(outcome_of(&fetches, Kind::Tls), Outcome::Refused);
    let tls = enricher
        .enrichment(&name("private.com"))
        .into_iter()
        .find(|f| f.kind == Kind::Tls)
        .unwrap();
    assert!(
        tls.error.as_deref().unwrap().contains("10.0.0.5: private"),
        "{tls:?}"
    );
    assert_eq!(setup.fakes.hits.total("tls:"), 0);
    assert!(
        crate::logs::captured().contains(
            "enrichment refused a non-public address address=10.0.0.5 reason=\"private\""
        ),
        "the refusal is logged: {}",
        crate::logs::captured()
    );
    // The fake RDAP server is on loopback: refused too.
    let rdap = enricher.refresh(&query("google.com"), &[Kind::Rdap]).await;
    assert_eq!(outcome_of(&rdap, Kind::Rdap), Outcome::Failed);
    assert_eq!(setup.fakes.hits.total("rdap:"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whois_asks_the_root_once_per_tld_and_follows_the_registrar_referral() {
    let setup = Setup::new().await;
    let enricher = setup.start(setup.config(Mode::Off));
    let fetches = enricher
        .refresh(&query("google.net"), &[Kind::Rdap, Kind::Whois])
        .await;
    assert_eq!(
        outcome_of(&fetches, Kind::Whois),
        Outcome::Stored,
        "{fetches:?}"
    );
    let record = setup
        .store
        .reader()
        .unwrap()
        .latest_whois(&name("google.net"))
        .unwrap()
        .unwrap();
    assert_eq!(
        record.created,
        Some(Utc.with_ymd_and_hms(1999, 3, 15, 5, 0, 0).unwrap())
    );
    assert_eq!(
        record.registrant.organization, "Google Inc.",
        "from the registrar's answer"
    );
    assert!(
        record.registrar.name.contains("MarkMonitor"),
        "{:?}",
        record.registrar
    );

    let not_registered = enricher
        .refresh(&query("nothing.net"), &[Kind::Whois])
        .await;
    assert_eq!(outcome_of(&not_registered, Kind::Whois), Outcome::NotFound);
    let throttled = enricher
        .refresh(&query("throttled.net"), &[Kind::Whois])
        .await;
    assert_eq!(outcome_of(&throttled, Kind::Whois), Outcome::RateLimited);
    let hits = &setup.fakes.hits;
    assert_eq!(hits.get("whois:root:net"), 1, "the TLD's server is cached");
    assert_eq!(hits.get("whois:registry:google.net"), 1);
    assert_eq!(hits.get("whois:registrar:google.net"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_of_no_such_name_are_remembered() {
    let setup = Setup::new().await;
    let enricher = setup.start(setup.config(Mode::Inline));
    enricher.before_report(&query("nowhere.com")).await;
    enricher.before_report(&query("nowhere.com")).await;
    let found: Vec<Outcome> = enricher
        .enrichment(&name("nowhere.com"))
        .iter()
        .map(|f| f.outcome)
        .collect();
    assert_eq!(
        found,
        [Outcome::NotFound, Outcome::NotFound, Outcome::NotFound]
    );
    assert_eq!(setup.fakes.hits.get("rdap:nowhere.com"), 1);
    assert_eq!(setup.fakes.hits.get("dns:nowhere.com:A"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_zones_are_not_looked_up_and_a_wildcard_looks_up_its_zone() {
    let setup = Setup::new().await;
    let config = EnrichConfig {
        never: vec!["google.net".into()],
        ..setup.config(Mode::Inline)
    };
    let enricher = setup.start(config);
    enricher.before_report(&query("www.google.net")).await;
    assert!(enricher
        .refresh(&query("google.net"), &Kind::ALL)
        .await
        .is_empty());
    assert_eq!(setup.fakes.hits.total("dns:"), 0);
    enricher.before_report(&query("*.google.com")).await;
    assert_eq!(setup.fakes.hits.get("dns:google.com:A"), 1);
    assert_eq!(setup.fakes.hits.total("dns:"), 5, "the zone's name only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_network_lookups_fail_fast_and_back_off() {
    let setup = Setup::new().await;
    let config = EnrichConfig {
        whois_root: "127.0.0.1:1".into(),
        dns_upstreams: vec!["127.0.0.1:1".into()],
        ..setup.config(Mode::Inline)
    };
    let now = setup.now.clone();
    let clock: Clock = Arc::new(move || *now.lock());
    let bootstrap =
        Bootstrap::parse(r#"{"services":[[["com"],["http://127.0.0.1:1/"]]]}"#).unwrap();
    let enricher =
        Enricher::start_with_clock(config, bootstrap, setup.store.clone(), clock).unwrap();
    let started = Instant::now();
    enricher.before_report(&query("google.com")).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let fetches = enricher.enrichment(&name("google.com"));
    assert!(
        fetches.iter().all(|f| f.outcome.as_str() != "stored"),
        "{fetches:?}"
    );
    let rdap = fetches.iter().find(|f| f.kind == Kind::Rdap).unwrap();
    assert_eq!(
        rdap.next_due - rdap.at,
        chrono::Duration::seconds(30),
        "backoff, not a retry"
    );
    enricher.before_report(&query("google.com")).await;
    assert_eq!(
        enricher.fetch_count(Kind::Rdap, Outcome::Failed),
        1,
        "no retry before the backoff"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_relations_are_stored_and_reported() {
    let setup = Setup::new().await;
    let enricher = setup.start(setup.config(Mode::Off));
    enricher.refresh(&query("google.com"), &[Kind::Dns]).await;
    enricher
        .refresh(&query("www.google.com"), &[Kind::Dns])
        .await;
    let now = *setup.now.lock();
    let relations = |n: &str| -> Vec<(RelationKind, String, String)> {
        setup
            .store
            .reader()
            .unwrap()
            .relations(&name(n))
            .unwrap()
            .into_iter()
            .map(|r| {
                assert_eq!((r.first_seen, r.last_seen, r.count), (now, now, 1));
                (r.kind, r.target.to_string(), r.source)
            })
            .collect()
    };
    assert_eq!(
        relations("google.com"),
        [
            (RelationKind::Mx, "smtp.google.com".into(), "dns".into()),
            (RelationKind::Ns, "ns1.google.com".into(), "dns".into()),
        ]
    );
    assert_eq!(
        relations("www.google.com"),
        [(RelationKind::Cname, "google.com".into(), "dns".into())]
    );
    let engine = ReportEngine::new(
        setup.store.clone(),
        VerdictConfig::default(),
        ReportConfig::default(),
    )
    .unwrap();
    let report = engine
        .report(&ReportRequest {
            query: query("google.com"),
            fields: FieldSet::ALL,
            at: *setup.now.lock(),
            with_lists: true,
            heuristics: true,
        })
        .unwrap();
    let targets: Vec<&str> = report
        .dns_relations
        .iter()
        .map(|r| r.target.as_str())
        .collect();
    assert_eq!(targets, ["smtp.google.com", "ns1.google.com"]);
}

/// What was fetched when, and what failed, survives a restart: a server started again on the
/// same store within the TTLs asks nothing and still shows the last lookups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_enricher_keeps_its_record_of_lookups() {
    let setup = Setup::new().await;
    let first = setup.start(setup.config(Mode::Inline));
    first.before_report(&query("google.com")).await;
    first.before_report(&query("nowhere.com")).await;
    let limited = first
        .refresh(&query("ratelimited.com"), &[Kind::Rdap])
        .await;
    assert_eq!(outcome_of(&limited, Kind::Rdap), Outcome::RateLimited);
    let before = first.enrichment(&name("google.com"));
    let hits = &setup.fakes.hits;
    let asked = (hits.total("rdap:"), hits.total("dns:"), hits.total("tls:"));

    setup.advance(chrono::Duration::minutes(1));
    let restarted = setup.start_on(setup.reopen(), setup.config(Mode::Inline));
    assert_eq!(
        restarted.enrichment(&name("google.com")),
        before,
        "the last lookups, as they were"
    );
    let nowhere: Vec<Outcome> = restarted
        .enrichment(&name("nowhere.com"))
        .iter()
        .map(|f| f.outcome)
        .collect();
    assert_eq!(
        nowhere,
        [Outcome::NotFound; 3],
        "negative answers are remembered"
    );
    for n in ["google.com", "nowhere.com", "ratelimited.com"] {
        restarted.before_report(&query(n)).await;
    }
    restarted.idle().await;
    assert_eq!(
        (hits.total("rdap:"), hits.total("dns:"), hits.total("tls:")),
        (asked.0, asked.1 + 5, asked.2 + 1),
        "only the rate-limited name's DNS and TLS (never looked up) are asked"
    );
    assert_eq!(
        hits.get("rdap:ratelimited.com"),
        1,
        "its Retry-After is kept"
    );

    setup.advance(chrono::Duration::days(8));
    restarted.before_report(&query("google.com")).await;
    assert_eq!(
        hits.get("rdap:google.com"),
        2,
        "after the TTL it fetches again"
    );
    let history = setup
        .store
        .reader()
        .unwrap()
        .whois_history(&name("google.com"))
        .unwrap();
    assert_eq!(history.len(), 2);
}
