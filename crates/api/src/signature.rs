//! The two signature schemes of Alibaba Cloud's RPC APIs, exactly as the official SDKs compute
//! them (protocol reference §3, §5, §6), with server-side verification:
//!
//! - V1: `HMAC-SHA1` over `METHOD&%2F&enc(canonical query)`, keyed by `secret + "&"`, Base64;
//!   the canonical query holds every query and form-body parameter but `Signature`.
//! - V3: `ACS3-HMAC-SHA256` over the SHA-256 of a canonical request built from the query
//!   parameters, exactly the headers named in `SignedHeaders` (as received), and the body hash
//!   `x-acs-content-sha256`; keyed by the bare secret, lower-case hex.
//!
//! Signatures are compared in constant time ([`subtle`]). This module knows nothing about keys,
//! clocks or nonces: [`crate::auth`] puts those together.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, Required};
use crate::params::{decode_component, encode, Params};

/// Which scheme a request is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    V1,
    V3,
}

/// §3: an `Authorization` header starting with `ACS3-` means V3; otherwise a `Signature`
/// parameter means V1; otherwise the request is unsigned.
pub fn detect_scheme(authorization: Option<&str>, params: &Params) -> Option<SignatureScheme> {
    if authorization.is_some_and(|a| a.starts_with("ACS3-")) {
        Some(SignatureScheme::V3)
    } else if params.get("Signature").is_some() {
        Some(SignatureScheme::V1)
    } else {
        None
    }
}

// ------------------------------------------------------------------------------------- V1

/// The only V1 `SignatureMethod`.
pub const V1_SIGNATURE_METHOD: &str = "HMAC-SHA1";

/// V1 string-to-sign: `METHOD&%2F&enc(canonical query without Signature)`.
pub fn v1_string_to_sign(method: &str, params: &Params) -> String {
    let mut out = method.to_ascii_uppercase();
    // `/`, the only path V1 signs, encoded.
    out.push_str("&%2F&");
    params.push_canonical_encoded(&mut out, &["Signature"]);
    out
}

/// V1 signature: `Base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub fn v1_sign(secret: &str, string_to_sign: &str) -> String {
    V1Key::new(secret).sign(string_to_sign)
}

/// A secret keyed for V1 signatures once (HMAC's key pads hashed), not per request.
#[derive(Clone)]
pub struct V1Key(Hmac<sha1::Sha1>);

impl V1Key {
    pub fn new(secret: &str) -> Self {
        Self(Hmac::new_from_slice(format!("{secret}&").as_bytes()).expect("HMAC takes any key"))
    }

