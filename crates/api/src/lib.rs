//! The HTTP API — the only crate that knows HTTP, JSON and XML wire shapes.
//!
//! `/` is DescribeDomainReport in Alibaba Cloud's RPC style (product Sasti, version
//! 2020-05-12): V1 and V3 signatures, POP-shaped errors, JSON or XML, so the official SDKs
//! work unchanged. `/api/v1/...` is the native API (typed reports with their explanation,
//! batches), with `/healthz`, `/metrics` and an OpenAPI document.
//!
//! The protocol layer is pure (no sockets, time injected) and framework-independent, each
//! module depending only on those before it: [`error`] (every POP error and its JSON/XML
//! rendering), [`params`] (form decoding, canonical encoding), [`signature`] (V1 HMAC-SHA1 and
//! V3 ACS3-HMAC-SHA256), [`auth`] (access keys and their secrets, the verifier, nonce and rate
//! guards), [`rpc`] (the validated DescribeDomainReport call, the response format) and [`xml`]
//! (success bodies); [`redis_guards`] shares the guards between nodes. On top of it:
//! `admission` (headers, bounded bodies, the request timeout, the guards, store work),
//! `rpc_handler`, `native` and `export` (the endpoints), `metrics`, `server` (connections and
//! their timeouts, graceful shutdown) and `tls` (the certificate, reloaded on SIGHUP).

mod admission;
pub mod auth;
mod config;
mod console;
mod enrichment;
pub mod error;
mod export;
mod jobs;
mod metrics;
mod native;
pub mod params;
pub mod redis_guards;
pub mod rpc;
mod rpc_handler;
mod server;
mod session;
pub mod signature;
mod tls;
pub mod xml;

pub use config::{ConsoleConfig, ServerConfig};

/// Turns per CPU a PostgreSQL-backed node gives reports by default (`server.store_concurrency`
/// 0). A report spends most of its time waiting on the database: with one turn per CPU the
/// cores idle through those waits (measured with `scripts/bench-serve.py --postgres`, PostgreSQL
/// on the same 2 cores: listed names 3,440-3,963 requests/s at two turns, 4,271-5,227 at eight,
/// and less CPU per request; fifteen was slower again).
pub const STORE_TURNS_PER_CPU: usize = 4;
pub use jobs::Feeds;
pub use server::serve;
pub use threatintel_console::pages::Outcome as JobOutcome;
pub use tls::{TlsConfig, TlsError};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::Router;
use threatintel_report::ReportEngine;

use crate::auth::{Authenticator, MemoryNonces, MemoryRateLimiter, NonceGuard, RateLimiter};
use crate::metrics::Metrics;

/// Everything a request handler needs.
pub struct AppState {
    pub engine: Arc<ReportEngine>,
    pub config: ServerConfig,
    auth: Authenticator,
    nonces: Arc<dyn NonceGuard>,
    limiter: Arc<dyn RateLimiter>,
    metrics: Metrics,
    /// Turns at the store for work on the blocking pool, when the store bounds its readers
    /// (`admission::blocking`).
    store_turns: Option<Arc<tokio::sync::Semaphore>>,
    enricher: Option<threatintel_enrich::Enricher>,
    sessions: session::Sessions,
    jobs: jobs::Jobs,
    feeds: Feeds,
}

impl AppState {
    /// State with in-process nonce and rate-limit tracking.
    pub fn new(engine: Arc<ReportEngine>, config: ServerConfig) -> Self {
        let nonces = Arc::new(MemoryNonces::new(config.max_nonces));
        Self::with_shared_limits(
            engine,
            config,
            nonces,
            Arc::new(MemoryRateLimiter::default()),
        )
    }

    /// State whose nonces and limits live elsewhere (shared by several nodes).
    pub fn with_shared_limits(
        engine: Arc<ReportEngine>,
        config: ServerConfig,
        nonces: Arc<dyn NonceGuard>,
        limiter: Arc<dyn RateLimiter>,
    ) -> Self {
        let anonymous = config.anonymous.then_some(config.anonymous_rate_per_sec);
        let auth = Authenticator::new(config.access_keys.clone(), anonymous);
        let store_turns = engine.store().parallel_reads().map(|readers| {
            let wanted = match config.store_concurrency {
                0 => {
                    STORE_TURNS_PER_CPU
                        * std::thread::available_parallelism().map_or(1, |n| n.get())
                }
                n => n,
            };
            Arc::new(tokio::sync::Semaphore::new(wanted.min(readers)))
        });
        let sessions = session::Sessions::new(
            std::time::Duration::from_secs(config.console.session_minutes * 60),
            config.console.login_attempts_per_minute,
        );
        Self {
            sessions,
            engine,
            config,
            auth,
            nonces,
            limiter,
            metrics: Metrics::default(),
            store_turns,
            enricher: None,
            jobs: jobs::Jobs::default(),
            feeds: Feeds::default(),
        }
    }

