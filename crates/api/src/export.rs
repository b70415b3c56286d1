//! `GET /api/v1/export/{format}`: the bytes of `threatintel export`, streamed to resolvers and
//! blockers that pull a list (Unbound's `rpz` `url:`, Pi-hole, AdGuard). Beside it, what the
//! CLI writes next to an export: `misp/manifest.json` and `misp/<uuid>.json` (a MISP feed
//! pulled by URL: MISP appends those names to the feed's URL) and `suricata/rules` (the rule
//! that loads the dataset).
//!
//! The parameters are the CLI's selection options (`min_level`, `min_confidence`,
//! `threat_type`, `source`, `at` in any form the CLI's `--at` takes, `action`,
//! `pass_allowlisted`); an unknown one is refused. An
//! export without `at` is taken at the current time rounded down to `server.export_time_step_secs`:
//! verdicts decay continuously and the output names its time, so "now" would make every pull
//! new bytes; within one step every pull gets the same bytes.
//!
//! The `ETag` is a hash of what the bytes depend on: the store's commit marker (bumped by every
//! commit), the parsed request (format, selection, RPZ action, export time) and the server's
//! version. A pull whose `If-None-Match` matches (or, without one, whose `If-Modified-Since` is
//! not before `Last-Modified`, the later of the last commit and the export time) is a 304
//! that costs one read of one row. The marker is read before the export: a commit between the
//! two gives new bytes under the old tag, which the next pull replaces; never old bytes under a
//! new tag.
//!
//! The export runs on the blocking pool and hands 64 KiB chunks through a channel of four to
//! the response body, so a slow client holds back the export instead of the server buffering
//! it; a client that goes away stops it. A failure before the first chunk is an
//! `InternalError`; one after it ends the connection without the chunked terminator, so no
//! consumer takes a truncated list for a whole one.
//!
//! Authentication is the native API's (ACS3 signature or bearer token). With
//! `server.public_exports`, a request without an `Authorization` header from one of
//! `server.public_export_networks` is answered too, within the anonymous rate.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{
    AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http_body::Frame;
use sha2::{Digest, Sha256};
use threatintel_export::{
    misp_event_uuid, misp_manifest, suricata_rule, Format, FormatOptions, RpzAction, Selection,
    SURICATA_SID,
};
use threatintel_model::{parse_time, Timestamp};
use threatintel_store::CommitMarker;
use tokio::sync::mpsc;

use crate::admission::{admit, blocking, bounded_query};
use crate::auth::{Identity, Scheme};
use crate::error::{new_request_id, ApiError};
use crate::native::{authorise, finish};
use crate::params::Params;
use crate::AppState;

/// Bytes handed to the response body at a time, and chunks in flight.
const CHUNK: usize = 64 << 10;
const CHUNKS_IN_FLIGHT: usize = 4;

/// The parameters `/api/v1/export/{format}` takes.
const PARAMETERS: [&str; 7] = [
    "min_level",
    "min_confidence",
    "threat_type",
    "source",
    "at",
    "action",
    "pass_allowlisted",
];

/// `GET /api/v1/export/{format}?min_level=&min_confidence=&threat_type=&source=&at=&action=&pass_allowlisted=`
pub async fn export(
    State(state): State<Arc<AppState>>,
    format: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    serve(state, format.map(|Path(format)| (format, None)), request).await
}

