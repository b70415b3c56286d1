//! The native API: typed reports with their explanation, batches, health, metrics and the
//! OpenAPI document. Same access keys as the RPC endpoint (signed, or a bearer token).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use threatintel_model::{DomainQuery, Timestamp};
use threatintel_report::{
    FieldSet, FileReportRequest, IpReportRequest, NativeFileReport, NativeIpReport, NativeReport,
    ReportError, ReportRequest, MAX_CHILDREN_JUDGED,
};

use crate::admission::{admit, blocking, bounded_query, headers_of, read_body};
use crate::auth::{Endpoint, SignedRequest};
use crate::error::{new_request_id as request_id, ApiError, ResponseFormat, JSON_CONTENT_TYPE};
use crate::params::Params;
use crate::AppState;

pub(crate) fn json_response(value: &impl serde::Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => ([(CONTENT_TYPE, JSON_CONTENT_TYPE)], body).into_response(),
        Err(_) => ApiError::Internal
            .render(ResponseFormat::Json, "", "threatintel")
            .into_response(),
    }
}

/// Authenticates and admits a native request; returns its parameters. The query is bounded as
/// the RPC endpoint's is (`server.max_rpc_bytes`).
pub(crate) async fn authorise(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
) -> Result<Params, ApiError> {
    let params = Params::parse(bounded_query(state, parts)?, None)?;
    let headers = headers_of(parts);
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        params: &params,
        headers: &headers,
        body,
        now: Utc::now(),
    };
    let identity = state.auth.authenticate(&signed, Endpoint::Native)?;
    admit(state, &identity)?;
    Ok(params)
}

fn fields_of(value: Option<&str>) -> Result<FieldSet, ApiError> {
    match value {
        None => Ok(FieldSet::ALL),
        Some(list) => FieldSet::parse(list).map_err(|e| ApiError::invalid("fields", e.to_string())),
    }
}

/// `heuristics=false` asks for the verdict without the heuristic judge; default `true`.
fn heuristics_of(value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::invalid(
            "heuristics",
            format!("{other:?} is neither \"true\" nor \"false\""),
        )),
    }
}

fn time_of(value: Option<&str>) -> Result<Timestamp, ApiError> {
    match value {
        None | Some("") => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| ApiError::invalid("at", format!("{text:?} is not an RFC 3339 time"))),
    }
}

/// The domain of a native request (from the path, or a batch entry) as a query.
pub(crate) fn query_of(domain: Result<String, String>) -> Result<DomainQuery, ApiError> {
    let domain = domain.map_err(|reason| ApiError::invalid("domain", reason))?;
    DomainQuery::parse(&domain).map_err(|e| ApiError::invalid("domain", e.to_string()))
}

/// One native report; it judges at most `children_budget` names below the queried one and
/// takes what it judged from the budget (a batch shares one).
fn one_report(
    state: &AppState,
    query: DomainQuery,
    fields: FieldSet,
    at: Timestamp,
    heuristics: bool,
    children_budget: &mut usize,
) -> Result<NativeReport, ApiError> {
    let request = ReportRequest {
        query,
        fields,
        at,
        with_lists: true,
        heuristics,
    };
    reported(state.engine.report_within(&request, children_budget))
}

pub(crate) fn finish(
    state: &AppState,
    route: &'static str,
    started: Instant,
    id: &str,
    result: Result<Response, ApiError>,
) -> Response {
    let (response, code) = match result {
        Ok(r) => (r, "OK"),
        Err(e) => (
            e.render(ResponseFormat::Json, id, &state.config.host_id)
                .into_response(),
            e.code(),
        ),
    };
    // One line per request: answered requests at debug (an access log costs a third of the
    // throughput), refused ones at info; internal errors were logged with their cause.
    if code == "OK" {
        tracing::debug!(request_id = %id, route, code, micros = started.elapsed().as_micros() as u64);
    } else {
        tracing::info!(request_id = %id, route, code, micros = started.elapsed().as_micros() as u64);
    }
    state.metrics.record(route, code, started.elapsed());
    response
}

