//! Who is calling: the access keys ([`KeyStore`]), the verifier that turns a request into an
//! authenticated [`Identity`] or a typed [`ApiError`] ([`Authenticator`]), and the two
//! replay/abuse guards behind traits so several nodes can share them later:
//! [`NonceGuard`] (a nonce once per key within the window) and [`RateLimiter`] (per-key
//! requests per second), each with an in-process implementation.
//!
//! The verifier is pure: the caller passes the method, path, decoded parameters, headers,
//! body and the current time. It detects the scheme (§3), checks the key, the ±15-minute
//! timestamp window, the nonce's presence and the signature, and returns the nonce for the
//! caller to check against a [`NonceGuard`].
//!
//! A secret is a [`Secret`]: it has no `Display`, its `Debug` is redacted and its text can be
//! read only inside this module, where the signature checks use it; so a secret never leaves
//! auth.rs. Whether a key is enabled is looked at only after its secret was proven: a wrong
//! secret is answered the same whatever the key's state.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta};
use parking_lot::Mutex;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use threatintel_model::Timestamp;

use crate::error::{ApiError, Required};
use crate::params::Params;
use crate::signature::{
    detect_scheme, header, payload_hash, refuse_repeated_headers, signatures_match, v1_verify,
    v3_canonical_request, v3_verify, SignatureScheme, V1Key, V3Authorization, V1_SIGNATURE_METHOD,
};

/// An access key's secret: it cannot be printed, and its text is read only by the signature
/// checks of this module.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One access key (`[[server.access_keys]]` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub id: String,
    pub secret: Secret,
    /// Requests per second; 0 means no limit.
    #[serde(default = "default_rate")]
    pub rate_per_sec: u32,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// The key may sign in to the console (`/console/`).
    #[serde(default)]
    pub console: bool,
}

/// The reference's default limit: 100 requests per second.
pub const DEFAULT_RATE: u32 = 100;

fn default_rate() -> u32 {
    DEFAULT_RATE
}

fn enabled() -> bool {
    true
}

impl AccessKey {
    /// An enabled key limited to [`DEFAULT_RATE`].
    pub fn new(id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        Self {
            id: id.into(),
            secret: secret.into(),
            rate_per_sec: DEFAULT_RATE,
            enabled: true,
            console: false,
        }
    }
}

impl AccessKey {
    /// `InvalidAccessKeyId.Inactive` for a disabled key; asked only once the request proved
    /// it holds the secret.
    fn check_enabled(&self) -> Result<(), ApiError> {
        if self.enabled {
            Ok(())
        } else {
            Err(ApiError::AccessKeyInactive)
        }
    }
}

/// The access keys by id, each with its secret keyed for V1 signatures. Ids are unique (the
/// config refuses repeats; here the first wins).
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    keys: HashMap<String, (AccessKey, V1Key)>,
}

impl KeyStore {
    pub fn new(keys: Vec<AccessKey>) -> Self {
        let mut map = HashMap::with_capacity(keys.len());
        for key in keys {
            let v1 = V1Key::new(&key.secret.0);
            map.entry(key.id.clone()).or_insert((key, v1));
        }
        Self { keys: map }
    }

    /// The key `id`, enabled or not: `InvalidAccessKeyId.NotFound` when there is none.
    pub fn lookup(&self, id: &str) -> Result<&AccessKey, ApiError> {
        self.lookup_v1(id).map(|(key, _)| key)
    }