/// `GET /api/v1/export/{format}/{file}`: a MISP feed's `manifest.json` and `<uuid>.json` (what
/// MISP fetches from a feed's URL), the Suricata `rules` that load the dataset.
pub async fn export_file(
    State(state): State<Arc<AppState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Response {
    serve(
        state,
        path.map(|Path((format, file))| (format, Some(file))),
        request,
    )
    .await
}

async fn serve(
    state: Arc<AppState>,
    path: Result<(String, Option<String>), PathRejection>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let id = new_request_id();
    let (parts, _) = request.into_parts();
    let result = async {
        let params = authorise_export(&state, &parts).await?;
        let (format, file) = path.map_err(|e| ApiError::invalid("format", e.body_text()))?;
        let format = format
            .parse::<Format>()
            .map_err(|e| ApiError::invalid("format", e.to_string()))?;
        let export = ExportRequest::parse(format, file.as_deref(), &params, &state, Utc::now())?;
        let store = state.engine.store().clone();
        let marker = blocking(&state, move || store.reader()?.commit_marker())
            .await?
            .map_err(|e| {
                tracing::error!(error = %e, "export: reading the commit marker failed");
                ApiError::Internal
            })?;
        let validators = Validators::of(&export, marker, Utc::now());
        if validators.match_request(&parts.headers) {
            return Ok(validators.apply(StatusCode::NOT_MODIFIED.into_response()));
        }
        let response = match export.document {
            Document::Export => {
                let body = stream(&state, export).await?;
                ([(CONTENT_TYPE, format.content_type())], body).into_response()
            }
            Document::MispManifest => (
                [(CONTENT_TYPE, "application/json")],
                misp_manifest(export.selection.at),
            )
                .into_response(),
            Document::SuricataRule => (
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                suricata_rule(&export.options.dataset, SURICATA_SID),
            )
                .into_response(),
        };
        Ok(validators.apply(response))
    }
    .await;
    finish(&state, "export", started, &id, result)
}

/// The native API's authentication, or a public pull: no `Authorization` header, from a
/// trusted network, with `server.public_exports` on.
async fn authorise_export(state: &AppState, parts: &Parts) -> Result<Params, ApiError> {
    let config = &state.config;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical());
    let public = config.public_exports
        && !parts.headers.contains_key(AUTHORIZATION)
        && peer.is_some_and(|ip| config.public_export_networks.iter().any(|n| n.contains(ip)));
    if !public {
        return authorise(state, parts, b"").await;
    }
    let params = Params::parse(bounded_query(state, parts)?, None)?;
    admit(
        state,
        &Identity {
            access_key_id: "public-export".into(),
            scheme: Scheme::Anonymous,
            nonce: None,
            security_token: None,
            rate_per_sec: config.anonymous_rate_per_sec,
        },
    )?;
    Ok(params)
}

/// What of a format a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Document {
    /// The export itself (a MISP feed's event: `/misp` and `/misp/<uuid>.json`).
    Export,
    /// `/misp/manifest.json`.
    MispManifest,
    /// `/suricata/rules`: the rule that loads the dataset.
    SuricataRule,
}

/// A validated export request: what the bytes depend on besides the store.
#[derive(Debug)]
struct ExportRequest {
    format: Format,
    document: Document,
    selection: Selection,
    options: FormatOptions,
}

impl ExportRequest {
    /// The request for `format` (and `file` under it) at the time `at` says, or else at `now`
    /// rounded down to the export step. A MISP event file is the feed's event at the time its
    /// UUID names: the current step's or, for a manifest read just before a step ended, the
    /// previous step's; any other file is not found.
    fn parse(
        format: Format,
        file: Option<&str>,
        params: &Params,
        state: &AppState,
        now: Timestamp,
    ) -> Result<Self, ApiError> {
        let document = match (format, file) {
            (_, None) => Document::Export,
            (Format::Misp, Some("manifest.json")) => Document::MispManifest,
            (Format::Suricata, Some("rules")) => Document::SuricataRule,
            (Format::Misp, Some(event)) => {
                let uuid = event
                    .strip_suffix(".json")
                    .ok_or(ApiError::ActionNotFound)?;
                let step = state.config.export_time_step_secs as i64;
                let explicit = params.get("at").is_some();
                let steps_back = if explicit { 0 } else { 1 };
                for back in 0..=steps_back {
                    let then = now - chrono::Duration::seconds(back * step);
                    let request =
                        Self::parse_selection(format, Document::Export, params, state, then)?;
                    if misp_event_uuid(request.selection.at) == uuid {
                        return Ok(request);
                    }
                }
                return Err(ApiError::ActionNotFound);
            }
            (_, Some(_)) => return Err(ApiError::ActionNotFound),
        };
        Self::parse_selection(format, document, params, state, now)
    }

