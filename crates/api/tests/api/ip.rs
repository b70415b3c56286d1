//! DescribeIpReport end to end: success bodies (JSON V1 and V3, XML), its parameter errors,
//! and the native address routes.

use serde_json::{json, Value};

use crate::support::*;

/// The JSON body, checked: the 12 keys, every value a string.
fn ip_json(r: &Response) -> serde_json::Map<String, Value> {
    string_body(r, &IP_REPORT_KEYS)
}

fn s<'a>(o: &'a serde_json::Map<String, Value>, k: &str) -> &'a str {
    o[k].as_str().unwrap()
}

fn doc(o: &serde_json::Map<String, Value>, k: &str) -> Value {
    serde_json::from_str(s(o, k)).unwrap_or_else(|e| panic!("{k} is not JSON ({e}): {}", s(o, k)))
}

/// The `Ip` document: the address and the seven location keys, all strings.
fn check_ip_document(o: &serde_json::Map<String, Value>, ip: &str) {
    let d = doc(o, "Ip");
    let object = d.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "asn",
            "asn_label",
            "city",
            "country",
            "idc_name",
            "ip",
            "isp",
            "province"
        ]
    );
    assert!(object.values().all(Value::is_string), "{d}");
    assert_eq!(d["ip"], ip);
}

#[test]
fn listed_ip_with_every_field_v1_json() {
    let r = V1::ip(LISTED_IP).set("Field", ALL_FIELDS).send();
    let o = ip_json(&r);
    assert_eq!(s(&o, "ThreatLevel"), "3");
    let confidence: u32 = s(&o, "Confidence").parse().unwrap();
    assert!((90..=100).contains(&confidence), "two B sources: {o:?}");
    assert_eq!(s(&o, "Scenario"), "失陷指标");
    check_ip_document(&o, LISTED_IP);
    let types = doc(&o, "ThreatTypes");
    assert_eq!(types[0]["threat_type"], "C&C Server");
    assert_eq!(types[0]["risk_type"], 3);
    let intel = doc(&o, "Intelligences");
    let sources: Vec<&str> = intel
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["feed-b-one", "feed-b-two"]);
    for empty in [
        "Whois",
        "AttackCntByThreatType",
        "AttackPreferenceTop5",
        "Context",
        "Group",
    ] {
        assert_eq!(s(&o, empty), "", "{empty}");
    }
}

#[test]
fn ip_report_v3_json_and_heavy_fields_only_when_asked() {
    let o = ip_json(&V3::ip(IN_LISTED_NETWORK).send());
    assert_eq!(s(&o, "ThreatLevel"), "3", "inside a listed /48");
    check_ip_document(&o, IN_LISTED_NETWORK);
    assert_eq!(s(&o, "ThreatTypes"), "");
    assert_eq!(s(&o, "Intelligences"), "");
    let o = ip_json(&V3::ip(RESOLVER_IP).query("ServiceLang", "en").send());
    assert_eq!(
        s(&o, "ThreatLevel"),
        "0",
        "the allowlist outweighs a weak feed"
    );
    assert_eq!(s(&o, "Scenario"), "informational");
    let o = ip_json(&V1::ip(UNKNOWN_IP).send());
    assert_eq!(
        (s(&o, "ThreatLevel"), s(&o, "Confidence"), s(&o, "Scenario")),
        ("-1", "0", "")
    );
}

#[test]
fn ip_report_xml() {
    let r = V1::ip(LISTED_IP)
        .set("Format", "XML")
        .set("Field", "ThreatTypes")
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/xml;charset=utf-8"));
    let root = r.xml();
    assert_eq!(root.name, "DescribeIpReportResponse");
    let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, IP_REPORT_KEYS);
    let ip = root.child("Ip").unwrap();
    assert_eq!(ip.child("ip").unwrap().text, LISTED_IP);
    assert_eq!(root.child("ThreatLevel").unwrap().text, "3");
    let types = root.child("ThreatTypes").unwrap();
    assert_eq!(types.child("threat_type").unwrap().text, "C&C Server");
}

#[test]
fn ip_parameter_errors() {
    assert_want(&V1::ip("").send(), Want::Missing("Ip"));
    assert_want(&V1::ip("x").without("Ip").send(), Want::Missing("Ip"));
    for bad in [
        "1.2.3",
        "::g",
        "10.0.0.0/8",
        "1.2.3.4.5",
        "256.1.1.1",
        "fe80::1%eth0",
        " 1.2.3.4",
    ] {
        let r = V1::ip(bad).send();
        let body = assert_error(&r, 400, "InvalidParameter");
        assert!(body.message.contains("Ip"), "{bad}: {}", body.message);
        let r = V3::ip(bad).send();
        assert_error(&r, 400, "InvalidParameter");
    }
}

#[test]
fn native_ip_report_and_batch() {
    let r = call(
        "GET",
        &server().url(&format!("/api/v1/ips/{LISTED_IP}/report")),
        &[("Authorization", &bearer())],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_request_id(v["request_id"].as_str().unwrap());
    assert_eq!(v["report"]["ip"], LISTED_IP);
    assert_eq!(v["report"]["verdict"]["level"], "high");
    assert_eq!(
        v["report"]["verdict"]["records"].as_array().unwrap().len(),
        2
    );
    assert_eq!(v["report"]["resolved_names"], json!([]));

    // Reverse passive DNS: the name that resolved to the address.
    let r = call(
        "GET",
        &server().url("/api/v1/ips/203.0.113.7/report"),
        &[("Authorization", &bearer())],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let resolved = &r.json()["report"]["resolved_names"];
    assert_eq!(resolved[0]["name"], MALICIOUS, "{resolved}");
    assert_eq!(resolved[0]["count"], 9);

    let r = call(
        "GET",
        &server().url("/api/v1/ips/10.0.0.0%2F8/report"),
        &[("Authorization", &bearer())],
        b"",
    );
    assert_error(&r, 400, "InvalidParameter");

    let body = json!({ "ips": [IN_LISTED_NETWORK, "1.2.3", RESOLVER_IP] }).to_string();
    let r = call(
        "POST",
        &server().url("/api/v1/ips/report"),
        &[
            ("Authorization", &bearer()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["report"]["networks"][0], "2001:db8:bad::/48");
    assert_eq!(results[1]["error"]["code"], "InvalidParameter");
    assert_eq!(results[2]["report"]["verdict"]["level"], "safe");
}
