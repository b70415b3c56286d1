//! Domain-name normalisation and validation, the Public Suffix List helpers, and the evidence
//! types' text forms.

use proptest::prelude::*;
use threatintel_model::{DomainError, DomainName, DomainQuery, IpNetwork, Reliability, SuffixKind};

fn check(input: &str, expected: Result<&str, DomainError>) {
    let got = DomainName::parse(input).map(|n| n.to_string());
    assert_eq!(got, expected.map(str::to_owned), "input {input:?}");
}

#[test]
fn normalisation() {
    check("Example.COM", Ok("example.com"));
    check("example.com.", Ok("example.com"));
    check("  example.com ", Ok("example.com"));
    check("_dmarc.example.com", Ok("_dmarc.example.com"));
    check("bücher.de", Ok("xn--bcher-kva.de"));
    check("BÜCHER.DE.", Ok("xn--bcher-kva.de"));
    check("xn--bcher-kva.de", Ok("xn--bcher-kva.de"));
    check("例え.テスト", Ok("xn--r8jz45g.xn--zckzah"));
    check("中国.cn", Ok("xn--fiqs8s.cn"));
    check("localhost", Ok("localhost"));
    check("a-b.c-d.com", Ok("a-b.c-d.com"));
    check(
        &format!("{}.com", "a".repeat(63)),
        Ok(&format!("{}.com", "a".repeat(63))),
    );
}

#[test]
fn rejections() {
    use DomainError::*;
    check("", Err(Empty));
    check("   ", Err(Empty));
    check(".", Err(EmptyLabel { name: ".".into() }));
    check(
        "a..b.com",
        Err(EmptyLabel {
            name: "a..b.com".into(),
        }),
    );
    check(
        ".example.com",
        Err(EmptyLabel {
            name: ".example.com".into(),
        }),
    );
    check(
        "example.com..",
        Err(EmptyLabel {
            name: "example.com..".into(),
        }),
    );
    check(
        &format!("{}.com", "a".repeat(64)),
        Err(LabelTooLong {
            label: "a".repeat(64),
            len: 64,
        }),
    );
    let long = vec!["a".repeat(60); 5].join(".");
    check(&long, Err(TooLong { len: 304 }));
    check(
        "exa mple.com",
        Err(InvalidCharacter {
            ch: ' ',
            position: 3,
        }),
    );
    check(
        "user@example.com",
        Err(InvalidCharacter {
            ch: '@',
            position: 4,
        }),
    );
    check(
        "example.com:8080",
        Err(InvalidCharacter {
            ch: ':',
            position: 11,
        }),
    );
    check(
        "-example.com",
        Err(HyphenAtLabelEdge {
            label: "-example".into(),
        }),
    );
    check(
        "example-.com",
        Err(HyphenAtLabelEdge {
            label: "example-".into(),
        }),
    );
    check(
        "http://evil.com/payload.exe",
        Err(Url {
            host: "evil.com".into(),
        }),
    );
    check(
        "hxxps://user@evil.com:8443",
        Err(Url {
            host: "evil.com".into(),
        }),
    );
    check(
        "evil.com/path",
        Err(Url {
            host: "evil.com".into(),
        }),
    );
    check(
        "192.0.2.1",
        Err(IpLiteral {
            address: "192.0.2.1".into(),
        }),
    );
    check(
        "2001:db8::1",
        Err(IpLiteral {
            address: "2001:db8::1".into(),
        }),
    );
    check(
        "[2001:db8::1]",
        Err(IpLiteral {
            address: "[2001:db8::1]".into(),
        }),
    );
    check("*.example.com", Err(MisplacedWildcard));
    assert!(
        matches!(DomainName::parse("xn--zz-zzzzzz.com"), Err(Idna { .. })),
        "bad punycode"
    );
    // Found by the fuzzer: UTS #46 maps U+FE72 to a space.
    assert!(matches!(DomainName::parse("B\u{fe72}"), Err(Idna { .. })));
}

fn query(input: &str) -> Result<String, DomainError> {
    DomainQuery::parse(input).map(|q| q.to_string())
}

#[test]
fn queries() {
    use DomainError::*;
    assert_eq!(query("*.Example.com"), Ok("*.example.com".into()));
    assert_eq!(query("github.io"), Ok("github.io".into()));
    assert_eq!(query("*.github.io"), Ok("*.github.io".into()));
    assert_eq!(query("com"), Err(PublicSuffix { name: "com".into() }));
    assert_eq!(
        query("co.uk."),
        Err(PublicSuffix {
            name: "co.uk".into()
        })
    );
    assert_eq!(
        query("localhost"),
        Err(PublicSuffix {
            name: "localhost".into()
        })
    );
    assert_eq!(
        query("*.com"),
        Err(WildcardOverPublicSuffix {
            suffix: "com".into()
        })
    );
    assert_eq!(
        query("*.co.uk"),
        Err(WildcardOverPublicSuffix {
            suffix: "co.uk".into()
        })
    );
    assert_eq!(query("a.*.com"), Err(MisplacedWildcard));
    assert_eq!(query("*foo.com"), Err(MisplacedWildcard));
    assert_eq!(query("**.com"), Err(MisplacedWildcard));
    assert_eq!(query("*"), Err(MisplacedWildcard));
    let wildcard = DomainQuery::parse("*.bücher.de").unwrap();
    assert!(wildcard.is_wildcard());
    assert_eq!(wildcard.name().as_str(), "xn--bcher-kva.de");
}

