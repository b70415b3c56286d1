//! The certificate parser (DER, PEM, bundles) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_model::Timestamp;
use threatintel_parse::context::parse_certificates;

fuzz_target!(|input: &[u8]| {
    let _ = parse_certificates(input, Timestamp::default(), "fuzz");
});