    /// [`v1_sign`] with this key's secret.
    pub fn sign(&self, string_to_sign: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(string_to_sign.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for V1Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("V1Key(<redacted>)")
    }
}

/// Checks the `Signature` parameter of a V1 request against `key`.
pub fn v1_verify(key: &V1Key, method: &str, params: &Params) -> Result<(), ApiError> {
    let given = params
        .get("Signature")
        .ok_or(ApiError::Missing(Required::Signature))?;
    let string_to_sign = v1_string_to_sign(method, params);
    if signatures_match(&key.sign(&string_to_sign), given) {
        Ok(())
    } else {
        Err(ApiError::SignatureDoesNotMatch { string_to_sign })
    }
}

// ------------------------------------------------------------------------------------- V3

/// The only V3 algorithm supported (`ACS3-HMAC-SM3` and `ACS3-RSA-SHA256` are refused with
/// `InvalidParameter` naming `Authorization`).
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Headers every V3 request must sign (§6.2). `accept` and `user-agent` are not among them:
/// the Node SDK does not sign them.
pub const V3_REQUIRED_SIGNED_HEADERS: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

/// Headers that must be signed when present (STS, §4.5).
pub const V3_SIGNED_IF_PRESENT: [&str; 2] = ["x-acs-security-token", "x-acs-accesskey-id"];

/// The parts of an `Authorization: ACS3-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Authorization {
    pub access_key_id: String,
    /// Lower-case header names, sorted, without repeats.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl V3Authorization {
    /// Parses `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>`.
    /// Another algorithm or a malformed header is `InvalidParameter` naming `Authorization`.
    pub fn parse(header: &str) -> Result<Self, ApiError> {
        let invalid = |what: String| ApiError::invalid("Authorization", what);
        let (algorithm, rest) = header
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((header, ""));
        if algorithm != V3_ALGORITHM {
            return Err(invalid(format!(
                "the algorithm {:?} is not supported, only {V3_ALGORITHM}",
                crate::params::shown(algorithm)
            )));
        }
        let (mut id, mut headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| invalid("expected Credential=,SignedHeaders=,Signature=".into()))?;
            let slot = match key {
                "Credential" => &mut id,
                "SignedHeaders" => &mut headers,
                "Signature" => &mut signature,
                _ => {
                    return Err(invalid(format!(
                        "unknown part {:?}",
                        crate::params::shown(key)
                    )))
                }
            };
            if slot.replace(value.trim().to_owned()).is_some() {
                return Err(invalid(format!("{key} is given twice")));
            }
        }
        let required = |slot: Option<String>, key: &str| {
            slot.filter(|v| !v.is_empty())
                .ok_or_else(|| invalid(format!("{key} is missing")))
        };
        let access_key_id = required(id, "Credential")?;
        let headers = required(headers, "SignedHeaders")?;
        let signature = required(signature, "Signature")?;
        let mut signed_headers: Vec<String> = headers
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if signed_headers.is_empty() {
            return Err(invalid("SignedHeaders is empty".into()));
        }
        signed_headers.sort_unstable();
        signed_headers.dedup();
        Ok(Self {
            access_key_id,
            signed_headers,
            signature,
        })
    }

    /// Whether `name` (lower-case) is signed.
    pub fn signs(&self, name: &str) -> bool {
        self.signed_headers
            .binary_search_by(|h| h.as_str().cmp(name))
            .is_ok()
    }

    /// Every header of [`V3_REQUIRED_SIGNED_HEADERS`] must be present and signed, and those of
    /// [`V3_SIGNED_IF_PRESENT`] signed when present. An absent required header is
    /// `MissingParameter` naming it; a present but unsigned one `InvalidParameter` naming
    /// `SignedHeaders`. None of them, nor `authorization` and `content-type`, may be given
    /// twice (see [`refuse_repeated_headers`]).
    pub fn check_signed_headers(&self, headers: &[(&str, &str)]) -> Result<(), ApiError> {
        for name in V3_REQUIRED_SIGNED_HEADERS {
            if header(headers, name).is_none() {
                return Err(ApiError::MissingHeader(name));
            }
        }
        for name in V3_REQUIRED_SIGNED_HEADERS.into_iter().chain(
            V3_SIGNED_IF_PRESENT
                .into_iter()
                .filter(|n| header(headers, n).is_some()),
        ) {
            if !self.signs(name) {
                return Err(ApiError::invalid(
                    "SignedHeaders",
                    format!("{name} must be signed"),
                ));
            }
        }
        Ok(())
    }
}

/// Whether a header must appear at most once: the ones a signature or the server's reading of
/// the request depends on. The V3 canonical request joins repeated values with `,`, while the
/// nonce check and the verifier read one value: `x-acs-signature-nonce: a,b` signed once could
/// otherwise be replayed as two headers `a` and `b`. The official SDKs never repeat them.
pub fn must_be_single(name: &str) -> bool {
    let name = name.as_bytes();
    name.len() >= 6 && name[..6].eq_ignore_ascii_case(b"x-acs-")
        || [&b"host"[..], b"authorization", b"content-type"]
            .iter()
            .any(|single| name.eq_ignore_ascii_case(single))
}

/// Refuses a request that repeats a header [`must_be_single`] says must appear once:
/// `InvalidParameter` naming it. Each such header is compared with those before it (a request
/// has a handful; hyper bounds their number): cheaper than hashing lower-cased copies.
pub fn refuse_repeated_headers(headers: &[(&str, &str)]) -> Result<(), ApiError> {
    for (i, (name, _)) in headers.iter().enumerate() {
        if must_be_single(name)
            && headers[..i]
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            return Err(ApiError::invalid(
                crate::params::shown(name),
                "the header is given more than once",
            ));
        }
    }
    Ok(())
}

/// The first value of header `name` (names compared case-insensitively).
pub fn header<'a>(headers: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, v)| v)
}

