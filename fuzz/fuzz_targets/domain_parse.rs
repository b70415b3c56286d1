//! `DomainName::parse` and `DomainQuery::parse` never panic, and accepted names are stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_model::{DomainName, DomainQuery};

fuzz_target!(|input: &str| {
    if let Ok(name) = DomainName::parse(input) {
        let again = DomainName::parse(name.as_str()).expect("a normalised name parses");
        assert_eq!(again, name, "parse is idempotent");
        assert!(name.as_str().len() <= 253);
        let _ = name.registrable();
        let _ = name.suffix_kind();
        let _ = DomainName::parse(&name.to_unicode());
    }
    if let Ok(query) = DomainQuery::parse(input) {
        assert_eq!(DomainQuery::parse(&query.to_string()).as_ref(), Ok(&query), "queries round-trip");
    }
});
