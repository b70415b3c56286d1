//! `threatintel serve`: the store, the report engine and the HTTP API, until Ctrl-C or SIGTERM.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use threatintel_api::redis_guards::RedisLimits;
use threatintel_api::{AppState, JobOutcome, ServerConfig};
use threatintel_ingest::feeds::{parse_interval, FeedConfig};
use threatintel_ingest::Format;
use threatintel_ingest::{import_file, ImportOptions, NoProgress};
use threatintel_report::ReportEngine;
use threatintel_store::Store;

use crate::config::Config;

/// The demo evidence (`demo/evidence.jsonl`, native format), built into the binary so that
/// `serve` finds it from any directory and after `cargo install`.
const DEMO: &[u8] = include_bytes!("../../../demo/evidence.jsonl");

pub fn run(config: Config, store: Arc<dyn Store>) -> Result<()> {
    init_logging();
    if config.store.load_demo_when_empty && store.reader()?.is_empty()? {
        let added = load_demo(&*store)?;
        tracing::info!(
            records = added,
            "empty store: loaded the demo evidence built into the binary"
        );
    }
    let geolocator = config.ip.open()?;
    if !geolocator.is_empty() {
        tracing::info!(databases = ?geolocator, "geolocation and ASN databases loaded");
    }
    let engine = Arc::new(
        ReportEngine::new(store, config.verdict, config.report)?
            .with_heuristics(config.heuristics)?
            .with_geolocator(Arc::new(geolocator)),
    );
    let started = std::time::Instant::now();
    engine.prepare_heuristics()?;
    tracing::info!(
        millis = started.elapsed().as_millis() as u64,
        "heuristic judge ready"
    );
    let started = std::time::Instant::now();
    engine
        .store()
        .prepare_reads()
        .context("preparing the store's reads")?;
    tracing::info!(
        millis = started.elapsed().as_millis() as u64,
        "store reads prepared"
    );
    warn_about_access(&config.server);
    let feeds = threatintel_api::Feeds {
        feeds: config.feeds.clone(),
        http: config.feed_http.clone(),
        industries: config.events.map(),
    };
    let listen = config.server.listen.clone();
    let scheme = if config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The enricher's workers run on the server's runtime.
    let _runtime = runtime.enter();
    let enricher = crate::enrich::start(&config.enrich, engine.store().clone())?;
    tracing::info!(mode = ?enricher.mode(), "live enrichment ready");
    let state = match &config.server.redis_url {
        Some(url) => {
            let shared = Arc::new(RedisLimits::connect(url).map_err(anyhow::Error::msg)?);
            tracing::info!("nonces and rate limits are shared through Redis");
            AppState::with_shared_limits(engine, config.server, shared.clone(), shared)
        }
        None => AppState::new(engine, config.server),
    };
    let state = Arc::new(state.with_enricher(enricher).with_feeds(feeds));
    schedule_feeds(&state, &config.feeds);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, "serving DescribeDomainReport at / and the native API at /api/v1");
        // For scripts and tests that start the server on port 0.
        println!("listening on {scheme}://{address}");
        threatintel_api::serve(listener, state, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Imports [`DEMO`] as `threatintel import demo/evidence.jsonl` would (the importer reads
/// files, so it goes through one in a temporary directory); returns the records added.
fn load_demo(store: &dyn Store) -> Result<u64> {
    let dir = tempfile::tempdir().context("cannot create a directory for the demo evidence")?;
    let path = dir.path().join("evidence.jsonl");
    std::fs::write(&path, DEMO)
        .with_context(|| format!("cannot write the demo evidence to {}", path.display()))?;
    let mut options = ImportOptions::new(Utc::now());
    options.format = Some(Format::Native);
    let summary = import_file(store, &path, &options, &mut NoProgress)?;
    Ok(summary.added)
}

fn warn_about_access(server: &ServerConfig) {
    if server.anonymous {
        let local = server
            .listen
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback())
            || server.listen.starts_with("localhost:");
        if local {
            tracing::warn!("anonymous access is on: unsigned requests are answered");
        } else {
            tracing::warn!(listen = %server.listen, "anonymous access is on and the address is not loopback: anyone who can reach it can query");
        }
    }
    if server.access_keys.is_empty() && !server.anonymous {
        tracing::warn!("no access keys are configured: every signed request will be refused; add [[server.access_keys]]");
    }
}

/// Structured logs on stderr; `RUST_LOG` filters, `THREATINTEL_LOG=json` switches to JSON lines.
fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("THREATINTEL_LOG").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Refreshes each enabled feed with a `refresh` interval on its own thread, for as long as the
/// server runs, as the server's own job (`AppState::refresh_feed`: the console's sources page
/// shows the result). A failed refresh is logged and retried at the next interval; nothing it
/// wrote is kept (one transaction per refresh).
fn schedule_feeds(state: &Arc<AppState>, feeds: &[FeedConfig]) {
    for feed in feeds.iter().filter(|f| f.enabled) {
        let Some(interval) = feed.refresh.as_deref().and_then(|r| parse_interval(r).ok()) else {
            continue;
        };
        let (state, feed) = (state.clone(), feed.clone());
        tracing::info!(feed = %feed.name, every = ?interval, "scheduled feed refresh");
        std::thread::spawn(move || loop {
            match state.refresh_feed(&feed) {
                None => {
                    tracing::info!(feed = %feed.name, "feed being refreshed from the console; skipped")
                }
                Some(JobOutcome::NotModified) => {
                    tracing::info!(feed = %feed.name, "feed not modified")
                }
                Some(JobOutcome::Imported(s)) => tracing::info!(
                    feed = %feed.name,
                    read = s.read,
                    added = s.added,
                    updated = s.updated,
                    rejected = s.rejected,
                    "feed refreshed"
                ),
                Some(JobOutcome::Failed(e)) => {
                    tracing::warn!(feed = %feed.name, error = %e, "feed refresh failed; retrying at the next interval")
                }
            }
            std::thread::sleep(interval);
        });
    }
}
