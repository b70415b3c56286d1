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
