//! DescribeDomainReport success bodies: JSON (V1 and V3) and XML, every value a string, exactly
//! the reference's keys, heavy fields `""` unless asked.

use serde_json::Value;

use crate::support::*;

/// Checks the JSON body's shape and returns it as (key, string value) pairs.
fn report_json(r: &Response) -> serde_json::Map<String, Value> {
    string_body(r, &REPORT_KEYS)
}

fn s<'a>(o: &'a serde_json::Map<String, Value>, k: &str) -> &'a str {
    o[k].as_str().unwrap()
}

/// A JSON document encoded in a string field.
fn doc(o: &serde_json::Map<String, Value>, k: &str) -> Value {
    serde_json::from_str(s(o, k)).unwrap_or_else(|e| panic!("{k} is not JSON ({e}): {}", s(o, k)))
}

fn confidence(o: &serde_json::Map<String, Value>) -> u32 {
    s(o, "Confidence").parse().expect("Confidence is a number")
}

#[test]
fn malicious_name_with_every_field_v1_json() {
    let r = V1::new(MALICIOUS).set("Field", ALL_FIELDS).send();
    let o = report_json(&r);
    assert_eq!(s(&o, "Domain"), MALICIOUS);
    assert_eq!(s(&o, "ThreatLevel"), "3");
    assert!((90..=100).contains(&confidence(&o)), "{o:?}");
    assert_eq!(s(&o, "Scenario"), "失陷指标");
    assert_eq!(s(&o, "Context"), "");
    assert_eq!(s(&o, "Group"), "");

    let basic = doc(&o, "Basic");
    for key in [
        "domain",
        "sld_domain",
        "reg_date",
        "expire_date",
        "child_domain_cnt",
        "malicious_child_domain_cnt",
        "ip_cnt",
        "malicious_ip_cnt",
    ] {
        assert!(basic[key].is_string(), "Basic.{key}: {basic}");
    }
    assert_eq!(basic["domain"], MALICIOUS);
    assert_eq!(basic["sld_domain"], MALICIOUS);
    assert_eq!(basic["reg_date"], "2024-04-01 08:30:00");
    assert_eq!(basic["ip_cnt"], "1");

    let whois = doc(&o, "Whois");
    assert_eq!(whois["registrar"], "NameCheap, Inc.");
    let cert = doc(&o, "SslCert");
    assert_eq!(cert["serial_number"], "18395475168054001104");

    let threat_types = doc(&o, "ThreatTypes");
    let first = &threat_types.as_array().expect("ThreatTypes is an array")[0];
    assert_eq!(first["threat_type"], "C&C Server");
    assert_eq!(first["risk_type"], 3);
    assert!(first["first_find_time"].as_str().unwrap().len() == 19);
    let intelligences = doc(&o, "Intelligences");
    let sources: Vec<&str> = intelligences
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert!(
        sources.contains(&"feed-b-one") && sources.contains(&"feed-b-two"),
        "{sources:?}"
    );
    let top5 = doc(&o, "AttackPreferenceTop5");
    assert_eq!(top5.as_array().unwrap().len(), 2, "{top5}");
    assert!(top5[0]["event_cnt"].is_number());
    let by_type = doc(&o, "AttackCntByThreatType");
    assert!(!by_type.as_array().unwrap().is_empty());
}

#[test]
fn heavy_fields_are_empty_unless_asked() {
    let o = report_json(&V1::new(MALICIOUS).send());
    for field in HEAVY {
        assert_eq!(s(&o, field), "", "{field} without Field");
    }
    // The always-present parts are there.
    assert_eq!(s(&o, "ThreatLevel"), "3");
    assert!(doc(&o, "Basic").is_object());
    assert!(doc(&o, "Whois").is_object());
    assert!(doc(&o, "SslCert").is_object());

    for field in HEAVY {
        let o = report_json(&V1::new(MALICIOUS).set("Field", field).send());
        for other in HEAVY {
            let value = s(&o, other);
            assert_eq!(
                value.is_empty(),
                other != field,
                "Field={field}: {other}={value:?}"
            );
        }
    }
    // Field= (empty) is the same as none.
    let o = report_json(&V1::new(MALICIOUS).set("Field", "").send());
    assert!(HEAVY.iter().all(|f| s(&o, f).is_empty()));
}

#[test]
fn allowlisted_and_unknown_names() {
    let o = report_json(&V1::new(ALLOWLISTED).set("Field", ALL_FIELDS).send());
    assert_eq!(s(&o, "ThreatLevel"), "0");
    assert!(confidence(&o) >= 90, "{o:?}");
    assert_eq!(s(&o, "Scenario"), "信息数据");
    assert_eq!(s(&o, "ThreatTypes"), "");

    let o = report_json(&V1::new(UNKNOWN).set("Field", ALL_FIELDS).send());
    assert_eq!(s(&o, "ThreatLevel"), "-1");
    assert_eq!(s(&o, "Confidence"), "0");
    assert_eq!(s(&o, "Scenario"), "");
    for field in HEAVY.iter().chain(&["Whois", "SslCert"]) {
        assert_eq!(s(&o, field), "", "{field}");
    }
    assert_eq!(doc(&o, "Basic")["domain"], UNKNOWN);
}