/// A signed (or bearer) GET of the native API: authorises, runs `answer`, records the outcome.
async fn get_json(
    state: Arc<AppState>,
    route: &'static str,
    request: Request,
    enrich: Option<DomainQuery>,
    answer: impl FnOnce(&AppState, &Params) -> Result<Value, ApiError> + Send + 'static,
) -> Response {
    let started = Instant::now();
    let id = request_id();
    let (parts, _) = request.into_parts();
    let result = async {
        let params = authorise(&state, &parts, b"").await?;
        if let Some(query) = &enrich {
            crate::enrichment::before_report(&state, query).await;
        }
        let worker = state.clone();
        let mut body = blocking(&state, move || answer(&worker, &params)).await??;
        body["request_id"] = Value::String(id.clone());
        Ok(json_response(&body))
    }
    .await;
    finish(&state, route, started, &id, result)
}

/// `GET /api/v1/domains/{domain}/report?fields=...&at=...`
pub async fn report(
    State(state): State<Arc<AppState>>,
    domain: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let query = query_of(domain.map(|Path(d)| d).map_err(|e| e.body_text()));
    let enrich = query.as_ref().ok().cloned();
    get_json(
        state,
        "native_report",
        request,
        enrich,
        move |state, params| {
            let fields = fields_of(params.get("fields"))?;
            let at = time_of(params.get("at"))?;
            let heuristics = heuristics_of(params.get("heuristics"))?;
            let report = one_report(
                state,
                query?,
                fields,
                at,
                heuristics,
                &mut MAX_CHILDREN_JUDGED.clone(),
            )?;
            let enrichment = crate::enrichment::section(state, &report.domain);
            Ok(json!({ "report": report, "enrichment": enrichment }))
        },
    )
    .await
}

/// `GET /api/v1/domains/{domain}/history`: every WHOIS/RDAP record of the registrable domain
/// and every certificate seen for the name, newest first.
pub async fn history(
    State(state): State<Arc<AppState>>,
    domain: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let query = query_of(domain.map(|Path(d)| d).map_err(|e| e.body_text()));
    get_json(state, "native_history", request, None, move |state, _| {
        let query = query?;
        let name = query.name();
        let registrable = name.registrable().unwrap_or_else(|| name.clone());
        let internal = |e: threatintel_store::StoreError| {
            tracing::error!(error = %e, "history failed");
            ApiError::Internal
        };
        let reader = state.engine.store().reader().map_err(internal)?;
        Ok(json!({
            "domain": name,
            "sld_domain": registrable,
            "whois": reader.whois_history(&registrable).map_err(internal)?,
            "certificates": reader.certificates(name).map_err(internal)?,
        }))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    domains: Vec<String>,
    #[serde(default)]
    fields: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    heuristics: Option<bool>,
}

/// A batch's entries: the request's list under `key` and how many it holds.
trait Batch: serde::de::DeserializeOwned + Send + 'static {
    const KEY: &'static str;
    fn len(&self) -> usize;
}

impl Batch for BatchRequest {
    const KEY: &'static str = "domains";
    fn len(&self) -> usize {
        self.domains.len()
    }
}

/// A batch POST: reads and authorises the body, checks the batch size, and answers with
/// `results` from `answer`, run on the blocking pool.
async fn batch_json<B: Batch>(
    state: Arc<AppState>,
    route: &'static str,
    request: Request,
    answer: impl FnOnce(&AppState, B) -> Result<Vec<Value>, ApiError> + Send + 'static,
) -> Response {
    let started = Instant::now();
    let id = request_id();
    let (parts, body) = request.into_parts();
    let result = async {
        let body: Bytes =
            read_body(&state, &parts.headers, body, state.config.max_body_bytes).await?;
        authorise(&state, &parts, &body).await?;
        let batch: B =
            serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
        if batch.len() > state.config.max_batch {
            return Err(ApiError::invalid(
                B::KEY,
                format!(
                    "a batch holds at most {} entries, this one {}",
                    state.config.max_batch,
                    batch.len()
                ),
            ));
        }
        let worker = state.clone();
        let results = tokio::task::spawn_blocking(move || answer(&worker, batch))
            .await
            .map_err(|_| ApiError::Internal)??;
        Ok(json_response(
            &json!({ "request_id": id, "results": results }),
        ))
    }
    .await;
    finish(&state, route, started, &id, result)
}

/// A batch entry's error.
fn entry_error(e: &ApiError) -> Value {
    json!({ "code": e.code(), "message": e.to_string() })
}

/// `POST /api/v1/domains/report` with `{"domains": [...], "fields": "...", "at": "...",
/// "heuristics": false}`.
pub async fn batch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    batch_json(
        state,
        "native_batch",
        request,
        |state, batch: BatchRequest| {
            let fields = fields_of(batch.fields.as_deref())?;
            let at = time_of(batch.at.as_deref())?;
            let heuristics = batch.heuristics.unwrap_or(true);
            // The whole batch judges at most as many child names as one report may.
            let mut children_budget = MAX_CHILDREN_JUDGED;
            Ok(batch
                .domains
                .iter()
                .map(|domain| {
                    match query_of(Ok(domain.clone())).and_then(|q| {
                        one_report(state, q, fields, at, heuristics, &mut children_budget)
                    }) {
                        Ok(report) => json!({ "domain": domain, "report": report }),
                        Err(e) => json!({ "domain": domain, "error": entry_error(&e) }),
                    }
                })
                .collect())
        },
    )
    .await
}

