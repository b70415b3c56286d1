//! Requests that must be refused, each with its exact POP code: duplicated parameters, bad
//! percent-encodings, invalid UTF-8, garbage `Authorization` headers, incomplete
//! `SignedHeaders`, stale and future timestamps, unknown and disabled keys, and more.

use chrono::Duration;
use threatintel_api::auth::{
    AccessKey, Authenticator, Endpoint, Scheme, SignedRequest, MAX_NONCE_LEN,
};
use threatintel_api::error::ApiError;
use threatintel_api::params::{encode, Params, MAX_PARAMS};

use super::fixtures::*;
use crate::support::many_params;

const NONCE: &str = "5f0c5b6ee5e34a3f8d7b4e5ab3b0c1d2";

fn v1() -> V1 {
    V1::new(pinned_now(), NONCE)
}

fn v3() -> V3 {
    V3::new(pinned_now(), NONCE)
}

/// `query` appended to a correctly signed V1 query.
fn v1_then(request: &V1, suffix: &str) -> Raw {
    let mut raw = request.raw(Wire::Legacy);
    raw.target.push_str(suffix);
    raw
}

fn form(query: &str, body: &[u8]) -> Raw {
    Raw {
        method: "POST".into(),
        target: format!("/?{query}"),
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: body.to_vec(),
    }
}

#[track_caller]
fn expect(raw: &Raw, code: &str) -> ApiError {
    let result = raw.verify(pinned_now());
    assert_eq!(
        outcome(&result),
        code,
        "{} {:?}: {result:?}",
        raw.target,
        raw.headers
    );
    result.unwrap_err()
}

#[track_caller]
fn expect_naming(raw: &Raw, code: &str, name: &str) {
    let err = expect(raw, code);
    assert!(
        err.message().contains(name),
        "{code} should name {name}: {err}"
    );
}

#[test]
fn the_baselines_verify() {
    assert_eq!(
        v1().raw(Wire::Legacy).verify(pinned_now()).unwrap().scheme,
        Scheme::V1
    );
    assert_eq!(
        v3().raw(Wire::Legacy).verify(pinned_now()).unwrap().scheme,
        Scheme::V3
    );
}

#[test]
fn duplicated_parameters() {
    expect_naming(
        &v1_then(&v1(), "&Domain=other.com"),
        "InvalidParameter",
        "Domain",
    );
    expect_naming(
        &v1_then(&v1(), "&Signature=AAAA"),
        "InvalidParameter",
        "Signature",
    );
    let signed = wire_query(&v1().signed(), Wire::Legacy);
    expect_naming(
        &form(&signed, b"Domain=x.com"),
        "InvalidParameter",
        "Domain",
    );
    expect_naming(&form("", b"A=1&A=2"), "InvalidParameter", "A");
    // The same name under two encodings is still the same name.
    expect_naming(
        &v1_then(&v1(), "&%44omain=x.com"),
        "InvalidParameter",
        "Domain",
    );
    let err = Params::parse("Field=a&Field=a", None).unwrap_err();
    assert_eq!(err.code(), "InvalidParameter");
    assert!(err.message().contains("Field"), "{err}");
}

#[test]
fn bad_percent_encodings() {
    for (suffix, shown) in [
        ("&Junk=%zz", "%zz"),
        ("&Junk=%", "%"),
        ("&Junk=%4", "%4"),
        ("&Junk=%4g", "%4g"),
        ("&Junk=abc%", "%"),
        ("&J%zzunk=1", "%zz"),
    ] {
        let err = expect(&v1_then(&v1(), suffix), "InvalidParameter");
        assert!(err.message().contains(shown), "{suffix}: {err}");
    }
    expect_naming(&form("", b"Domain=%zz"), "InvalidParameter", "Domain");
    // Lower-case hex is a valid escape.
    let p = Params::parse("A=%2c%2C", None).unwrap();
    assert_eq!(p.get("A"), Some(",,"));
}

