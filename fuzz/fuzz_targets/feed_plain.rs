//! The plain-list formats (names, hosts files, Adblock, maltrail) never panic, and `refang`
//! is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_parse::feed::{refang, FeedDefaults, Parsed};
use threatintel_parse::{read, Context, Format};

fuzz_target!(|input: &str| {
    let context = Context::new("fuzz", FeedDefaults::new("fuzz", "Malware", Default::default()));
    for format in [
        Format::DomainList,
        Format::HostsFile,
        Format::Adblock,
        Format::MaltrailTrails,
    ] {
        let _ = read(format, &mut input.as_bytes(), &context, &mut Parsed::default());
    }
    let once = refang(input).into_owned();
    assert_eq!(refang(&once), once, "refang is idempotent");
});
