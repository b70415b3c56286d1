//! `DomainName::parse` and `DomainQuery::parse` on arbitrary UTF-8: they never panic, and
//! whatever they accept is in normal form and stable under re-parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_model::{DomainName, DomainQuery, SuffixKind};

fuzz_target!(|input: &str| {
    if let Ok(name) = DomainName::parse(input) {
        let s = name.as_str();
        assert!(!s.is_empty() && s.len() <= 253, "length of {s:?}");
        for label in name.labels() {
            assert!((1..=63).contains(&label.len()), "label length in {s:?}");
            assert!(
                label
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_')),
                "characters of {s:?}"
            );
            assert!(
                !label.starts_with('-') && !label.ends_with('-'),
                "hyphens in {s:?}"
            );
        }
        assert_eq!(DomainName::parse(s).as_ref(), Ok(&name), "idempotent");
        assert_eq!(
            DomainName::parse(&format!("{name}.")).as_ref(),
            Ok(&name),
            "root dot"
        );
        assert_eq!(
            DomainName::parse(&s.to_uppercase()).as_ref(),
            Ok(&name),
            "case"
        );
        assert_eq!(
            DomainName::parse(&name.to_unicode()).as_ref(),
            Ok(&name),
            "U-label form"
        );
        let reversed = name.reversed();
        assert_eq!(
            reversed.split('.').rev().collect::<Vec<_>>().join("."),
            s,
            "reversed twice"
        );
        for ancestor in name.ancestors() {
            assert!(name.is_subdomain_of(&ancestor), "{s:?} below {ancestor}");
        }
        match name.registrable() {
            Some(r) => assert!(
                r == name || name.is_subdomain_of(&r),
                "registrable of {s:?}"
            ),
            None => assert!(
                name.suffix_kind().is_some(),
                "{s:?} has no registrable domain"
            ),
        }
    }
    if let Ok(query) = DomainQuery::parse(input) {
        assert_eq!(
            DomainQuery::parse(&query.to_string()).as_ref(),
            Ok(&query),
            "query round trip"
        );
        assert_ne!(
            query.name().suffix_kind(),
            Some(SuffixKind::Icann),
            "query over a public suffix"
        );
    }
});