#[test]
fn invalid_utf8() {
    for bad in [
        "%FF",
        "%E4%BE",
        "%C0%AF",
        "%ED%A0%80",
        "%F8%88%80%80%80",
        "ok%80",
    ] {
        let err = expect(&v1_then(&v1(), &format!("&Junk={bad}")), "InvalidParameter");
        assert!(err.message().contains("UTF-8"), "{bad}: {err}");
        assert!(err.message().contains("Junk"), "{bad}: {err}");
    }
    expect_naming(
        &form("", b"Domain=\xff\xfe.com"),
        "InvalidParameter",
        "Domain",
    );
    // A raw non-UTF-8 byte in a body name.
    expect(&form("", b"\xc3\x28=1"), "InvalidParameter");
}

#[test]
fn empty_names_and_odd_shapes() {
    expect(&v1_then(&v1(), "&=x"), "InvalidParameter");
    // Empty segments are skipped and a bare name is an empty value, as `parse_qsl` does.
    let p = Params::parse("&&A&B=&&", None).unwrap();
    assert_eq!((p.get("A"), p.get("B"), p.len()), (Some(""), Some(""), 2));
}

#[test]
fn garbage_authorization_headers() {
    let request = v3();
    let garbage = [
        "ACS3-HMAC-SHA256".to_owned(),
        "ACS3-HMAC-SHA256 ".to_owned(),
        "ACS3-HMAC-SHA256 Credential=".to_owned(),
        format!("ACS3-HMAC-SHA256 Credential={AK}"),
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders=host"),
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders=,Signature=00"),
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders=;;,Signature=00"),
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders=host,Signature=00,Extra=1"),
        format!("ACS3-HMAC-SHA256 Credential={AK},Credential={AK},SignedHeaders=host,Signature=00"),
        format!("ACS3-HMAC-SHA256 Credential={AK};SignedHeaders=host;Signature=00"),
        format!("ACS3-HMAC-SM3 Credential={AK},SignedHeaders=host,Signature=00"),
        "ACS3-RSA-SHA256".to_owned(),
        "ACS3-!!@@##$$%%^^&&**(())".to_owned(),
        "ACS3-HMAC-SHA256 \u{ff}\u{fe}".to_owned(),
        "Basic dXNlcjpwYXNz".to_owned(),
        format!("Bearer {AK}:{SECRET}"),
        "x".repeat(10_000),
    ];
    for authorization in &garbage {
        let err = expect(
            &request.raw_with(authorization, Wire::Legacy),
            "InvalidParameter",
        );
        assert!(
            err.message().contains("Authorization"),
            "{authorization:?}: {err}"
        );
    }
    // Whitespace only, or no header at all: an unsigned request.
    for authorization in ["", "   "] {
        let err = expect(
            &request.raw_with(authorization, Wire::Legacy),
            "MissingAccessKeyId",
        );
        assert!(err.message().contains("AccessKeyId"), "{err}");
    }
    // A V1 signature wins over a non-ACS3 Authorization header (a proxy's Basic auth).
    let mut raw = v1().raw(Wire::Legacy);
    raw.headers
        .push(("Authorization".into(), "Basic dXNlcjpwYXNz".into()));
    assert!(raw.verify(pinned_now()).is_ok());
}

