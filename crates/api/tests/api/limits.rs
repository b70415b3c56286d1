//! Per-key rate limits, as clients see them.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::support::*;

fn limited(key: &str) -> V1 {
    V1::with_key(key, LIMITED_SECRET).set("Domain", MALICIOUS)
}

/// A key with rate 5: of a burst of 20 concurrent requests, exactly 5 get through, the others
/// are `Throttling.User` with `x-acs-retry-after`. A burst that takes most of a second (a busy
/// machine) cannot be judged this way; it is tried again, up to three times.
#[test]
fn a_burst_of_20_gets_exactly_5_through() {
    for attempt in 1..=3 {
        let requests: Vec<V1> = (0..20).map(|_| limited(BURST_KEY)).collect();
        let barrier = Arc::new(Barrier::new(requests.len()));
        let started = Instant::now();
        let handles: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    request.send()
                })
            })
            .collect();
        let responses: Vec<Response> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let elapsed = started.elapsed();
        let ok = responses.iter().filter(|r| r.status == 200).count();
        if elapsed >= Duration::from_millis(900) && attempt < 3 {
            std::thread::sleep(Duration::from_millis(1100));
            continue;
        }
        assert!(
            elapsed < Duration::from_millis(900),
            "every burst took {elapsed:?} (last: {ok} admitted): too slow to count as one burst"
        );
        assert_eq!(ok, 5, "admitted of a burst of 20 at rate 5");
        for r in responses.iter().filter(|r| r.status != 200) {
            assert_error(r, 400, "Throttling.User");
            let retry: u64 = r.header("x-acs-retry-after").unwrap().parse().unwrap();
            assert!((1..=1000).contains(&retry));
        }
        return;
    }
}

/// Requests back to back for 3 seconds: no six admitted requests fit in one second. With
/// sequential requests, admission `i` happened between sending `i` (s) and its answer (r), so a
/// correct limiter always gives `r[i+5] - s[i] >= 1 s`.
#[test]
fn over_3_seconds_never_more_than_5_per_second() {
    let started = Instant::now();
    let mut admitted: Vec<(Instant, Instant)> = Vec::new();
    let mut throttled = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let sent = Instant::now();
        let r = limited(SUSTAINED_KEY).send();
        let answered = Instant::now();
        match r.status {
            200 => admitted.push((sent, answered)),
            _ => {
                assert_error(&r, 400, "Throttling.User");
                throttled += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for i in 0..admitted.len().saturating_sub(5) {
        let span = admitted[i + 5].1 - admitted[i].0;
        assert!(
            span >= Duration::from_secs(1),
            "admissions {i}..={} within {span:?}",
            i + 5
        );
    }
    // The limiter still admits: about 5 per second over 3 seconds.
    assert!(
        (10..=20).contains(&admitted.len()),
        "{} admitted, {throttled} throttled",
        admitted.len()
    );
    assert!(throttled > 0);
}

/// A throttled request does not use up its nonce: the client may retry it as it is.
#[test]
fn a_throttled_request_can_be_retried_with_its_nonce() {
    // NONCE_KEY admits one request per second: send fresh requests until one is throttled.
    let mut throttled = None;
    for _ in 0..5 {
        let request = limited(NONCE_KEY);
        let r = request.send();
        if r.status != 200 {
            throttled = Some((request, r));
            break;
        }
    }
    let (retried, r) = throttled.expect("one of 5 requests in a row at rate 1 is throttled");
    assert_error(&r, 400, "Throttling.User");
    let wait: u64 = r.header("x-acs-retry-after").unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_millis(wait + 50));
    let again = retried.send();
    assert_eq!(again.status, 200, "the retry: {}", again.text());
    // And now it is used.
    std::thread::sleep(Duration::from_millis(1100));
    assert_error(&retried.send(), 400, "SignatureNonceUsed");
}
