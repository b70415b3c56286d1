//! The RPC handler: DescribeDomainReport, DescribeIpReport and DescribeFileReport at `/`. It reads the request within the RPC limits,
//! runs the pure layers (parameters, verifier, nonce and rate guards, call extraction), asks
//! the report engine and writes the answer. All protocol decisions live in the pure modules;
//! this one only moves bytes between them and HTTP.
//!
//! Nothing costly runs before authentication: the query and the body are bounded by
//! `server.max_rpc_bytes` (a few KB; a DescribeDomainReport call needs a few hundred bytes)
//! and hold at most [`crate::params::MAX_PARAMS`] parameters, decoded in linear time.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use threatintel_model::Timestamp;
use threatintel_report::{
    CompatFileReport, CompatIpReport, CompatReport, FileReportRequest, IpReportRequest,
    ReportRequest,
};

use crate::admission::{admit, blocking, bounded_query, headers_of, read_body};
use crate::auth::{Endpoint, SignedRequest};
use crate::error::{new_request_id, ApiError, ResponseFormat};
use crate::params::{decode_component, Params};
use crate::rpc::{
    response_format, DescribeDomainReportCall, DescribeFileReportCall, DescribeIpReportCall,
    RpcCall,
};
use crate::signature::{detect_scheme, header};
use crate::{rpc, xml, AppState};

/// The format to answer an error in before the parameters are decoded: a lenient look at the
/// raw query's `Format`; JSON when even that fails.
fn early_format(authorization: Option<&str>, query: &str) -> ResponseFormat {
    let scheme = detect_scheme(authorization, &Params::default());
    let format = query
        .split('&')
        .find_map(|p| p.strip_prefix("Format="))
        .and_then(|raw| decode_component(raw.as_bytes()).ok());
    response_format(scheme, format.as_deref()).unwrap_or(ResponseFormat::Json)
}

/// `/`: DescribeDomainReport, DescribeIpReport and DescribeFileReport.
pub async fn describe_domain_report(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let id = new_request_id();
    let (parts, body) = request.into_parts();
    let (response, code) = match answer(&state, &parts, body, &id).await {
        Ok(response) => (response, "OK"),
        Err((error, format)) => {
            if error == ApiError::Internal {
                tracing::error!(request_id = %id, "internal error answering an RPC call");
            }
            (
                error
                    .render(format, &id, &state.config.host_id)
                    .into_response(),
                error.code(),
            )
        }
    };
    // One line per request: answered requests at debug (an access log costs a third of the
    // throughput), refused ones at info; internal errors were logged with their cause.
    if code == "OK" {
        tracing::debug!(request_id = %id, route = "rpc", code, micros = started.elapsed().as_micros() as u64);
    } else {
        tracing::info!(request_id = %id, route = "rpc", code, micros = started.elapsed().as_micros() as u64);
    }
    state.metrics.record("rpc", code, started.elapsed());
    response
}

async fn answer(
    state: &AppState,
    parts: &Parts,
    body: Body,
    id: &str,
) -> Result<Response, (ApiError, ResponseFormat)> {
    let headers = headers_of(parts);
    let authorization = header(&headers, "authorization");
    // Decided only when an error needs it (an answered request never does).
    let fail = |e: ApiError| {
        (
            e,
            early_format(authorization, parts.uri.query().unwrap_or("")),
        )
    };
    rpc::check_method(parts.method.as_str()).map_err(fail)?;
    let query = bounded_query(state, parts).map_err(fail)?;
    let body: Bytes = read_body(state, &parts.headers, body, state.config.max_rpc_bytes)
        .await
        .map_err(fail)?;
    let params =
        Params::from_request(query, header(&headers, "content-type"), &body).map_err(fail)?;
    let format = response_format(detect_scheme(authorization, &params), params.get("Format"))
        .map_err(|e| (e, ResponseFormat::Json))?;
    let fail = |e: ApiError| (e, format);

    // The time the request is verified at is the time its report is made at.
    let now = Utc::now();
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        params: &params,
        headers: &headers,
        body: &body,
        now,
    };
    let identity = state
        .auth
        .authenticate(&signed, Endpoint::Rpc)
        .map_err(fail)?;
    admit(state, &identity).map_err(fail)?;
    let call =
        rpc::extract_rpc_call(parts.method.as_str(), &params, &headers, &identity).map_err(fail)?;
    let body = match call {
        RpcCall::Domain(call) => domain_report(state, call, format, id, now).await,
        RpcCall::Ip(call) => ip_report(state, call, format, id, now).await,
        RpcCall::File(call) => file_report(state, call, format, id, now).await,
    }
    .map_err(fail)?;
    let content_type = HeaderValue::from_static(format.content_type());
    Ok(([(CONTENT_TYPE, content_type)], body).into_response())
}