#[test]
fn incomplete_signed_headers() {
    let request = v3();
    let all = request.signed_headers();
    // Every required header left out of SignedHeaders in turn.
    for required in [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        let signed: Vec<String> = all.iter().filter(|h| *h != required).cloned().collect();
        let raw = request.raw_with(&request.authorization_for(&signed), Wire::Legacy);
        let err = expect(&raw, "InvalidParameter");
        assert!(err.message().contains("SignedHeaders"), "{err}");
        assert!(err.message().contains(required), "{err}");
        // Absent from the request altogether: MissingParameter naming it.
        let without = request.clone().without_header(required);
        let raw = without.raw(Wire::Legacy);
        let err = expect(&raw, "MissingParameter");
        assert!(err.message().contains(required), "{err}");
    }
    // `accept` and `user-agent` are not required (the Node SDK does not sign them).
    let node = request.clone().without_header("accept");
    assert!(node.raw(Wire::Legacy).verify(pinned_now()).is_ok());
    // A SignedHeaders entry the request does not have.
    let mut signed = all.clone();
    signed.push("x-acs-absent".into());
    signed.sort();
    let raw = request.raw_with(&request.authorization_for(&signed), Wire::Legacy);
    let err = expect(&raw, "InvalidParameter");
    assert!(err.message().contains("x-acs-absent"), "{err}");
    // STS headers must be signed when present.
    let sts = request
        .clone()
        .header("x-acs-security-token", "FAKE-STS-TOKEN+/=abc")
        .header("x-acs-accesskey-id", AK);
    for unsigned in ["x-acs-security-token", "x-acs-accesskey-id"] {
        let signed: Vec<String> = sts
            .signed_headers()
            .into_iter()
            .filter(|h| h != unsigned)
            .collect();
        let raw = sts.raw_with(&sts.authorization_for(&signed), Wire::Legacy);
        let err = expect(&raw, "InvalidParameter");
        assert!(err.message().contains(unsigned), "{err}");
    }
    let identity = sts.raw(Wire::Legacy).verify(pinned_now()).unwrap();
    assert_eq!(
        identity.security_token.as_deref(),
        Some("FAKE-STS-TOKEN+/=abc")
    );
    // x-acs-accesskey-id must name the Credential's key.
    let other = request.clone().header("x-acs-accesskey-id", "LTAI5tOTHER");
    expect_naming(
        &other.raw(Wire::Legacy),
        "InvalidParameter",
        "x-acs-accesskey-id",
    );
}

#[test]
fn unsigned_headers_do_not_matter_but_signed_ones_do() {
    let request = v3();
    let mut raw = request.raw(Wire::Legacy);
    raw.headers
        .push(("User-Agent".into(), "changed in transit".into()));
    raw.headers
        .push(("Content-Type".into(), "application/octet-stream".into()));
    assert!(raw.verify(pinned_now()).is_ok());
    // Signed: a repeated signed header is refused (repeated_signed_headers_are_refused); a
    // signed header changed in transit breaks the signature.
    let raw = request
        .clone()
        .header("x-acs-version", "2020-05-13")
        .raw_with(&request.authorization(), Wire::Legacy);
    expect(&raw, "SignatureDoesNotMatch");
}

#[test]
fn body_hash_must_match() {
    let request = v3().body(
        b"Field=ThreatTypes",
        Some("application/x-www-form-urlencoded"),
    );
    assert!(request.raw(Wire::Legacy).verify(pinned_now()).is_ok());
    let mut raw = request.raw(Wire::Legacy);
    raw.body = b"Field=Intelligences".to_vec();
    expect_naming(&raw, "InvalidParameter", "x-acs-content-sha256");
    // An empty body with the hash of a non-empty one.
    let mut raw = request.raw(Wire::Legacy);
    raw.body.clear();
    expect_naming(&raw, "InvalidParameter", "x-acs-content-sha256");
}