/// A report's failure, logged with its cause and answered without it.
fn reported<T>(report: Result<T, ReportError>) -> Result<T, ApiError> {
    report.map_err(|e| {
        tracing::error!(error = %e, "report failed");
        ApiError::Internal
    })
}

/// The address of a native request (from the path, or a batch entry).
fn ip_of(ip: Result<String, String>) -> Result<IpAddr, ApiError> {
    crate::rpc::parse_ip(Some(&ip.map_err(|reason| ApiError::invalid("Ip", reason))?))
}

fn one_ip_report(
    state: &AppState,
    ip: &str,
    fields: FieldSet,
    at: Timestamp,
) -> Result<NativeIpReport, ApiError> {
    let ip = ip_of(Ok(ip.to_owned()))?;
    reported(state.engine.ip_report(&IpReportRequest {
        ip,
        fields,
        at,
        with_lists: true,
    }))
}

/// The report on a file by the hash of a native request (from the path, or a batch entry).
fn one_file_report(
    state: &AppState,
    hash: &str,
    fields: FieldSet,
    at: Timestamp,
) -> Result<NativeFileReport, ApiError> {
    let hash = crate::rpc::parse_file_hash(Some(hash))?;
    reported(
        state
            .engine
            .file_report(&FileReportRequest { hash, fields, at }),
    )
}

/// A report on one subject of the path (an address, a file hash): `GET .../{subject}/report`
/// with `fields` and `at`.
async fn subject_report<R: serde::Serialize + 'static>(
    state: Arc<AppState>,
    route: &'static str,
    name: &'static str,
    subject: Result<Path<String>, PathRejection>,
    request: Request,
    report: fn(&AppState, &str, FieldSet, Timestamp) -> Result<R, ApiError>,
) -> Response {
    let subject = subject
        .map(|Path(s)| s)
        .map_err(|e| ApiError::invalid(name, e.body_text()));
    get_json(state, route, request, None, move |state, params| {
        let fields = fields_of(params.get("fields"))?;
        let at = time_of(params.get("at"))?;
        let report = report(state, &subject?, fields, at)?;
        Ok(json!({ "report": report }))
    })
    .await
}

/// `GET /api/v1/ips/{ip}/report?fields=...&at=...`
pub async fn ip_report(
    State(state): State<Arc<AppState>>,
    ip: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    subject_report(state, "native_ip_report", "Ip", ip, request, one_ip_report).await
}

/// `GET /api/v1/files/{hash}/report?fields=...&at=...`
pub async fn file_report(
    State(state): State<Arc<AppState>>,
    hash: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    subject_report(
        state,
        "native_file_report",
        "FileHash",
        hash,
        request,
        one_file_report,
    )
    .await
}

/// A batch of subjects of one kind under its own key, with `fields` and `at`.
trait SubjectBatch: Batch {
    fn into_parts(self) -> (Vec<String>, Option<String>, Option<String>);
}

