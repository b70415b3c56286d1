//! The MISP event and feed-manifest parsers never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_parse::feed::{parse_misp_event, parse_misp_manifest, FeedDefaults};

fuzz_target!(|input: &str| {
    let defaults = FeedDefaults::new("fuzz", "Malware", Default::default());
    let (entries, _) = parse_misp_manifest(input);
    let _ = parse_misp_event(input, entries.first(), &defaults);
});
