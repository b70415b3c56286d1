//! Properties of signing and verifying, over random parameters, headers, bodies and times:
//! - sign-then-verify round trips for V1 and V3, whichever way the client encodes the query
//!   (`+` or `%20`, raw or escaped `,` `:` `*` `/`);
//! - any one-character change of a parameter (name or value), of a signed header's value, of the
//!   body or of the signature fails verification;
//! - any one-byte change of the wire query either fails or decodes to the very same parameters;
//! - arbitrary input never panics;
//! - percent-encoding leaves exactly the RFC 3986 unreserved bytes as they are.

use std::collections::BTreeMap;

use chrono::Duration;
use proptest::prelude::*;
use threatintel_api::auth::{Endpoint, Scheme, SignedRequest};
use threatintel_api::params::{encode, Params};
use threatintel_api::rpc::extract_call;

use super::fixtures::*;

/// Business parameters: distinct names that cannot clash with the common ones, any values.
fn business() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("X[A-Za-z0-9_.~-]{0,8}", value(), 0..6)
        .prop_map(|m: BTreeMap<String, String>| m.into_iter().collect())
}

/// Values with the characters clients disagree about, and any other text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ a-zA-Z0-9,:*/+=&%~#?;@!$'()\\[\\]-]{0,24}",
        "\\PC{0,16}",
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
}

fn nonce() -> impl Strategy<Value = String> {
    "[0-9a-f]{32}"
}

fn wire() -> impl Strategy<Value = Wire> {
    prop::sample::select(WIRES.to_vec())
}

/// Replaces the `at`-th character of `s` (mod its length) with a different ASCII character.
fn change_char(s: &str, at: usize, with: char) -> String {
    let chars: Vec<char> = s.chars().collect();
    let i = at % chars.len();
    let replacement = if chars[i] == with {
        if with == 'a' {
            'b'
        } else {
            'a'
        }
    } else {
        with
    };
    chars
        .iter()
        .enumerate()
        .map(|(j, c)| if j == i { replacement } else { *c })
        .collect()
}

fn v1_request(extra: &[(String, String)], nonce: &str, skew: i64, get: bool) -> V1 {
    let mut request = V1::new(pinned_now() + Duration::seconds(skew), nonce);
    if get {
        request.method = "GET".into();
    }
    for (k, v) in extra {
        request = request.set(k, v);
    }
    request
}

fn v3_request(
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
    form: bool,
    nonce: &str,
    skew: i64,
) -> V3 {
    let mut request = V3::new(pinned_now() + Duration::seconds(skew), nonce);
    request.query = query.to_vec();
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let content_type = if form {
        "application/x-www-form-urlencoded"
    } else {
        "application/octet-stream"
    };
    request.body(body, Some(content_type))
}

