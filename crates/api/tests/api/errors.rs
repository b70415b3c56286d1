//! Every error code of DescribeDomainReport with its HTTP status, in JSON and in XML.

use crate::sign::{enc, v1_signature};
use crate::support::*;

/// The same failing request in JSON (`Format=JSON`) and XML (`Format=XML`); both must give
/// `status` and `code`, with the right content type and shape. Returns the JSON one's body.
#[track_caller]
fn both_formats(request: V1, status: u16, code: &'static str) -> ErrorBody {
    both_want(request, Want::Code(status, code))
}

#[track_caller]
fn both_want(request: V1, want: Want) -> ErrorBody {
    let xml = request.clone().set("Format", "XML");
    let json = request.set("Format", "JSON");
    let x = json_or_xml(&xml, want);
    assert!(x.xml, "Format=XML answered in JSON");
    let j = json_or_xml(&json, want);
    assert!(!j.xml, "Format=JSON answered in XML");
    assert_ne!(x.request_id, j.request_id, "a fresh RequestId each time");
    j
}

#[track_caller]
fn json_or_xml(request: &V1, want: Want) -> ErrorBody {
    // A fresh nonce (when there is one) for each send.
    let mut request = request.clone();
    if request.params.iter().any(|(k, _)| k == "SignatureNonce") {
        request = request.set("SignatureNonce", &nonce());
    }
    assert_want(&request.send(), want)
}

#[test]
fn missing_parameters() {
    both_want(
        V1::new(MALICIOUS).without("Domain"),
        Want::Missing("Domain"),
    );
    both_want(V1::new(""), Want::Missing("Domain"));
    both_want(
        V1::new(MALICIOUS).without("Action"),
        Want::Missing("Action"),
    );
    for param in ["Timestamp", "SignatureNonce", "AccessKeyId"] {
        both_want(V1::new(MALICIOUS).without(param), Want::Missing(param));
    }
    let mut v3 = V3::new(MALICIOUS);
    v3.headers.retain(|(k, _)| k != "x-acs-signature-nonce");
    assert_want(&v3.send(), Want::Missing("x-acs-signature-nonce"));
    // Unsigned, on a server without anonymous access.
    let r = call(
        "GET",
        &server().url(&format!(
            "/?Action=DescribeDomainReport&Version=2020-05-12&Format=JSON&Domain={MALICIOUS}"
        )),
        &[],
        b"",
    );
    assert_want(&r, Want::Missing("AccessKeyId"));
}

#[test]
fn invalid_parameters() {
    for domain in ["http://evil.com/x", "1.2.3.4", "*.com", "com", "a..b.com"] {
        let body = both_formats(V1::new(domain), 400, "InvalidParameter");
        assert!(
            body.message.contains("Domain"),
            "{domain}: {}",
            body.message
        );
    }
    let body = both_formats(
        V1::new(MALICIOUS).set("Field", "ThreatTypes,Bogus"),
        400,
        "InvalidParameter",
    );
    assert!(body.message.contains("Field"), "{}", body.message);
    let body = both_formats(
        V1::new(MALICIOUS).set("ServiceLang", "fr"),
        400,
        "InvalidParameter",
    );
    assert!(body.message.contains("ServiceLang"), "{}", body.message);
    // A bad Format can only be answered in JSON.
    let r = V1::new(MALICIOUS).set("Format", "YAML").send();
    assert_error(&r, 400, "InvalidParameter.Format");
    both_formats(
        V1::new(MALICIOUS).set("SignatureMethod", "HMAC-SHA256"),
        400,
        "InvalidSignatureMethod",
    );
}

#[test]
fn unknown_and_inactive_keys() {
    both_formats(
        V1::with_key("LTAIunknownKey0000001", SECRET).set("Domain", MALICIOUS),
        404,
        "InvalidAccessKeyId.NotFound",
    );
    both_formats(
        V1::with_key(INACTIVE, SECRET).set("Domain", MALICIOUS),
        400,
        "InvalidAccessKeyId.Inactive",
    );
    let mut v3 = V3::new(MALICIOUS);
    v3.key = "LTAIunknownKey0000001".into();
    assert_error(&v3.send(), 404, "InvalidAccessKeyId.NotFound");
    v3.key = INACTIVE.into();
    assert_error(&v3.send(), 400, "InvalidAccessKeyId.Inactive");
}

