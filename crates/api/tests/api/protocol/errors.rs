//! Every `ApiError` with the code, HTTP status and message of the reference's table (§9.3),
//! rendered as the POP gateway's JSON and XML bodies (§9.2), and the format rules (§7.5–7.6).

use threatintel_api::error::{
    new_request_id, ApiError, Required, ResponseFormat, JSON_CONTENT_TYPE, XML_CONTENT_TYPE,
};
use threatintel_api::rpc::response_format;
use threatintel_api::signature::SignatureScheme;

fn table() -> Vec<(ApiError, &'static str, u16, &'static str)> {
    vec![
        (ApiError::Missing(Required::Domain), "MissingDomain", 400, "Domain is mandatory for this action."),
        (ApiError::Missing(Required::AccessKeyId), "MissingAccessKeyId", 400, "AccessKeyId is mandatory for this action."),
        (ApiError::MissingHeader("x-acs-date"), "MissingParameter", 400, "x-acs-date is mandatory for this action."),
        (ApiError::MalformedBody, "InvalidParameter", 400, "Specified parameter body is not valid. Its framing is broken or it ended early."),
        (ApiError::invalid("Domain", ""), "InvalidParameter", 400, "Specified parameter Domain is not valid."),
        (
            ApiError::invalid("Field", "\"x\" is not one of ..."),
            "InvalidParameter",
            400,
            "Specified parameter Field is not valid. \"x\" is not one of ...",
        ),
        (ApiError::InvalidFormat, "InvalidParameter.Format", 400, "Specified parameter format is not valid."),
        (ApiError::AccessKeyNotFound, "InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."),
        (ApiError::AccessKeyInactive, "InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled."),
        (
            ApiError::SignatureDoesNotMatch { string_to_sign: "POST&%2F&A%3D1".into() },
            "SignatureDoesNotMatch",
            400,
            "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&A%3D1",
        ),
        (ApiError::InvalidSignatureMethod, "InvalidSignatureMethod", 400, "Specified signature method is not valid."),
        (ApiError::SignatureNonceUsed, "SignatureNonceUsed", 400, "Specified signature nonce was used already."),
        (ApiError::TimestampExpired, "InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."),
        (ApiError::TimestampFormat, "InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted."),
        (
            ApiError::IllegalTimestamp,
            "IllegalTimestamp",
            400,
            "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied.",
        ),
        (ApiError::ActionNotFound, "InvalidAction.NotFound", 404, "Specified api is not found, please check your url and method."),
        (ApiError::InvalidVersion, "InvalidVersion", 400, "Specified parameter Version is not valid."),
        (ApiError::UnsupportedHttpMethod, "UnsupportedHTTPMethod", 403, "This http method not supported."),
        (ApiError::Throttling { retry_after_ms: 250 }, "Throttling.User", 400, "Request was denied due to user flow control."),
        (ApiError::ThrottlingApi { retry_after_ms: 250 }, "Throttling.Api", 400, "Request was denied due to api flow control."),
        (ApiError::Forbidden, "Forbidden.RAM", 403, "User not authorized to operate on the specified resource."),
        (ApiError::BodyTooLarge { limit: 1024 }, "RequestBodyTooLarge", 413, "The request body is larger than 1024 bytes."),
        (ApiError::Internal, "InternalError", 500, "The request processing has failed due to some unknown error."),
        (ApiError::ServiceUnavailable, "ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server."),
    ]
}

