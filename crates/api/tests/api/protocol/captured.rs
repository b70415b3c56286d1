//! Every raw request the official SDKs sent (`captured-requests.txt`): parsed from the request
//! line and headers, verified with `now` pinned to the request's own timestamp, and compared
//! with the reference verifier's verdict logged under each request. Requests that verify are
//! then checked for their nonce, STS token, response format and RPC call.

use chrono::{DateTime, NaiveDateTime, Utc};
use threatintel_api::auth::{MemoryNonces, NonceGuard, Scheme};
use threatintel_api::error::{ApiError, ResponseFormat};
use threatintel_api::rpc::{extract_call, response_format, FieldSet, Lang};
use threatintel_api::signature::v1_string_to_sign;
use threatintel_model::DomainQuery;

use super::fixtures::*;

/// One captured request and the reference verifier's result.
#[derive(Debug)]
struct Captured {
    raw: Raw,
    scheme: String,
    result: String,
}

fn captured() -> Vec<Captured> {
    // The request heads were logged with their CRLFs.
    let text = reference_file("aliyun-rpc/captured-requests.txt").replace("\r\n", "\n");
    let separator = "=".repeat(72);
    let mut out = Vec::new();
    for block in text.split(&separator) {
        let block = block.trim_start_matches('\n');
        if block.trim().is_empty() {
            continue;
        }
        let (head, rest) = block.split_once("\n\n").expect("a header block");
        let mut lines = head.lines();
        let request_line = lines.next().unwrap();
        let mut parts = request_line.split(' ');
        let (method, target, version) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert_eq!(version, "HTTP/1.1", "{request_line}");
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").unwrap_or_else(|| panic!("header {l:?}"));
                (n.to_owned(), v.to_owned())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let body = rest.as_bytes()[..length].to_vec();
        let check = rest
            .lines()
            .find_map(|l| l.strip_prefix("-- signature_check: "))
            .expect("the reference verifier's result");
        let check: serde_json::Value = serde_json::from_str(check).unwrap();
        out.push(Captured {
            raw: Raw {
                method: method.into(),
                target: target.into(),
                headers,
                body,
            },
            scheme: check["scheme"].as_str().unwrap().into(),
            result: check["result"].as_str().unwrap().into(),
        });
    }
    out
}

fn parse_time(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
        .unwrap()
        .and_utc()
}

/// The request's own time: `x-acs-date` (V3) or `Timestamp` (V1).
fn own_time(raw: &Raw) -> DateTime<Utc> {
    match raw.header("x-acs-date") {
        Some(date) if raw.header("authorization").is_some() => parse_time(date),
        _ => parse_time(raw.params().unwrap().get("Timestamp").unwrap()),
    }
}