#[test]
fn signature_does_not_match_carries_the_server_string_to_sign() {
    let prefix =
        "Specified signature is not matched with our calculation. server string to sign is:";
    for format in ["JSON", "XML"] {
        let mut request = V1::new(MALICIOUS).set("Format", format);
        request.secret = "wrong-secret".into();
        let body = assert_error(&request.send(), 400, "SignatureDoesNotMatch");
        assert_eq!(body.xml, format == "XML");
        // The legacy SDK splits on ':' and compares the rest with its own string-to-sign.
        let expected = format!("{prefix}{}", request.string_to_sign());
        assert_eq!(body.message, expected);
        assert_eq!(
            body.message.split(':').nth(1),
            Some(request.string_to_sign().as_str())
        );
    }
    // A tampered parameter after signing.
    let request = V1::new(MALICIOUS);
    let tampered = request
        .signed_query()
        .replace(&format!("Domain={}", enc(MALICIOUS)), "Domain=other.com");
    let r = call("POST", &server().url(&format!("/?{tampered}")), &[], b"");
    let body = assert_error(&r, 400, "SignatureDoesNotMatch");
    assert!(
        body.message.contains("Domain%3Dother.com"),
        "{}",
        body.message
    );
    // GET signed as POST.
    let signed_as_post = V1::new(MALICIOUS);
    let r = call(
        "GET",
        &server().url(&format!("/?{}", signed_as_post.signed_query())),
        &[],
        b"",
    );
    let body = assert_error(&r, 400, "SignatureDoesNotMatch");
    assert!(
        body.message.starts_with(&format!("{prefix}GET&%2F&")),
        "{}",
        body.message
    );

    // V3: the two-line string-to-sign.
    let mut v3 = V3::new(MALICIOUS);
    v3.secret = "wrong-secret".into();
    let (_, sts) = v3.authorization();
    let body = assert_error(&v3.send(), 400, "SignatureDoesNotMatch");
    assert_eq!(body.message, format!("{prefix}{sts}"));
}

#[test]
fn signature_nonce_used() {
    let request = V1::new(MALICIOUS);
    assert_eq!(request.send().status, 200);
    for format in ["JSON", "XML"] {
        // Same nonce, re-signed: refused in the asked format.
        let body = assert_error(
            &request.clone().set("Format", format).send(),
            400,
            "SignatureNonceUsed",
        );
        assert_eq!(body.xml, format == "XML");
        assert_eq!(body.message, "Specified signature nonce was used already.");
    }
    // The exact same bytes again.
    let query = request.signed_query();
    let r = call("POST", &server().url(&format!("/?{query}")), &[], b"");
    assert_error(&r, 400, "SignatureNonceUsed");
    // The same nonce under another key is fine; V3 nonces are tracked as well.
    let v3 = V3::new(MALICIOUS);
    assert_eq!(v3.send().status, 200);
    let again = v3.clone().query("Field", "ThreatTypes");
    assert_error(&again.send(), 400, "SignatureNonceUsed");
}

#[test]
fn timestamps() {
    for offset in [-16 * 60, 16 * 60, -86_400 * 365] {
        both_formats(
            V1::new(MALICIOUS).set("Timestamp", &timestamp(offset)),
            400,
            "InvalidTimeStamp.Expired",
        );
    }
    // Inside the window either side.
    for offset in [-14 * 60, 14 * 60] {
        let r = V1::new(MALICIOUS)
            .set("Timestamp", &timestamp(offset))
            .send();
        assert_eq!(r.status, 200, "offset {offset}: {}", r.text());
    }
    for bad in [
        "2024-05-01 12:00:00",
        "2024-05-01T12:00:00",
        "2024-05-01T12:00:00+08:00",
        "1714564800",
        "yesterday",
        "",
    ] {
        both_formats(
            V1::new(MALICIOUS).set("Timestamp", bad),
            400,
            "InvalidTimeStamp.Format",
        );
    }
    let v3 = V3::new(MALICIOUS).header("x-acs-date", &timestamp(-3600));
    assert_error(&v3.send(), 400, "InvalidTimeStamp.Expired");
    let v3 = V3::new(MALICIOUS).header("x-acs-date", "Wed, 01 May 2024 12:00:00 GMT");
    assert_error(&v3.send(), 400, "InvalidTimeStamp.Format");
}

