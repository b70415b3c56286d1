//! The STIX parser (bundles and the pattern language) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_parse::feed::stix::pattern::Pattern;
use threatintel_parse::feed::{parse_stix, FeedDefaults};

fuzz_target!(|input: &str| {
    let _ = parse_stix(
        input,
        &FeedDefaults::new("fuzz", "malicious-activity", Default::default()),
    );
    if let Ok(p) = Pattern::parse(input) {
        let _ = p.iocs();
    }
});
