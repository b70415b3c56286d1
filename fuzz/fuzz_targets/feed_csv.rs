//! The CSV / ThreatFox parsers and format detection never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_parse::feed::{detect_format, parse_threatfox, CsvParser, CsvPreset, FeedDefaults};

fuzz_target!(|input: &str| {
    let defaults = FeedDefaults::new("fuzz", "", Default::default());
    for preset in [
        CsvPreset::Urlhaus,
        CsvPreset::Feodo,
        CsvPreset::PhishTank,
        CsvPreset::TweetFeed,
    ] {
        let _ = CsvParser::preset(preset, defaults.clone()).parse_str(input);
    }
    let _ = parse_threatfox(input, &defaults);
    let _ = detect_format("fuzz.csv", input.as_bytes());
});