#[test]
fn public_suffix_list() {
    let registrable = |s: &str| {
        DomainName::parse(s)
            .unwrap()
            .registrable()
            .map(|d| d.to_string())
    };
    for (name, expected) in [
        ("a.b.example.co.uk", Some("example.co.uk")),
        ("www.example.com", Some("example.com")),
        ("x.github.io", Some("x.github.io")),
        ("deep.x.github.io", Some("x.github.io")),
        ("foo.duckdns.org", Some("foo.duckdns.org")),
        ("bucket.s3.amazonaws.com", Some("bucket.s3.amazonaws.com")),
        ("blog.blogspot.com", Some("blog.blogspot.com")),
        ("evil-c2.example", Some("evil-c2.example")),
        ("co.uk", None),
        ("github.io", None),
        ("com", None),
    ] {
        assert_eq!(registrable(name).as_deref(), expected, "{name}");
    }
    let kind = |s: &str| DomainName::parse(s).unwrap().suffix_kind();
    assert_eq!(kind("com"), Some(SuffixKind::Icann));
    assert_eq!(kind("co.uk"), Some(SuffixKind::Icann));
    assert_eq!(kind("localhost"), Some(SuffixKind::Icann));
    assert_eq!(kind("github.io"), Some(SuffixKind::Private));
    assert_eq!(kind("duckdns.org"), Some(SuffixKind::Private));
    assert_eq!(kind("example.com"), None);
}

#[test]
fn hierarchy() {
    let n = |s: &str| DomainName::parse(s).unwrap();
    assert!(n("a.example.com").is_subdomain_of(&n("example.com")));
    assert!(n("b.a.example.com").is_subdomain_of(&n("example.com")));
    assert!(!n("example.com").is_subdomain_of(&n("example.com")));
    assert!(!n("notexample.com").is_subdomain_of(&n("example.com")));
    assert!(!n("example.com").is_subdomain_of(&n("a.example.com")));
    let ancestors: Vec<String> = n("a.b.example.com")
        .ancestors()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(ancestors, ["b.example.com", "example.com", "com"]);
    assert_eq!(n("a.b.example.com").parent(), Some(n("b.example.com")));
    assert_eq!(n("com").parent(), None);
    assert_eq!(n("www.example.com").reversed(), "com.example.www");
    assert_eq!(n("xn--bcher-kva.de").to_unicode(), "bücher.de");
    assert_eq!(n("a.b.c").label_count(), 3);
}

#[test]
fn evidence_text_forms() {
    assert_eq!(
        "203.0.113.77/24".parse::<IpNetwork>().unwrap().to_string(),
        "203.0.113.0/24"
    );
    assert_eq!(
        "2001:db8::1".parse::<IpNetwork>().unwrap().to_string(),
        "2001:db8::1/128"
    );
    assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
    assert!("example.com".parse::<IpNetwork>().is_err());
    assert_eq!(" b ".parse::<Reliability>(), Ok(Reliability::B));
    assert!("G".parse::<Reliability>().is_err());
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9_-]{0,20}[a-z0-9])?"
}

fn unicode_label() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec![
            'a', 'b', 'ü', 'ö', 'é', 'ß', '例', 'え', 'я', 'ж', '1',
        ]),
        1..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #[test]
    fn parse_is_idempotent_and_round_trips(labels in proptest::collection::vec(label(), 1..5)) {
        let text = labels.join(".");
        if let Ok(name) = DomainName::parse(&text) {
            let again = DomainName::parse(name.as_str()).unwrap();
            prop_assert_eq!(&again, &name);
            prop_assert_eq!(DomainName::parse(&name.to_string().to_uppercase()).unwrap(), name.clone());
            prop_assert_eq!(DomainName::parse(&format!("{name}.")).unwrap(), name.clone());
            prop_assert!(name.as_str().len() <= 253);
            prop_assert!(name.labels().all(|l| !l.is_empty() && l.len() <= 63));
            let reversed_twice: Vec<&str> = name.as_str().rsplit('.').collect();
            prop_assert_eq!(reversed_twice.into_iter().rev().collect::<Vec<_>>().join("."), name.to_string());
        }
    }

    #[test]
    fn unicode_and_punycode_are_the_same_name(labels in proptest::collection::vec(unicode_label(), 1..4)) {
        let text = format!("{}.com", labels.join("."));
        if let Ok(name) = DomainName::parse(&text) {
            prop_assert!(name.as_str().is_ascii());
            prop_assert_eq!(DomainName::parse(&name.to_unicode()).unwrap(), name.clone());
            prop_assert_eq!(DomainName::parse(name.as_str()).unwrap(), name);
        }
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,80}") {
        let _ = DomainName::parse(&text);
        let _ = DomainQuery::parse(&text);
    }

    #[test]
    fn subdomains_are_below_their_ancestors(labels in proptest::collection::vec(label(), 2..6)) {
        if let Ok(name) = DomainName::parse(&labels.join(".")) {
            for ancestor in name.ancestors() {
                prop_assert!(name.is_subdomain_of(&ancestor));
                prop_assert!(!ancestor.is_subdomain_of(&name));
            }
        }
    }
}
