//! The HTTP API — the only crate that knows HTTP, JSON and XML wire shapes.
//!
//! `/` is DescribeDomainReport in Alibaba Cloud's RPC style (product Sasti, version
//! 2020-05-12): V1 and V3 signatures, POP-shaped errors, JSON or XML, so the official SDKs
//! work unchanged. `/api/v1/...` is the native API (typed reports with their explanation,
//! batches), with `/healthz`, `/metrics` and an OpenAPI document.
//!
//! The protocol layer is pure (no sockets, time injected) and framework-independent:
//! [`params`] (form decoding, canonical encoding), [`signature`] (V1 HMAC-SHA1 and V3
//! ACS3-HMAC-SHA256), [`auth`] (access keys, the verifier, nonce and rate guards), [`error`]
//! (every POP error and its JSON/XML rendering, the response format), [`rpc`] (the validated
//! DescribeDomainReport call) and [`xml`] (success bodies). The axum glue sits on top of it.

pub mod auth;
mod config;
mod enrichment;
pub mod error;
mod http;
mod metrics;
mod native;
pub mod params;
pub mod rpc;
pub mod shared;
pub mod signature;
pub mod xml;

pub use config::ServerConfig;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use threatintel_report::ReportEngine;
use tower_http::timeout::TimeoutLayer;

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
    enricher: Option<threatintel_enrich::Enricher>,
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
        Self {
            engine,
            config,
            auth,
            nonces,
            limiter,
            metrics: Metrics::default(),
            enricher: None,
        }
    }

    /// Reports consult `enricher` first (its mode decides how), and the refresh route uses it.
    pub fn with_enricher(mut self, enricher: threatintel_enrich::Enricher) -> Self {
        self.enricher = Some(enricher);
        self
    }
}

/// The routes.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    Router::new()
        .route(
            "/",
            get(http::describe_domain_report)
                .post(http::describe_domain_report)
                .fallback(http::describe_domain_report),
        )
        .route("/api/v1/domains/{domain}/report", get(native::report))
        .route("/api/v1/domains/{domain}/history", get(native::history))
        .route("/api/v1/domains/report", post(native::batch))
        .route(
            "/api/v1/domains/{domain}/refresh",
            post(enrichment::refresh),
        )
        .route("/api/v1/openapi.json", get(native::openapi))
        .route("/healthz", get(native::healthz))
        .route("/metrics", get(native::metrics))
        .fallback(native::not_found)
        .method_not_allowed_fallback(native::method_not_allowed)
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Runs store work: directly for stores whose calls are short (SQLite: a report is tens of
/// microseconds), on the blocking pool for a store that drives its own runtime (PostgreSQL), which
/// must not nest inside the server's.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, error::ApiError> {
    if !state.engine.store().runs_own_runtime() {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "store task failed");
        error::ApiError::Internal
    })
}

/// Reads a request body: refuses an announced `Content-Length` over `limit` at once, and a body
/// that does not arrive within the request timeout (a slow client cannot hold a connection).
pub(crate) async fn read_body(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, error::ApiError> {
    let limit = state.config.max_body_bytes;
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(error::ApiError::BodyTooLarge { limit });
    }
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(error::ApiError::BodyTooLarge { limit }),
        Err(_) => Err(error::ApiError::RequestTimeout),
    }
}
