//! Who is calling: access keys from the config, the two signature schemes (and a bearer token
//! for the native API), the ±15-minute timestamp window, nonce replay protection and per-key
//! rate limits. Nonces and limits sit behind traits so that several nodes can share them.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, TimeDelta};
use parking_lot::Mutex;
use serde::Deserialize;
use threatintel_model::Timestamp;

use crate::error::ApiError;
use crate::params::Params;
use crate::signature::{
    payload_hash, signatures_match, v1_sign, v1_string_to_sign, v3_canonical_request, v3_sign,
    v3_string_to_sign, V3Authorization,
};

/// One access key of `[[server.access_keys]]`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    /// Requests per second; 0 means no limit.
    #[serde(default = "default_rate")]
    pub rate_per_sec: u32,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

/// The reference's default limit: 100 requests per second.
pub const DEFAULT_RATE: u32 = 100;

fn default_rate() -> u32 {
    DEFAULT_RATE
}

fn enabled() -> bool {
    true
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("rate_per_sec", &self.rate_per_sec)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    V1,
    V3,
    Bearer,
    Anonymous,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub access_key_id: String,
    pub scheme: Scheme,
    pub rate_per_sec: u32,
}

/// What the authenticator looks at.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub params: &'a Params,
    /// (lower-case name, value) pairs.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub now: Timestamp,
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The access keys, and whether unsigned requests are allowed (local use only).
pub struct Authenticator {
    keys: HashMap<String, AccessKey>,
    anonymous: Option<u32>,
    window: TimeDelta,
}

/// Requests whose time is further than this from the server's are refused.
pub const TIMESTAMP_WINDOW: Duration = Duration::from_secs(15 * 60);

impl Authenticator {
    /// `anonymous`: the rate of unsigned requests when they are allowed at all.
    pub fn new(keys: Vec<AccessKey>, anonymous: Option<u32>) -> Self {
        let window = TimeDelta::from_std(TIMESTAMP_WINDOW).expect("15 minutes fit");
        Self {
            keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
            anonymous,
            window,
        }
    }

    /// Verifies the request's signature (V3 `Authorization`, V1 `Signature`, or a bearer token
    /// when `allow_bearer`) and returns the caller and the nonce to check.
    pub fn authenticate(
        &self,
        req: &SignedRequest<'_>,
        allow_bearer: bool,
    ) -> Result<(Identity, Option<String>), ApiError> {
        let authorization = req.header("authorization").unwrap_or("");
        if authorization.starts_with("ACS3-") {
            return self.v3(req, authorization);
        }
        if allow_bearer {
            if let Some(token) = authorization.strip_prefix("Bearer ") {
                return self.bearer(token.trim()).map(|id| (id, None));
            }
        }
        if req.params.get("Signature").is_some() {
            return self.v1(req);
        }
        match self.anonymous {
            Some(rate) if authorization.is_empty() => Ok((
                Identity {
                    access_key_id: "anonymous".into(),
                    scheme: Scheme::Anonymous,
                    rate_per_sec: rate,
                },
                None,
            )),
            _ => Err(ApiError::MissingParameter("AccessKeyId".into())),
        }
    }

    fn key(&self, id: &str) -> Result<&AccessKey, ApiError> {
        let key = self.keys.get(id).ok_or(ApiError::AccessKeyNotFound)?;
        if !key.enabled {
            return Err(ApiError::AccessKeyInactive);
        }
        Ok(key)
    }

    fn check_time(&self, text: &str, now: Timestamp) -> Result<(), ApiError> {
        let time = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
            .map_err(|_| ApiError::TimestampFormat)?
            .and_utc();
        if (time - now).abs() > self.window {
            return Err(ApiError::TimestampExpired);
        }
        Ok(())
    }

    fn identity(key: &AccessKey, scheme: Scheme) -> Identity {
        Identity {
            access_key_id: key.id.clone(),
            scheme,
            rate_per_sec: key.rate_per_sec,
        }
    }

    fn v1(&self, req: &SignedRequest<'_>) -> Result<(Identity, Option<String>), ApiError> {
        let param = |name: &str| {
            req.params
                .get(name)
                .ok_or_else(|| ApiError::MissingParameter(name.into()))
        };
        let key = self.key(param("AccessKeyId")?)?;
        match req.params.get("SignatureMethod") {
            None | Some("HMAC-SHA1") => {}
            Some(_) => return Err(ApiError::InvalidSignatureMethod),
        }
        self.check_time(param("Timestamp")?, req.now)?;
        let nonce = param("SignatureNonce")?.to_owned();
        let string_to_sign = v1_string_to_sign(req.method, req.params);
        let expected = v1_sign(&key.secret, &string_to_sign);
        if !signatures_match(&expected, param("Signature")?) {
            return Err(ApiError::SignatureDoesNotMatch { string_to_sign });
        }
        Ok((Self::identity(key, Scheme::V1), Some(nonce)))
    }