/// The canonical path: each segment decoded and re-encoded, `/` kept; `/` when empty.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.split('/')
        .map(|segment| {
            // Only `%XX` is an escape in a path (`+` is literal), so protect `+` from the form
            // decoder; a segment that does not decode is encoded as received.
            let decoded = decode_component(segment.replace('+', "%2B").as_bytes())
                .unwrap_or_else(|_| segment.to_owned());
            encode(&decoded)
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The V3 canonical request (§6.2) of a received request. `headers` are (name, value) pairs
/// as received, any case; exactly the headers named in `signed` are canonicalised: values
/// trimmed, repeated headers sorted and joined by `,`. A signed header the request lacks is
/// `InvalidParameter` naming `SignedHeaders`. Only query parameters are signed.
pub fn v3_canonical_request(
    method: &str,
    path: &str,
    params: &Params,
    headers: &[(&str, &str)],
    signed: &[String],
    payload_hash: &str,
) -> Result<String, ApiError> {
    let mut names: Vec<String> = signed.iter().map(|s| s.to_ascii_lowercase()).collect();
    names.sort_unstable();
    names.dedup();
    let mut canonical_headers = String::new();
    for name in &names {
        let mut values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        if values.is_empty() {
            return Err(ApiError::invalid(
                "SignedHeaders",
                format!(
                    "it names {}, which the request does not have",
                    crate::params::shown(name)
                ),
            ));
        }
        values.sort_unstable();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    Ok(format!(
        "{}\n{}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        method.to_ascii_uppercase(),
        canonical_uri(path),
        params.canonical_query(),
        names.join(";")
    ))
}

/// V3 string-to-sign: the algorithm and the hex SHA-256 of the canonical request.
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "{V3_ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// V3 signature: `hex(HMAC-SHA256(secret, string_to_sign))`, lower case.
pub fn v3_sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a V3 signature (lower-case hex, as the SDKs send it) over `canonical_request`.
pub fn v3_verify(secret: &str, canonical_request: &str, signature: &str) -> Result<(), ApiError> {
    let string_to_sign = v3_string_to_sign(canonical_request);
    if signatures_match(&v3_sign(secret, &string_to_sign), signature) {
        Ok(())
    } else {
        Err(ApiError::SignatureDoesNotMatch { string_to_sign })
    }
}

/// Hex SHA-256 of a body (`x-acs-content-sha256`).
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Compares two signatures in time independent of where they differ (the length is not
/// secret: it is fixed by the scheme).
pub fn signatures_match(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/reference/aliyun-rpc/vectors.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).expect("the reference's vectors"))
            .unwrap()
    }

    fn params_of(map: &Value) -> Params {
        Params::from_pairs(
            map.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap())),
        )
        .unwrap()
    }

    fn secret_of(all: &Value, vector: &Value) -> String {
        match (vector.get("access_key_secret"), vector.get("hmac_key")) {
            (Some(secret), _) => secret.as_str().unwrap().to_owned(),
            (None, Some(key)) => key.as_str().unwrap().strip_suffix('&').unwrap().to_owned(),
            _ => all["AccessKeySecret"].as_str().unwrap().to_owned(),
        }
    }

    /// Every `v1_*` vector: canonical query, string-to-sign, signature (and the POST variant).
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
            let secret = secret_of(&all, v);
            if let Some(canonical) = v.get("canonicalized_query") {
                assert_eq!(
                    params.canonical(&["Signature"]),
                    canonical.as_str().unwrap(),
                    "{name}"
                );
            }
            let sts = v1_string_to_sign(method, &params);
            assert_eq!(sts, v["string_to_sign"].as_str().unwrap(), "{name}");
            let signature = v["signature"].as_str().unwrap();
            assert_eq!(v1_sign(&secret, &sts), signature, "{name}");
            let signed =
                Params::from_pairs(params.iter().chain([("Signature", signature)])).unwrap();
            v1_verify(&V1Key::new(&secret), method, &signed).unwrap();
            if let Some(post) = v.get("signature_if_POST").and_then(Value::as_str) {
                assert_eq!(
                    v1_sign(&secret, &v1_string_to_sign("POST", &params)),
                    post,
                    "{name}"
                );
            }
            checked += 1;
        }
        assert_eq!(checked, 6);
    }

    /// Every `v3_*` vector: canonical request, its hash, string-to-sign, signature.
    #[test]
    fn v3_vectors() {
        let all = vectors();
        let mut checked = 0;
        for (name, v) in all["vectors"].as_object().unwrap() {
            if !name.starts_with("v3_") {
                continue;
            }
            let params = params_of(&v["query"]);
            let headers: Vec<(&str, &str)> = v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect();
            let auth = V3Authorization::parse(v["authorization"].as_str().unwrap()).unwrap();
            auth.check_signed_headers(&headers).unwrap();
            let payload = header(&headers, "x-acs-content-sha256").unwrap();
            assert_eq!(payload, payload_hash(b""), "{name}: empty body");
            if let Some(hashed) = v.get("hashed_payload") {
                assert_eq!(payload, hashed.as_str().unwrap(), "{name}");
            }
            let method = v.get("method").and_then(Value::as_str).unwrap_or("POST");
            let path = v.get("pathname").and_then(Value::as_str).unwrap_or("/");
            let canonical = v3_canonical_request(
                method,
                path,
                &params,
                &headers,
                &auth.signed_headers,
                payload,
            )
            .unwrap();
            assert_eq!(
                canonical,
                v["canonical_request"].as_str().unwrap(),
                "{name}"
            );
            let sts = v3_string_to_sign(&canonical);
            let hashed = v["hashed_canonical_request"].as_str().unwrap();
            assert_eq!(sts, format!("ACS3-HMAC-SHA256\n{hashed}"), "{name}");
            if let Some(expected) = v.get("string_to_sign") {
                assert_eq!(sts, expected.as_str().unwrap(), "{name}");
            }
            let signature = v3_sign(&secret_of(&all, v), &sts);
            assert_eq!(signature, auth.signature, "{name}");
            if let Some(expected) = v.get("signature") {
                assert_eq!(signature, expected.as_str().unwrap(), "{name}");
            }
            v3_verify(&secret_of(&all, v), &canonical, &auth.signature).unwrap();
            checked += 1;
        }
        assert_eq!(checked, 4);
    }

    #[test]
    fn malformed_authorization_headers_are_precise_errors() {
        for header in [
            "ACS3-HMAC-SHA256",
            "ACS3-HMAC-SHA256 Credential=",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host",
            "ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=host,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a;SignedHeaders=host;Signature=00",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=;,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00,Extra=1",
        ] {
            let err = V3Authorization::parse(header).unwrap_err();
            assert_eq!(err.code(), "InvalidParameter", "{header}: {err:?}");
            assert!(err.to_string().contains("Authorization"), "{header}: {err}");
        }
        for header in ["ACS3-HMAC-SM3 Credential=a", "ACS3-RSA-SHA256", "ACS3-"] {
            let err = V3Authorization::parse(header).unwrap_err();
            assert!(
                err.to_string().contains("only ACS3-HMAC-SHA256"),
                "{header}: {err}"
            );
        }
    }

    #[test]
    fn detection_follows_section_3() {
        let signed = Params::parse("Signature=x", None).unwrap();
        let plain = Params::parse("Domain=x", None).unwrap();
        assert_eq!(
            detect_scheme(Some("ACS3-HMAC-SHA256 x"), &signed),
            Some(SignatureScheme::V3)
        );
        assert_eq!(
            detect_scheme(Some("Bearer x"), &signed),
            Some(SignatureScheme::V1)
        );
        assert_eq!(detect_scheme(None, &signed), Some(SignatureScheme::V1));
        assert_eq!(detect_scheme(None, &plain), None);
    }

    #[test]
    fn canonical_uri_decodes_then_encodes() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/a%20b/c d+e"), "/a%20b/c%20d%2Be");
    }

    #[test]
    fn repeated_headers_are_sorted_and_joined() {
        let headers = [("X-A", " b "), ("x-a", "a")];
        let cr = v3_canonical_request(
            "post",
            "/",
            &Params::default(),
            &headers,
            &["X-A".to_owned()],
            "h",
        )
        .unwrap();
        assert_eq!(cr, "POST\n/\n\nx-a:a,b\n\nx-a\nh");
    }
}