#[test]
fn stale_and_future_timestamps() {
    let now = pinned_now();
    for offset in [
        -16 * 60,
        16 * 60,
        -15 * 60 - 1,
        15 * 60 + 1,
        -86_400 * 365,
        86_400 * 365,
    ] {
        let at = now + Duration::seconds(offset);
        expect(
            &V1::new(at, NONCE).raw(Wire::Legacy),
            "InvalidTimeStamp.Expired",
        );
        expect(
            &V3::new(at, NONCE).raw(Wire::Legacy),
            "InvalidTimeStamp.Expired",
        );
    }
    for offset in [-15 * 60, 15 * 60, 0, -1, 1] {
        let at = now + Duration::seconds(offset);
        assert!(
            V1::new(at, NONCE).raw(Wire::Legacy).verify(now).is_ok(),
            "{offset}"
        );
        assert!(
            V3::new(at, NONCE).raw(Wire::Legacy).verify(now).is_ok(),
            "{offset}"
        );
    }
    for bad in [
        "2024-05-01 12:00:00",
        "2024-05-01T12:00:00",
        "2024-05-01T12:00:00.000Z",
        "2024-05-01T12:00:00+08:00",
        "2024-05-01t12:00:00z",
        "1714564800",
        "Wed, 01 May 2024 12:00:00 GMT",
        "2024-02-30T12:00:00Z",
        "",
    ] {
        expect(
            &v1().set("Timestamp", bad).raw(Wire::Legacy),
            "InvalidTimeStamp.Format",
        );
        expect(
            &v3().header("x-acs-date", bad).raw(Wire::Legacy),
            "InvalidTimeStamp.Format",
        );
    }
}

#[test]
fn unknown_and_disabled_keys() {
    let mut unknown = v1().set("AccessKeyId", UNKNOWN);
    assert_eq!(
        expect(&unknown.raw(Wire::Legacy), "InvalidAccessKeyId.NotFound").status(),
        404
    );
    unknown.secret = "anything".into();
    expect(&unknown.raw(Wire::Legacy), "InvalidAccessKeyId.NotFound");
    let disabled = v1().set("AccessKeyId", DISABLED);
    assert_eq!(
        expect(&disabled.raw(Wire::Legacy), "InvalidAccessKeyId.Inactive").status(),
        400
    );
    let mut v3_unknown = v3();
    v3_unknown.key = UNKNOWN.into();
    expect(&v3_unknown.raw(Wire::Legacy), "InvalidAccessKeyId.NotFound");
    let mut v3_disabled = v3();
    v3_disabled.key = DISABLED.into();
    expect(
        &v3_disabled.raw(Wire::Legacy),
        "InvalidAccessKeyId.Inactive",
    );
    // A disabled key with a wrong secret is answered as an enabled one is: the signature does
    // not match (the key's state is said only to whoever holds its secret).
    let mut wrong = v1().set("AccessKeyId", DISABLED);
    wrong.secret = "wrong".into();
    expect(&wrong.raw(Wire::Legacy), "SignatureDoesNotMatch");
    v3_disabled.secret = "wrong".into();
    expect(&v3_disabled.raw(Wire::Legacy), "SignatureDoesNotMatch");
    // The same request verifies once the key is known and enabled.
    let auth = Authenticator::new(vec![AccessKey::new(DISABLED, SECRET)], None);
    assert!(disabled
        .raw(Wire::Legacy)
        .verify_with(&auth, pinned_now())
        .is_ok());
}

#[test]
fn v1_common_parameters() {
    for missing in ["AccessKeyId", "Timestamp", "SignatureNonce"] {
        expect_naming(
            &v1().without(missing).raw(Wire::Legacy),
            &format!("Missing{missing}"),
            missing,
        );
    }
    expect_naming(
        &v1().set("SignatureNonce", "").raw(Wire::Legacy),
        "MissingSignatureNonce",
        "SignatureNonce",
    );
    let long = "n".repeat(MAX_NONCE_LEN + 1);
    expect_naming(
        &v1().set("SignatureNonce", &long).raw(Wire::Legacy),
        "InvalidParameter",
        "SignatureNonce",
    );
    assert!(v1()
        .set("SignatureNonce", &"n".repeat(MAX_NONCE_LEN))
        .raw(Wire::Legacy)
        .verify(pinned_now())
        .is_ok());
    for method in ["HMAC-SHA256", "hmac-sha1", ""] {
        expect(
            &v1().set("SignatureMethod", method).raw(Wire::Legacy),
            "InvalidSignatureMethod",
        );
    }
    expect_naming(
        &v1().set("SignatureVersion", "2.0").raw(Wire::Legacy),
        "InvalidParameter",
        "SignatureVersion",
    );
    // Optional ones: SignatureMethod/-Version may be absent; legacy extras are signed.
    assert!(v1()
        .without("SignatureMethod")
        .without("SignatureVersion")
        .raw(Wire::Legacy)
        .verify(pinned_now())
        .is_ok());
    let legacy = v1()
        .set("SignatureType", "")
        .set("RegionId", "cn-hangzhou")
        .set("SecurityToken", "tok");
    let identity = legacy.raw(Wire::Legacy).verify(pinned_now()).unwrap();
    assert_eq!(identity.security_token.as_deref(), Some("tok"));
    // Removing the empty SignatureType after signing breaks the signature.
    let mut raw = legacy.raw(Wire::Legacy);
    raw.target = raw.target.replace("&SignatureType=", "");
    expect(&raw, "SignatureDoesNotMatch");
    // Empty or garbage signatures.
    let mut raw = v1().raw(Wire::Legacy);
    let base = raw.target.rsplit_once("&Signature=").unwrap().0.to_owned();
    for signature in ["", "AAAA", "%2B%2F%3D", &encode(&"A".repeat(28))] {
        raw.target = format!("{base}&Signature={signature}");
        expect(&raw, "SignatureDoesNotMatch");
    }
}