/// A batch request type whose subjects are under `$key`.
macro_rules! subject_batch_request {
    ($name:ident, $key:ident) => {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            $key: Vec<String>,
            #[serde(default)]
            fields: Option<String>,
            #[serde(default)]
            at: Option<String>,
        }

        impl Batch for $name {
            const KEY: &'static str = stringify!($key);
            fn len(&self) -> usize {
                self.$key.len()
            }
        }

        impl SubjectBatch for $name {
            fn into_parts(self) -> (Vec<String>, Option<String>, Option<String>) {
                (self.$key, self.fields, self.at)
            }
        }
    };
}

subject_batch_request!(IpBatchRequest, ips);
subject_batch_request!(FileBatchRequest, hashes);

/// One result per subject of a batch, in order: `{key: subject, "report": ...}` or
/// `{key: subject, "error": ...}`.
async fn subject_batch<B: SubjectBatch, R: serde::Serialize + 'static>(
    state: Arc<AppState>,
    route: &'static str,
    entry_key: &'static str,
    request: Request,
    report: fn(&AppState, &str, FieldSet, Timestamp) -> Result<R, ApiError>,
) -> Response {
    batch_json(state, route, request, move |state, batch: B| {
        let (subjects, fields, at) = batch.into_parts();
        let fields = fields_of(fields.as_deref())?;
        let at = time_of(at.as_deref())?;
        Ok(subjects
            .iter()
            .map(|subject| {
                let mut entry = serde_json::Map::new();
                entry.insert(entry_key.to_owned(), json!(subject));
                match report(state, subject, fields, at) {
                    Ok(report) => entry.insert("report".to_owned(), json!(report)),
                    Err(e) => entry.insert("error".to_owned(), entry_error(&e)),
                };
                Value::Object(entry)
            })
            .collect())
    })
    .await
}

/// `POST /api/v1/ips/report` with `{"ips": [...], "fields": "...", "at": "..."}`.
pub async fn ip_batch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    subject_batch::<IpBatchRequest, _>(state, "native_ip_batch", "ip", request, one_ip_report).await
}

/// `POST /api/v1/files/report` with `{"hashes": [...], "fields": "...", "at": "..."}`.
pub async fn file_batch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    subject_batch::<FileBatchRequest, _>(
        state,
        "native_file_batch",
        "hash",
        request,
        one_file_report,
    )
    .await
}

/// `/healthz`: 200 when the store answers a read of one key, 503 otherwise. Cheap whatever the
/// store's size: probes call it every few seconds.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let store = state.engine.store().clone();
    let checked = blocking(&state, move || {
        store
            .reader()
            .and_then(|r| r.is_empty())
            .map_err(|e| e.to_string())
    })
    .await;
    match checked.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(_) => json_response(&json!({ "status": "ok" })),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unavailable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                json_response(&json!({ "status": "store unavailable" })),
            )
                .into_response()
        }
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        match &state.enricher {
            Some(enricher) => state.metrics.render() + &enricher.render_metrics(),
            None => state.metrics.render(),
        },
    )
        .into_response()
}

pub async fn openapi() -> Response {
    json_response(&openapi_document())
}

