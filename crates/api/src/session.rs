//! Console sessions: every visitor carries a random session token in a cookie; a signed-in
//! session maps it to the access key id until it expires. The CSRF token of a session is an
//! HMAC of its token under a key drawn at start, so anonymous visitors need no server state
//! and every form that posts can be checked. Sign-in attempts are limited per client address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use sha2::Sha256;

use crate::signature::signatures_match;

/// Hex digits of a session token.
const TOKEN_LEN: usize = 64;
/// Beyond this many client addresses tracked, the ones with no recent attempt are forgotten.
const MAX_TRACKED_CLIENTS: usize = 10_000;
/// The window of the sign-in limit.
const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);

/// Who is looking at a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    /// The session token (the cookie's value).
    pub token: String,
    /// The token was made for this request: the answer sets the cookie.
    pub fresh: bool,
    /// The access key id signed in.
    pub user: Option<String>,
    pub csrf: String,
}

struct SignedIn {
    user: String,
    expires: Instant,
}

/// The sessions of one server.
pub struct Sessions {
    csrf_key: [u8; 32],
    signed_in: Mutex<HashMap<String, SignedIn>>,
    attempts: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    ttl: Duration,
    attempts_per_minute: usize,
}

/// 244 random bits as 64 hex digits (two version-4 UUIDs).
pub(crate) fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    pub fn new(ttl: Duration, attempts_per_minute: u32) -> Self {
        let mut csrf_key = [0u8; 32];
        csrf_key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        csrf_key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self {
            csrf_key,
            signed_in: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
            ttl,
            attempts_per_minute: attempts_per_minute as usize,
        }
    }

    /// How long a session cookie lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn csrf_of(&self, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.csrf_key).expect("any key length");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn fresh_visitor(&self, user: Option<String>) -> Visitor {
        let token = random_token();
        Visitor {
            csrf: self.csrf_of(&token),
            token,
            fresh: true,
            user,
        }
    }

    /// The visitor presenting `cookie` (the session token, if any) at `now`: signed in while
    /// its session lasts; a malformed token is replaced by a fresh one.
    pub fn visitor(&self, cookie: Option<&str>, now: Instant) -> Visitor {
        let Some(token) =
            cookie.filter(|t| t.len() == TOKEN_LEN && t.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            return self.fresh_visitor(None);
        };
        let mut signed_in = self.signed_in.lock();
        let user = match signed_in.get(token) {
            Some(s) if s.expires > now => Some(s.user.clone()),
            Some(_) => {
                signed_in.remove(token);
                None
            }
            None => None,
        };
        Visitor {
            token: token.to_owned(),
            fresh: false,
            csrf: self.csrf_of(token),
            user,
        }
    }

    /// Whether `presented` is the visitor's CSRF token.
    pub fn csrf_matches(&self, visitor: &Visitor, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| signatures_match(&visitor.csrf, p))
    }

    /// Counts a sign-in attempt from `client`; refused (with the time until the next one is
    /// allowed) past the limit within the last minute.
    pub fn admit_attempt(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut attempts = self.attempts.lock();
        if attempts.len() >= MAX_TRACKED_CLIENTS {
            attempts.retain(|_, times| times.back().is_some_and(|t| now - *t < ATTEMPT_WINDOW));
        }
        let times = attempts.entry(client).or_default();
        while times.front().is_some_and(|t| now - *t >= ATTEMPT_WINDOW) {
            times.pop_front();
        }
        if times.len() >= self.attempts_per_minute {
            let oldest = *times.front().expect("the limit is positive");
            return Err(ATTEMPT_WINDOW - (now - oldest));
        }
        times.push_back(now);
        Ok(())
    }

    /// A new session (a new token, so a token planted before sign-in is worth nothing) for
    /// `user`; `previous` ends.
    pub fn sign_in(&self, previous: &Visitor, user: String, now: Instant) -> Visitor {
        let mut signed_in = self.signed_in.lock();
        signed_in.remove(&previous.token);
        signed_in.retain(|_, s| s.expires > now);
        let visitor = self.fresh_visitor(Some(user.clone()));
        signed_in.insert(
            visitor.token.clone(),
            SignedIn {
                user,
                expires: now + self.ttl,
            },
        );
        visitor
    }

    /// Ends the visitor's session; the answer gives it a fresh anonymous token.
    pub fn sign_out(&self, visitor: &Visitor) -> Visitor {
        self.signed_in.lock().remove(&visitor.token);
        self.fresh_visitor(None)
    }
}
