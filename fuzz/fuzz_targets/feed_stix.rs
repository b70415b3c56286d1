//! The STIX parser (bundles and the pattern language) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_parse::feed::stix::pattern::Pattern;
use threatintel_parse::feed::{FeedDefaults, Parsed};
use threatintel_parse::{read, Context, Format};

fuzz_target!(|input: &str| {
    let context = Context::new(
        "fuzz",
        FeedDefaults::new("fuzz", "malicious-activity", Default::default()),
    );
    let _ = read(Format::Stix, &mut input.as_bytes(), &context, &mut Parsed::default());
    if let Ok(p) = Pattern::parse(input) {
        let _ = p.iocs();
    }
});