/// The body of a DescribeDomainReport answer.
async fn domain_report(
    state: &AppState,
    call: DescribeDomainReportCall,
    format: ResponseFormat,
    id: &str,
    at: Timestamp,
) -> Result<String, ApiError> {
    crate::enrichment::before_report(state, &call.domain).await;
    let engine = state.engine.clone();
    let request = ReportRequest {
        query: call.domain,
        fields: call.fields,
        at,
        with_lists: false,
        heuristics: true,
    };
    // A name the store surely knows nothing of is answered here, without a reader: for a
    // store whose calls go to the blocking pool (PostgreSQL), without a turn, a pooled
    // connection and a thread of the pool. (A SQLite report runs here anyway; asking would
    // cost it a public-suffix lookup.)
    let told = if engine.store().runs_own_runtime() {
        engine.report_without_store(&request)
    } else {
        None
    };
    let report = match told {
        Some(report) => report,
        None => blocking(state, move || engine.report(&request))
            .await?
            .map_err(|e| internal(id, e))?,
    };
    let (lang, offset) = (call.lang, state.engine.offset());
    Ok(match format {
        ResponseFormat::Json => CompatReport::to_json(&report, lang, offset, id.to_owned()),
        ResponseFormat::Xml => {
            let compat = CompatReport::render(&report, lang, offset, id.to_owned());
            xml::render_fields(xml::DESCRIBE_DOMAIN_REPORT_ROOT, &compat.fields())
        }
    })
}

/// The body of a DescribeIpReport answer.
async fn ip_report(
    state: &AppState,
    call: DescribeIpReportCall,
    format: ResponseFormat,
    id: &str,
    at: Timestamp,
) -> Result<String, ApiError> {
    let engine = state.engine.clone();
    let request = IpReportRequest {
        ip: call.ip,
        fields: call.fields,
        at,
        with_lists: false,
    };
    let report = blocking(state, move || engine.ip_report(&request))
        .await?
        .map_err(|e| internal(id, e))?;
    let (lang, offset) = (call.lang, state.engine.offset());
    Ok(match format {
        ResponseFormat::Json => CompatIpReport::to_json(&report, lang, offset, id.to_owned()),
        ResponseFormat::Xml => {
            let compat = CompatIpReport::render(&report, lang, offset, id.to_owned());
            xml::render_fields(xml::DESCRIBE_IP_REPORT_ROOT, &compat.fields())
        }
    })
}

/// The body of a DescribeFileReport answer.
async fn file_report(
    state: &AppState,
    call: DescribeFileReportCall,
    format: ResponseFormat,
    id: &str,
    at: Timestamp,
) -> Result<String, ApiError> {
    let engine = state.engine.clone();
    let request = FileReportRequest {
        hash: call.hash,
        fields: call.fields,
        at,
    };
    let report = blocking(state, move || engine.file_report(&request))
        .await?
        .map_err(|e| internal(id, e))?;
    let (lang, offset) = (call.lang, state.engine.offset());
    Ok(match format {
        ResponseFormat::Json => CompatFileReport::to_json(&report, lang, offset, id.to_owned()),
        ResponseFormat::Xml => {
            let compat = CompatFileReport::render(&report, lang, offset, id.to_owned());
            xml::render_fields(xml::DESCRIBE_FILE_REPORT_ROOT, &compat.fields())
        }
    })
}

/// A report that failed: logged with its cause, answered without it.
fn internal(id: &str, error: threatintel_report::ReportError) -> ApiError {
    tracing::error!(request_id = %id, error = %error, "report failed");
    ApiError::Internal
}
