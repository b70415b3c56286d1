//! `/`: DescribeDomainReport in Alibaba Cloud's RPC style.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use threatintel_model::DomainQuery;
use threatintel_report::{CompatReport, FieldSet, Lang, ReportRequest};

use crate::auth::{Identity, SignedRequest};
use crate::error::{ApiError, Format, JSON_CONTENT_TYPE, XML_CONTENT_TYPE};
use crate::params::Params;
use crate::{request_id, xml, AppState};

const ACTION: &str = "DescribeDomainReport";
const VERSION: &str = "2020-05-12";

pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let id = request_id();
    let (parts, body) = request.into_parts();
    let (response, code) = match answer(&state, &parts, body, &id).await {
        Ok(response) => (response, "OK"),
        Err((error, format)) => {
            if error == ApiError::Internal {
                tracing::error!(request_id = %id, "internal error answering DescribeDomainReport");
            }
            (
                error.render(format, &id, &state.config.host_id),
                error.code(),
            )
        }
    };
    tracing::info!(request_id = %id, route = "rpc", code, micros = started.elapsed().as_micros() as u64);
    state.metrics.record("rpc", code, started.elapsed());
    response
}

/// The response format the request asks for, as far as it can be told before parsing:
/// V3 → JSON; V1 → the `Format` parameter, XML when absent (the POP default).
fn requested_format(parts: &Parts, params: Option<&Params>) -> Result<Format, ApiError> {
    let v3 = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("ACS3-"));
    if v3 {
        return Ok(Format::Json);
    }
    let format = match params {
        Some(params) => params.get("Format").map(str::to_owned),
        // Before the parameters parse, a lenient look at the raw query.
        None => parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|p| p.strip_prefix("Format=").map(str::to_owned)),
    };
    match format.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("xml") => Ok(Format::Xml),
        // The legacy SDK's `get_response()` sends the literal `None`: answered leniently.
        Some("json") | Some("none") => Ok(Format::Json),
        Some(_) => Err(ApiError::InvalidFormat),
    }
}

async fn answer(
    state: &AppState,
    parts: &Parts,
    body: Body,
    id: &str,
) -> Result<Response, (ApiError, Format)> {
    let early = requested_format(parts, None).unwrap_or(Format::Json);
    let fail = |e: ApiError| (e, early);
    if parts.method != Method::GET && parts.method != Method::POST {
        return Err(fail(ApiError::UnsupportedHttpMethod));
    }
    let limit = state.config.max_body_bytes;
    let body: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| fail(ApiError::BodyTooLarge { limit }))?;
    let is_form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let params = Params::parse(
        parts.uri.query().unwrap_or(""),
        (is_form && !body.is_empty()).then_some(&body[..]),
    )
    .map_err(fail)?;
    let format = requested_format(parts, Some(&params)).map_err(fail)?;
    let fail = |e: ApiError| (e, format);
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let v3 =
        format == Format::Json && header("authorization").is_some_and(|a| a.starts_with("ACS3-"));
    let (action, version) = if v3 {
        (header("x-acs-action"), header("x-acs-version"))
    } else {
        (params.get("Action"), params.get("Version"))
    };
    match action {
        None | Some("") => return Err(fail(ApiError::MissingParameter("Action".into()))),
        Some(ACTION) => {}
        Some(_) => return Err(fail(ApiError::ActionNotFound)),
    }
    if version != Some(VERSION) {
        return Err(fail(ApiError::InvalidVersion));
    }

    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        params: &params,
        headers: &headers,
        body: &body,
        now: Utc::now(),
    };
    let (identity, nonce) = state.auth.authenticate(&signed, false).map_err(fail)?;
    admit(state, &identity, nonce.as_deref()).map_err(fail)?;

    let domain = params
        .get("Domain")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| fail(ApiError::MissingParameter("Domain".into())))?;
    let query = DomainQuery::parse(domain)
        .map_err(|e| fail(ApiError::InvalidParameter(format!("Domain: {e}"))))?;
    let fields = FieldSet::parse(params.get("Field").unwrap_or(""))
        .map_err(|e| fail(ApiError::InvalidParameter(format!("Field: {e}"))))?;
    let lang = match params.get("ServiceLang").unwrap_or("") {
        "" | "zh" => Lang::Zh,
        "en" => Lang::En,
        other => {
            return Err(fail(ApiError::InvalidParameter(format!(
                "ServiceLang: {other:?} is not zh or en"
            ))))
        }
    };
    let report = state
        .engine
        .report(&ReportRequest {
            query,
            fields,
            at: Utc::now(),
            with_lists: false,
        })
        .map_err(|e| {
            tracing::error!(request_id = %id, error = %e, "report failed");
            fail(ApiError::Internal)
        })?;
    let compat = CompatReport::render(&report, lang, state.engine.offset(), id.to_owned());
    Ok(match format {
        Format::Json => {
            let body = serde_json::to_string(&compat).map_err(|_| fail(ApiError::Internal))?;
            ([(CONTENT_TYPE, JSON_CONTENT_TYPE)], body).into_response()
        }
        Format::Xml => {
            let fields = compat_fields(&compat);
            (
                [(CONTENT_TYPE, XML_CONTENT_TYPE)],
                xml::response("DescribeDomainReportResponse", &fields),
            )
                .into_response()
        }
    })
}

/// Rate limit first (a throttled request keeps its nonce for the retry), then the nonce.
pub(crate) fn admit(
    state: &AppState,
    identity: &Identity,
    nonce: Option<&str>,
) -> Result<(), ApiError> {
    let now = Instant::now();
    state
        .limiter
        .admit(&identity.access_key_id, identity.rate_per_sec, now)?;
    if let Some(nonce) = nonce {
        state
            .nonces
            .check_and_remember(&identity.access_key_id, nonce, now)?;
    }
    Ok(())
}

/// The report's fields in the reference's XML order.
fn compat_fields(r: &CompatReport) -> Vec<(&'static str, &str)> {
    vec![
        ("Context", &r.context),
        ("Basic", &r.basic),
        ("RequestId", &r.request_id),
        ("SslCert", &r.ssl_cert),
        ("ThreatTypes", &r.threat_types),
        ("Intelligences", &r.intelligences),
        ("Scenario", &r.scenario),
        ("Whois", &r.whois),
        ("AttackCntByThreatType", &r.attack_cnt_by_threat_type),
        ("ThreatLevel", &r.threat_level),
        ("Confidence", &r.confidence),
        ("Domain", &r.domain),
        ("AttackPreferenceTop5", &r.attack_preference_top5),
        ("Group", &r.group),
    ]
}
