//! The tests' own signer, written from the protocol reference (§5.2 and §6.2) without the
//! crate's `signature` module, so that the server is checked against an independent
//! implementation. Pinned to the reference's published vectors below.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// RFC 3986 percent-encoding as both schemes use it: `A-Z a-z 0-9 - _ . ~` stay, every other
/// byte of the UTF-8 encoding becomes `%XX` in upper case.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `enc(k)=enc(v)` sorted by key, joined by `&`.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// V1: `METHOD&%2F&enc(canonical query without Signature)`.
pub fn v1_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    let unsigned: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .cloned()
        .collect();
    format!("{method}&%2F&{}", enc(&canonical_query(&unsigned)))
}

/// V1: Base64(HMAC-SHA1(secret + "&", string-to-sign)).
pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// V3 canonical request over exactly `headers` (lower-case names), which are all signed.
pub fn v3_canonical_request(
    method: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    payload_hash: &str,
) -> String {
    let mut sorted: Vec<&(String, String)> = headers.iter().collect();
    sorted.sort();
    let canonical_headers: String = sorted
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = sorted.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "{method}\n/\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        canonical_query(query),
        signed.join(";")
    )
}

/// V3: `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "ACS3-HMAC-SHA256\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// V3: hex(HMAC-SHA256(secret, string-to-sign)).
pub fn v3_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const KEY: &str = "LTAI5tFAKEAccessKeyId01";
const SECRET: &str = "FAKEsecretFAKEsecretFAKEsecret01";
const NONCE: &str = "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf";

/// The reference's vectors V1-A (Tea), V1-B (legacy), V1-C (encodings) and V1-D (Alibaba's
/// published example).
#[test]
fn own_v1_signer_matches_the_reference_vectors() {
    let tea = [
        ("Action", "DescribeDomainReport"),
        ("Format", "json"),
        ("Version", "2020-05-12"),
        ("Timestamp", "2024-05-01T12:00:00Z"),
        ("SignatureNonce", NONCE),
        ("Domain", "example.com"),
        ("Field", "ThreatTypes,Intelligences"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("AccessKeyId", KEY),
    ];
    let sts = v1_string_to_sign("POST", &pairs(&tea));
    assert_eq!(sts, "POST&%2F&AccessKeyId%3DLTAI5tFAKEAccessKeyId01%26Action%3DDescribeDomainReport%26Domain%3Dexample.com%26Field%3DThreatTypes%252CIntelligences%26Format%3Djson%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2024-05-01T12%253A00%253A00Z%26Version%3D2020-05-12");
    assert_eq!(v1_signature(SECRET, &sts), "mNH1Nc1cAZyaewcNTw7digRZf+s=");

    let mut legacy = pairs(&tea);
    legacy.retain(|(k, _)| k != "Format");
    legacy.extend(pairs(&[
        ("Format", "JSON"),
        ("RegionId", "cn-hangzhou"),
        ("SignatureType", ""),
    ]));
    let sts = v1_string_to_sign("POST", &legacy);
    assert_eq!(v1_signature(SECRET, &sts), "Xm3CFyqFvQRLieB2o+LZ3DUcPJo=");

    let mut edge = pairs(&tea);
    edge.retain(|(k, _)| k != "Domain" && k != "Field");
    edge.extend(pairs(&[("Domain", "例え.jp"), ("Field", "a b*c~d/e+f")]));
    let sts = v1_string_to_sign("POST", &edge);
    assert!(sts.contains("Domain%3D%25E4%25BE%258B%25E3%2581%2588.jp%26Field%3Da%2520b%252Ac~d%252Fe%252Bf%26Format%3Djson"), "{sts}");
    assert_eq!(v1_signature(SECRET, &sts), "N+2v4jQ2daQPGM6tfhZz6G5ahcI=");

    let published = pairs(&[
        ("AccessKeyId", "testid"),
        ("Action", "DescribeRegions"),
        ("Format", "XML"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", NONCE),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2016-02-23T12:46:24Z"),
        ("Version", "2014-05-26"),
    ]);
    let sts = v1_string_to_sign("GET", &published);
    assert_eq!(
        v1_signature("testsecret", &sts),
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    );
}

/// The reference's vectors V3-A (the Tea SDK's request) and V3-D (Alibaba's published example).
#[test]
fn own_v3_signer_matches_the_reference_vectors() {
    let empty = sha256_hex(b"");
    assert_eq!(
        empty,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let headers = pairs(&[
        ("accept", "application/json"),
        ("host", "127.0.0.1:18080"),
        (
            "user-agent",
            "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
        ),
        ("x-acs-action", "DescribeDomainReport"),
        ("x-acs-content-sha256", &empty),
        ("x-acs-credentials-provider", "static_ak"),
        ("x-acs-date", "2024-05-01T12:00:00Z"),
        ("x-acs-signature-nonce", NONCE),
        ("x-acs-version", "2020-05-12"),
    ]);
    let query = pairs(&[
        ("Domain", "example.com"),
        ("Field", "ThreatTypes,Intelligences"),
    ]);
    let canonical = v3_canonical_request("POST", &query, &headers, &empty);
    let sts = v3_string_to_sign(&canonical);
    assert_eq!(
        sts,
        "ACS3-HMAC-SHA256\n4dee201b8f486e712145a72292cbb377b3ef69bfd302c51e039f978d044221ff"
    );
    assert_eq!(
        v3_signature(SECRET, &sts),
        "6a861227ce6fc93909347e4b22822361efe7e43d0f1c0eae27ee61f3a5ff1ebb"
    );

    let headers = pairs(&[
        ("host", "ecs.cn-shanghai.aliyuncs.com"),
        ("x-acs-action", "RunInstances"),
        ("x-acs-version", "2014-05-26"),
        ("x-acs-date", "2023-10-26T10:22:32Z"),
        ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
        ("x-acs-content-sha256", &empty),
    ]);
    let query = pairs(&[
        (
            "ImageId",
            "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
        ),
        ("RegionId", "cn-shanghai"),
    ]);
    let sts = v3_string_to_sign(&v3_canonical_request("POST", &query, &headers, &empty));
    assert_eq!(
        sts,
        "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    );
    assert_eq!(
        v3_signature("YourAccessKeySecret", &sts),
        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    );
}