/// The OpenAPI 3 description of the native API.
pub fn openapi_document() -> Value {
    let error = error_schema();
    let auth = authenticated();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "threatintel native API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Typed domain, address and file reports with the explanation of their verdict. The Alibaba Cloud-compatible DescribeDomainReport, DescribeIpReport and DescribeFileReport are served at / (RPC style)."
        },
        "paths": {
            "/api/v1/domains/{domain}/report": single_report_path(
                "The report on one name or wildcard zone",
                json!({ "name": "domain", "in": "path", "required": true, "schema": { "type": "string" }, "example": "example.com" }),
                "Invalid input",
                "ReportResponse",
                true,
            ),
            "/api/v1/domains/{domain}/refresh": {
                "post": {
                    "summary": "Looks the name up now (RDAP or WHOIS, DNS, TLS) and stores what was found",
                    "security": auth,
                    "parameters": [
                        { "name": "domain", "in": "path", "required": true, "schema": { "type": "string" }, "example": "example.com" },
                        { "name": "kinds", "in": "query", "schema": { "type": "string" }, "description": "Comma-separated: rdap, whois, dns, tls; default all." }
                    ],
                    "responses": {
                        "200": { "description": "What each lookup did: kind, name, at, server, outcome (stored, in_store, not_found, rate_limited, refused, timeout, failed), error, records, latency_ms, next_due", "content": { "application/json": { "schema": { "type": "object" } } } },
                        "400": { "description": "Invalid input", "content": { "application/json": { "schema": error } } },
                        "503": { "description": "Enrichment is not running", "content": { "application/json": { "schema": error } } }
                    }
                }
            },
            "/api/v1/domains/report": batch_report_path(
                "Reports on up to 1,000 names",
                "domains",
                "One result per name, in order",
                true,
            ),
            "/api/v1/ips/{ip}/report": single_report_path(
                "The report on one IPv4 or IPv6 address",
                json!({ "name": "ip", "in": "path", "required": true, "schema": { "type": "string" }, "example": "203.0.113.7" }),
                "Invalid input (not one address: a network, a partial address)",
                "IpReportResponse",
                false,
            ),
            "/api/v1/ips/report": batch_report_path(
                "Reports on up to 1,000 addresses",
                "ips",
                "One result per address, in order: ip and report, or ip and error",
                false,
            ),
            "/api/v1/files/{hash}/report": single_report_path(
                "The report on one file, asked by its MD5, SHA-1 or SHA-256 (any hash a source linked to the file answers for it)",
                json!({ "name": "hash", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^([0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$" }, "example": "44d88612fea8a8f36de82e1278abb02f" }),
                "Invalid input (a hash of the wrong length, or with a character that is not hex)",
                "FileReportResponse",
                false,
            ),
            "/api/v1/files/report": batch_report_path(
                "Reports on up to 1,000 files",
                "hashes",
                "One result per hash, in order: hash and report, or hash and error",
                false,
            ),
            "/api/v1/domains/{domain}/history": {
                "get": {
                    "summary": "WHOIS/RDAP history of the registrable domain and certificates seen for the name, newest first",
                    "security": auth,
                    "parameters": [{ "name": "domain", "in": "path", "required": true, "schema": { "type": "string" } }],
                    "responses": {
                        "200": { "description": "The history", "content": { "application/json": { "schema": { "type": "object" } } } },
                        "400": { "description": "Invalid input", "content": { "application/json": { "schema": error } } }
                    }
                }
            },
            "/api/v1/export/{format}": {
                "get": {
                    "summary": "The verdicts as a blocklist, IDS dataset or feed: the bytes of `threatintel export`, streamed",
                    "description": "ETag and Last-Modified validators (If-None-Match, If-Modified-Since: 304). Without `at`, the export time is now rounded down to server.export_time_step_secs. With server.public_exports, requests without Authorization from server.public_export_networks need no credentials.",
                    "security": [{ "bearer": [] }, { "acs3": [] }, {}],
                    "parameters": [
                        { "name": "format", "in": "path", "required": true, "schema": { "type": "string", "enum": ["rpz", "hosts", "adblock", "adguard", "dnsmasq", "unbound", "suricata", "csv", "stix", "misp"] } },
                        { "name": "min_level", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 3, "default": 2 } },
                        { "name": "min_confidence", "in": "query", "schema": { "type": "integer", "minimum": 0, "maximum": 100, "default": 0 } },
                        { "name": "threat_type", "in": "query", "schema": { "type": "string" }, "description": "Comma-separated threat types; default all." },
                        { "name": "source", "in": "query", "schema": { "type": "string" }, "description": "Comma-separated sources; default all." },
                        { "name": "at", "in": "query", "schema": { "type": "string" }, "description": "Verdicts as of this time: RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC), a date or Unix seconds, as the CLI's --at." },
                        { "name": "action", "in": "query", "schema": { "type": "string", "default": "nxdomain" }, "description": "RPZ action: nxdomain, nodata, drop or a walled-garden host name." },
                        { "name": "pass_allowlisted", "in": "query", "schema": { "type": "boolean", "default": false } },
                        { "name": "If-None-Match", "in": "header", "schema": { "type": "string" } },
                        { "name": "If-Modified-Since", "in": "header", "schema": { "type": "string" } }
                    ],
                    "responses": {
                        "200": { "description": "The export (rpz, hosts, adblock, dnsmasq, unbound, suricata: text/plain; csv: text/csv; stix: a STIX 2.1 bundle; misp: the feed's event, application/json)", "content": {
                            "text/plain": { "schema": { "type": "string" } },
                            "text/csv": { "schema": { "type": "string" } },
                            "application/json": { "schema": { "type": "object" } }
                        } },
                        "304": { "description": "Not modified since the ETag or date the request names" },
                        "400": { "description": "Unknown format or invalid parameter", "content": { "application/json": { "schema": error } } }
                    }
                }
            },
            "/api/v1/export/{format}/{file}": {
                "get": {
                    "summary": "What is served beside an export: a MISP feed's manifest.json and <uuid>.json, the Suricata rule that loads the dataset",
                    "description": "misp/manifest.json names the feed's one event (at `at`, or now rounded down to server.export_time_step_secs); misp/<uuid>.json is that event, the bytes of /api/v1/export/misp (the event of the previous step is still served, for a manifest read as a step ended). A MISP feed's URL is http://HOST/api/v1/export/misp (MISP appends the file names; its custom headers carry Authorization). suricata/rules is the rule that loads the dataset (save the dataset as threatintel-domains.lst). Parameters, validators and authentication as /api/v1/export/{format}.",
                    "security": [{ "bearer": [] }, { "acs3": [] }, {}],
                    "parameters": [
                        { "name": "format", "in": "path", "required": true, "schema": { "type": "string", "enum": ["misp", "suricata"] } },
                        { "name": "file", "in": "path", "required": true, "schema": { "type": "string" }, "description": "misp: manifest.json or <uuid>.json; suricata: rules." },
                        { "name": "at", "in": "query", "schema": { "type": "string" }, "description": "As for /api/v1/export/{format}." }
                    ],
                    "responses": {
                        "200": { "description": "The manifest or event (application/json), or the rule (text/plain)", "content": {
                            "text/plain": { "schema": { "type": "string" } },
                            "application/json": { "schema": { "type": "object" } }
                        } },
                        "304": { "description": "Not modified since the ETag or date the request names" },
                        "400": { "description": "Unknown format or invalid parameter", "content": { "application/json": { "schema": error } } },
                        "404": { "description": "No such file (an event of another time)", "content": { "application/json": { "schema": error } } }
                    }
                }
            },
            "/healthz": { "get": { "summary": "Liveness and store reachability", "responses": { "200": { "description": "ok" }, "503": { "description": "store unavailable" } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "text exposition format" } } } }
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "<AccessKeyId>:<AccessKeySecret>" },
                "acs3": { "type": "apiKey", "in": "header", "name": "Authorization", "description": "ACS3-HMAC-SHA256 signature, as the Alibaba Cloud SDKs send it" }
            },
            "schemas": {
                "Error": { "type": "object", "properties": {
                    "RequestId": { "type": "string" }, "HostId": { "type": "string" }, "Code": { "type": "string" },
                    "Message": { "type": "string" }, "Recommend": { "type": "string" }
                } },
                "FileReportResponse": { "type": "object", "properties": {
                    "request_id": { "type": "string" },
                    "report": { "type": "object", "description": "NativeFileReport: hash (as asked), report_time, file (hashes: md5, sha1, sha256 as linked; file_type, size, file_names, first_seen, last_seen), verdict (level, confidence, scenarios, records with scores and decay state, support), threat_types, intelligences" }
                } },
                "IpReportResponse": { "type": "object", "properties": {
                    "request_id": { "type": "string" },
                    "report": { "type": "object", "description": "NativeIpReport: ip, report_time, verdict (level, confidence, scenarios, records with their network, relation (own or within_network), scores and decay state, allowlist_hits (allowlisted networks), allowlist_outcome, support), location (idc_name, isp, country, province, city, asn, asn_label), networks, registrations (range, name, organisation, country, abuse_email per registered network containing the address, most specific first), threat_types, intelligences, resolved_names (the names that resolved to the address: name, first_seen, last_seen, count)" }
                } },
                "ReportResponse": { "type": "object", "properties": {
                    "request_id": { "type": "string" },
                    "enrichment": { "type": "object", "description": "Live lookups about the name: mode, and fetches (the latest of each kind: kind, name, at, server, outcome, error, records, latency_ms, next_due)" },
                    "report": { "type": "object", "description": "NativeReport: query, domain, sld_domain, report_time, verdict (level, confidence, scenarios, records with scores and decay state, allowlist_hits, allowlist_outcome, support), basic, whois, certificate, threat_types, intelligences, attack_preference_top5, attack_count_by_stage, contributing_names, subdomains, resolutions" }
                } }
            }
        }
    })
}