#[test]
fn service_lang_en_and_name_normalisation() {
    let o = report_json(
        &V1::new(MALICIOUS)
            .set("Field", "ThreatTypes")
            .set("ServiceLang", "en")
            .send(),
    );
    assert_eq!(s(&o, "Scenario"), "compromise indicator");
    let zh = report_json(
        &V1::new(MALICIOUS)
            .set("Field", "ThreatTypes")
            .set("ServiceLang", "zh")
            .send(),
    );
    assert_ne!(
        doc(&o, "ThreatTypes")[0]["threat_type_desc"],
        doc(&zh, "ThreatTypes")[0]["threat_type_desc"]
    );
    // Upper case and a trailing dot are the same name.
    let o = report_json(&V1::new(&format!("{}.", MALICIOUS.to_uppercase())).send());
    assert_eq!(s(&o, "Domain"), MALICIOUS);
    assert_eq!(s(&o, "ThreatLevel"), "3");
}

#[test]
fn v1_by_get_by_form_body_and_with_legacy_parameters() {
    let get = report_json(&V1::new(MALICIOUS).method("GET").send());
    assert_eq!(s(&get, "ThreatLevel"), "3");
    let form = report_json(&V1::new(MALICIOUS).send_as_form());
    assert_eq!(s(&form, "ThreatLevel"), "3");
    // The legacy SDK's extra parameters: an empty SignatureType is signed, RegionId too.
    let legacy = V1::new(MALICIOUS)
        .set("SignatureType", "")
        .set("RegionId", "cn-hangzhou")
        .set("Field", "ThreatTypes, Intelligences");
    assert_eq!(s(&report_json(&legacy.send()), "ThreatLevel"), "3");
    // Format in any case; the legacy `Format=None` is answered in JSON.
    for format in ["json", "JSON", "Json", "None"] {
        let o = report_json(&V1::new(UNKNOWN).set("Format", format).send());
        assert_eq!(s(&o, "ThreatLevel"), "-1", "Format={format}");
    }
}

/// Clients encode the same values differently (`+` for a space, raw `,` `:` `/` `*`): the
/// server decodes and re-encodes, so all of them verify.
#[test]
fn every_client_encoding_verifies() {
    let request = V1::new("例え.jp").set("Field", "ThreatTypes, Intelligences");
    let lenient = |s: &str| -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                ' ' => out.push('+'),
                '&' | '=' | '+' | '%' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
                c if c.is_ascii() => out.push(c),
                c => {
                    let mut buf = [0; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("%{b:02X}"));
                    }
                }
            }
        }
        out
    };
    let signature = crate::sign::v1_signature(&request.secret, &request.string_to_sign());
    let mut wire: Vec<String> = request
        .params
        .iter()
        .map(|(k, v)| format!("{k}={}", lenient(v)))
        .collect();
    // As aiohttp sends it: `/` raw, `+` and `=` encoded.
    wire.push(format!(
        "Signature={}",
        signature.replace('+', "%2B").replace('=', "%3D")
    ));
    let r = call(
        "POST",
        &server().url(&format!("/?{}", wire.join("&"))),
        &[],
        b"",
    );
    let o = report_json(&r);
    assert_eq!(s(&o, "Domain"), "xn--r8jz45g.jp");
}

#[test]
fn v3_json() {
    let o = report_json(&V3::new(MALICIOUS).query("Field", ALL_FIELDS).send());
    assert_eq!(s(&o, "ThreatLevel"), "3");
    assert!(doc(&o, "ThreatTypes").is_array());
    // Node's smaller SignedHeaders set (no accept/user-agent) is accepted too.
    let mut node = V3::new(ALLOWLISTED);
    node.headers.retain(|(k, _)| k != "accept");
    let o = report_json(
        &node
            .header("x-acs-credentials-provider", "static_ak")
            .send(),
    );
    assert_eq!(s(&o, "ThreatLevel"), "0");
}

#[test]
fn xml_success_body() {
    for format in [Some("XML"), Some("xml"), None] {
        let mut request = V1::new(MALICIOUS).set("Field", ALL_FIELDS);
        request = match format {
            Some(f) => request.set("Format", f),
            None => request.without("Format"),
        };
        let r = request.send();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("text/xml;charset=utf-8"));
        let doc = r.xml();
        assert_eq!(doc.name, "DescribeDomainReportResponse");
        let mut names = doc.child_names();
        names.sort();
        let mut expected = REPORT_KEYS.to_vec();
        expected.sort();
        assert_eq!(names, expected, "Format={format:?}: {}", r.text());
        assert_request_id(&doc.child("RequestId").unwrap().text);
        assert_eq!(doc.child("ThreatLevel").unwrap().text, "3");
        assert_eq!(doc.child("Domain").unwrap().text, MALICIOUS);
        // Documents are expanded; an array repeats its element.
        let basic = doc.child("Basic").unwrap();
        assert_eq!(basic.child("domain").unwrap().text, MALICIOUS);
        let threat_types: Vec<_> = doc
            .children
            .iter()
            .filter(|c| c.name == "ThreatTypes")
            .collect();
        assert!(!threat_types.is_empty());
        assert_eq!(
            threat_types[0].child("threat_type").unwrap().text,
            "C&C Server"
        );
        let intelligences = doc
            .children
            .iter()
            .filter(|c| c.name == "Intelligences")
            .count();
        assert_eq!(intelligences, 2, "{}", r.text());
    }
    // Without Field, heavy elements are empty.
    let r = V1::new(UNKNOWN).set("Format", "XML").send();
    let doc = r.xml();
    for field in HEAVY
        .iter()
        .chain(&["Context", "Group", "Whois", "SslCert"])
    {
        let element = doc.child(field).unwrap();
        assert!(
            element.children.is_empty() && element.text.is_empty(),
            "{field}: {}",
            r.text()
        );
    }
    assert_eq!(doc.child("ThreatLevel").unwrap().text, "-1");
}
