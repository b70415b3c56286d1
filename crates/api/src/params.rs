//! Request parameters: form decoding of the query and an urlencoded body, and the canonical
//! percent-encoding both signature schemes sign. Clients encode differently (`+` or `%20`, raw
//! `,` `:` `*`), so the server always decodes and re-encodes; it never signs the wire bytes.

use std::fmt::Write;

use crate::error::ApiError;

/// Decoded parameters in arrival order; empty values are kept (`SignatureType=` is signed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes `a=b&c=d` pairs; a repeated name is an error naming it.
    pub fn parse(query: &str, body: Option<&[u8]>) -> Result<Self, ApiError> {
        let mut params = Params::default();
        params.extend_from(query.as_bytes())?;
        if let Some(body) = body {
            params.extend_from(body)?;
        }
        Ok(params)
    }

    fn extend_from(&mut self, raw: &[u8]) -> Result<(), ApiError> {
        for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (key, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let key = decode(key)?;
            let value = decode(value)?;
            if key.is_empty() {
                return Err(ApiError::InvalidParameter(
                    "a parameter has an empty name".into(),
                ));
            }
            if self.get(&key).is_some() {
                return Err(ApiError::InvalidParameter(format!(
                    "parameter {key} is given more than once"
                )));
            }
            self.0.push((key, value));
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `enc(k)=enc(v)` pairs sorted by key and joined by `&`, leaving out `skip`.
    pub fn canonical(&self, skip: &[&str]) -> String {
        let mut pairs: Vec<&(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::new();
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_into(&mut out, k);
            out.push('=');
            encode_into(&mut out, v);
        }
        out
    }
}

/// Form decoding: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode(raw: &[u8]) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        let shown =
                            String::from_utf8_lossy(&raw[i..raw.len().min(i + 3)]).into_owned();
                        ApiError::InvalidParameter(format!(
                            "invalid percent-encoding {shown:?} in the request parameters"
                        ))
                    })?;
                bytes.push(byte);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| {
        ApiError::InvalidParameter("request parameters are not valid UTF-8 once decoded".into())
    })
}

/// Percent-encodes `s` as both signature schemes do: unreserved characters stay, every other
/// byte becomes `%XX` in upper case.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s);
    out
}

fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}
