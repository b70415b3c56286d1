//! The native API, health, metrics and the OpenAPI document.

use serde_json::{json, Value};

use crate::support::*;

fn report(domain: &str, query: &str, authorization: &str) -> Response {
    call(
        "GET",
        &server().url(&format!("/api/v1/domains/{domain}/report{query}")),
        &[("Authorization", authorization)],
        b"",
    )
}

fn batch(body: &[u8]) -> Response {
    call(
        "POST",
        &server().url("/api/v1/domains/report"),
        &[
            ("Authorization", &bearer()),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

#[test]
fn native_report_with_a_bearer_token() {
    let r = report(MALICIOUS, "", &bearer());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let v = r.json();
    assert_request_id(v["request_id"].as_str().unwrap());
    let native = &v["report"];
    assert_eq!(native["domain"], MALICIOUS);
    assert_eq!(native["verdict"]["level"].as_str(), Some("high"));
    assert!(native["verdict"]["confidence"].as_u64().unwrap() >= 90);
    // The explanation: each record with its score.
    let records = native["verdict"]["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{native}");
    // Typed: real numbers and lists, not strings.
    assert!(native["basic"]["ip_cnt"].is_number());
    assert!(native["threat_types"].is_array());

    let allowed = report(ALLOWLISTED, "?fields=ThreatTypes", &bearer()).json();
    assert_eq!(allowed["report"]["verdict"]["level"].as_str(), Some("safe"));
    let at = report(MALICIOUS, "?at=2000-01-01T00:00:00Z", &bearer()).json();
    assert_eq!(
        at["report"]["verdict"]["level"].as_str(),
        Some("unknown"),
        "{at}"
    );
}

#[test]
fn native_report_errors() {
    assert_error(
        &report(MALICIOUS, "", &format!("Bearer {KEY}:wrong")),
        404,
        "InvalidAccessKeyId.NotFound",
    );
    assert_error(
        &report(MALICIOUS, "", &format!("Bearer {INACTIVE}:{SECRET}")),
        400,
        "InvalidAccessKeyId.Inactive",
    );
    assert_error(
        &report(MALICIOUS, "", "Bearer no-colon"),
        400,
        "InvalidParameter",
    );
    let r = call(
        "GET",
        &server().url(&format!("/api/v1/domains/{MALICIOUS}/report")),
        &[],
        b"",
    );
    assert_want(&r, Want::Missing("AccessKeyId"));
    assert_error(&report("1.2.3.4", "", &bearer()), 400, "InvalidParameter");
    assert_error(
        &report(MALICIOUS, "?fields=Nope", &bearer()),
        400,
        "InvalidParameter",
    );
    assert_error(
        &report(MALICIOUS, "?at=yesterday", &bearer()),
        400,
        "InvalidParameter",
    );
}

#[test]
fn native_batch() {
    let body = json!({
        "domains": [MALICIOUS, ALLOWLISTED, UNKNOWN, "not a domain"],
        "fields": "ThreatTypes,Intelligences",
    });
    let r = batch(body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let levels: Vec<Value> = results
        .iter()
        .map(|r| r["report"]["verdict"]["level"].clone())
        .collect();
    assert_eq!(
        levels[..3],
        [json!("high"), json!("safe"), json!("unknown")]
    );
    assert_eq!(results[3]["domain"], "not a domain");
    assert_eq!(results[3]["error"]["code"], "InvalidParameter");

    let many: Vec<String> = (0..1001).map(|i| format!("n{i}.example.com")).collect();
    let r = batch(json!({ "domains": many }).to_string().as_bytes());
    let body = assert_error(&r, 400, "InvalidParameter");
    assert!(body.message.contains("1000"), "{}", body.message);
    let exactly: Vec<String> = (0..1000).map(|i| format!("n{i}.example.com")).collect();
    let r = batch(json!({ "domains": exactly }).to_string().as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 1000);

    assert_error(&batch(b"{not json"), 400, "InvalidParameter");
    assert_error(&batch(b"{\"names\": []}"), 400, "InvalidParameter");
    let unsigned = call(
        "POST",
        &server().url("/api/v1/domains/report"),
        &[("Content-Type", "application/json")],
        json!({ "domains": [MALICIOUS] }).to_string().as_bytes(),
    );
    assert_want(&unsigned, Want::Missing("AccessKeyId"));
}

#[test]
fn healthz_metrics_and_openapi() {
    let r = get("/healthz");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "status": "ok" }));

    // Something to count first.
    assert_eq!(V1::new(UNKNOWN).send().status, 200);
    let _ = V1::new(UNKNOWN).set("Version", "x").send();
    let r = get("/metrics");
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(
        text.contains("# TYPE threatintel_requests_total counter"),
        "{text}"
    );
    let counter = |needle: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(needle))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {needle} in {text}"))
    };
    assert!(counter("threatintel_requests_total{route=\"rpc\",code=\"OK\"}") >= 1);
    assert!(counter("threatintel_requests_total{route=\"rpc\",code=\"InvalidVersion\"}") >= 1);
    assert!(counter("threatintel_request_duration_seconds_count{route=\"rpc\"}") >= 2);
    counter("threatintel_throttled_total");

    let r = get("/api/v1/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/api/v1/domains/{domain}/report"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/domains/report"]["post"].is_object());
}

/// The native API takes only credentials that bind its path and body: a V1 signature (which
/// covers the parameters alone) is refused there.
#[test]
fn v1_signatures_are_refused_on_the_native_api() {
    let signed = V1::new(MALICIOUS).method("GET").signed_query();
    let r = call(
        "GET",
        &server().url(&format!("/api/v1/domains/{MALICIOUS}/report?{signed}")),
        &[],
        b"",
    );
    assert_want(&r, Want::Says(400, "InvalidParameter", "Signature"));
}

/// A wrong bearer secret is answered alike for an enabled, a disabled and an unknown key; only
/// the right secret learns that a key is disabled.
#[test]
fn a_wrong_secret_looks_the_same_whatever_the_key() {
    for key in [KEY, INACTIVE, "LTAIneverConfigured01"] {
        let r = report(MALICIOUS, "", &format!("Bearer {key}:wrong-secret"));
        assert_want(&r, Want::Code(404, "InvalidAccessKeyId.NotFound"));
    }
    let r = report(MALICIOUS, "", &format!("Bearer {INACTIVE}:{SECRET}"));
    assert_want(&r, Want::Code(400, "InvalidAccessKeyId.Inactive"));
}