    fn v3(
        &self,
        req: &SignedRequest<'_>,
        authorization: &str,
    ) -> Result<(Identity, Option<String>), ApiError> {
        let auth = V3Authorization::parse(authorization)?;
        let header = |name: &str| {
            req.header(name)
                .ok_or_else(|| ApiError::MissingParameter(name.into()))
        };
        let key = self.key(&auth.access_key_id)?;
        self.check_time(header("x-acs-date")?, req.now)?;
        let nonce = header("x-acs-signature-nonce")?.to_owned();
        let content_hash = header("x-acs-content-sha256")?;
        if !content_hash.eq_ignore_ascii_case(&payload_hash(req.body)) {
            return Err(ApiError::InvalidParameter(
                "x-acs-content-sha256 does not match the request body".into(),
            ));
        }
        let canonical = v3_canonical_request(
            req.method,
            req.path,
            req.params,
            req.headers,
            &auth.signed_headers,
            content_hash,
        )?;
        let string_to_sign = v3_string_to_sign(&canonical);
        let expected = v3_sign(&key.secret, &string_to_sign);
        if !signatures_match(&expected, &auth.signature.to_ascii_lowercase()) {
            return Err(ApiError::SignatureDoesNotMatch { string_to_sign });
        }
        Ok((Self::identity(key, Scheme::V3), Some(nonce)))
    }

    /// `Bearer <AccessKeyId>:<AccessKeySecret>`.
    fn bearer(&self, token: &str) -> Result<Identity, ApiError> {
        let (id, secret) = token.split_once(':').ok_or_else(|| {
            ApiError::InvalidParameter(
                "bearer token must be <AccessKeyId>:<AccessKeySecret>".into(),
            )
        })?;
        let key = self.key(id)?;
        if !signatures_match(&key.secret, secret) {
            return Err(ApiError::AccessKeyNotFound);
        }
        Ok(Self::identity(key, Scheme::Bearer))
    }
}

/// Refuses a nonce already used by the same key within the timestamp window.
pub trait NonceGuard: Send + Sync {
    fn check_and_remember(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: Instant,
    ) -> Result<(), ApiError>;
}

/// Admits a request of a key limited to `rate` per second, or says how long to wait.
pub trait RateLimiter: Send + Sync {
    fn admit(&self, access_key_id: &str, rate: u32, now: Instant) -> Result<(), ApiError>;
}

/// Nonces in this process: remembered for twice the timestamp window (a request may be
/// 15 minutes early or late), with a bound on memory.
pub struct MemoryNonces {
    inner: Mutex<NonceSet>,
    max: usize,
}

#[derive(Default)]
struct NonceSet {
    seen: HashMap<(String, String), Instant>,
    order: VecDeque<(Instant, String, String)>,
}

impl MemoryNonces {
    pub fn new(max: usize) -> Self {
        Self {
            inner: Mutex::new(NonceSet::default()),
            max,
        }
    }
}

impl NonceGuard for MemoryNonces {
    fn check_and_remember(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: Instant,
    ) -> Result<(), ApiError> {
        let mut set = self.inner.lock();
        let ttl = TIMESTAMP_WINDOW * 2;
        while let Some((at, ..)) = set.order.front() {
            if now.saturating_duration_since(*at) < ttl {
                break;
            }
            let (_, k, n) = set.order.pop_front().expect("front exists");
            set.seen.remove(&(k, n));
        }
        let entry = (access_key_id.to_owned(), nonce.to_owned());
        if set.seen.contains_key(&entry) {
            return Err(ApiError::SignatureNonceUsed);
        }
        if set.seen.len() >= self.max {
            // Forgetting a nonce would allow a replay: refuse until old ones expire.
            return Err(ApiError::ServiceUnavailable);
        }
        set.seen.insert(entry.clone(), now);
        set.order.push_back((now, entry.0, entry.1));
        Ok(())
    }
}

