//! The RPC call of an authenticated request: method, Action, Version, Domain, Field,
//! ServiceLang, from the parameters (V1, unsigned) or the signed headers (V3). The response
//! format is decided by the handler, once (`protocol/errors.rs` checks its rules).

use threatintel_api::auth::{Identity, Scheme};
use threatintel_api::error::{ApiError, Required};
use threatintel_api::params::Params;
use threatintel_api::rpc::{
    check_method, extract_call, parse_fields, parse_lang, DescribeDomainReportCall, Field,
    FieldSet, Lang,
};
use threatintel_model::DomainQuery;

fn identity(scheme: Scheme) -> Identity {
    Identity {
        access_key_id: "k".into(),
        scheme,
        nonce: None,
        security_token: None,
        rate_per_sec: 0,
    }
}

fn v1_call(query: &str) -> Result<DescribeDomainReportCall, ApiError> {
    let params = Params::parse(query, None).unwrap();
    extract_call("POST", &params, &[], &identity(Scheme::V1))
}

const BASE: &str = "Action=DescribeDomainReport&Version=2020-05-12&Domain=example.com";

#[test]
fn a_minimal_v1_call() {
    assert_eq!(
        v1_call(BASE),
        Ok(DescribeDomainReportCall {
            domain: DomainQuery::parse("example.com").unwrap(),
            fields: FieldSet::NONE,
            lang: Lang::Zh,
        })
    );
    let call = v1_call(&format!(
        "{BASE}&Format=JSON&Field=ThreatTypes%2CIntelligences&ServiceLang=en"
    ))
    .unwrap();
    assert_eq!(call.lang, Lang::En);
    assert!(call.fields.contains(Field::ThreatTypes) && call.fields.contains(Field::Intelligences));
    assert!(!call.fields.contains(Field::AttackPreferenceTop5));
    // The domain is validated here, once, into a query (normalised).
    assert_eq!(
        v1_call("Action=DescribeDomainReport&Version=2020-05-12&Domain=*.Example.COM.")
            .unwrap()
            .domain
            .to_string(),
        "*.example.com"
    );
    for bad in ["exa mple.com", "com", "*.com", "a..b"] {
        let err = v1_call(&format!(
            "Action=DescribeDomainReport&Version=2020-05-12&Domain={bad}"
        ))
        .unwrap_err();
        assert_eq!(err.code(), "InvalidParameter", "{bad}");
        assert!(
            err.message()
                .starts_with("Specified parameter Domain is not valid."),
            "{bad}: {err}"
        );
    }
}

#[test]
fn v3_reads_action_and_version_from_the_signed_headers() {
    let params = Params::parse("Domain=example.com&Action=Nonsense", None).unwrap();
    let headers = [
        ("X-Acs-Action", "DescribeDomainReport"),
        ("x-acs-version", "2020-05-12"),
    ];
    extract_call("POST", &params, &headers, &identity(Scheme::V3)).unwrap();
    let wrong = [
        ("x-acs-action", "DescribeInstances"),
        ("x-acs-version", "2020-05-12"),
    ];
    assert_eq!(
        extract_call("POST", &params, &wrong, &identity(Scheme::V3)),
        Err(ApiError::ActionNotFound)
    );
    // V1 ignores the headers.
    assert_eq!(
        extract_call("POST", &params, &headers, &identity(Scheme::V1)),
        Err(ApiError::ActionNotFound)
    );
}