#[test]
fn v3_signature_is_exact_lower_hex() {
    let request = v3();
    let authorization = request.authorization();
    let (head, signature) = authorization.rsplit_once("Signature=").unwrap();
    for bad in [
        signature.to_ascii_uppercase(),
        signature[..63].to_owned(),
        format!("{signature}0"),
        String::new() + "0",
    ] {
        let raw = request.raw_with(&format!("{head}Signature={bad}"), Wire::Legacy);
        expect(&raw, "SignatureDoesNotMatch");
    }
}

#[test]
fn unsigned_requests_and_bearer_tokens() {
    let unsigned = Raw {
        method: "GET".into(),
        target: "/?Action=DescribeDomainReport&Version=2020-05-12&Domain=example.com".into(),
        headers: vec![],
        body: vec![],
    };
    expect_naming(&unsigned, "MissingAccessKeyId", "AccessKeyId");
    let anonymous = Authenticator::new(vec![], Some(7));
    let identity = unsigned.verify_with(&anonymous, pinned_now()).unwrap();
    assert_eq!(
        (identity.scheme, identity.rate_per_sec, identity.nonce),
        (Scheme::Anonymous, 7, None)
    );
    // Bearer tokens only where allowed (the native API), never on `/`.
    let params = Params::default();
    let bearer = format!("Bearer {AK}:{SECRET}");
    let headers = [("authorization", bearer.as_str())];
    let request = SignedRequest {
        method: "GET",
        path: "/api/v1/x",
        params: &params,
        headers: &headers,
        body: b"",
        now: pinned_now(),
    };
    let auth = authenticator();
    assert_eq!(
        auth.authenticate(&request, Endpoint::Native)
            .unwrap()
            .scheme,
        Scheme::Bearer
    );
    assert_eq!(
        outcome(&auth.authenticate(&request, Endpoint::Rpc)),
        "InvalidParameter"
    );
    // A wrong secret looks the same whatever the key's state: enabled, disabled or unknown.
    for key in [AK, DISABLED, UNKNOWN] {
        let wrong = format!("Bearer {key}:nope");
        let request = SignedRequest {
            headers: &[("authorization", &wrong)],
            ..request
        };
        assert_eq!(
            auth.authenticate(&request, Endpoint::Native),
            Err(ApiError::AccessKeyNotFound),
            "{key}"
        );
    }
    // The right secret of a disabled key: the key is disabled.
    let disabled = format!("Bearer {DISABLED}:{SECRET}");
    assert_eq!(
        auth.authenticate(
            &SignedRequest {
                headers: &[("authorization", &disabled)],
                ..request
            },
            Endpoint::Native
        ),
        Err(ApiError::AccessKeyInactive)
    );
}

