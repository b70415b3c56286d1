//! Shared inputs of the protocol tests: the reference files (the repository's copies in
//! `testdata/reference/`), the reference's fake key, a raw-request verifier and request
//! builders for both schemes.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use threatintel_api::auth::{AccessKey, Authenticator, Endpoint, Identity, SignedRequest};
use threatintel_api::error::ApiError;
use threatintel_api::params::{encode, Params};
use threatintel_api::signature::{
    payload_hash, v1_sign, v1_string_to_sign, v3_canonical_request, v3_sign, v3_string_to_sign,
};

/// The repository's copy of the protocol reference's test files.
pub const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/reference");

pub fn reference_file(name: &str) -> String {
    let path = format!("{REFERENCE}/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn vectors() -> Value {
    serde_json::from_str(&reference_file("aliyun-rpc/vectors.json")).unwrap()
}

/// The reference's fake credentials.
pub const AK: &str = "LTAI5tFAKEAccessKeyId01";
pub const SECRET: &str = "FAKEsecretFAKEsecretFAKEsecret01";

/// A disabled key, and a key no store knows.
pub const DISABLED: &str = "LTAI5tDISABLED";
pub const UNKNOWN: &str = "LTAI5tUNKNOWN";

/// The reference's pinned time, 2024-05-01T12:00:00Z.
pub fn pinned_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The reference key (enabled) and a disabled one with the same secret.
pub fn authenticator() -> Authenticator {
    let mut disabled = AccessKey::new(DISABLED, SECRET);
    disabled.enabled = false;
    Authenticator::new(vec![AccessKey::new(AK, SECRET), disabled], None)
}

/// (name, value) pairs borrowed from owned ones.
pub fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// A request as received: method, target (`/?query`), headers (any case), body.
#[derive(Debug, Clone)]
pub struct Raw {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    /// The headers as the server reads them: (name, value) borrowed from the request.
    pub fn header_pairs(&self) -> Vec<(&str, &str)> {
        borrowed(&self.headers)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// The decoded parameters, as the server sees them.
    pub fn params(&self) -> Result<Params, ApiError> {
        Params::from_request(self.query(), self.header("content-type"), &self.body)
    }

    /// Runs the verifier at `now`.
    pub fn verify_with(
        &self,
        auth: &Authenticator,
        now: DateTime<Utc>,
    ) -> Result<Identity, ApiError> {
        let params = self.params()?;
        auth.authenticate(
            &SignedRequest {
                method: &self.method,
                path: self.path(),
                params: &params,
                headers: &self.header_pairs(),
                body: &self.body,
                now,
            },
            Endpoint::Rpc,
        )
    }

    pub fn verify(&self, now: DateTime<Utc>) -> Result<Identity, ApiError> {
        self.verify_with(&authenticator(), now)
    }
}

/// How a client writes a value on the wire (protocol reference §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// The legacy core: RFC 3986, space `%20`.
    Legacy,
    /// Tea sync (`urlencode` / `quote_plus`): space `+`, everything else escaped.
    TeaSync,
    /// Tea async (yarl): space `+`; `,` `:` `*` `/` and other printable ASCII left raw.
    TeaAsync,
}

pub const WIRES: [Wire; 3] = [Wire::Legacy, Wire::TeaSync, Wire::TeaAsync];

pub fn wire_encode(s: &str, wire: Wire) -> String {
    match wire {
        Wire::Legacy => encode(s),
        Wire::TeaSync => encode(s).replace("%20", "+"),
        Wire::TeaAsync => {
            let mut out = String::new();
            for b in s.bytes() {
                match b {
                    b' ' => out.push('+'),
                    b'&' | b'=' | b'+' | b'%' | b'#' => out.push_str(&format!("%{b:02X}")),
                    0x21..=0x7e => out.push(b as char),
                    _ => out.push_str(&format!("%{b:02X}")),
                }
            }
            out
        }
    }
}

pub fn wire_query(pairs: &[(String, String)], wire: Wire) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", wire_encode(k, wire), wire_encode(v, wire)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A V1 request: the Tea/legacy common parameters plus `business` ones, signed with `secret`.
#[derive(Debug, Clone)]
pub struct V1 {
    pub method: String,
    pub params: Vec<(String, String)>,
    pub secret: String,
}

impl V1 {
    pub fn new(now: DateTime<Utc>, nonce: &str) -> V1 {
        let params = [
            ("Action", "DescribeDomainReport"),
            ("Version", "2020-05-12"),
            ("Format", "JSON"),
            ("AccessKeyId", AK),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", &stamp(now)),
            ("SignatureNonce", nonce),
            ("Domain", "example.com"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        V1 {
            method: "POST".into(),
            params,
            secret: SECRET.into(),
        }
    }

    pub fn set(mut self, key: &str, value: &str) -> V1 {
        self.params.retain(|(k, _)| k != key);
        self.params.push((key.into(), value.into()));
        self
    }

    pub fn without(mut self, key: &str) -> V1 {
        self.params.retain(|(k, _)| k != key);
        self
    }

    /// The parameters with `Signature` appended.
    pub fn signed(&self) -> Vec<(String, String)> {
        let params = Params::from_pairs(self.params.iter().cloned()).unwrap();
        let signature = v1_sign(&self.secret, &v1_string_to_sign(&self.method, &params));
        let mut out = self.params.clone();
        out.push(("Signature".into(), signature));
        out
    }

    pub fn raw(&self, wire: Wire) -> Raw {
        Raw {
            method: self.method.clone(),
            target: format!("/?{}", wire_query(&self.signed(), wire)),
            headers: vec![("Host".into(), "127.0.0.1:18080".into())],
            body: Vec::new(),
        }
    }
}

/// A V3 request as the Tea SDK sends it; `extra` headers are signed too.
#[derive(Debug, Clone)]
pub struct V3 {
    pub key: String,
    pub secret: String,
    pub method: String,
    pub query: Vec<(String, String)>,
    /// Signed headers, in wire case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

impl V3 {
    pub fn new(now: DateTime<Utc>, nonce: &str) -> V3 {
        let headers = [
            ("host", "127.0.0.1:18080"),
            ("x-acs-action", "DescribeDomainReport"),
            ("x-acs-version", "2020-05-12"),
            ("x-acs-date", &stamp(now)),
            ("x-acs-signature-nonce", nonce),
            ("x-acs-content-sha256", &payload_hash(b"")),
            ("accept", "application/json"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        V3 {
            key: AK.into(),
            secret: SECRET.into(),
            method: "POST".into(),
            query: vec![("Domain".into(), "example.com".into())],
            headers,
            body: Vec::new(),
            content_type: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> V3 {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn without_header(mut self, name: &str) -> V3 {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    /// A body, its hash in `x-acs-content-sha256`.
    pub fn body(mut self, body: &[u8], content_type: Option<&str>) -> V3 {
        self.body = body.to_vec();
        self.content_type = content_type.map(str::to_owned);
        let hash = payload_hash(body);
        self.header("x-acs-content-sha256", &hash)
    }

    /// The signed header names, lower-case and sorted.
    pub fn signed_headers(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn authorization(&self) -> String {
        self.authorization_for(&self.signed_headers())
    }

    /// `Authorization` claiming `signed` as its SignedHeaders.
    pub fn authorization_for(&self, signed: &[String]) -> String {
        let params = Params::from_pairs(self.query.iter().cloned()).unwrap();
        let payload = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-acs-content-sha256"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let signature = match v3_canonical_request(
            &self.method,
            "/",
            &params,
            &borrowed(&self.headers),
            signed,
            &payload,
        ) {
            Ok(canonical) => v3_sign(&self.secret, &v3_string_to_sign(&canonical)),
            Err(_) => "0".repeat(64),
        };
        format!(
            "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={signature}",
            self.key,
            signed.join(";")
        )
    }

    pub fn raw_with(&self, authorization: &str, wire: Wire) -> Raw {
        let mut headers = self.headers.clone();
        headers.push(("Authorization".into(), authorization.into()));
        if let Some(ct) = &self.content_type {
            headers.push(("Content-Type".into(), ct.clone()));
        }
        headers.push(("Accept-Encoding".into(), "identity".into()));
        let query = wire_query(&self.query, wire);
        Raw {
            method: self.method.clone(),
            target: if query.is_empty() {
                "/".into()
            } else {
                format!("/?{query}")
            },
            headers,
            body: self.body.clone(),
        }
    }

    pub fn raw(&self, wire: Wire) -> Raw {
        self.raw_with(&self.authorization(), wire)
    }
}

/// The error's code, or `"OK"`.
pub fn outcome<T>(result: &Result<T, ApiError>) -> &'static str {
    match result {
        Ok(_) => "OK",
        Err(e) => e.code(),
    }
}