/// Signed extra headers: `x-extra-<n>` with visible-ASCII values.
fn extra_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("x-extra-[a-z0-9]{1,6}", "[!-~]([ -~]{0,20}[!-~])?", 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn body() -> impl Strategy<Value = (Vec<u8>, bool)> {
    prop_oneof![
        Just((Vec::new(), false)),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(|b| (b, false)),
        // Form parameters named apart from the query's (a name in both is a duplicate).
        prop::collection::btree_map("Y[A-Za-z0-9]{0,8}", value(), 1..4).prop_map(|m| {
            let pairs: Vec<(String, String)> = m.into_iter().collect();
            (wire_query(&pairs, Wire::Legacy).into_bytes(), true)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn v1_round_trips_in_every_encoding(
        extra in business(),
        nonce in nonce(),
        skew in -900i64..=900,
        get in any::<bool>(),
    ) {
        let request = v1_request(&extra, &nonce, skew, get);
        for wire in WIRES {
            let identity = request.raw(wire).verify(pinned_now());
            prop_assert!(identity.is_ok(), "{wire:?}: {identity:?}");
            let identity = identity.unwrap();
            prop_assert_eq!(identity.scheme, Scheme::V1);
            prop_assert_eq!(identity.nonce.as_deref(), Some(nonce.as_str()));
        }
        // Every encoding decodes to the same parameters.
        let decoded: Vec<Params> = WIRES.iter().map(|w| request.raw(*w).params().unwrap()).collect();
        prop_assert!(decoded.windows(2).all(|w| w[0].canonical(&[]) == w[1].canonical(&[])));
        // Also as a form body.
        let body = wire_query(&request.signed(), Wire::TeaSync).into_bytes();
        let raw = Raw {
            method: request.method.clone(),
            target: "/".into(),
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded; charset=UTF-8".into())],
            body,
        };
        prop_assert!(raw.verify(pinned_now()).is_ok());
    }

    #[test]
    fn v3_round_trips_in_every_encoding(
        query in business(),
        headers in extra_headers(),
        (body, form) in body(),
        nonce in nonce(),
        skew in -900i64..=900,
    ) {
        let request = v3_request(&query, &headers, &body, form, &nonce, skew);
        for wire in WIRES {
            let identity = request.raw(wire).verify(pinned_now());
            prop_assert!(identity.is_ok(), "{wire:?}: {identity:?}");
            let identity = identity.unwrap();
            prop_assert_eq!(identity.nonce.as_deref(), Some(nonce.as_str()));
        }
        // Header names in any case.
        let mut raw = request.raw(Wire::Legacy);
        for (name, _) in raw.headers.iter_mut() {
            *name = name.to_ascii_uppercase();
        }
        prop_assert!(raw.verify(pinned_now()).is_ok());
    }

    #[test]
    fn any_change_of_a_v1_parameter_or_signature_fails(
        extra in business(),
        nonce in nonce(),
        which in any::<usize>(),
        at in any::<usize>(),
        name_side in any::<bool>(),
        with in "[ -~]",
        wire in wire(),
    ) {
        let request = v1_request(&extra, &nonce, 0, false);
        let mut signed = request.signed();
        let i = which % signed.len();
        let with = with.chars().next().unwrap();
        let (name, value) = &mut signed[i];
        if name_side || value.is_empty() {
            *name = change_char(name, at, with);
        } else {
            *value = change_char(value, at, with);
        }
        let raw = Raw {
            method: "POST".into(),
            target: format!("/?{}", wire_query(&signed, wire)),
            headers: vec![],
            body: vec![],
        };
        let result = raw.verify(pinned_now());
        prop_assert!(result.is_err(), "param {i} changed, still {result:?}: {}", raw.target);
    }

    #[test]
    fn any_byte_change_of_the_wire_query_fails_or_means_the_same(
        extra in business(),
        nonce in nonce(),
        at in any::<usize>(),
        byte in any::<u8>(),
        wire in wire(),
    ) {
        let request = v1_request(&extra, &nonce, 0, false);
        let raw = request.raw(wire);
        let mut query = raw.query().as_bytes().to_vec();
        let i = at % query.len();
        prop_assume!(query[i] != byte);
        query[i] = byte;
        // Only text can arrive as a query (a server framework hands over a &str).
        let Ok(query) = String::from_utf8(query) else { return Ok(()) };
        let changed = Raw { target: format!("/?{query}"), ..raw.clone() };
        if changed.verify(pinned_now()).is_ok() {
            let before = raw.params().unwrap();
            let after = changed.params().unwrap();
            prop_assert_eq!(before.canonical(&[]), after.canonical(&[]), "{} -> {}", raw.target, changed.target);
        }
    }

    #[test]
    fn any_change_of_a_v3_header_body_query_or_signature_fails(
        query in business(),
        headers in extra_headers(),
        (body, form) in body(),
        nonce in nonce(),
        target in 0usize..4,
        which in any::<usize>(),
        at in any::<usize>(),
        with in "[!-~]",
    ) {
        let request = v3_request(&query, &headers, &body, form, &nonce, 0);
        let with = with.chars().next().unwrap();
        let mut raw = request.raw(Wire::Legacy);
        match target {
            // A signed header's value.
            0 => {
                let signed = request.signed_headers();
                let name = &signed[which % signed.len()];
                let entry = raw.headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)).unwrap();
                entry.1 = change_char(&entry.1, at, with);
            }
            // The body (one byte), or one added byte when it is empty.
            1 => {
                if raw.body.is_empty() {
                    raw.body.push(with as u8);
                } else {
                    let i = at % raw.body.len();
                    raw.body[i] ^= 1 + (which % 255) as u8;
                }
            }
            // A query parameter (or an added one when there is none).
            2 => {
                let mut pairs = request.query.clone();
                if pairs.is_empty() {
                    pairs.push(("Added".into(), String::new()));
                } else {
                    let i = which % pairs.len();
                    let (name, value) = &mut pairs[i];
                    if value.is_empty() { *name = change_char(name, at, with) } else { *value = change_char(value, at, with) }
                }
                raw.target = format!("/?{}", wire_query(&pairs, Wire::Legacy));
            }
            // The signature.
            _ => {
                let authorization = request.authorization();
                let (head, signature) = authorization.rsplit_once("Signature=").unwrap();
                let changed = change_char(signature, at, with);
                let entry = raw.headers.iter_mut().find(|(n, _)| n == "Authorization").unwrap();
                entry.1 = format!("{head}Signature={changed}");
            }
        }
        let result = raw.verify(pinned_now());
        prop_assert!(result.is_err(), "target {target}: {result:?}");
    }

    #[test]
    fn arbitrary_input_never_panics(
        query in any::<String>(),
        headers in prop::collection::vec(
            (prop::sample::select(vec![
                "authorization", "Authorization", "x-acs-date", "x-acs-signature-nonce",
                "x-acs-content-sha256", "x-acs-action", "x-acs-version", "host",
                "x-acs-security-token", "x-acs-accesskey-id", "content-type",
            ]), any::<String>()),
            0..8,
        ),
        body in prop::collection::vec(any::<u8>(), 0..64),
        acs3 in any::<bool>(),
        method in prop::sample::select(vec!["GET", "POST", "PUT", "get", ""]),
    ) {
        let authorization = format!("ACS3-HMAC-SHA256 {}", headers.len());
        let mut headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        if acs3 {
            headers.push(("authorization", &authorization));
        }
        for content_type in [None, Some("application/x-www-form-urlencoded")] {
            if let Ok(params) = Params::from_request(&query, content_type, &body) {
                let auth = authenticator();
                let request = SignedRequest {
                    method,
                    path: "/",
                    params: &params,
                    headers: &headers,
                    body: &body,
                    now: pinned_now(),
                };
                if let Ok(identity) = auth.authenticate(&request, Endpoint::Native) {
                    let _ = extract_call(method, &params, &headers, &identity);
                }
            }
        }
    }

    #[test]
    fn decoding_inverts_encoding(value in any::<String>(), wire in wire()) {
        let raw = format!("k={}", wire_encode(&value, wire));
        let params = Params::parse(&raw, None).unwrap();
        prop_assert_eq!(params.get("k"), Some(value.as_str()));
        prop_assert_eq!(params.canonical(&[]), format!("k={}", encode(&value)));
    }

    /// V1's string-to-sign encodes the canonical form in the same pass that writes it; that is
    /// the canonical form encoded again.
    #[test]
    fn the_canonical_form_encoded_in_one_pass_is_it_encoded_again(pairs in business(), skipped in any::<bool>()) {
        let params = Params::from_pairs(pairs.clone()).unwrap();
        let skip: Vec<&str> = pairs.iter().take(usize::from(skipped)).map(|(k, _)| k.as_str()).collect();
        prop_assert_eq!(params.canonical_encoded(&skip), encode(&params.canonical(&skip)));
    }

    #[test]
    fn encoding_escapes_every_byte_but_the_unreserved(value in value()) {
        let expected: String = value
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        prop_assert_eq!(encode(&value), expected);
    }
}