    fn parse_selection(
        format: Format,
        document: Document,
        params: &Params,
        state: &AppState,
        now: Timestamp,
    ) -> Result<Self, ApiError> {
        if let Some((name, _)) = params.iter().find(|(n, _)| !PARAMETERS.contains(n)) {
            return Err(ApiError::invalid(
                name,
                format!("an export takes only {}", PARAMETERS.join(", ")),
            ));
        }
        let at = match params.get("at") {
            Some(text) => parse_time(text).map_err(|e| ApiError::invalid("at", e.to_string()))?,
            None => {
                let step = state.config.export_time_step_secs as i64;
                let secs = now.timestamp();
                DateTime::from_timestamp(secs - secs.rem_euclid(step), 0).unwrap_or(now)
            }
        };
        let mut selection = Selection::new(at);
        if let Some(text) = params.get("min_level") {
            selection.min_level = text
                .parse()
                .ok()
                .and_then(Selection::min_level_of)
                .ok_or_else(|| ApiError::invalid("min_level", "it is 1, 2 or 3"))?;
        }
        if let Some(text) = params.get("min_confidence") {
            selection.min_confidence = text
                .parse()
                .ok()
                .filter(|c| *c <= 100)
                .ok_or_else(|| ApiError::invalid("min_confidence", "it is 0 to 100"))?;
        }
        selection.threat_types = list(params.get("threat_type"));
        selection.sources = list(params.get("source"));
        selection.pass_allowlisted = match params.get("pass_allowlisted") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ApiError::invalid(
                    "pass_allowlisted",
                    format!("{other:?} is neither \"true\" nor \"false\""),
                ))
            }
        };
        let mut options = FormatOptions::new(at);
        if let Some(text) = params.get("action") {
            options.rpz_action = text
                .parse::<RpzAction>()
                .map_err(|e| ApiError::invalid("action", e.to_string()))?;
        }
        Ok(Self {
            format,
            document,
            selection,
            options,
        })
    }
}

/// A comma-separated list, sorted and de-duplicated (the order does not change the export, so it
/// does not change the ETag either).
fn list(value: Option<&str>) -> Vec<String> {
    let mut items: Vec<String> = value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    items.sort();
    items.dedup();
    items
}

/// The response's validators.
struct Validators {
    etag: String,
    last_modified: Timestamp,
}

impl Validators {
    fn of(export: &ExportRequest, marker: CommitMarker, now: Timestamp) -> Self {
        let mut hash = Sha256::new();
        hash.update(env!("CARGO_PKG_VERSION"));
        hash.update(format!("{export:?}").as_bytes());
        hash.update(marker.generation.to_be_bytes());
        let digest = hash.finalize();
        let last_modified = marker
            .committed_at
            .map_or(export.selection.at, |c| c.max(export.selection.at))
            .min(now);
        Self {
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
            last_modified,
        }
    }

    /// Whether the request's conditions say the client has these bytes: `If-None-Match` when
    /// present (weak comparison, `*` matches), else `If-Modified-Since` (RFC 9110 §13.2.2).
    fn match_request(&self, headers: &HeaderMap) -> bool {
        if let Some(tags) = headers.get(IF_NONE_MATCH) {
            let tags = tags.to_str().unwrap_or("");
            return tags
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag);
        }
        headers
            .get(IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .is_some_and(|since| self.last_modified.timestamp() <= since.timestamp())
    }

    fn apply(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if let Ok(etag) = self.etag.parse() {
            headers.insert(ETAG, etag);
        }
        let date = self
            .last_modified
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        if let Ok(date) = date.parse() {
            headers.insert(LAST_MODIFIED, date);
        }
        response
    }
}

/// Starts the export on the blocking pool and answers with its output as it comes; waits for
/// the first chunk so that an export that fails at once is an error response, not a 200.
async fn stream(state: &Arc<AppState>, export: ExportRequest) -> Result<Body, ApiError> {
    let (tx, mut rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let store = state.engine.store().clone();
    let config = state.engine.verdict_config().clone();
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx,
            buffer: Vec::with_capacity(CHUNK),
        };
        let written = threatintel_export::export(
            &*store,
            &config,
            &export.selection,
            export.format,
            &export.options,
            &mut out,
        )
        .and_then(|_| out.flush().map_err(threatintel_export::ExportError::Output));
        match written {
            Ok(_) => {}
            Err(threatintel_export::ExportError::Output(e))
                if e.kind() == io::ErrorKind::BrokenPipe =>
            {
                tracing::debug!("export: the client went away");
            }
            Err(e) => {
                tracing::error!(error = %e, "export failed");
                let _ = out
                    .tx
                    .blocking_send(Err(io::Error::other("the export failed")));
            }
        }
    });
    let first = match rx.recv().await {
        Some(Err(_)) => return Err(ApiError::Internal),
        Some(Ok(chunk)) => Some(chunk),
        None => None,
    };
    Ok(Body::new(ChannelBody { first, rest: rx }))
}

/// The export's output, a chunk at a time, into the channel the response body reads.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// A response body fed by a [`ChannelWriter`]; an error ends the connection.
struct ChannelBody {
    first: Option<Bytes>,
    rest: mpsc::Receiver<io::Result<Bytes>>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        self.rest
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(Frame::data)))
    }
}
