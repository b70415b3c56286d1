//! The Suricata EVE, native event and passive-DNS line parsers never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_model::IpNetwork;
use threatintel_parse::context::{parse_cof_line, parse_eve_line, parse_event_line};

fuzz_target!(|input: &str| {
    let map: Vec<(IpNetwork, String)> = vec![("10.0.0.0/8".parse().unwrap(), "finance".into())];
    for line in input.lines() {
        let _ = parse_eve_line(line, "fuzz", &map);
        let _ = parse_event_line(line, "fuzz");
        let _ = parse_cof_line(line);
    }
});