#[test]
fn every_captured_request_gets_the_reference_verdict() {
    let all = captured();
    assert_eq!(all.len(), 118, "captured requests");
    let mut tally = std::collections::BTreeMap::new();
    for (i, c) in all.iter().enumerate() {
        let now = own_time(&c.raw);
        let result = c.raw.verify(now);
        let what = format!("#{i} {} {}", c.raw.method, c.raw.target);
        let expected = match c.result.as_str() {
            "OK" => "OK",
            "SignatureDoesNotMatch" => "SignatureDoesNotMatch",
            "InvalidAccessKeyId.NotFound" => "InvalidAccessKeyId.NotFound",
            other => panic!("{what}: unexpected reference result {other}"),
        };
        assert_eq!(outcome(&result), expected, "{what}: {result:?}");
        *tally
            .entry((c.scheme.clone(), c.result.clone()))
            .or_insert(0) += 1;

        match &result {
            Ok(identity) => {
                let v3 = c.scheme.starts_with("V3");
                assert_eq!(
                    identity.scheme,
                    if v3 { Scheme::V3 } else { Scheme::V1 },
                    "{what}"
                );
                assert_eq!(identity.access_key_id, AK);
                let params = c.raw.params().unwrap();
                let nonce = if v3 {
                    c.raw.header("x-acs-signature-nonce").map(str::to_owned)
                } else {
                    params.get("SignatureNonce").map(str::to_owned)
                };
                assert_eq!(identity.nonce, nonce, "{what}");
                let token = c
                    .raw
                    .header("x-acs-security-token")
                    .or(params.get("SecurityToken"));
                assert_eq!(identity.security_token.as_deref(), token, "{what}");
                if token.is_some() {
                    assert_eq!(token, Some("FAKE-STS-TOKEN+/=abc"));
                }
                // The call: DescribeDomainReport, read by the domain report's extractor (the
                // other Sasti APIs are other calls to it: `InvalidAction.NotFound`, after their
                // parameters are checked: a file report takes `Field=Basic`).
                let call = extract_call(&c.raw.method, &params, &c.raw.header_pairs(), identity);
                let action = if v3 {
                    c.raw.header("x-acs-action")
                } else {
                    params.get("Action")
                };
                let field_ok = threatintel_api::rpc::parse_fields(params.get("Field")).is_ok();
                if action == Some("DescribeDomainReport") && !field_ok {
                    // The encoding probes sign `Field=a b*c~d/e+f`, which is no field.
                    let err = call.unwrap_err();
                    assert_eq!(err.code(), "InvalidParameter", "{what}");
                    assert!(err.message().contains("Field"), "{what}: {err}");
                } else if action == Some("DescribeDomainReport") {
                    let call = call.unwrap_or_else(|e| panic!("{what}: {e}"));
                    let format = match params.get("Format") {
                        Some("XML") => ResponseFormat::Xml,
                        _ => ResponseFormat::Json,
                    };
                    let scheme = identity.scheme.signature_scheme();
                    assert_eq!(
                        response_format(scheme, params.get("Format")),
                        Ok(format),
                        "{what}"
                    );
                    assert_eq!(
                        call.domain,
                        DomainQuery::parse(params.get("Domain").unwrap()).unwrap()
                    );
                    let lang = match params.get("ServiceLang") {
                        Some("en") => Lang::En,
                        _ => Lang::Zh,
                    };
                    assert_eq!(call.lang, lang, "{what}");
                    if params.get("Field") == Some("ThreatTypes,Intelligences") {
                        assert_eq!(call.fields.to_string(), "ThreatTypes,Intelligences");
                    }
                } else {
                    assert_eq!(call, Err(ApiError::ActionNotFound), "{what}");
                }
            }
            Err(ApiError::SignatureDoesNotMatch { string_to_sign })
                if !c.scheme.starts_with("V3") =>
            {
                let params = c.raw.params().unwrap();
                assert_eq!(string_to_sign, &v1_string_to_sign(&c.raw.method, &params));
            }
            Err(_) => {}
        }
    }
    let count = |scheme: &str, result: &str| tally[&(scheme.to_owned(), result.to_owned())];
    assert_eq!(count("V3 ACS3-HMAC-SHA256", "OK"), 40);
    assert_eq!(count("V1 HMAC-SHA1 v1.0", "OK"), 71);
    assert_eq!(count("V1 HMAC-SHA1 v1.0", "SignatureDoesNotMatch"), 3);
    assert_eq!(count("V3 ACS3-HMAC-SHA256", "SignatureDoesNotMatch"), 1);
}

#[test]
fn captured_requests_expire_outside_the_window_and_cannot_be_replayed() {
    let nonces = MemoryNonces::new(1000);
    let t0 = std::time::Instant::now();
    let mut replays = 0;
    for c in captured().iter().filter(|c| c.result == "OK") {
        let now = own_time(&c.raw);
        // 15 minutes either side is inside the window; a second more is not.
        for (offset, expected) in [
            (-15 * 60, "OK"),
            (15 * 60, "OK"),
            (-15 * 60 - 1, "InvalidTimeStamp.Expired"),
            (15 * 60 + 1, "InvalidTimeStamp.Expired"),
        ] {
            let at = now + chrono::Duration::seconds(offset);
            assert_eq!(
                outcome(&c.raw.verify(at)),
                expected,
                "{} at {offset:+}s",
                c.raw.target
            );
        }
        let identity = c.raw.verify(now).unwrap();
        // Some captures reuse a pinned nonce: the guard refuses the repeats.
        if nonces
            .check_and_remember(
                &identity.access_key_id,
                identity.nonce.as_deref().unwrap(),
                t0,
            )
            .is_err()
        {
            replays += 1;
        }
        assert_eq!(
            nonces.check_and_remember(
                &identity.access_key_id,
                identity.nonce.as_deref().unwrap(),
                t0
            ),
            Err(ApiError::SignatureNonceUsed)
        );
    }
    // The pinned nonce 3ee8c1b8-... was used by the three pinned requests.
    assert!(replays >= 2, "{replays}");
}

#[test]
fn field_sets_display_in_canonical_order() {
    let set =
        threatintel_api::rpc::parse_fields(Some("AttackCntByThreatType, ThreatTypes")).unwrap();
    assert_eq!(set.to_string(), "ThreatTypes,AttackCntByThreatType");
    assert_eq!(FieldSet::NONE.to_string(), "");
    assert_eq!(
        FieldSet::ALL.to_string(),
        "ThreatTypes,Intelligences,AttackPreferenceTop5,AttackCntByThreatType"
    );
}
