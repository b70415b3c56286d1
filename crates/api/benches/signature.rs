//! Authenticating a signed `DescribeDomainReport` request as the official SDKs send it: the
//! parameters decoded, then `Authenticator::authenticate` (timestamp, nonce shape, the
//! canonical string and its HMAC). The serving benchmark (`scripts/bench-serve.py --signed`)
//! measures the same work inside a whole request, where the client's share blurs it.
//!
//! `cargo bench -p threatintel-api --bench signature`
//!
//! 2026-12-05 22:23 UTC, load average 0.4 (the host at about half the speed of its fastest
//! hours: the serving benchmark's trivial handler 9.6 µs/req): V1 2.72 µs, V3 4.31 µs, an
//! unsigned request's parameters 0.27 µs. `bench-serve.py --signed` in the same hour: listed
//! 40.5 µs/req signed against 39.0 anonymous.

use chrono::{TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use threatintel_api::auth::{AccessKey, Authenticator, Endpoint, SignedRequest};
use threatintel_api::params::{encode, Params};
use threatintel_api::signature::{
    payload_hash, v1_sign, v1_string_to_sign, v3_canonical_request, v3_sign, v3_string_to_sign,
    V3_ALGORITHM,
};

const KEY_ID: &str = "LTAIbenchsignature";
const SECRET: &str = "bench-signature-secret";
const TIMESTAMP: &str = "2026-12-05T12:00:00Z";
const DOMAIN_QUERY: &str = "DomainName=login-paypal.example.com&Fields=ThreatTypes%2CIntelligences%2CAttackPreferenceTop5%2CAttackCntByThreatType&Lang=en";

/// A V1 query string as the Python SDK builds it, `Signature` last.
fn v1_query() -> String {
    let unsigned = format!(
        "AccessKeyId={KEY_ID}&Action=DescribeDomainReport&Format=JSON&RegionId=cn-hangzhou\
         &SignatureMethod=HMAC-SHA1&SignatureNonce=5c6f0e3a2b1d4e8f9a7b6c5d4e3f2a1b\
         &SignatureVersion=1.0&Timestamp={}&Version=2020-05-12&{DOMAIN_QUERY}",
        TIMESTAMP.replace(':', "%3A")
    );
    let params = Params::parse(&unsigned, None).unwrap();
    let signature = v1_sign(SECRET, &v1_string_to_sign("GET", &params));
    format!("{unsigned}&Signature={}", encode(&signature))
}

/// A V3 request's query and headers, `Authorization` computed over them.
fn v3_request() -> (String, Vec<(String, String)>) {
    let query = DOMAIN_QUERY.to_owned();
    let mut headers: Vec<(String, String)> = [
        ("host", "127.0.0.1:8080"),
        ("x-acs-action", "DescribeDomainReport"),
        ("x-acs-version", "2020-05-12"),
        ("x-acs-date", TIMESTAMP),
        ("x-acs-signature-nonce", "5c6f0e3a2b1d4e8f9a7b6c5d4e3f2a1b"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    headers.push(("x-acs-content-sha256".into(), payload_hash(b"")));
    let signed: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
    let params = Params::parse(&query, None).unwrap();
    let canonical = v3_canonical_request(
        "GET",
        "/",
        &params,
        &borrowed(&headers),
        &signed,
        &payload_hash(b""),
    )
    .unwrap();
    let signature = v3_sign(SECRET, &v3_string_to_sign(&canonical));
    headers.push((
        "authorization".into(),
        format!(
            "{V3_ALGORITHM} Credential={KEY_ID},SignedHeaders={},Signature={signature}",
            signed.join(";")
        ),
    ));
    (query, headers)
}

/// (name, value) pairs borrowed from owned ones, as the server reads a request's headers.
fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

fn authenticating(c: &mut Criterion) {
    let signed = Authenticator::new(vec![AccessKey::new(KEY_ID, SECRET)], None);
    let anonymous = Authenticator::new(Vec::new(), Some(0));
    let now = Utc.with_ymd_and_hms(2026, 12, 5, 12, 1, 0).unwrap();
    let verify = |authenticator: &Authenticator, query: &str, headers: &[(&str, &str)]| {
        let params = Params::parse(black_box(query), None).unwrap();
        let request = SignedRequest {
            method: "GET",
            path: "/",
            params: &params,
            headers,
            body: b"",
            now,
        };
        authenticator.authenticate(&request, Endpoint::Rpc).unwrap()
    };
    let v1 = v1_query();
    c.bench_function("signature/V1 request decoded and verified", |b| {
        b.iter(|| verify(&signed, &v1, &[]))
    });
    let (query, headers) = v3_request();
    let headers = borrowed(&headers);
    c.bench_function("signature/V3 request decoded and verified", |b| {
        b.iter(|| verify(&signed, &query, &headers))
    });
    c.bench_function("signature/unsigned request decoded (anonymous)", |b| {
        b.iter(|| verify(&anonymous, DOMAIN_QUERY, &[]))
    });
}

criterion_group!(benches, authenticating);
criterion_main!(benches);