    /// [`lookup`](Self::lookup), with the key's secret keyed for V1.
    fn lookup_v1(&self, id: &str) -> Result<(&AccessKey, &V1Key), ApiError> {
        let (key, v1) = self.keys.get(id).ok_or(ApiError::AccessKeyNotFound)?;
        Ok((key, v1))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    V1,
    V3,
    /// `Authorization: Bearer <id>:<secret>` (native API only).
    Bearer,
    /// Unsigned, when the server allows it (local use).
    Anonymous,
}

impl Scheme {
    /// The signature scheme, for signed requests.
    pub fn signature_scheme(self) -> Option<SignatureScheme> {
        match self {
            Self::V1 => Some(SignatureScheme::V1),
            Self::V3 => Some(SignatureScheme::V3),
            Self::Bearer | Self::Anonymous => None,
        }
    }
}

impl From<SignatureScheme> for Scheme {
    fn from(s: SignatureScheme) -> Self {
        match s {
            SignatureScheme::V1 => Self::V1,
            SignatureScheme::V3 => Self::V3,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub access_key_id: String,
    pub scheme: Scheme,
    /// The signature nonce (V1 `SignatureNonce`, V3 `x-acs-signature-nonce`), for the caller
    /// to check with a [`NonceGuard`]; `None` for bearer and anonymous requests.
    pub nonce: Option<String>,
    /// The STS token the request carried and signed (V1 `SecurityToken`, V3
    /// `x-acs-security-token`). This server issues no STS credentials: the token is passed on,
    /// not checked; the signature is verified with the access key's own secret.
    pub security_token: Option<String>,
    /// The key's limit (0 = none).
    pub rate_per_sec: u32,
}

/// Where a request arrived: the two endpoints accept different credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/`: V1, V3 (and unsigned when allowed), as the Alibaba SDKs send them.
    Rpc,
    /// `/api/v1/...`: V3 and bearer tokens only. A V1 signature covers only the parameters,
    /// neither the path (which names the domain) nor the body (a batch), so a V1-signed
    /// request could be re-aimed; V3 signs the path and the body's hash.
    Native,
}

/// What the verifier looks at.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The HTTP method as received (`POST`).
    pub method: &'a str,
    /// The path without the query (`/`).
    pub path: &'a str,
    /// Decoded query and form-body parameters.
    pub params: &'a Params,
    /// (name, value) pairs as received; names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// The raw body.
    pub body: &'a [u8],
    /// The server's clock.
    pub now: Timestamp,
}

/// Requests whose time is further than this from the server's are refused.
pub const TIMESTAMP_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The longest nonce accepted (the SDKs send 32 hex digits or a 36-character UUID).
pub const MAX_NONCE_LEN: usize = 128;

/// Parses `YYYY-MM-DDThh:mm:ssZ` (UTC), exactly; anything else is `InvalidTimeStamp.Format`.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, ApiError> {
    let b = text.as_bytes();
    let shaped = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shaped {
        return Err(ApiError::TimestampFormat);
    }
    // Shaped: every number is ASCII digits, read directly (a strftime parse per request costs more).
    let number = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
    };
    NaiveDate::from_ymd_opt(number(0, 4) as i32, number(5, 7), number(8, 10))
        .and_then(|day| day.and_hms_opt(number(11, 13), number(14, 16), number(17, 19)))
        .map(|t| t.and_utc())
        .ok_or(ApiError::TimestampFormat)
}

/// The verifier: access keys, whether unsigned requests are allowed, the timestamp window.
#[derive(Debug)]
pub struct Authenticator {
    keys: KeyStore,
    anonymous: Option<u32>,
    window: TimeDelta,
}

impl Authenticator {
    /// `anonymous`: the rate of unsigned requests, when they are allowed at all.
    pub fn new(keys: Vec<AccessKey>, anonymous: Option<u32>) -> Self {
        Self::from_store(KeyStore::new(keys), anonymous)
    }

