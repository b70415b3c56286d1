//! The two signature schemes of Alibaba Cloud's RPC APIs, exactly as the official SDKs compute
//! them (`../shared/reference/aliyun-rpc-protocol.md` §5 and §6):
//! V1 (`HMAC-SHA1` over the canonical query) and V3 (`ACS3-HMAC-SHA256` over a canonical request).

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::params::{encode, Params};

/// V1 string-to-sign: `METHOD&%2F&enc(canonical query without Signature)`.
pub fn v1_string_to_sign(method: &str, params: &Params) -> String {
    format!(
        "{method}&{}&{}",
        encode("/"),
        encode(&params.canonical(&["Signature"]))
    )
}

/// V1 signature: Base64(HMAC-SHA1(secret + "&", string-to-sign)).
pub fn v1_sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The parts of an `Authorization: ACS3-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Authorization {
    pub access_key_id: String,
    /// Lower-case header names, as listed.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

impl V3Authorization {
    pub fn parse(header: &str) -> Result<Self, ApiError> {
        let invalid =
            |what: &str| ApiError::InvalidParameter(format!("Authorization header: {what}"));
        let rest = header
            .strip_prefix(V3_ALGORITHM)
            .ok_or_else(|| invalid("only ACS3-HMAC-SHA256 is supported"))?
            .trim_start();
        let (mut id, mut headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| invalid("expected key=value parts"))?;
            let slot = match key {
                "Credential" => &mut id,
                "SignedHeaders" => &mut headers,
                "Signature" => &mut signature,
                _ => return Err(invalid(&format!("unknown part {key:?}"))),
            };
            if slot.replace(value.to_owned()).is_some() {
                return Err(invalid(&format!("{key} is given twice")));
            }
        }
        let access_key_id = id
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("Credential is missing"))?;
        let headers = headers
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("SignedHeaders is missing"))?;
        let signature = signature
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("Signature is missing"))?;
        let signed_headers = headers
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        Ok(Self {
            access_key_id,
            signed_headers,
            signature,
        })
    }
}

/// The canonical path: each segment percent-encoded, `/` kept.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// V3 canonical request from the received request. `headers` holds (lower-case name, value)
/// pairs; exactly the headers named in `signed` are canonicalised, in sorted order.
pub fn v3_canonical_request(
    method: &str,
    path: &str,
    params: &Params,
    headers: &[(String, String)],
    signed: &[String],
    payload_hash: &str,
) -> Result<String, ApiError> {
    let mut names: Vec<&String> = signed.iter().collect();
    names.sort();
    names.dedup();
    let mut canonical_headers = String::new();
    for name in &names {
        let values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n == *name)
            .map(|(_, v)| v.trim())
            .collect();
        if values.is_empty() {
            return Err(ApiError::InvalidParameter(format!(
                "signed header {name} is not in the request"
            )));
        }
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    let signed_list: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    Ok(format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        canonical_uri(path),
        params.canonical(&[]),
        signed_list.join(";")
    ))
}

/// V3 string-to-sign: the algorithm and the hex SHA-256 of the canonical request.
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "{V3_ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// V3 signature: hex(HMAC-SHA256(secret, string-to-sign)).
pub fn v3_sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Hex SHA-256 of a body (`x-acs-content-sha256`).
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Compares two signatures in time independent of where they differ.
pub fn signatures_match(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    //! Both schemes pinned to the test vectors computed with the official SDKs' own functions.

    use serde_json::Value;

    use super::*;

    fn vectors() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/aliyun-rpc/vectors.json"
        );
        serde_json::from_str(
            &std::fs::read_to_string(path).expect("the protocol reference's vectors"),
        )
        .unwrap()
    }

    fn params_of(map: &Value) -> Params {
        let query: Vec<String> = map
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v.as_str().unwrap())))
            .collect();
        Params::parse(&query.join("&"), None).unwrap()
    }

    fn secret_of(all: &Value, vector: &Value) -> String {
        match (vector.get("access_key_secret"), vector.get("hmac_key")) {
            (Some(secret), _) => secret.as_str().unwrap().to_owned(),
            (None, Some(key)) => key.as_str().unwrap().trim_end_matches('&').to_owned(),
            _ => all["AccessKeySecret"].as_str().unwrap().to_owned(),
        }
    }

    #[test]
    fn v1_vectors() {
        let all = vectors();
        let mut checked = 0;
        for (name, v) in all["vectors"].as_object().unwrap() {
            if !name.starts_with("v1_") {
                continue;
            }
            let params = params_of(&v["params"]);
            let method = v["method"].as_str().unwrap();
            if let Some(canonical) = v.get("canonicalized_query") {
                assert_eq!(
                    params.canonical(&["Signature"]),
                    canonical.as_str().unwrap(),
                    "{name}"
                );
            }
            let sts = v1_string_to_sign(method, &params);
            assert_eq!(sts, v["string_to_sign"].as_str().unwrap(), "{name}");
            assert_eq!(
                v1_sign(&secret_of(&all, v), &sts),
                v["signature"].as_str().unwrap(),
                "{name}"
            );
            // The URL exactly as the SDK sent it decodes to the same string-to-sign.
            if let Some(url) = v.get("url_as_sent").and_then(Value::as_str) {
                let wire = Params::parse(url.split_once('?').unwrap().1, None).unwrap();
                assert_eq!(v1_string_to_sign(method, &wire), sts, "{name} as sent");
                assert_eq!(
                    wire.get("Signature"),
                    v["signature"].as_str(),
                    "{name} as sent"
                );
            }
            if let Some(post) = v.get("signature_if_POST").and_then(Value::as_str) {
                assert_eq!(
                    v1_sign(&secret_of(&all, v), &v1_string_to_sign("POST", &params)),
                    post,
                    "{name} POST"
                );
            }
            checked += 1;
        }
        assert_eq!(checked, 6);
    }

    #[test]
    fn v3_vectors() {
        let all = vectors();
        let mut checked = 0;
        for (name, v) in all["vectors"].as_object().unwrap() {
            if !name.starts_with("v3_") {
                continue;
            }
            let params = params_of(&v["query"]);
            let headers: Vec<(String, String)> = v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap().to_owned()))
                .collect();
            let auth = V3Authorization::parse(v["authorization"].as_str().unwrap()).unwrap();
            let payload = headers
                .iter()
                .find(|(n, _)| n == "x-acs-content-sha256")
                .unwrap()
                .1
                .clone();
            assert_eq!(payload, payload_hash(b""), "{name}: empty body");
            let method = v.get("method").and_then(Value::as_str).unwrap_or("POST");
            let path = v.get("pathname").and_then(Value::as_str).unwrap_or("/");
            let canonical = v3_canonical_request(
                method,
                path,
                &params,
                &headers,
                &auth.signed_headers,
                &payload,
            )
            .unwrap();
            assert_eq!(
                canonical,
                v["canonical_request"].as_str().unwrap(),
                "{name}"
            );
            let sts = v3_string_to_sign(&canonical);
            assert_eq!(
                sts,
                format!(
                    "ACS3-HMAC-SHA256\n{}",
                    v["hashed_canonical_request"].as_str().unwrap()
                ),
                "{name}"
            );
            assert!(
                signatures_match(&v3_sign(&secret_of(&all, v), &sts), &auth.signature),
                "{name}"
            );
            checked += 1;
        }
        assert_eq!(checked, 4);
    }

    #[test]
    fn encodings_of_one_value_sign_identically() {
        // Tea sync, Tea async and the legacy core encode `a b*c~d/e+f` three ways.
        let variants = [
            "Field=a+b%2Ac~d%2Fe%2Bf",
            "Field=a+b*c~d/e%2Bf",
            "Field=a%20b%2Ac~d%2Fe%2Bf",
        ];
        let signed: Vec<String> = variants
            .iter()
            .map(|q| v1_string_to_sign("POST", &Params::parse(q, None).unwrap()))
            .collect();
        assert!(signed.windows(2).all(|w| w[0] == w[1]), "{signed:?}");
    }

    #[test]
    fn malformed_authorization_headers_are_precise_errors() {
        for header in [
            "ACS3-HMAC-SHA256",
            "ACS3-HMAC-SHA256 Credential=",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host",
            "ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=host,Signature=00",
            "ACS3-HMAC-SHA1 Credential=a,SignedHeaders=host,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a;SignedHeaders=host;Signature=00",
        ] {
            let err = V3Authorization::parse(header).unwrap_err();
            assert!(
                matches!(err, ApiError::InvalidParameter(_)),
                "{header}: {err:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_change_breaks_a_v1_signature(value in "\\PC{0,40}", flip in 0usize..64) {
            let params = Params::parse(&format!("Domain={}&Field=ThreatTypes", encode(&value)), None).unwrap();
            let sts = v1_string_to_sign("POST", &params);
            let signature = v1_sign("secret", &sts);
            let tampered = Params::parse(&format!("Domain={}x&Field=ThreatTypes", encode(&value)), None).unwrap();
            proptest::prop_assert!(!signatures_match(&v1_sign("secret", &v1_string_to_sign("POST", &tampered)), &signature));
            proptest::prop_assert!(!signatures_match(&v1_sign("secret2", &sts), &signature));
            let mut bytes = signature.clone().into_bytes();
            let i = flip % bytes.len();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            proptest::prop_assert!(!signatures_match(&signature, &String::from_utf8(bytes).unwrap()));
        }

        #[test]
        fn decode_then_encode_round_trips(value in "\\PC{0,40}") {
            let params = Params::parse(&format!("k={}", encode(&value)), None).unwrap();
            proptest::prop_assert_eq!(params.get("k"), Some(value.as_str()));
        }
    }
}
