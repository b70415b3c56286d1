//! Every vector of `vectors.json` through the whole verifier (decoding, scheme detection, key,
//! clock, signature), with `now` pinned to the vector's time. The signature functions
//! themselves are pinned to the same vectors by the unit tests of `signature`.

use chrono::{NaiveDateTime, Utc};
use serde_json::Value;
use threatintel_api::auth::{AccessKey, Authenticator, Scheme};
use threatintel_api::error::ApiError;
use threatintel_api::params::{encode, Params};
use threatintel_api::rpc::extract_call;
use threatintel_api::signature::{v1_string_to_sign, v3_canonical_request, V3Authorization};

use super::fixtures::*;

fn time(text: &str) -> chrono::DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
        .unwrap()
        .and_utc()
}

fn strings(map: &Value) -> Vec<(String, String)> {
    map.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// (key id, secret) a vector is signed with.
fn credentials(all: &Value, v: &Value) -> (String, String) {
    let id = v
        .get("access_key_id")
        .or_else(|| v["params"].get("AccessKeyId"))
        .and_then(Value::as_str)
        .unwrap_or(all["AccessKeyId"].as_str().unwrap());
    let secret = match (v.get("access_key_secret"), v.get("hmac_key")) {
        (Some(s), _) => s.as_str().unwrap().to_owned(),
        (None, Some(k)) => k.as_str().unwrap().strip_suffix('&').unwrap().to_owned(),
        _ => all["AccessKeySecret"].as_str().unwrap().to_owned(),
    };
    (id.to_owned(), secret)
}

#[test]
fn every_v1_vector_verifies_end_to_end() {
    let all = vectors();
    let mut checked = 0;
    for (name, v) in all["vectors"].as_object().unwrap() {
        if !name.starts_with("v1_") {
            continue;
        }
        let (id, secret) = credentials(&all, v);
        let auth = Authenticator::new(vec![AccessKey::new(&id, secret.as_str())], None);
        let params = strings(&v["params"]);
        let now = time(v["params"]["Timestamp"].as_str().unwrap());
        let method = v["method"].as_str().unwrap();
        let mut requests = vec![(
            method.to_owned(),
            v["signature"].as_str().unwrap().to_owned(),
        )];
        if let Some(post) = v.get("signature_if_POST").and_then(Value::as_str) {
            requests.push(("POST".into(), post.to_owned()));
        }
        for (method, signature) in requests {
            let mut signed = params.clone();
            signed.push(("Signature".into(), signature.clone()));
            let mut targets: Vec<String> = WIRES
                .iter()
                .map(|w| format!("/?{}", wire_query(&signed, *w)))
                .collect();
            if method == v["method"].as_str().unwrap() {
                if let Some(url) = v.get("url_as_sent").and_then(Value::as_str) {
                    targets.push(url.to_owned());
                }
            }
            for target in targets {
                let raw = Raw {
                    method: method.clone(),
                    target: target.clone(),
                    headers: vec![],
                    body: vec![],
                };
                let identity = raw
                    .verify_with(&auth, now)
                    .unwrap_or_else(|e| panic!("{name} {method} {target}: {e}"));
                assert_eq!(identity.scheme, Scheme::V1, "{name}");
                assert_eq!(identity.access_key_id, id, "{name}");
                assert_eq!(
                    identity.nonce.as_deref(),
                    v["params"]["SignatureNonce"].as_str(),
                    "{name}"
                );
                // The same request under the other method does not verify.
                let other = Raw {
                    method: if method == "GET" { "POST" } else { "GET" }.into(),
                    ..raw.clone()
                };
                match other.verify_with(&auth, now) {
                    Err(ApiError::SignatureDoesNotMatch { string_to_sign }) => {
                        let params = raw.params().unwrap();
                        assert_eq!(string_to_sign, v1_string_to_sign(&other.method, &params));
                    }
                    res => panic!("{name}: the other method gave {res:?}"),
                }
            }
        }
        // The legacy SDK compares the text after ':' with its own string-to-sign: with a wrong
        // secret, ours must be the vector's.
        let wrong = Authenticator::new(vec![AccessKey::new(&id, "not-the-secret")], None);
        let mut signed = params.clone();
        signed.push(("Signature".into(), v["signature"].as_str().unwrap().into()));
        let raw = Raw {
            method: method.into(),
            target: format!("/?{}", wire_query(&signed, Wire::Legacy)),
            headers: vec![],
            body: vec![],
        };
        let err = raw.verify_with(&wrong, now).unwrap_err();
        assert_eq!(
            err.message().split(':').nth(1),
            v["string_to_sign"].as_str(),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 6, "V1 vectors");
}

#[test]
fn every_v3_vector_verifies_end_to_end() {
    let all = vectors();
    let mut checked = 0;
    for (name, v) in all["vectors"].as_object().unwrap() {
        if !name.starts_with("v3_") {
            continue;
        }
        let (id, secret) = credentials(&all, v);
        let auth = Authenticator::new(vec![AccessKey::new(&id, secret.as_str())], None);
        let query = strings(&v["query"]);
        let mut headers = strings(&v["headers"]);
        let authorization = v["authorization"].as_str().unwrap();
        headers.push(("Authorization".into(), authorization.into()));
        let now = time(v["headers"]["x-acs-date"].as_str().unwrap());
        for wire in WIRES {
            let raw = Raw {
                method: v
                    .get("method")
                    .and_then(Value::as_str)
                    .unwrap_or("POST")
                    .into(),
                target: format!("/?{}", wire_query(&query, wire)),
                headers: headers.clone(),
                body: vec![],
            };
            let identity = raw
                .verify_with(&auth, now)
                .unwrap_or_else(|e| panic!("{name} {wire:?}: {e}"));
            assert_eq!(identity.scheme, Scheme::V3, "{name}");
            assert_eq!(identity.access_key_id, id, "{name}");
            assert_eq!(
                identity.nonce.as_deref(),
                v["headers"]["x-acs-signature-nonce"].as_str()
            );
            assert_eq!(
                identity.security_token.as_deref(),
                v["headers"]
                    .get("x-acs-security-token")
                    .and_then(Value::as_str),
                "{name}"
            );
            // The ECS sample is another API; the special-characters vector signs a Field value
            // that is no field; the others are valid calls.
            let call = extract_call(
                &raw.method,
                &raw.params().unwrap(),
                &raw.header_pairs(),
                &identity,
            );
            match name.as_str() {
                "v3_doc_sample_ecs" => assert_eq!(call, Err(ApiError::ActionNotFound)),
                "v3_special_chars" => assert_eq!(outcome(&call), "InvalidParameter"),
                _ => assert_eq!(
                    call.unwrap().domain.to_string(),
                    v["query"]["Domain"].as_str().unwrap()
                ),
            }
        }
        // Header names in any case canonicalise the same.
        let shouted: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
            .collect();
        let raw = Raw {
            method: "POST".into(),
            target: format!("/?{}", wire_query(&query, Wire::Legacy)),
            headers: shouted,
            body: vec![],
        };
        raw.verify_with(&auth, now)
            .unwrap_or_else(|e| panic!("{name} upper-case header names: {e}"));
        // A wrong secret: the message carries the two-line string-to-sign.
        let wrong = Authenticator::new(vec![AccessKey::new(&id, "nope")], None);
        let err = raw.verify_with(&wrong, now).unwrap_err();
        let expected = format!(
            "ACS3-HMAC-SHA256\n{}",
            v["hashed_canonical_request"].as_str().unwrap()
        );
        assert_eq!(
            err,
            ApiError::SignatureDoesNotMatch {
                string_to_sign: expected
            },
            "{name}"
        );
        // And the canonical request the server builds is the vector's.
        let auth_header = V3Authorization::parse(authorization).unwrap();
        let params = Params::from_pairs(query.clone()).unwrap();
        let canonical = v3_canonical_request(
            "POST",
            "/",
            &params,
            &borrowed(&headers),
            &auth_header.signed_headers,
            v["headers"]["x-acs-content-sha256"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(
            canonical,
            v["canonical_request"].as_str().unwrap(),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 4, "V3 vectors");
}

#[test]
fn the_vectors_encode_as_the_reference_says() {
    // §5.2 examples.
    assert_eq!(encode(" "), "%20");
    assert_eq!(encode("*"), "%2A");
    assert_eq!(encode("~"), "~");
    assert_eq!(encode("/"), "%2F");
    assert_eq!(encode("+"), "%2B");
    let all = vectors();
    let v = &all["vectors"]["v1_tea_special_chars"];
    let params = Params::from_pairs(strings(&v["params"])).unwrap();
    assert_eq!(
        params.canonical(&["Signature"]),
        v["canonicalized_query"].as_str().unwrap()
    );
}
