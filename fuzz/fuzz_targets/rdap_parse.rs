//! The RDAP domain parser never panics: it returns a record or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_model::Timestamp;
use threatintel_parse::context::parse_rdap_domain;

fuzz_target!(|input: &str| {
    let _ = parse_rdap_domain(input, Timestamp::default());
});
