//! The in-process guards with injected time: the rate limiter (a burst of 3×rate in one instant
//! lets exactly `rate` through; over simulated seconds no one-second interval ever admits more
//! than `rate`) and the nonce guard (once per key, forgotten after the TTL, bounded memory).

use std::time::{Duration, Instant};

use threatintel_api::auth::{MemoryNonces, MemoryRateLimiter, NonceGuard, RateLimiter, NONCE_TTL};
use threatintel_api::error::ApiError;

fn admitted_in_any_second(times: &[Instant]) -> usize {
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| t.duration_since(times[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn a_burst_of_three_times_the_rate_lets_exactly_the_rate_through() {
    for rate in [1u32, 2, 5, 10, 100] {
        let limiter = MemoryRateLimiter::default();
        let t0 = Instant::now();
        let results: Vec<_> = (0..3 * rate)
            .map(|_| limiter.admit("k", rate, t0))
            .collect();
        let admitted = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(admitted, rate as usize, "rate {rate}");
        // The first `rate` pass, the rest are Throttling.User with a retry-after of 1 s.
        assert!(results[..rate as usize].iter().all(Result::is_ok));
        for refused in &results[rate as usize..] {
            assert_eq!(
                refused,
                &Err(ApiError::Throttling {
                    retry_after_ms: 1000
                })
            );
            assert_eq!(refused.as_ref().unwrap_err().code(), "Throttling.User");
        }
    }
}

#[test]
fn over_simulated_seconds_no_second_admits_more_than_the_rate() {
    let rate = 10;
    let t0 = Instant::now();
    // Several arrival patterns over five simulated seconds.
    let patterns: Vec<Vec<Duration>> = vec![
        // Steady, 100 per second.
        (0..500).map(|i| Duration::from_millis(i * 10)).collect(),
        // Bursts of 30 at each half second.
        (0..10)
            .flat_map(|s| std::iter::repeat_n(Duration::from_millis(s * 500), 30))
            .collect(),
        // Bursts straddling second boundaries.
        (0..5)
            .flat_map(|s| {
                [
                    Duration::from_millis(s * 1000 + 999),
                    Duration::from_millis(s * 1000 + 1000),
                ]
                .into_iter()
                .flat_map(|t| std::iter::repeat_n(t, 20))
            })
            .collect(),
        // Irregular: quadratic spacing.
        (0..400u64)
            .map(|i| Duration::from_micros(i * i * 31))
            .collect(),
    ];
    for (p, pattern) in patterns.iter().enumerate() {
        let limiter = MemoryRateLimiter::default();
        let admitted: Vec<Instant> = pattern
            .iter()
            .map(|d| t0 + *d)
            .filter(|t| limiter.admit("k", rate, *t).is_ok())
            .collect();
        assert!(
            admitted_in_any_second(&admitted) <= rate as usize,
            "pattern {p}: {} in one second",
            admitted_in_any_second(&admitted)
        );
        // Calendar seconds too.
        for s in 0..6 {
            let start = t0 + Duration::from_secs(s);
            let n = admitted
                .iter()
                .filter(|t| **t >= start && **t < start + Duration::from_secs(1))
                .count();
            assert!(n <= rate as usize, "pattern {p}, second {s}: {n}");
        }
        // Steady demand above the rate still gets the whole rate each second.
        if p == 0 {
            assert_eq!(admitted.len(), 5 * rate as usize);
        }
    }
}

#[test]
fn retry_after_says_when_the_oldest_leaves_the_window() {
    let limiter = MemoryRateLimiter::default();
    let t0 = Instant::now();
    limiter.admit("k", 2, t0).unwrap();
    limiter
        .admit("k", 2, t0 + Duration::from_millis(400))
        .unwrap();
    assert_eq!(
        limiter.admit("k", 2, t0 + Duration::from_millis(700)),
        Err(ApiError::Throttling {
            retry_after_ms: 300
        })
    );
    // Waiting that long is enough.
    limiter
        .admit("k", 2, t0 + Duration::from_millis(1000))
        .unwrap();
    let err = ApiError::Throttling { retry_after_ms: 0 };
    assert_eq!(
        err.retry_after_ms(),
        Some(1),
        "never 0: Tea needs a positive integer"
    );
}

#[test]
fn keys_are_limited_independently_and_zero_means_unlimited() {
    let limiter = MemoryRateLimiter::default();
    let t0 = Instant::now();
    assert!(limiter.admit("a", 1, t0).is_ok());
    assert!(limiter.admit("a", 1, t0).is_err());
    assert!(limiter.admit("b", 1, t0).is_ok());
    assert!((0..10_000).all(|_| limiter.admit("c", 0, t0).is_ok()));
}

#[test]
fn nonces_once_per_key_within_the_ttl() {
    let nonces = MemoryNonces::new(100);
    let t0 = Instant::now();
    nonces.check_and_remember("a", "n1", t0).unwrap();
    assert_eq!(
        nonces.check_and_remember("a", "n1", t0),
        Err(ApiError::SignatureNonceUsed)
    );
    assert_eq!(
        nonces.check_and_remember("a", "n1", t0 + NONCE_TTL - Duration::from_millis(1)),
        Err(ApiError::SignatureNonceUsed)
    );
    // Another key may use the same nonce; key and nonce do not run together.
    nonces.check_and_remember("b", "n1", t0).unwrap();
    nonces.check_and_remember("a", "n", t0).unwrap();
    nonces.check_and_remember("an", "1", t0).unwrap();
    // Forgotten once the TTL (twice the ±15-minute window) has passed.
    assert_eq!(NONCE_TTL, Duration::from_secs(30 * 60));
    nonces
        .check_and_remember("a", "n1", t0 + NONCE_TTL)
        .unwrap();
}

#[test]
fn nonce_memory_is_bounded_and_long_nonces_cost_no_more() {
    let nonces = MemoryNonces::new(3);
    let t0 = Instant::now();
    let long = "x".repeat(100_000);
    for i in 0..3 {
        nonces
            .check_and_remember("k", &format!("{long}{i}"), t0)
            .unwrap();
    }
    // Full: refused (a forgotten nonce could be replayed), until the old ones expire.
    assert_eq!(
        nonces.check_and_remember("k", "new", t0),
        Err(ApiError::ServiceUnavailable)
    );
    assert_eq!(nonces.len(), 3);
    nonces
        .check_and_remember("k", "new", t0 + NONCE_TTL)
        .unwrap();
    assert_eq!(nonces.len(), 1);
}