#[test]
fn action_version_and_method() {
    both_formats(
        V1::new(MALICIOUS).set("Action", "DescribeInstances"),
        404,
        "InvalidAction.NotFound",
    );
    both_formats(
        V1::new(MALICIOUS).set("Version", "2019-01-01"),
        400,
        "InvalidVersion",
    );
    // Absent: `MissingVersion` (§9.3's Missing<Name>) or `InvalidVersion`.
    both_want(
        V1::new(MALICIOUS).without("Version"),
        Want::Either(&[Want::Missing("Version"), Want::Code(400, "InvalidVersion")]),
    );
    let v3 = V3::new(MALICIOUS).header("x-acs-action", "DescribeInstances");
    assert_error(&v3.send(), 404, "InvalidAction.NotFound");
    let v3 = V3::new(MALICIOUS).header("x-acs-version", "2018-01-01");
    assert_error(&v3.send(), 400, "InvalidVersion");

    for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        for format in ["JSON", "XML"] {
            let request = V1::new(MALICIOUS).set("Format", format).method(method);
            let body = assert_error(&request.send(), 403, "UnsupportedHTTPMethod");
            assert_eq!(body.xml, format == "XML", "{method}");
        }
    }
}

#[test]
fn throttling_user_with_retry_after() {
    for format in ["JSON", "XML"] {
        // THROTTLE_KEY admits one request per second: of a few sent back to back, one is
        // refused (unless the machine is so slow that each takes a second).
        let throttled = (0..5)
            .map(|_| {
                V1::with_key(THROTTLE_KEY, LIMITED_SECRET)
                    .set("Domain", MALICIOUS)
                    .set("Format", format)
                    .send()
            })
            .find(|r| r.status != 200)
            .expect("one of 5 requests in a row at rate 1 is throttled");
        let body = assert_error(&throttled, 400, "Throttling.User");
        assert_eq!(body.xml, format == "XML");
        assert_eq!(body.message, "Request was denied due to user flow control.");
        let retry: u64 = throttled
            .header("x-acs-retry-after")
            .expect("x-acs-retry-after")
            .parse()
            .expect("milliseconds");
        assert!((1..=1000).contains(&retry), "{retry}");
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
}

#[test]
fn xml_errors_have_the_exact_content_type_tea_parses() {
    let r = V1::new(MALICIOUS)
        .without("Format")
        .set("Version", "1")
        .send();
    assert_eq!(r.header("content-type"), Some("text/xml;charset=utf-8"));
    assert!(
        r.text()
            .starts_with("<?xml version='1.0' encoding='UTF-8'?><Error>"),
        "{}",
        r.text()
    );
    assert_error(&r, 400, "InvalidVersion");
    // Signed by the test's own V1 implementation: the server accepts it (independent check).
    let request = V1::new(UNKNOWN);
    let signature = v1_signature(SECRET, &request.string_to_sign());
    assert!(request.signed_query().ends_with(&enc(&signature)));
    assert_eq!(request.send().status, 200);
}

#[test]
fn error_messages_never_carry_a_secret() {
    let mut request = V1::new(MALICIOUS);
    request.secret = "wrong".into();
    let r = request.send();
    assert!(!r.text().contains(SECRET));
    let r = call(
        "GET",
        &server().url(&format!("/api/v1/domains/{MALICIOUS}/report")),
        &[("Authorization", &format!("Bearer {KEY}:not-{SECRET}"))],
        b"",
    );
    assert_error(&r, 404, "InvalidAccessKeyId.NotFound");
    assert!(!r.text().contains(SECRET));
}
