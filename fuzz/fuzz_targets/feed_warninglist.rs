//! The warninglist and top-list parsers never panic, and pattern rules match safely.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_model::DomainName;
use threatintel_parse::feed::{parse_top_list, parse_warninglist, TopListOptions};

fuzz_target!(|input: &str| {
    let out = parse_warninglist(input, None);
    if let Ok(name) = DomainName::parse("www.example.com") {
        for p in &out.patterns {
            let _ = p.matches(&name);
        }
    }
    let _ = parse_top_list(input, &TopListOptions::new("fuzz"));
});