/// The schema of an error answer.
fn error_schema() -> Value {
    json!({ "$ref": "#/components/schemas/Error" })
}

/// The schemes a request may authenticate with.
fn authenticated() -> Value {
    json!([{ "bearer": [] }, { "acs3": [] }])
}

/// The path item of a report on one subject, named by the path parameter `subject`: its
/// `fields` and `at`, and `heuristics` for a kind the heuristic judge decides.
fn single_report_path(
    summary: &str,
    subject: Value,
    invalid: &str,
    schema: &str,
    heuristics: bool,
) -> Value {
    let mut parameters = vec![
        subject,
        json!({ "name": "fields", "in": "query", "schema": { "type": "string" }, "description": "Comma-separated heavy fields; default all." }),
        json!({ "name": "at", "in": "query", "schema": { "type": "string", "format": "date-time" }, "description": "Report time; default now." }),
    ];
    if heuristics {
        parameters.push(json!({ "name": "heuristics", "in": "query", "schema": { "type": "boolean" }, "description": "false: the verdict without the heuristic judge; default true." }));
    }
    json!({
        "get": {
            "summary": summary,
            "security": authenticated(),
            "parameters": parameters,
            "responses": {
                "200": { "description": "The report", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } },
                "400": { "description": invalid, "content": { "application/json": { "schema": error_schema() } } },
                "404": { "description": "Unknown access key", "content": { "application/json": { "schema": error_schema() } } }
            }
        }
    })
}