    /// The sources page lists `feeds` and may refresh them.
    pub fn with_feeds(mut self, feeds: Feeds) -> Self {
        self.feeds = feeds;
        self
    }

    /// Refreshes `feed` on this thread as the server's own job (`serve`'s scheduler), so that
    /// the sources page shows its result; `None`, without refreshing, while the feed is being
    /// refreshed already (from the console).
    pub fn refresh_feed(&self, feed: &threatintel_ingest::feeds::FeedConfig) -> Option<JobOutcome> {
        let work = jobs::feed_refresh(self, feed.clone());
        self.jobs
            .run(jobs::SERVER, Some(&feed.name), &feed.name, work)
    }

    /// Reports consult `enricher` first (its mode decides how), and the refresh route uses it.
    pub fn with_enricher(mut self, enricher: threatintel_enrich::Enricher) -> Self {
        self.enricher = Some(enricher);
        self
    }
}

/// The console's routes (`/console/...`).
fn console_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/", get(console::dashboard))
        .route("/console", get(console::dashboard))
        .route(
            "/console/search",
            get(console::search).post(console::search),
        )
        .route(
            "/console/search.csv",
            get(console::search_csv).post(console::search_csv),
        )
        .route("/console/domain/{domain}", get(console::domain_page))
        .route(
            "/console/domain/{domain}/{shape}",
            get(console::domain_json),
        )
        .route("/console/sources", get(console::sources))
        .route(
            "/console/login",
            get(console::login_page).post(console::login),
        )
        .route("/console/logout", post(console::logout))
        .route(
            "/console/import",
            // The handler bounds the upload itself (`server.console.max_upload_bytes`), and
            // its time (`admission::within_request_timeout` lets it be).
            get(console::import_page)
                .post(console::import)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/console/import/{job}", get(console::import_job))
        .route("/console/feeds/{feed}/refresh", post(console::refresh_feed))
        .route("/console/lang/{lang}", get(console::switch_lang))
        .route("/console/assets/{file}", get(console::asset))
        .route("/console/{*rest}", get(console::not_found))
}

/// What a connection serves: an RPC call (a request to `/`, any method) goes straight to its
/// handler, every other request through [`router`]; both within the request timeout. Matching
/// a call among the router's routes, with the layers around them, cost about 4,000
/// instructions: 5% of a listed name's report.
#[derive(Clone)]
pub(crate) struct App {
    state: Arc<AppState>,
    router: Router,
}

impl App {
    pub(crate) fn new(state: Arc<AppState>) -> Self {
        Self {
            router: router(state.clone()),
            state,
        }
    }

    /// Answers `request` from `peer`. Only the router's handlers read the client's address (as
    /// `ConnectInfo`), so only their requests carry it: the first extension of a request costs
    /// it a map.
    pub(crate) async fn answer(
        self,
        mut request: axum::extract::Request,
        peer: Option<ConnectInfo<SocketAddr>>,
    ) -> axum::response::Response {
        if request.uri().path() == "/" {
            // Boxed: the call's future is kilobytes, and hyper and the timeout would otherwise
            // move it three times on its way in.
            let call = Box::pin(rpc_handler::describe_domain_report(
                axum::extract::State(self.state.clone()),
                request,
            ));
            return admission::timed(&self.state, call).await;
        }
        if let Some(peer) = peer {
            request.extensions_mut().insert(peer);
        }
        let answer = tower::ServiceExt::oneshot(self.router, request);
        match answer.await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The routes but `/`, which [`App`] answers before them.
fn router(state: Arc<AppState>) -> Router {
    let timeout =
        axum::middleware::from_fn_with_state(state.clone(), admission::within_request_timeout);
    let routes = if state.config.console.enabled {
        console_routes()
    } else {
        Router::new()
    };
    routes
        .route("/api/v1/domains/{domain}/report", get(native::report))
        .route("/api/v1/domains/{domain}/history", get(native::history))
        .route("/api/v1/domains/report", post(native::batch))
        .route("/api/v1/ips/{ip}/report", get(native::ip_report))
        .route("/api/v1/ips/report", post(native::ip_batch))
        .route("/api/v1/files/{hash}/report", get(native::file_report))
        .route("/api/v1/files/report", post(native::file_batch))
        .route(
            "/api/v1/domains/{domain}/refresh",
            post(enrichment::refresh),
        )
        .route("/api/v1/export/{format}", get(export::export))
        .route("/api/v1/export/{format}/{file}", get(export::export_file))
        .route("/api/v1/openapi.json", get(native::openapi))
        .route("/healthz", get(native::healthz))
        .route("/metrics", get(native::metrics))
        .fallback(native::not_found)
        .method_not_allowed_fallback(native::method_not_allowed)
        .with_state(state)
        .layer(timeout)
}