/// Per-key limits in this process, as a sliding one-second window: no second ever holds more
/// than `rate` admitted requests, however they burst.
#[derive(Default)]
pub struct MemoryRateLimiter {
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter for MemoryRateLimiter {
    fn admit(&self, access_key_id: &str, rate: u32, now: Instant) -> Result<(), ApiError> {
        if rate == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock();
        let window = windows.entry(access_key_id.to_owned()).or_default();
        let second = Duration::from_secs(1);
        while window
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= second)
        {
            window.pop_front();
        }
        if window.len() >= rate as usize {
            let oldest = *window.front().expect("full window");
            let wait = second.saturating_sub(now.saturating_duration_since(oldest));
            return Err(ApiError::Throttling {
                retry_after_ms: wait.as_millis().max(1) as u64,
            });
        }
        window.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::params::encode;
    use crate::signature::{v1_sign, v1_string_to_sign};

    fn key(rate: u32, enabled: bool) -> AccessKey {
        AccessKey {
            id: "id1".into(),
            secret: "s3cret".into(),
            rate_per_sec: rate,
            enabled,
        }
    }

    fn v1_request(timestamp: &str, secret: &str) -> Params {
        let query = format!(
            "AccessKeyId=id1&Action=DescribeDomainReport&Version=2020-05-12&Domain=example.com&SignatureMethod=HMAC-SHA1&SignatureNonce=n1&Timestamp={}",
            encode(timestamp)
        );
        let params = Params::parse(&query, None).unwrap();
        let signature = v1_sign(secret, &v1_string_to_sign("GET", &params));
        Params::parse(&format!("{query}&Signature={}", encode(&signature)), None).unwrap()
    }

    fn check(
        auth: &Authenticator,
        params: &Params,
    ) -> Result<(Identity, Option<String>), ApiError> {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let req = SignedRequest {
            method: "GET",
            path: "/",
            params,
            headers: &[],
            body: b"",
            now,
        };
        auth.authenticate(&req, false)
    }

    #[test]
    fn v1_requests_are_checked_in_order() {
        let auth = Authenticator::new(vec![key(10, true)], None);
        let (identity, nonce) =
            check(&auth, &v1_request("2024-05-01T12:10:00Z", "s3cret")).unwrap();
        assert_eq!(
            (identity.access_key_id.as_str(), nonce.as_deref()),
            ("id1", Some("n1"))
        );
        assert_eq!(
            check(&auth, &v1_request("2024-05-01T12:16:00Z", "s3cret")).unwrap_err(),
            ApiError::TimestampExpired
        );
        assert_eq!(
            check(&auth, &v1_request("2024-05-01 12:00:00", "s3cret")).unwrap_err(),
            ApiError::TimestampFormat
        );
        let err = check(&auth, &v1_request("2024-05-01T12:00:00Z", "wrong")).unwrap_err();
        assert!(
            matches!(&err, ApiError::SignatureDoesNotMatch { string_to_sign } if string_to_sign.starts_with("GET&%2F&"))
        );
        assert!(
            err.to_string()
                .contains("server string to sign is:GET&%2F&"),
            "{err}"
        );
        let disabled = Authenticator::new(vec![key(10, false)], None);
        assert_eq!(
            check(&disabled, &v1_request("2024-05-01T12:00:00Z", "s3cret")).unwrap_err(),
            ApiError::AccessKeyInactive
        );
        let none = Authenticator::new(vec![], None);
        assert_eq!(
            check(&none, &v1_request("2024-05-01T12:00:00Z", "s3cret")).unwrap_err(),
            ApiError::AccessKeyNotFound
        );
        let unsigned =
            Params::parse("Action=DescribeDomainReport&Domain=example.com", None).unwrap();
        assert_eq!(
            check(&auth, &unsigned).unwrap_err(),
            ApiError::MissingParameter("AccessKeyId".into())
        );
        let anonymous = Authenticator::new(vec![], Some(5));
        assert_eq!(
            check(&anonymous, &unsigned).unwrap().0.scheme,
            Scheme::Anonymous
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        assert!(!format!("{:?}", key(1, true)).contains("s3cret"));
    }

    #[test]
    fn nonces_are_refused_once_used_and_forgotten_after_the_window() {
        let nonces = MemoryNonces::new(10);
        let t0 = Instant::now();
        nonces.check_and_remember("a", "n", t0).unwrap();
        assert_eq!(
            nonces.check_and_remember("a", "n", t0).unwrap_err(),
            ApiError::SignatureNonceUsed
        );
        nonces.check_and_remember("b", "n", t0).unwrap();
        nonces
            .check_and_remember("a", "n", t0 + TIMESTAMP_WINDOW * 2 + Duration::from_secs(1))
            .unwrap();
        let full = MemoryNonces::new(1);
        full.check_and_remember("a", "1", t0).unwrap();
        assert_eq!(
            full.check_and_remember("a", "2", t0).unwrap_err(),
            ApiError::ServiceUnavailable
        );
    }

    #[test]
    fn a_burst_never_passes_more_than_the_rate_in_any_second() {
        let limiter = MemoryRateLimiter::default();
        let t0 = Instant::now();
        let admitted = (0..30)
            .filter(|_| limiter.admit("k", 10, t0).is_ok())
            .count();
        assert_eq!(admitted, 10);
        match limiter.admit("k", 10, t0 + Duration::from_millis(300)) {
            Err(ApiError::Throttling { retry_after_ms }) => assert_eq!(retry_after_ms, 700),
            other => panic!("{other:?}"),
        }
        // Requests spread over five simulated seconds: no one-second window holds more than 10.
        let mut times = vec![];
        for i in 0..500 {
            let t = t0 + Duration::from_millis(1000 + i * 10);
            if limiter.admit("k", 10, t).is_ok() {
                times.push(t);
            }
        }
        for (i, start) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 10, "{in_window} in one second");
        }
        assert!(limiter.admit("unlimited", 0, t0).is_ok());
    }
}