/// The native API takes only credentials that bind its path and body: V3 and bearer tokens.
/// A V1 signature covers the parameters alone, so it is refused there (and still accepted at
/// `/`).
#[test]
fn v1_signatures_are_refused_on_the_native_api() {
    let raw = v1().raw(Wire::Legacy);
    let params = raw.params().unwrap();
    let request = SignedRequest {
        method: &raw.method,
        path: "/api/v1/domains/example.com/report",
        params: &params,
        headers: &raw.header_pairs(),
        body: b"",
        now: pinned_now(),
    };
    let auth = authenticator();
    let err = auth.authenticate(&request, Endpoint::Native).unwrap_err();
    assert_eq!(err.code(), "InvalidParameter");
    assert!(err.message().contains("Signature"), "{err}");
    assert_eq!(
        auth.authenticate(&request, Endpoint::Rpc).unwrap().scheme,
        Scheme::V1
    );
    // V3 is accepted on both.
    let v3 = v3().raw(Wire::Legacy);
    let params = v3.params().unwrap();
    let request = SignedRequest {
        method: &v3.method,
        path: "/",
        params: &params,
        headers: &v3.header_pairs(),
        body: b"",
        now: pinned_now(),
    };
    assert_eq!(
        auth.authenticate(&request, Endpoint::Native)
            .unwrap()
            .scheme,
        Scheme::V3
    );
}

/// A repeated `x-acs-*`, `host`, `authorization` or `content-type` header is refused: the V3
/// canonical request joins repeats with `,`, so a nonce `a,b` signed once could otherwise be
/// replayed as two headers `a` and `b`, in either order.
#[test]
fn repeated_signed_headers_are_refused() {
    let signed = v3().header("x-acs-signature-nonce", "0000,zzzz");
    assert!(signed.raw(Wire::Legacy).verify(pinned_now()).is_ok());
    let authorization = signed.authorization();
    for halves in [["0000", "zzzz"], ["zzzz", "0000"]] {
        let mut split = signed.clone().without_header("x-acs-signature-nonce");
        for half in halves {
            split
                .headers
                .push(("x-acs-signature-nonce".into(), half.into()));
        }
        expect_naming(
            &split.raw_with(&authorization, Wire::Legacy),
            "InvalidParameter",
            "x-acs-signature-nonce",
        );
    }
    for name in [
        "Host",
        "x-acs-date",
        "X-Acs-Security-Token",
        "Authorization",
        "Content-Type",
    ] {
        let mut raw = v3().raw(Wire::Legacy);
        raw.headers.push((name.into(), "x".into()));
        raw.headers.push((name.into(), "y".into()));
        expect_naming(&raw, "InvalidParameter", name);
    }
    // Other headers may repeat.
    let mut raw = v3().raw(Wire::Legacy);
    raw.headers.push(("Accept-Language".into(), "en".into()));
    raw.headers.push(("Accept-Language".into(), "zh".into()));
    assert!(raw.verify(pinned_now()).is_ok());
}

/// Decoding stops at `MAX_PARAMS` parameters, and finds a repeated name wherever it is. A
/// megabyte of parameters cost two minutes when each new name was compared with every earlier
/// one; here it is refused after the first `MAX_PARAMS` pairs.
#[test]
fn the_number_of_parameters_is_bounded() {
    assert_eq!(
        Params::parse(&many_params(MAX_PARAMS), None).unwrap().len(),
        MAX_PARAMS
    );
    for over in [many_params(MAX_PARAMS + 1), many_params(120_000)] {
        let err = Params::parse("", Some(over.as_bytes())).unwrap_err();
        assert_eq!(err.code(), "InvalidParameter");
        assert!(
            err.message()
                .contains(&format!("at most {MAX_PARAMS} parameters")),
            "{err}"
        );
    }
    let repeated = format!("{}&p0=2", many_params(MAX_PARAMS - 1));
    let err = Params::parse(&repeated, None).unwrap_err();
    assert!(err.message().contains("parameter p0 is not valid"), "{err}");
}