#[test]
fn action_version_and_method() {
    assert_eq!(
        v1_call("Version=2020-05-12&Domain=a.com"),
        Err(ApiError::Missing(Required::Action))
    );
    assert_eq!(
        v1_call("Action=&Version=2020-05-12&Domain=a.com"),
        Err(ApiError::Missing(Required::Action))
    );
    // DescribeIpReport is served: without `Ip` it is MissingIp, not an unknown action.
    assert_eq!(
        v1_call("Action=DescribeIpReport&Version=2020-05-12&Domain=a.com"),
        Err(ApiError::Missing(Required::Ip))
    );
    // DescribeFileReport too: without `FileHash` it is MissingFileHash.
    assert_eq!(
        v1_call("Action=DescribeFileReport&Version=2020-05-12&Domain=a.com"),
        Err(ApiError::Missing(Required::FileHash))
    );
    for action in [
        "DescribeInstances",
        "describefilereport",
        "describedomainreport",
        "describeipreport",
    ] {
        let err = v1_call(&format!("Action={action}&Version=2020-05-12&Domain=a.com")).unwrap_err();
        assert_eq!(
            (err.code(), err.status()),
            ("InvalidAction.NotFound", 404),
            "{action}"
        );
    }
    for version in ["2019-01-01", "", "2020-5-12"] {
        assert_eq!(
            v1_call(&format!(
                "Action=DescribeDomainReport&Version={version}&Domain=a.com"
            )),
            Err(ApiError::InvalidVersion)
        );
    }
    assert_eq!(
        v1_call("Action=DescribeDomainReport&Domain=a.com"),
        Err(ApiError::InvalidVersion)
    );
    for method in ["GET", "POST"] {
        assert_eq!(check_method(method), Ok(()));
    }
    for method in ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", ""] {
        let err = check_method(method).unwrap_err();
        assert_eq!(
            (err.code(), err.status()),
            ("UnsupportedHTTPMethod", 403),
            "{method}"
        );
        let params = Params::parse(BASE, None).unwrap();
        assert_eq!(
            extract_call(method, &params, &[], &identity(Scheme::V1)),
            Err(ApiError::UnsupportedHttpMethod)
        );
    }
}

#[test]
fn domain_is_required() {
    for query in [
        "Action=DescribeDomainReport&Version=2020-05-12",
        "Action=DescribeDomainReport&Version=2020-05-12&Domain=",
    ] {
        let err = v1_call(query).unwrap_err();
        assert_eq!(err, ApiError::Missing(Required::Domain));
        assert_eq!(err.code(), "MissingDomain");
        assert_eq!(err.message(), "Domain is mandatory for this action.");
    }
}

#[test]
fn fields() {
    assert_eq!(parse_fields(None), Ok(FieldSet::NONE));
    assert_eq!(parse_fields(Some("")), Ok(FieldSet::NONE));
    assert_eq!(parse_fields(Some(" , ,")), Ok(FieldSet::NONE));
    assert_eq!(
        parse_fields(Some(
            "AttackCntByThreatType,AttackPreferenceTop5,Intelligences,ThreatTypes"
        )),
        Ok(FieldSet::ALL)
    );
    assert_eq!(
        parse_fields(Some("ThreatTypes, ThreatTypes "))
            .unwrap()
            .to_string(),
        "ThreatTypes"
    );
    for bad in [
        "Bogus",
        "ThreatTypes,Bogus",
        "threattypes",
        "Basic",
        "ThreatTypes;Intelligences",
    ] {
        let err = parse_fields(Some(bad)).unwrap_err();
        assert_eq!(err.code(), "InvalidParameter");
        let message = err.message();
        assert!(
            message.starts_with("Specified parameter Field is not valid."),
            "{message}"
        );
        for valid in [
            "ThreatTypes",
            "Intelligences",
            "AttackPreferenceTop5",
            "AttackCntByThreatType",
        ] {
            assert!(message.contains(valid), "{bad}: {message}");
        }
    }
    assert_eq!(
        v1_call(&format!("{BASE}&Field=Bogus")).unwrap_err().code(),
        "InvalidParameter"
    );
}

#[test]
fn service_lang() {
    assert_eq!(parse_lang(None), Ok(Lang::Zh));
    assert_eq!(parse_lang(Some("")), Ok(Lang::Zh));
    assert_eq!(parse_lang(Some("zh")), Ok(Lang::Zh));
    assert_eq!(parse_lang(Some("en")), Ok(Lang::En));
    assert_eq!(parse_lang(Some("EN")), Ok(Lang::En));
    for bad in ["fr", "zh-CN", "english"] {
        let err = parse_lang(Some(bad)).unwrap_err();
        assert!(err.message().contains("ServiceLang"), "{err}");
    }
}
