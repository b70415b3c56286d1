//! Nonces and rate limits shared by several nodes through Redis (`server.redis_url`).
//!
//! Both are single atomic operations on the Redis server, timed by the Redis server's clock so
//! that nodes with skewed clocks still agree:
//! - a nonce is `SET key 1 NX PX <twice the timestamp window>`: the first node to set it wins;
//! - a limit is a sliding one-second window in a sorted set, trimmed, counted and extended by one
//!   Lua script.
//!
//! When Redis cannot be reached, nonces **fail closed** (the request is refused with
//! `ServiceUnavailable` and the outage is logged: accepting a nonce nobody can check would allow
//! replays), while rate limits **fall back to this node's own limiter** (logged): a limit protects
//! capacity, not integrity, so lookups keep being answered and each node still enforces the
//! per-key rate on its own, which bounds the total at nodes × rate until Redis is back.

use std::time::Instant;

use parking_lot::Mutex;

use crate::auth::{MemoryRateLimiter, NonceGuard, RateLimiter, TIMESTAMP_WINDOW};
use crate::error::ApiError;

/// Admits a request if fewer than `ARGV[1]` were admitted in the last second; otherwise returns
/// the milliseconds until the oldest of them leaves the window.
const SLIDING_WINDOW: &str = r"
local now = redis.call('TIME')
local micros = tonumber(now[1]) * 1000000 + tonumber(now[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', micros - 1000000)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], micros, micros .. '-' .. ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = math.ceil((tonumber(oldest[2]) + 1000000 - micros) / 1000)
if wait < 1 then wait = 1 end
return wait
";

/// Nonces and limits in Redis, with a few pooled connections.
pub struct RedisLimits {
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
    script: redis::Script,
    fallback: MemoryRateLimiter,
    prefix: String,
}

impl RedisLimits {
    /// Checks the URL and that the server answers.
    pub fn connect(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("redis_url {url:?}: {e}"))?;
        let limits = Self {
            client,
            idle: Mutex::new(Vec::new()),
            script: redis::Script::new(SLIDING_WINDOW),
            fallback: MemoryRateLimiter::default(),
            prefix: "threatintel:".into(),
        };
        limits
            .with(|c| redis::cmd("PING").query::<String>(c))
            .map_err(|e| format!("Redis at {url}: {e}"))?;
        Ok(limits)
    }

    /// Keys under another prefix (several deployments, or tests, on one Redis).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let pooled = self.idle.lock().pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self
                .client
                .get_connection_with_timeout(std::time::Duration::from_secs(2))?,
        };
        let result = f(&mut conn);
        // A connection that failed may be broken: only healthy ones go back.
        if result.is_ok() {
            self.idle.lock().push(conn);
        }
        result
    }
}

impl NonceGuard for RedisLimits {
    fn check_and_remember(
        &self,
        access_key_id: &str,
        nonce: &str,
        _now: Instant,
    ) -> Result<(), ApiError> {
        let key = format!("{}nonce:{access_key_id}:{nonce}", self.prefix);
        let ttl = (TIMESTAMP_WINDOW * 2).as_millis() as u64;
        let set: redis::RedisResult<Option<String>> = self.with(|c| {
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl)
                .query(c)
        });
        match set {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(ApiError::SignatureNonceUsed),
            Err(e) => {
                tracing::error!(error = %e, "Redis unreachable: refusing signed requests (nonces cannot be checked)");
                Err(ApiError::ServiceUnavailable)
            }
        }
    }
}

impl RateLimiter for RedisLimits {
    fn admit(&self, access_key_id: &str, rate: u32, now: Instant) -> Result<(), ApiError> {
        if rate == 0 {
            return Ok(());
        }
        let key = format!("{}rate:{access_key_id}", self.prefix);
        let member = uuid::Uuid::new_v4().simple().to_string();
        let wait: redis::RedisResult<u64> =
            self.with(|c| self.script.key(&key).arg(rate).arg(&member).invoke(c));
        match wait {
            Ok(0) => Ok(()),
            Ok(ms) => Err(ApiError::Throttling { retry_after_ms: ms }),
            Err(e) => {
                tracing::warn!(error = %e, "Redis unreachable: rate limits fall back to this node alone");
                self.fallback.admit(access_key_id, rate, now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against the Redis server on 127.0.0.1:6379 (CI makes sure it runs).

    use std::time::Instant;

    use super::*;

    fn limits() -> RedisLimits {
        RedisLimits::connect("redis://127.0.0.1:6379")
            .expect("these tests need Redis on 127.0.0.1:6379")
            .with_prefix(format!(
                "threatintel-test:{}:",
                uuid::Uuid::new_v4().simple()
            ))
    }

    #[test]
    fn a_nonce_is_accepted_once_across_nodes() {
        let node_a = limits();
        let node_b = RedisLimits {
            prefix: node_a.prefix.clone(),
            ..limits()
        };
        node_a
            .check_and_remember("key", "n1", Instant::now())
            .unwrap();
        assert_eq!(
            node_b.check_and_remember("key", "n1", Instant::now()),
            Err(ApiError::SignatureNonceUsed)
        );
        node_b
            .check_and_remember("other-key", "n1", Instant::now())
            .unwrap();
    }

    #[test]
    fn a_burst_across_nodes_gets_the_rate_and_no_more() {
        let node_a = limits();
        let node_b = RedisLimits {
            prefix: node_a.prefix.clone(),
            ..limits()
        };
        let admitted = (0..20)
            .filter(|i| {
                let node = if i % 2 == 0 { &node_a } else { &node_b };
                node.admit("key", 4, Instant::now()).is_ok()
            })
            .count();
        assert_eq!(admitted, 4);
        match node_a.admit("key", 4, Instant::now()) {
            Err(ApiError::Throttling { retry_after_ms }) => {
                assert!((1..=1000).contains(&retry_after_ms))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unreachable_redis_fails_closed_for_nonces_and_local_for_limits() {
        let limits = RedisLimits {
            client: redis::Client::open("redis://127.0.0.1:1").unwrap(),
            idle: Mutex::new(Vec::new()),
            script: redis::Script::new(SLIDING_WINDOW),
            fallback: MemoryRateLimiter::default(),
            prefix: "x:".into(),
        };
        assert_eq!(
            limits.check_and_remember("k", "n", Instant::now()),
            Err(ApiError::ServiceUnavailable)
        );
        let now = Instant::now();
        assert!(limits.admit("k", 1, now).is_ok());
        assert!(matches!(
            limits.admit("k", 1, now),
            Err(ApiError::Throttling { .. })
        ));
    }
}