/// The path item of a batch of up to 1,000 reports, the subjects in the body's member `subjects`.
fn batch_report_path(summary: &str, subjects: &str, results: &str, heuristics: bool) -> Value {
    let mut properties = json!({
        subjects: { "type": "array", "items": { "type": "string" }, "maxItems": 1000 },
        "fields": { "type": "string" },
        "at": { "type": "string", "format": "date-time" }
    });
    if heuristics {
        properties["heuristics"] = json!({ "type": "boolean" });
    }
    json!({
        "post": {
            "summary": summary,
            "security": authenticated(),
            "requestBody": { "required": true, "content": { "application/json": { "schema": {
                "type": "object", "required": [subjects], "additionalProperties": false,
                "properties": properties
            } } } },
            "responses": {
                "200": { "description": results, "content": { "application/json": { "schema": {
                    "type": "object",
                    "properties": { "request_id": { "type": "string" }, "results": { "type": "array", "items": { "type": "object" } } }
                } } } },
                "400": { "description": "Invalid batch", "content": { "application/json": { "schema": error_schema() } } }
            }
        }
    })
}

/// Any other path: a POP-shaped `InvalidAction.NotFound`.
pub async fn not_found(State(state): State<Arc<AppState>>) -> Response {
    let id = request_id();
    finish(
        &state,
        "other",
        Instant::now(),
        &id,
        Err(ApiError::ActionNotFound),
    )
}

/// A known path with a method it does not take: `UnsupportedHTTPMethod`.
pub async fn method_not_allowed(State(state): State<Arc<AppState>>) -> Response {
    let id = request_id();
    finish(
        &state,
        "other",
        Instant::now(),
        &id,
        Err(ApiError::UnsupportedHttpMethod),
    )
}