    pub fn from_store(keys: KeyStore, anonymous: Option<u32>) -> Self {
        Self {
            keys,
            anonymous,
            window: TimeDelta::from_std(TIMESTAMP_WINDOW).expect("15 minutes fit"),
        }
    }

    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Verifies the request and says who sent it.
    ///
    /// First, no header a signature depends on may be repeated ([`refuse_repeated_headers`]).
    /// Scheme (§3): `Authorization: ACS3-...` → V3; else, on the native endpoint,
    /// `Authorization: Bearer <id>:<secret>`; else a `Signature` parameter → V1 (on the native
    /// endpoint refused: `InvalidParameter` naming `Signature`); else unsigned, answered only
    /// when anonymous access is on and no `Authorization` header is present (otherwise
    /// `MissingAccessKeyId`, or `InvalidParameter` naming `Authorization` when one of an
    /// unknown kind is present).
    pub fn authenticate(
        &self,
        req: &SignedRequest<'_>,
        endpoint: Endpoint,
    ) -> Result<Identity, ApiError> {
        refuse_repeated_headers(req.headers)?;
        let authorization = header(req.headers, "authorization");
        let scheme = detect_scheme(authorization, req.params);
        if scheme == Some(SignatureScheme::V3) {
            return self.v3(req, authorization.unwrap_or_default());
        }
        if endpoint == Endpoint::Native {
            if let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) {
                return self.bearer(token.trim());
            }
            if scheme == Some(SignatureScheme::V1) {
                return Err(ApiError::invalid(
                    "Signature",
                    "the native API takes an ACS3-HMAC-SHA256 signature or a bearer token: a V1 signature covers neither the path nor the body",
                ));
            }
        }
        if scheme == Some(SignatureScheme::V1) {
            return self.v1(req);
        }
        match (authorization.map(str::trim), self.anonymous) {
            (None | Some(""), Some(rate)) => Ok(Identity {
                access_key_id: "anonymous".into(),
                scheme: Scheme::Anonymous,
                nonce: None,
                security_token: None,
                rate_per_sec: rate,
            }),
            (None | Some(""), None) => Err(ApiError::Missing(Required::AccessKeyId)),
            (Some(_), _) => Err(ApiError::invalid(
                "Authorization",
                "it is not an ACS3-HMAC-SHA256 signature",
            )),
        }
    }

    fn check_time(&self, text: &str, now: Timestamp) -> Result<(), ApiError> {
        let time = parse_timestamp(text)?;
        if (time - now).abs() > self.window {
            return Err(ApiError::TimestampExpired);
        }
        Ok(())
    }

    fn identity(key: &AccessKey, scheme: Scheme, nonce: String, token: Option<&str>) -> Identity {
        Identity {
            access_key_id: key.id.clone(),
            scheme,
            nonce: Some(nonce),
            security_token: token.filter(|t| !t.is_empty()).map(str::to_owned),
            rate_per_sec: key.rate_per_sec,
        }
    }

    /// V1: AccessKeyId, key, SignatureMethod/-Version, Timestamp, SignatureNonce, Signature.
    fn v1(&self, req: &SignedRequest<'_>) -> Result<Identity, ApiError> {
        let param = |required: Required| {
            req.params
                .get(required.name())
                .ok_or(ApiError::Missing(required))
        };
        let (key, v1_key) = self.keys.lookup_v1(param(Required::AccessKeyId)?)?;
        match req.params.get("SignatureMethod") {
            None | Some(V1_SIGNATURE_METHOD) => {}
            Some(_) => return Err(ApiError::InvalidSignatureMethod),
        }
        match req.params.get("SignatureVersion") {
            None | Some("1.0") => {}
            Some(_) => {
                return Err(ApiError::invalid(
                    "SignatureVersion",
                    "only 1.0 is supported",
                ))
            }
        }
        self.check_time(param(Required::Timestamp)?, req.now)?;
        let nonce = checked_nonce(
            "SignatureNonce",
            ApiError::Missing(Required::SignatureNonce),
            param(Required::SignatureNonce)?,
        )?;
        v1_verify(v1_key, req.method, req.params)?;
        key.check_enabled()?;
        Ok(Self::identity(
            key,
            Scheme::V1,
            nonce,
            req.params.get("SecurityToken"),
        ))
    }

    /// V3: Authorization, signed headers, key, x-acs-date, nonce, body hash, STS, signature.
    fn v3(&self, req: &SignedRequest<'_>, authorization: &str) -> Result<Identity, ApiError> {
        let auth = V3Authorization::parse(authorization)?;
        auth.check_signed_headers(req.headers)?;
        let value = |name: &'static str| {
            header(req.headers, name)
                .map(str::trim)
                .ok_or(ApiError::MissingHeader(name))
        };
        let key = self.keys.lookup(&auth.access_key_id)?;
        if let Some(id) = header(req.headers, "x-acs-accesskey-id") {
            if id.trim() != auth.access_key_id {
                return Err(ApiError::invalid(
                    "x-acs-accesskey-id",
                    "it differs from the Authorization Credential",
                ));
            }
        }
        self.check_time(value("x-acs-date")?, req.now)?;
        let nonce = checked_nonce(
            "x-acs-signature-nonce",
            ApiError::MissingHeader("x-acs-signature-nonce"),
            value("x-acs-signature-nonce")?,
        )?;
        let content_hash = value("x-acs-content-sha256")?;
        if !content_hash.eq_ignore_ascii_case(&payload_hash(req.body)) {
            return Err(ApiError::invalid(
                "x-acs-content-sha256",
                "it is not the SHA-256 of the request body",
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
        v3_verify(&key.secret.0, &canonical, &auth.signature)?;
        key.check_enabled()?;
        Ok(Self::identity(
            key,
            Scheme::V3,
            nonce,
            header(req.headers, "x-acs-security-token").map(str::trim),
        ))
    }

    /// The console's sign-in: the id of the key when `secret` is its secret and the key is
    /// enabled and may use the console (`console = true`). Every refusal is the same `None`,
    /// so a guess learns nothing about the key.
    pub fn console_sign_in(&self, id: &str, secret: &str) -> Option<String> {
        let key = self.keys.lookup(id).ok()?;
        (signatures_match(&key.secret.0, secret) && key.enabled && key.console)
            .then(|| key.id.clone())
    }

    /// `Bearer <AccessKeyId>:<AccessKeySecret>` (native API).
    fn bearer(&self, token: &str) -> Result<Identity, ApiError> {
        let (id, secret) = token.split_once(':').ok_or_else(|| {
            ApiError::invalid(
                "Authorization",
                "a bearer token is <AccessKeyId>:<AccessKeySecret>",
            )
        })?;
        let key = self.keys.lookup(id)?;
        if !signatures_match(&key.secret.0, secret) {
            return Err(ApiError::AccessKeyNotFound);
        }
        key.check_enabled()?;
        Ok(Identity {
            access_key_id: key.id.clone(),
            scheme: Scheme::Bearer,
            nonce: None,
            security_token: None,
            rate_per_sec: key.rate_per_sec,
        })
    }
}

/// A nonce must be non-empty (else `missing`) and at most [`MAX_NONCE_LEN`] bytes.
fn checked_nonce(name: &'static str, missing: ApiError, nonce: &str) -> Result<String, ApiError> {
    if nonce.is_empty() {
        return Err(missing);
    }
    if nonce.len() > MAX_NONCE_LEN {
        return Err(ApiError::invalid(
            name,
            format!("it is longer than {MAX_NONCE_LEN} bytes"),
        ));
    }
    Ok(nonce.to_owned())
}

// ------------------------------------------------------------------------------ nonces

/// Refuses a nonce already used by the same key within the timestamp window
/// (`SignatureNonceUsed`). `now` is the caller's monotonic clock, so tests can inject time.
pub trait NonceGuard: Send + Sync {
    fn check_and_remember(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: Instant,
    ) -> Result<(), ApiError>;
}

/// How long a nonce is remembered: twice the window, since a request stamped 15 minutes ahead
/// of the server stays acceptable for 30 minutes of server time.
pub const NONCE_TTL: Duration = Duration::from_secs(2 * 15 * 60);

/// Nonces in this process. Each is kept as a 16-byte digest of (key, nonce) for
/// [`NONCE_TTL`], so memory is bounded by `max` entries whatever the nonces' length; when
/// `max` unexpired nonces are held, new ones are refused with `ServiceUnavailable` (forgetting
/// one early would allow a replay).
///
/// The set is split into [`NONCE_SHARDS`] shards by digest: a growing table is rehashed one
/// shard at a time (a single table of half a million nonces held every request for tens of
/// milliseconds while it doubled), and requests rarely wait for each other's lock. The shards
/// fill evenly, so they double at about the same time: with 16, the doublings at 60-125k
/// nonces a shard held their workers long enough to put the p99 of signed requests at 10-24
/// ms (64 connections, against 5.2 ms with 256 shards).
pub struct MemoryNonces {
    shards: Box<[Mutex<NonceSet>]>,
    /// Nonces held in all shards, expired ones not yet forgotten included.
    held: AtomicUsize,
    max: usize,
}

/// How many parts the in-process nonce set is split into.
pub const NONCE_SHARDS: usize = 256;

#[derive(Default)]
struct NonceSet {
    seen: HashMap<[u8; 16], Instant>,
    order: VecDeque<(Instant, [u8; 16])>,
}

impl NonceSet {
    /// Forgets the nonces older than [`NONCE_TTL`]; returns how many it forgot.
    fn expire(&mut self, now: Instant) -> usize {
        let mut forgotten = 0;
        while let Some((at, old)) = self.order.front().copied() {
            if now.saturating_duration_since(at) < NONCE_TTL {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&old) == Some(&at) {
                self.seen.remove(&old);
                forgotten += 1;
            }
        }
        forgotten
    }
}

impl MemoryNonces {
    pub fn new(max: usize) -> Self {
        Self {
            shards: (0..NONCE_SHARDS).map(|_| Mutex::default()).collect(),
            held: AtomicUsize::new(0),
            max,
        }
    }

    /// Nonces currently remembered.
    pub fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts one more nonce if fewer than `max` are held, first forgetting expired ones in
    /// every shard when the count is full.
    fn reserve(&self, now: Instant) -> bool {
        if self.held.fetch_add(1, Ordering::AcqRel) < self.max {
            return true;
        }
        self.held.fetch_sub(1, Ordering::AcqRel);
        for shard in self.shards.iter() {
            let forgotten = shard.lock().expire(now);
            self.held.fetch_sub(forgotten, Ordering::AcqRel);
        }
        if self.held.fetch_add(1, Ordering::AcqRel) < self.max {
            return true;
        }
        self.held.fetch_sub(1, Ordering::AcqRel);
        false
    }
}

fn nonce_digest(access_key_id: &str, nonce: &str) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update((access_key_id.len() as u64).to_be_bytes());
    hasher.update(access_key_id.as_bytes());
    hasher.update(nonce.as_bytes());
    let digest = hasher.finalize();
    let mut out = [0; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

impl NonceGuard for MemoryNonces {
    fn check_and_remember(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: Instant,
    ) -> Result<(), ApiError> {
        let digest = nonce_digest(access_key_id, nonce);
        let shard = &self.shards[usize::from(digest[0]) % NONCE_SHARDS];
        {
            let mut set = shard.lock();
            let forgotten = set.expire(now);
            self.held.fetch_sub(forgotten, Ordering::AcqRel);
            if set.seen.contains_key(&digest) {
                return Err(ApiError::SignatureNonceUsed);
            }
        }
        // Outside the shard's lock: a full count looks into every shard.
        if !self.reserve(now) {
            return Err(ApiError::ServiceUnavailable);
        }
        let mut set = shard.lock();
        if set.seen.contains_key(&digest) {
            // The same nonce, remembered by a concurrent request meanwhile.
            self.held.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::SignatureNonceUsed);
        }
        set.seen.insert(digest, now);
        set.order.push_back((now, digest));
        Ok(())
    }
}

// ------------------------------------------------------------------------------ rate limits

/// Admits a request of a key limited to `rate` per second (0 = unlimited), or refuses it with
/// `Throttling.User` saying how long to wait. `now` is injected, as for [`NonceGuard`].
pub trait RateLimiter: Send + Sync {
    fn admit(&self, access_key_id: &str, rate: u32, now: Instant) -> Result<(), ApiError>;
}

/// Per-key limits in this process, as a sliding one-second window (the times of the requests
/// admitted in the last second): no one-second interval, wherever it starts, ever holds more
/// than `rate` admitted requests, so a burst gets exactly `rate` through. (A token bucket or
/// GCRA with burst = rate would admit up to 2·rate − 1 in the second after a burst.) Memory is
/// `rate` instants per key; keys are the configured ones.
#[derive(Default)]
pub struct MemoryRateLimiter {
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter for MemoryRateLimiter {
    fn admit(&self, access_key_id: &str, rate: u32, now: Instant) -> Result<(), ApiError> {
        if rate == 0 {
            return Ok(());
        }
        let second = Duration::from_secs(1);
        let mut windows = self.windows.lock();
        let window = match windows.get_mut(access_key_id) {
            Some(w) => w,
            None => windows.entry(access_key_id.to_owned()).or_default(),
        };
        while window
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= second)
        {
            window.pop_front();
        }
        if window.len() >= rate as usize {
            let oldest = *window.front().expect("a full window");
            let wait = second.saturating_sub(now.saturating_duration_since(oldest));
            return Err(ApiError::Throttling {
                retry_after_ms: (wait.as_millis() as u64).max(1),
            });
        }
        window.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let key = AccessKey::new("id1", "s3cret-value");
        assert!(!format!("{key:?}").contains("s3cret"));
        assert!(!format!("{key:#?}").contains("s3cret"));
        let auth = Authenticator::new(vec![key], None);
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn timestamps_are_strict() {
        assert!(parse_timestamp("2024-05-01T12:00:00Z").is_ok());
        for bad in [
            "2024-05-01 12:00:00",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00.000Z",
            "2024-5-01T12:00:00Z",
            "2024-13-01T12:00:00Z",
            "2024-02-30T12:00:00Z",
            "+024-05-01T12:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:60:00Z",
            "2024-05-01T12:00:60Z",
            "",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                Err(ApiError::TimestampFormat),
                "{bad}"
            );
        }
    }

    proptest::proptest! {
        /// The digit-by-digit parse reads what chrono's strftime parse reads (leap seconds,
        /// which chrono accepts, are refused).
        #[test]
        fn timestamps_parse_as_chrono_does(
            y in 0u32..10000, mo in 0u32..14, d in 0u32..33, h in 0u32..25, mi in 0u32..61, s in 0u32..61,
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
            let chrono = chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%SZ")
                .ok()
                .filter(|_| s < 60)
                .map(|t| t.and_utc());
            proptest::prop_assert_eq!(parse_timestamp(&text).ok(), chrono, "{}", text);
        }
    }

    /// Across threads and shards: a nonce is accepted once, and never more than `max` are held.
    #[test]
    fn concurrent_nonces_are_accepted_once_and_bounded() {
        let nonces = MemoryNonces::new(1000);
        let t0 = Instant::now();
        let results: Vec<Vec<Result<(), ApiError>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        (0..600)
                            .map(|i| nonces.check_and_remember("k", &format!("n{i}"), t0))
                            .collect()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let accepted = results.iter().flatten().filter(|r| r.is_ok()).count();
        let replays = results
            .iter()
            .flatten()
            .filter(|r| **r == Err(ApiError::SignatureNonceUsed))
            .count();
        // 600 distinct nonces, each tried by 8 threads: each accepted once, the rest replays.
        assert_eq!((accepted, replays), (600, 600 * 7));
        assert_eq!(nonces.len(), 600);
        let fresh: Vec<bool> = (600..1500)
            .map(|i| nonces.check_and_remember("k", &format!("n{i}"), t0).is_ok())
            .collect();
        assert_eq!(fresh.iter().filter(|ok| **ok).count(), 400);
        assert_eq!(nonces.len(), 1000);
    }

    #[test]
    fn expired_nonces_are_forgotten_and_memory_is_bounded() {
        let nonces = MemoryNonces::new(2);
        let t0 = Instant::now();
        nonces.check_and_remember("a", "1", t0).unwrap();
        nonces.check_and_remember("a", "2", t0).unwrap();
        assert_eq!(
            nonces.check_and_remember("a", "3", t0),
            Err(ApiError::ServiceUnavailable)
        );
        let later = t0 + NONCE_TTL;
        nonces.check_and_remember("a", "3", later).unwrap();
        assert_eq!(nonces.len(), 1);
        nonces.check_and_remember("a", "1", later).unwrap();
    }
}
