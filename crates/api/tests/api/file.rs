//! DescribeFileReport end to end: success bodies (JSON V1 and V3, XML), its parameter errors,
//! and the native file routes.

use serde_json::{json, Value};

use crate::support::*;

/// The JSON body, checked: the 7 keys, every value a string.
fn file_json(r: &Response) -> serde_json::Map<String, Value> {
    string_body(r, &FILE_REPORT_KEYS)
}

fn s<'a>(o: &'a serde_json::Map<String, Value>, k: &str) -> &'a str {
    o[k].as_str().unwrap()
}

fn doc(o: &serde_json::Map<String, Value>, k: &str) -> Value {
    serde_json::from_str(s(o, k)).unwrap_or_else(|e| panic!("{k} is not JSON ({e}): {}", s(o, k)))
}

/// `Basic`: the linked hashes and what the sources say of the file, all strings.
fn check_basic(o: &serde_json::Map<String, Value>) {
    let basic = doc(o, "Basic");
    let object = basic.as_object().unwrap();
    assert!(object.values().all(Value::is_string), "{basic}");
    assert_eq!(basic["md5"], FILE_MD5);
    assert_eq!(basic["sha1"], FILE_SHA1);
    assert_eq!(basic["sha256"], FILE_SHA256);
    assert_eq!(basic["file_type"], "exe");
    assert_eq!(basic["file_size"], "68");
    assert_eq!(basic["file_names"], "invoice.doc,payload.exe");
    assert!(!basic["first_seen"].as_str().unwrap().is_empty());
}

#[test]
fn file_listed_by_md5_asked_by_sha256_v1_json() {
    let r = V1::file(&FILE_SHA256.to_ascii_uppercase())
        .set("Field", ALL_FIELDS)
        .send();
    let o = file_json(&r);
    assert_eq!(s(&o, "FileHash"), FILE_SHA256);
    assert_eq!(s(&o, "ThreatLevel"), "3");
    check_basic(&o);
    let types = doc(&o, "ThreatTypes");
    assert_eq!(types[0]["threat_type"], "Malware");
    assert_eq!(types[0]["risk_type"], 3);
    assert_eq!(doc(&o, "Intelligences"), json!(["AgentTesla"]));
    assert_eq!(s(&o, "Sandbox"), "");
}

#[test]
fn file_report_v3_json_and_heavy_fields_only_when_asked() {
    let o = file_json(&V3::file(FILE_MD5).send());
    assert_eq!(s(&o, "ThreatLevel"), "3");
    check_basic(&o);
    assert_eq!(s(&o, "ThreatTypes"), "");
    assert_eq!(s(&o, "Intelligences"), "");
    let o = file_json(&V3::file(FILE_SHA1).query("Field", "Intelligences").send());
    assert_eq!(doc(&o, "Intelligences"), json!(["AgentTesla"]));
    // `Basic`, which a file report always has, may be asked for (the SDKs' example does).
    let o = file_json(&V1::file(FILE_MD5).set("Field", "Basic,ThreatTypes").send());
    assert_eq!(doc(&o, "ThreatTypes")[0]["threat_type"], "Malware");
    assert_eq!(s(&o, "Intelligences"), "");
    let o = file_json(&V1::file(UNKNOWN_SHA256).set("Field", ALL_FIELDS).send());
    assert_eq!(s(&o, "ThreatLevel"), "-1");
    assert_eq!(s(&o, "ThreatTypes"), "");
    assert_eq!(s(&o, "Intelligences"), "");
    let basic = doc(&o, "Basic");
    assert_eq!(basic["sha256"], UNKNOWN_SHA256);
    assert_eq!(basic["md5"], "");
}

#[test]
fn file_report_xml() {
    let r = V1::file(FILE_MD5)
        .set("Format", "XML")
        .set("Field", "ThreatTypes")
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/xml;charset=utf-8"));
    let root = r.xml();
    assert_eq!(root.name, "DescribeFileReportResponse");
    let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, FILE_REPORT_KEYS);
    assert_eq!(root.child("FileHash").unwrap().text, FILE_MD5);
    let basic = root.child("Basic").unwrap();
    assert_eq!(basic.child("sha256").unwrap().text, FILE_SHA256);
    assert_eq!(root.child("ThreatLevel").unwrap().text, "3");
    let types = root.child("ThreatTypes").unwrap();
    assert_eq!(types.child("threat_type").unwrap().text, "Malware");
}

#[test]
fn file_parameter_errors() {
    assert_want(&V1::file("").send(), Want::Missing("FileHash"));
    assert_want(
        &V1::file("x").without("FileHash").send(),
        Want::Missing("FileHash"),
    );
    for (bad, says) in [
        ("abc", "32 (MD5), 40 (SHA-1) or 64 (SHA-256)"),
        (&"a".repeat(33), "has 33"),
        (&format!("{}g", "a".repeat(31)), "hex digits only"),
        (&format!("{}z", "a".repeat(63)), "'z'"),
    ] {
        let r = V1::file(bad).send();
        let body = assert_error(&r, 400, "InvalidParameter");
        assert!(body.message.contains("FileHash"), "{bad}: {}", body.message);
        assert!(body.message.contains(says), "{bad}: {}", body.message);
        let r = V3::file(bad).send();
        assert_error(&r, 400, "InvalidParameter");
    }
}

#[test]
fn native_file_report_and_batch() {
    let r = call(
        "GET",
        &server().url(&format!("/api/v1/files/{FILE_SHA1}/report")),
        &[("Authorization", &bearer())],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_request_id(v["request_id"].as_str().unwrap());
    assert_eq!(v["report"]["hash"], FILE_SHA1);
    assert_eq!(v["report"]["file"]["hashes"]["md5"], FILE_MD5);
    assert_eq!(v["report"]["verdict"]["level"], "high");
    assert_eq!(
        v["report"]["verdict"]["records"].as_array().unwrap().len(),
        2
    );

    let r = call(
        "GET",
        &server().url("/api/v1/files/abc/report"),
        &[("Authorization", &bearer())],
        b"",
    );
    assert_error(&r, 400, "InvalidParameter");

    let body = json!({ "hashes": [FILE_MD5, "xyz", UNKNOWN_SHA256] }).to_string();
    let r = call(
        "POST",
        &server().url("/api/v1/files/report"),
        &[
            ("Authorization", &bearer()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["hash"], FILE_MD5);
    assert_eq!(results[0]["report"]["verdict"]["level"], "high");
    assert_eq!(results[1]["error"]["code"], "InvalidParameter");
    assert_eq!(results[2]["report"]["verdict"]["level"], "unknown");

    let body = json!({ "ips": [FILE_MD5] }).to_string();
    let r = call(
        "POST",
        &server().url("/api/v1/files/report"),
        &[
            ("Authorization", &bearer()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_error(&r, 400, "InvalidParameter");
}