#[test]
fn codes_statuses_and_messages() {
    for (error, code, status, message) in table() {
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.status(), status, "{error:?}");
        assert_eq!(error.message(), message, "{error:?}");
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn json_bodies_are_pop_shaped_in_pop_order() {
    let id = "1DD9FD9A-8E57-43E5-B911-E4F5AD2027F7";
    for (error, code, status, message) in table() {
        let r = error.render(ResponseFormat::Json, id, "sasti.example");
        assert_eq!(r.status, status);
        assert_eq!(r.content_type, "application/json;charset=utf-8");
        assert_eq!(r.content_type, JSON_CONTENT_TYPE);
        let expected = format!(
            "{{\"RequestId\":\"{id}\",\"HostId\":\"sasti.example\",\"Code\":\"{code}\",\"Message\":{},\"Recommend\":{}}}",
            serde_json::Value::String(message.into()),
            serde_json::Value::String(format!(
                "threatintel docs/api.md#{}",
                code.to_ascii_lowercase().replace('.', "-")
            ))
        );
        assert_eq!(r.body, expected);
        let value: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(value["Message"], message);
    }
}

#[test]
fn xml_bodies_have_the_error_root_and_the_exact_content_type() {
    let error = ApiError::InvalidVersion;
    let r = error.render(
        ResponseFormat::Xml,
        "93ABDCE5-4D1A-4861-B38E-D31BDC709E4B",
        "h",
    );
    assert_eq!(r.content_type, "text/xml;charset=utf-8");
    assert_eq!(r.content_type, XML_CONTENT_TYPE);
    assert_eq!(
        r.body,
        "<?xml version='1.0' encoding='UTF-8'?><Error><RequestId>93ABDCE5-4D1A-4861-B38E-D31BDC709E4B</RequestId>\
<HostId>h</HostId><Code>InvalidVersion</Code><Message>Specified parameter Version is not valid.</Message>\
<Recommend>threatintel docs/api.md#invalidversion</Recommend></Error>"
    );
    // Text is escaped.
    let r = ApiError::invalid("Domain", "\"<a&b>\" is not a name").render(
        ResponseFormat::Xml,
        "X",
        "h<",
    );
    assert!(r.body.contains("<HostId>h&lt;</HostId>"), "{}", r.body);
    assert!(
        r.body.contains("<Message>Specified parameter Domain is not valid. &quot;&lt;a&amp;b&gt;&quot; is not a name</Message>"),
        "{}",
        r.body
    );
}

#[test]
fn signature_does_not_match_keeps_what_the_legacy_sdk_splits_on() {
    let v1 = "POST&%2F&AccessKeyId%3Dx%26Timestamp%3D2024-05-01T12%253A00%253A00Z";
    let err = ApiError::SignatureDoesNotMatch {
        string_to_sign: v1.into(),
    };
    // `message.split(':')[1]` must be the string-to-sign itself.
    assert_eq!(err.message().split(':').nth(1), Some(v1));
    let json: serde_json::Value =
        serde_json::from_str(&err.render(ResponseFormat::Json, "X", "h").body).unwrap();
    assert_eq!(
        json["Message"].as_str().unwrap().split(':').nth(1),
        Some(v1)
    );
    let xml = err.render(ResponseFormat::Xml, "X", "h").body;
    assert!(xml.contains(&v1.replace('&', "&amp;")), "{xml}");
    // V3: the two-line string-to-sign, intact in both formats.
    let v3 = "ACS3-HMAC-SHA256\n4dee201b8f486e712145a72292cbb377b3ef69bfd302c51e039f978d044221ff";
    let err = ApiError::SignatureDoesNotMatch {
        string_to_sign: v3.into(),
    };
    let json: serde_json::Value =
        serde_json::from_str(&err.render(ResponseFormat::Json, "X", "h").body).unwrap();
    assert!(json["Message"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":{v3}")));
    assert!(err.render(ResponseFormat::Xml, "X", "h").body.contains(v3));
}

#[test]
fn throttling_answers_carry_retry_after() {
    for error in [
        ApiError::Throttling {
            retry_after_ms: 250,
        },
        ApiError::ThrottlingApi {
            retry_after_ms: 250,
        },
    ] {
        for format in [ResponseFormat::Json, ResponseFormat::Xml] {
            let r = error.render(format, "X", "h");
            assert_eq!(r.headers, vec![("x-acs-retry-after", "250".to_owned())]);
        }
    }
    let r = ApiError::Throttling { retry_after_ms: 0 }.render(ResponseFormat::Json, "X", "h");
    assert_eq!(r.headers, vec![("x-acs-retry-after", "1".to_owned())]);
    for (error, ..) in table() {
        if !error.code().starts_with("Throttling") {
            assert!(error
                .render(ResponseFormat::Json, "X", "h")
                .headers
                .is_empty());
        }
    }
}

#[test]
fn internal_errors_say_nothing_more() {
    let body = ApiError::Internal
        .render(ResponseFormat::Json, "X", "h")
        .body;
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["Code"], "InternalError");
    assert_eq!(
        value["Message"],
        "The request processing has failed due to some unknown error."
    );
    assert_eq!(value.as_object().unwrap().len(), 5);
}

#[test]
fn request_ids_are_fresh_upper_case_uuid_v4() {
    let ids: Vec<String> = (0..50).map(|_| new_request_id()).collect();
    for id in &ids {
        let groups: Vec<&str> = id.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{id}"
        );
        assert!(
            id.bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F' | b'-')),
            "{id}"
        );
        assert!(groups[2].starts_with('4'), "{id}");
        assert!(
            matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'A' | b'B'),
            "{id}"
        );
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
}

#[test]
fn response_format_rules() {
    use ResponseFormat::{Json, Xml};
    use SignatureScheme::{V1, V3};
    type Case = (
        Option<SignatureScheme>,
        Option<&'static str>,
        Result<ResponseFormat, ApiError>,
    );
    let cases: [Case; 13] = [
        // V1 without Format: XML, the POP default.
        (Some(V1), None, Ok(Xml)),
        (None, None, Ok(Xml)),
        // V3 without Format: JSON.
        (Some(V3), None, Ok(Json)),
        // Any case.
        (Some(V1), Some("json"), Ok(Json)),
        (Some(V1), Some("JSON"), Ok(Json)),
        (Some(V1), Some("Json"), Ok(Json)),
        (Some(V1), Some("XML"), Ok(Xml)),
        (Some(V1), Some("xml"), Ok(Xml)),
        // The legacy SDK's `Format=None`: JSON.
        (Some(V1), Some("None"), Ok(Json)),
        (Some(V3), Some("XML"), Ok(Xml)),
        // Anything else.
        (Some(V1), Some("YAML"), Err(ApiError::InvalidFormat)),
        (Some(V1), Some(""), Err(ApiError::InvalidFormat)),
        (Some(V3), Some("json "), Err(ApiError::InvalidFormat)),
    ];
    for (scheme, format, expected) in cases {
        assert_eq!(
            response_format(scheme, format),
            expected,
            "{scheme:?} {format:?}"
        );
    }
    assert_eq!(Json.content_type(), "application/json;charset=utf-8");
    assert_eq!(Xml.content_type(), "text/xml;charset=utf-8");
}
