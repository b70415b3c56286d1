//! The WHOIS parser never panics, and what it returns keeps its invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_model::Timestamp;
use threatintel_parse::context::parse_whois;

fuzz_target!(|input: &str| {
    let parsed = parse_whois(input, Timestamp::default());
    if let Some(r) = parsed.record {
        for ns in &r.nameservers {
            assert!(!ns.ends_with('.'), "nameserver with a trailing dot: {ns:?}");
        }
    }
});
