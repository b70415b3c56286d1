//! Admission: what every endpoint does around the pure protocol layers before and while it
//! answers. It reads the request's headers and body within their limits, bounds the whole
//! request by the request timeout, admits an authenticated caller through the rate and nonce
//! guards, and runs store work where it may block.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::auth::Identity;
use crate::error::{new_request_id, ApiError, ErrorResponse, ResponseFormat};
use crate::AppState;

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, [(CONTENT_TYPE, self.content_type)], self.body).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// The request's headers as (lower-case name, value), borrowed from the request; values that
/// are not UTF-8 are left out.
pub(crate) fn headers_of(parts: &Parts) -> Vec<(&str, &str)> {
    parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), std::str::from_utf8(v.as_bytes()).ok()?)))
        .collect()
}

/// The raw query string (without `?`), refused with `InvalidParameter` when it is longer than
/// `server.max_rpc_bytes`: no call of this API needs more, and nothing longer is decoded.
pub(crate) fn bounded_query<'a>(state: &AppState, parts: &'a Parts) -> Result<&'a str, ApiError> {
    let query = parts.uri.query().unwrap_or("");
    let limit = state.config.max_rpc_bytes;
    if query.len() > limit {
        return Err(ApiError::invalid(
            "",
            format!("the query string is longer than {limit} bytes"),
        ));
    }
    Ok(query)
}

/// Rate limit first (a throttled request keeps its nonce for the retry), then the nonce.
pub(crate) fn admit(state: &AppState, identity: &Identity) -> Result<(), ApiError> {
    let now = Instant::now();
    state
        .limiter
        .admit(&identity.access_key_id, identity.rate_per_sec, now)?;
    if let Some(nonce) = &identity.nonce {
        state
            .nonces
            .check_and_remember(&identity.access_key_id, nonce, now)?;
    }
    Ok(())
}

/// Reads a request body of at most `limit` bytes: an announced `Content-Length` over it is
/// refused at once, a body that grows over it as soon as it does (`RequestBodyTooLarge`); a
/// body that does not arrive within the request timeout is `RequestTimeout`; one whose
/// framing breaks (a malformed chunk size, the connection ending early) is `InvalidParameter`.
/// A request that has no body (a GET without `Content-Length` or `Transfer-Encoding`) starts no
/// timer: there is nothing to wait for.
pub(crate) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    if http_body::Body::is_end_stream(&body) {
        return Ok(Bytes::new());
    }
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(ApiError::BodyTooLarge { limit }),
        Ok(Err(_)) => Err(ApiError::MalformedBody),
        Err(_) => Err(ApiError::RequestTimeout),
    }
}

/// Bounds a whole request by the request timeout (and a second's grace, so that a body read
/// that times out answers first, in its endpoint's format): past it, the POP
/// `RequestTimeout` in JSON. A console upload is bounded by its size and by the request
/// timeout between two of its chunks instead (a large file may take longer to arrive; its
/// import runs in the background).
pub(crate) async fn within_request_timeout(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == axum::http::Method::POST && request.uri().path() == UPLOAD_PATH {
        return next.run(request).await;
    }
    timed(&state, next.run(request)).await
}

/// `answer`, or a `RequestTimeout` error once the request timeout (and a second of grace) is
/// over.
pub(crate) async fn timed(state: &AppState, answer: impl Future<Output = Response>) -> Response {
    let limit = Duration::from_secs(state.config.request_timeout_secs) + Duration::from_secs(1);
    match tokio::time::timeout(limit, answer).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout
            .render(
                ResponseFormat::Json,
                &new_request_id(),
                &state.config.host_id,
            )
            .into_response(),
    }
}

/// The console's upload route, timed by its handler.
pub(crate) const UPLOAD_PATH: &str = "/console/import";

/// Runs store work: directly for stores whose calls are short (SQLite: a report is tens of
/// microseconds), on the blocking pool for a store that drives its own runtime (PostgreSQL), which
/// must not nest inside the server's. Such work waits for a turn first when the store bounds its
/// readers (`server.store_concurrency`, at most the store's readers): a request beyond them
/// waits as a task, not as a thread blocked on the connection pool. 64 connections' threads
/// contending for 16 pooled connections spent a third of the server's CPU switching threads.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    if !state.engine.store().runs_own_runtime() {
        return Ok(work());
    }
    let turn = match &state.store_turns {
        Some(turns) => Some(turns.clone().acquire_owned().await.map_err(|_| {
            tracing::error!("the store's turns were closed");
            ApiError::Internal
        })?),
        None => None,
    };
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        work()
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "store task failed");
        ApiError::Internal
    })
}
