//! The plain-list parser (names, hosts files, Adblock, maltrail) never panics, and
//! `refang` is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_parse::feed::{refang, FeedDefaults, LineContext, PlainParser};

fuzz_target!(|input: &str| {
    let parser = PlainParser::new(FeedDefaults::new("fuzz", "Malware", Default::default()));
    let mut ctx = LineContext::default();
    for (i, line) in input.lines().enumerate() {
        let _ = parser.parse_line(line, i as u64 + 1);
        parser.parse_line_each(line, i as u64 + 1, &mut ctx, &mut |_| {});
    }
    let once = refang(input).into_owned();
    assert_eq!(refang(&once), once, "refang is idempotent");
});
