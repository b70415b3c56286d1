//! `DomainName` and `DomainQuery`: normalisation, every rejection, the Public Suffix List
//! helpers, and property tests of the invariants.

use proptest::prelude::*;
use threatintel_model::{DomainError, DomainName, DomainQuery, SuffixKind};

use DomainError::*;

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

/// `DomainName::parse(input)` gives `expected`: the normal form, or exactly this error.
#[track_caller]
fn check(input: &str, expected: Result<&str, DomainError>) {
    let got = DomainName::parse(input);
    assert_eq!(
        got.as_ref().map(DomainName::as_str),
        expected.as_ref().map(|s| *s),
        "input {input:?}"
    );
    if let Ok(n) = got {
        assert_eq!(n.to_string(), n.as_str(), "Display is the A-label form");
        assert_eq!(
            DomainName::parse(n.as_str()).as_ref(),
            Ok(&n),
            "normal form re-parses: {input:?}"
        );
    }
}

/// `DomainQuery::parse(input)` gives `expected`: the Display form, or exactly this error.
#[track_caller]
fn check_query(input: &str, expected: Result<&str, DomainError>) {
    let got = DomainQuery::parse(input).map(|q| q.to_string());
    assert_eq!(got, expected.map(str::to_owned), "query {input:?}");
}

fn invalid_char(ch: char, position: usize, name: &str) -> DomainError {
    InvalidCharacter {
        ch,
        position,
        name: name.into(),
    }
}

fn wildcard_at(position: usize, name: &str) -> DomainError {
    MisplacedWildcard {
        name: name.into(),
        position,
    }
}

fn url(host: &str) -> DomainError {
    Url { host: host.into() }
}

fn ip(input: &str) -> DomainError {
    IpAddress {
        input: input.into(),
    }
}

#[test]
fn accepted_ascii() {
    for (input, normal) in [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("WWW.Example.Com.", "www.example.com"),
        ("a", "a"),
        ("localhost", "localhost"),
        ("LOCALHOST.", "localhost"),
        ("com", "com"),
        ("co.uk", "co.uk"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("_sip._tcp.Example.com", "_sip._tcp.example.com"),
        ("_.example.com", "_.example.com"),
        ("a-b.c_d.example", "a-b.c_d.example"),
        (
            "r3---sn-ab5l6nzr.googlevideo.com",
            "r3---sn-ab5l6nzr.googlevideo.com",
        ),
        ("ab--cd.example", "ab--cd.example"),
        ("1e100.net", "1e100.net"),
        ("123.example.com", "123.example.com"),
        ("4.3.2.1.in-addr.arpa", "4.3.2.1.in-addr.arpa"),
        ("0x7f.example", "0x7f.example"),
        ("a.b.c.d.e.f.g.h", "a.b.c.d.e.f.g.h"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("XN--BCHER-KVA.DE.", "xn--bcher-kva.de"),
        ("Xn--Bcher-Kva.De", "xn--bcher-kva.de"),
        ("xn--fiqs8s", "xn--fiqs8s"),
    ] {
        check(input, Ok(normal));
    }
}

#[test]
fn accepted_unicode() {
    for (input, normal) in [
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.DE.", "xn--bcher-kva.de"),
        ("Bücher.De", "xn--bcher-kva.de"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("中国.cn", "xn--fiqs8s.cn"),
        ("中国", "xn--fiqs8s"),
        ("www.中国.cn", "www.xn--fiqs8s.cn"),
        ("_dmarc.bücher.de", "_dmarc.xn--bcher-kva.de"),
        ("faß.de", "xn--fa-hia.de"), // non-transitional: ß stays ß
        ("ß.de", "xn--zca.de"),
        ("☃.com", "xn--n3h.com"),
        ("💩.la", "xn--ls8h.la"),
        ("א.com", "xn--4db.com"),
        ("xn--4db.com", "xn--4db.com"),
        ("bücher.xn--fiqs8s", "xn--bcher-kva.xn--fiqs8s"),
        // UTS #46 maps ideographic and fullwidth full stops to `.` and fullwidth letters to ASCII.
        ("例え。テスト", "xn--r8jz45g.xn--zckzah"),
        ("例え.テスト。", "xn--r8jz45g.xn--zckzah"),
        ("ＥＸＡＭＰＬＥ．ＣＯＭ", "example.com"),
        ("bücher｡de", "xn--bcher-kva.de"),
    ] {
        check(input, Ok(normal));
    }
}

#[test]
fn ascii_fast_path_allocates_only_the_result() {
    for input in [
        "www.example.com",
        "WWW.Example.COM.",
        "_dmarc.mail.example.co.uk",
        "r3---sn-x.googlevideo.com",
    ] {
        let (parsed, count) = crate::allocations(|| DomainName::parse(input));
        assert!(parsed.is_ok(), "{input}");
        assert_eq!(count, 1, "{input}: only the Box<str>");
    }
    let (parsed, count) = crate::allocations(|| DomainQuery::parse("*.Example.co.uk"));
    assert!(parsed.is_ok());
    assert_eq!(count, 1, "a wildcard query: only the Box<str>");
    let n = name("a.b.example.co.uk");
    assert_eq!(crate::allocations(|| n.suffix_kind()).1, 0);
    assert_eq!(crate::allocations(|| n.is_subdomain_of(&n)).1, 0);
    assert_eq!(crate::allocations(|| n.registrable()).1, 1);
}

#[test]
fn length_limits() {
    let label63 = "a".repeat(63);
    check(&format!("{label63}.com"), Ok(&format!("{label63}.com")));
    let label64 = "b".repeat(64);
    check(
        &format!("www.{label64}.com"),
        Err(LabelTooLong {
            label: label64.clone(),
            length: 64,
        }),
    );
    check(
        &format!("{}.com", label64.to_uppercase()),
        Err(LabelTooLong {
            label: "B".repeat(64),
            length: 64,
        }),
    );

    // 4 × 63 + 3 dots = 255; trim to exactly 253 and 254.
    let name253 = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    assert_eq!(name253.len(), 253);
    check(&name253, Ok(&name253));
    check(&format!("{name253}."), Ok(&name253));
    let name254 = format!("{name253}d");
    check(&name254, Err(TooLong { length: 254 }));
    check(&format!("{name254}."), Err(TooLong { length: 254 }));

    // Unicode: the limits apply to the A-label form.
    let long_u_label = "ü".repeat(60);
    match DomainName::parse(&format!("{long_u_label}.de")) {
        Err(LabelTooLong { label, length }) => {
            assert!(
                label.starts_with("xn--") && length == label.len() && length > 63,
                "{label} {length}"
            );
        }
        other => panic!("expected LabelTooLong, got {other:?}"),
    }
    // 32 × "xn--tda" + 31 dots = 255 octets, from 63 characters of input.
    check(&vec!["ü"; 32].join("."), Err(TooLong { length: 255 }));
    check(&vec!["ü"; 31].join("."), Ok(&vec!["xn--tda"; 31].join(".")));
}

#[test]
fn rejected_empty_and_empty_labels() {
    check("", Err(Empty));
    check(".", Err(Empty));
    check("。", Err(Empty));
    for input in [
        "..",
        "a..b",
        ".example.com",
        "example.com..",
        "a。。b",
        "ü..de",
        "a.。b",
    ] {
        check(input, Err(EmptyLabel { name: input.into() }));
    }
}

#[test]
fn rejected_characters() {
    for (input, ch, position) in [
        ("my domain.com", ' ', 2),
        (" example.com", ' ', 0),
        ("example.com ", ' ', 11),
        ("example.com\n", '\n', 11),
        ("ex!ample.com", '!', 2),
        ("user@example.com", '@', 4),
        ("evil.com:8080", ':', 8),
        ("evil[.]com", '[', 4),
        ("a\\b.com", '\\', 1),
        ("a\0b.com", '\0', 1),
        ("\"example.com\"", '"', 0),
        ("/path", '/', 0),
        ("a,b.com", ',', 1),
        // Non-ASCII input: positions count characters, not bytes.
        ("bü cher.de", ' ', 2),
        ("bücher@.de", '@', 6),
        ("exa\u{a0}mple.com", '\u{a0}', 3),
        ("bücher\u{200d}.de", '\u{200d}', 6),
        ("a／b.com", '／', 1),
        ("ü.a\u{3000}b.de", '\u{3000}', 3),
        ("ü\u{2028}.de", '\u{2028}', 1),
    ] {
        check(input, Err(invalid_char(ch, position, input)));
    }
}

#[test]
fn rejected_hyphens() {
    for (input, label) in [
        ("-example.com", "-example"),
        ("example-.com", "example-"),
        ("www.-a.com", "-a"),
        ("example.com-", "com-"),
        ("-", "-"),
        ("-ü.de", "-ü"),
        ("ü-.de", "ü-"),
        ("xn--.de", "xn--"),
    ] {
        check(
            input,
            Err(HyphenAtLabelEdge {
                label: label.into(),
            }),
        );
    }
}

#[test]
fn rejected_idna_and_punycode() {
    for (input, label) in [
        ("xn--abc.de", "xn--abc"),         // decodes to disallowed code points
        ("xn--a.de", "xn--a"),             // does not decode
        ("www.XN--A.de", "XN--A"),         // quoted as given
        ("xn--55qx5d-.cn", "xn--55qx5d-"), // hyphen rule comes first
        ("xn--tda.xn--a", "xn--a"),
        ("xn--zz.ü", "xn--zz"),
        ("xn--bcher-kva9.de", "xn--bcher-kva9"),
    ] {
        let expected = if label.ends_with('-') {
            HyphenAtLabelEdge {
                label: label.into(),
            }
        } else {
            InvalidPunycode {
                label: label.into(),
            }
        };
        check(input, Err(expected));
    }
    // An A-label must decode to a valid U-label: upper-case Ü (mapped, not valid) is not one.
    let upper = format!("xn--{}", idna::punycode::encode_str("bÜcher").unwrap());
    check(
        &format!("{upper}.de"),
        Err(InvalidPunycode {
            label: upper.clone(),
        }),
    );
    // An A-label that decodes to plain ASCII is not an A-label.
    check(
        "xn--abc-.de",
        Err(HyphenAtLabelEdge {
            label: "xn--abc-".into(),
        }),
    );

    // A label starting with a combining mark: no single character is to blame.
    check(
        "\u{301}a.com",
        Err(InvalidIdna {
            label: "\u{301}a".into(),
        }),
    );
    // Mixed directions within a label.
    check(
        "aא.com",
        Err(InvalidIdna {
            label: "aא".into()
        }),
    );
    // The bidi rule spans labels: a digit-first label in a right-to-left name.
    check(
        "1.א",
        Err(InvalidIdna {
            label: "1.א".into(),
        }),
    );
    check(
        "1.xn--4db",
        Err(InvalidIdna {
            label: "1.xn--4db".into(),
        }),
    );
}

#[test]
fn rejected_urls() {
    for (input, host) in [
        ("http://evil.com", "evil.com"),
        ("https://Evil.COM/login?x=1", "evil.com"),
        ("HTTPS://EVIL.COM:8443", "evil.com"),
        ("http://user:pw@evil.com:8080/x", "evil.com"),
        ("hxxp://evil.com/payload", "evil.com"),
        ("//evil.com/x", "evil.com"),
        ("evil.com/login.php", "evil.com"),
        ("Evil.com/", "evil.com"),
        ("evil.com?q=1", "evil.com"),
        ("evil.com#top", "evil.com"),
        ("evil.com:8080/x", "evil.com"),
        ("https://bücher.de/", "xn--bcher-kva.de"),
        ("https://*.evil.com/", "*.evil.com"),
        ("ftp://1.2.3.4/file", "1.2.3.4"),
        ("http://[::1]:80/", "[::1]"),
        ("https://exa mple.com/", "exa mple.com"),
        ("http://", ""),
        ("http:///path", ""),
    ] {
        check(input, Err(url(host)));
    }
}

#[test]
fn rejected_ip_literals() {
    for input in [
        "1.2.3.4",
        "1.2.3.4.",
        "255.255.255.255",
        "1.2.3.4:80",
        "10.0.0.0/8",
        "::1",
        "2001:db8::1",
        "2001:DB8::1",
        "::ffff:1.2.3.4",
        "[2001:db8::1]",
        "[::1]:443",
        "fe80::1%eth0",
        "2001:db8::/32",
        "１.２.３.４",
    ] {
        check(input, Err(ip(input)));
    }
    for (input, tld) in [
        ("999.1.1.1", "1"),
        ("010.1.1.1", "1"),
        ("1.2.3", "3"),
        ("123", "123"),
        ("example.123", "123"),
    ] {
        check(
            input,
            Err(NumericTld {
                name: input.into(),
                tld: tld.into(),
            }),
        );
    }
}

#[test]
fn rejected_wildcards() {
    for (input, position) in [
        ("*", 0),
        ("*.", 0),
        ("*.example.com", 0),
        ("a.*.com", 2),
        ("*foo.com", 0),
        ("foo*.com", 3),
        ("**.com", 0),
        ("example.*", 8),
        ("bü*.de", 2),
    ] {
        check(input, Err(wildcard_at(position, input)));
    }
}

#[test]
fn query_accepted() {
    for (input, display, wildcard) in [
        ("example.com", "example.com", false),
        ("WWW.Example.com.", "www.example.com", false),
        ("*.example.com", "*.example.com", true),
        ("*.Example.COM.", "*.example.com", true),
        ("*.bücher.de", "*.xn--bcher-kva.de", true),
        ("*.例え.テスト", "*.xn--r8jz45g.xn--zckzah", true),
        ("example.co.uk", "example.co.uk", false),
        ("*.example.co.uk", "*.example.co.uk", true),
        ("foo.internal", "foo.internal", false),
        // Private-section suffixes are names someone controls: accepted, also as zones.
        ("github.io", "github.io", false),
        ("*.github.io", "*.github.io", true),
        ("x.github.io", "x.github.io", false),
        ("duckdns.org", "duckdns.org", false),
        ("*.duckdns.org", "*.duckdns.org", true),
        ("s3.amazonaws.com", "s3.amazonaws.com", false),
        ("*.s3.amazonaws.com", "*.s3.amazonaws.com", true),
    ] {
        check_query(input, Ok(display));
        let q = DomainQuery::parse(input).unwrap();
        assert_eq!(q.is_wildcard(), wildcard, "{input}");
        assert_eq!(
            q.name().as_str(),
            display.trim_start_matches("*."),
            "{input}"
        );
        assert_eq!(
            DomainQuery::parse(&q.to_string()),
            Ok(q.clone()),
            "{input} round-trips"
        );
    }
    assert_eq!(
        DomainQuery::parse("*.example.com"),
        Ok(DomainQuery::Wildcard(name("example.com")))
    );
    assert_eq!(
        DomainQuery::parse("example.com"),
        Ok(DomainQuery::Exact(name("example.com")))
    );
}

#[test]
fn query_rejected() {
    for (input, suffix) in [
        ("com", "com"),
        ("COM.", "com"),
        ("co.uk", "co.uk"),
        ("uk", "uk"),
        ("localhost", "localhost"),
        ("internal", "internal"),
        ("中国", "xn--fiqs8s"),
        ("公司.cn", "xn--55qx5d.cn"),
        ("foo.ck", "foo.ck"), // by the `*.ck` rule
    ] {
        check_query(
            input,
            Err(PublicSuffix {
                name: suffix.into(),
            }),
        );
    }
    for (input, suffix) in [
        ("*.com", "com"),
        ("*.COM.", "com"),
        ("*.co.uk", "co.uk"),
        ("*.localhost", "localhost"),
        ("*.中国", "xn--fiqs8s"),
    ] {
        check_query(
            input,
            Err(WildcardOverPublicSuffix {
                suffix: suffix.into(),
            }),
        );
    }
    for (input, position) in [
        ("*", 0),
        ("*.", 0),
        ("a.*.com", 2),
        ("*foo.com", 0),
        ("**.com", 0),
        ("*.*.com", 2),
        ("*.a.*", 4),
        ("*.bü*.de", 4),
    ] {
        check_query(input, Err(wildcard_at(position, input)));
    }
    // Errors in the zone point into the whole query.
    check_query("*.a b.com", Err(invalid_char(' ', 3, "*.a b.com")));
    check_query(
        "*..com",
        Err(EmptyLabel {
            name: "*..com".into(),
        }),
    );
    check_query("*.-a.com", Err(HyphenAtLabelEdge { label: "-a".into() }));
    check_query("", Err(Empty));
    check_query("https://evil.com/", Err(url("evil.com")));
    check_query("*.evil.com/x", Err(url("*.evil.com")));
    check_query("1.2.3.4", Err(ip("1.2.3.4")));
    check_query("*.1.2.3.4", Err(ip("1.2.3.4")));
    check_query("[::1]", Err(ip("[::1]")));
}

#[test]
fn error_messages() {
    let msg = |input: &str| DomainName::parse(input).unwrap_err().to_string();
    let qmsg = |input: &str| DomainQuery::parse(input).unwrap_err().to_string();
    assert_eq!(msg(""), "domain name is empty");
    assert_eq!(
        msg("https://evil.com/x"),
        "this is a URL, not a domain name; did you mean \"evil.com\"?"
    );
    assert_eq!(
        msg("http://"),
        "this is a URL without a host, not a domain name"
    );
    assert_eq!(
        msg("my domain.com"),
        "invalid character ' ' at position 2 in \"my domain.com\""
    );
    assert_eq!(
        msg("a..b"),
        "empty label in \"a..b\": a domain name cannot start with a dot or have two dots in a row"
    );
    assert_eq!(msg("-a.com"), "label \"-a\" starts with a hyphen");
    assert_eq!(msg("a-.com"), "label \"a-\" ends with a hyphen");
    assert_eq!(
        msg(&format!("{}.com", "a".repeat(64))),
        format!(
            "label \"{}\" is 64 octets long; at most 63 are allowed",
            "a".repeat(64)
        )
    );
    assert!(
        DomainName::parse(&"a.".repeat(127)).is_ok(),
        "253 octets and the root dot"
    );
    assert_eq!(
        msg(&"a.".repeat(128)),
        "domain name is 255 octets long in A-label form; at most 253 are allowed"
    );
    assert_eq!(
        msg("1.2.3.4"),
        "\"1.2.3.4\" is an IP address, not a domain name"
    );
    assert_eq!(
        msg("999.1.1.1"),
        "\"999.1.1.1\" ends in the all-numeric label \"1\", which cannot be a top-level domain (is it a malformed IP address?)"
    );
    assert_eq!(
        msg("xn--a.com"),
        "label \"xn--a\" is not valid punycode: it does not decode to a valid internationalised label that encodes back to the same A-label"
    );
    assert_eq!(
        msg("\u{301}a.com"),
        "label \"\\u{301}a\" is not a valid internationalised label: IDNA (UTS #46) rejects it"
    );
    assert_eq!(
        msg("1.א"),
        "\"1.א\" is not a valid internationalised domain name: IDNA (UTS #46) rejects the combination of its labels"
    );
    assert_eq!(
        msg("a.*.com"),
        "misplaced wildcard '*' at position 2 in \"a.*.com\": a wildcard can only be the whole leftmost label of a query, as in \"*.example.com\""
    );
    assert_eq!(qmsg("co.uk"), "\"co.uk\" is a public suffix, not a domain");
    assert_eq!(
        qmsg("*.com"),
        "\"*.com\" is a wildcard over the public suffix \"com\", not over a domain"
    );
    // Every message is a lower-case sentence without a trailing period (or starts with a quote).
    for input in [
        "",
        "a..b",
        "-a",
        "a b",
        "http://x.com/",
        "1.2.3.4",
        "1.2.3.999",
        "xn--a",
        "\u{301}a",
        "a.*",
        "*.*.com",
    ] {
        for m in [
            DomainName::parse(input).err(),
            DomainQuery::parse(input).err(),
        ]
        .into_iter()
        .flatten()
        .map(|e| e.to_string())
        {
            assert!(!m.ends_with('.'), "{m}");
            let first = m.chars().next().unwrap();
            assert!(first.is_lowercase() || first == '"', "{m}");
        }
    }
}

#[test]
fn serde_round_trip() {
    let n: DomainName = serde_json::from_str("\"Bücher.DE.\"").unwrap();
    assert_eq!(n.as_str(), "xn--bcher-kva.de");
    assert_eq!(serde_json::to_string(&n).unwrap(), "\"xn--bcher-kva.de\"");
    let err = serde_json::from_str::<DomainName>("\"evil.com/x\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("did you mean \\\"evil.com\\\"") || err.contains("did you mean \"evil.com\""),
        "{err}"
    );

    let q: DomainQuery = serde_json::from_str("\"*.Example.com\"").unwrap();
    assert_eq!(q, DomainQuery::Wildcard(name("example.com")));
    assert_eq!(serde_json::to_string(&q).unwrap(), "\"*.example.com\"");
    assert!(serde_json::from_str::<DomainQuery>("\"*.com\"").is_err());
    assert!(serde_json::from_str::<DomainQuery>("\"com\"").is_err());
    // A DomainName may be a public suffix: ingestion needs them.
    assert_eq!(
        serde_json::from_str::<DomainName>("\"com\"")
            .unwrap()
            .as_str(),
        "com"
    );

    assert_eq!("Example.com".parse::<DomainName>(), Ok(name("example.com")));
    assert_eq!(
        "*.example.com".parse::<DomainQuery>(),
        Ok(DomainQuery::Wildcard(name("example.com")))
    );
}

#[test]
fn unicode_display_form() {
    for (input, unicode) in [
        ("xn--bcher-kva.de", "bücher.de"),
        ("例え.テスト", "例え.テスト"),
        ("WWW.中国.CN", "www.中国.cn"),
        ("_dmarc.xn--fa-hia.de", "_dmarc.faß.de"),
        ("example.com", "example.com"),
        ("ab--cd.example", "ab--cd.example"),
    ] {
        let n = name(input);
        assert_eq!(n.to_unicode(), unicode, "{input}");
        assert_eq!(DomainName::parse(unicode), Ok(n), "{unicode} parses back");
    }
}

#[test]
fn labels_parent_reversed() {
    let n = name("www.Example.co.uk");
    assert_eq!(
        n.labels().collect::<Vec<_>>(),
        ["www", "example", "co", "uk"]
    );
    assert_eq!(
        n.labels().rev().collect::<Vec<_>>(),
        ["uk", "co", "example", "www"]
    );
    assert_eq!(n.label_count(), 4);
    assert_eq!(name("com").label_count(), 1);
    assert_eq!(n.parent(), Some(name("example.co.uk")));
    assert_eq!(name("com").parent(), None);
    assert_eq!(n.reversed(), "uk.co.example.www");
    assert_eq!(name("www.example.com").reversed(), "com.example.www");
    assert_eq!(name("com").reversed(), "com");
    // The reversed key keeps a zone's subtree in one key range, and only that subtree.
    let zone = name("example.com").reversed();
    assert!(name("a.b.example.com")
        .reversed()
        .starts_with(&format!("{zone}.")));
    assert!(!name("notexample.com")
        .reversed()
        .starts_with(&format!("{zone}.")));
    assert!(!name("example.community")
        .reversed()
        .starts_with(&format!("{zone}.")));
}

#[test]
fn key_order_keeps_a_subtree_right_after_its_zone() {
    let names = [
        "example-x.com",
        "b.example.com",
        "example.com",
        "a.b.example.com",
        "example.co",
        "a.example.com",
    ];
    let mut sorted: Vec<DomainName> = names.into_iter().map(name).collect();
    sorted.sort_by(DomainName::cmp_in_key_order);
    let order: Vec<&str> = sorted.iter().map(DomainName::as_str).collect();
    assert_eq!(
        order,
        [
            "example.co",
            "example-x.com",
            "example.com",
            "a.example.com",
            "b.example.com",
            "a.b.example.com"
        ]
    );
    // The same order as the store's keys: the reversed name with a trailing dot.
    let mut keys: Vec<String> = names
        .iter()
        .map(|n| format!("{}.", name(n).reversed()))
        .collect();
    keys.sort();
    let from_keys: Vec<String> = keys
        .iter()
        .map(|k| name(k.trim_end_matches('.')).reversed())
        .collect();
    assert_eq!(order, from_keys);
    let by_str: std::collections::HashMap<DomainName, u8> = [(name("example.com"), 1)].into();
    assert_eq!(by_str.get("example.com"), Some(&1));
}

#[test]
fn ancestors_table() {
    for (input, expected) in [
        (
            "a.b.example.co.uk",
            &["b.example.co.uk", "example.co.uk", "co.uk", "uk"][..],
        ),
        ("www.example.com", &["example.com", "com"][..]),
        ("example.com", &["com"][..]),
        ("com", &[][..]),
        ("x.bücher.de", &["xn--bcher-kva.de", "de"][..]),
    ] {
        let got: Vec<String> = name(input).ancestors().map(|a| a.to_string()).collect();
        assert_eq!(got, expected, "{input}");
    }
}

#[test]
fn is_subdomain_of_table() {
    for (child, zone, below) in [
        ("a.example.com", "example.com", true),
        ("a.b.example.com", "example.com", true),
        ("www.example.com", "com", true),
        ("x.bücher.de", "xn--bcher-kva.de", true),
        ("example.com", "example.com", false),
        ("com", "com", false),
        ("notexample.com", "example.com", false),
        ("a.notexample.com", "example.com", false),
        ("example.com", "a.example.com", false),
        ("example.co", "example.com", false),
        ("example.com.au", "example.com", false),
        ("xexample.com", "example.com", false),
    ] {
        assert_eq!(
            name(child).is_subdomain_of(&name(zone)),
            below,
            "{child} below {zone}"
        );
    }
}

#[test]
fn registrable_table() {
    for (input, expected) in [
        ("example.com", Some("example.com")),
        ("www.example.com", Some("example.com")),
        ("_dmarc.example.com", Some("example.com")),
        ("a.b.example.co.uk", Some("example.co.uk")),
        ("example.co.uk", Some("example.co.uk")),
        ("co.uk", None),
        ("uk", None),
        ("com", None),
        // Private section.
        ("x.github.io", Some("x.github.io")),
        ("a.b.x.github.io", Some("x.github.io")),
        ("github.io", None),
        ("foo.duckdns.org", Some("foo.duckdns.org")),
        ("www.foo.duckdns.org", Some("foo.duckdns.org")),
        ("duckdns.org", None),
        ("blogspot.com", None),
        ("x.blogspot.com", Some("x.blogspot.com")),
        ("bucket.s3.amazonaws.com", Some("bucket.s3.amazonaws.com")),
        ("a.bucket.s3.amazonaws.com", Some("bucket.s3.amazonaws.com")),
        ("s3.amazonaws.com", None),
        ("s3.us-east-1.amazonaws.com", None),
        ("amazonaws.com", Some("amazonaws.com")),
        (
            "x.ec2.compute.amazonaws.com",
            Some("x.ec2.compute.amazonaws.com"),
        ),
        // Wildcard and exception rules (`*.ck`, `!www.ck`).
        ("foo.ck", None),
        ("a.foo.ck", Some("a.foo.ck")),
        ("www.ck", Some("www.ck")),
        // Unlisted TLDs: the default rule makes the TLD the suffix.
        ("foo.internal", Some("foo.internal")),
        ("a.b.foo.internal", Some("foo.internal")),
        ("localhost", None),
        ("internal", None),
        // IDN suffixes, in A-label form.
        ("例え.テスト", Some("xn--r8jz45g.xn--zckzah")),
        ("www.中国.cn", Some("xn--fiqs8s.cn")),
        ("a.b.xn--fiqs8s", Some("b.xn--fiqs8s")),
        ("a.公司.cn", Some("a.xn--55qx5d.cn")),
    ] {
        assert_eq!(
            name(input).registrable().map(|r| r.to_string()).as_deref(),
            expected,
            "{input}"
        );
    }
}

#[test]
fn suffix_kind_table() {
    use SuffixKind::*;
    for (input, expected) in [
        ("com", Some(Icann)),
        ("co.uk", Some(Icann)),
        ("uk", Some(Icann)),
        ("xn--fiqs8s", Some(Icann)),
        ("公司.cn", Some(Icann)),
        ("foo.ck", Some(Icann)),
        ("localhost", Some(Icann)),
        ("internal", Some(Icann)),
        ("xn--zckzah", Some(Icann)), // テスト: unlisted
        ("github.io", Some(Private)),
        ("duckdns.org", Some(Private)),
        ("blogspot.com", Some(Private)),
        ("s3.amazonaws.com", Some(Private)),
        ("ec2.compute.amazonaws.com", Some(Private)),
        ("example.com", None),
        ("x.github.io", None),
        ("amazonaws.com", None),
        ("foo.internal", None),
        ("www.ck", None),
        ("example.co.uk", None),
    ] {
        assert_eq!(name(input).suffix_kind(), expected, "{input}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// Everything an accepted name must satisfy.
fn assert_invariants(n: &DomainName) {
    let s = n.as_str();
    assert!(!s.is_empty() && s.len() <= 253, "{s:?}: length");
    assert!(!s.ends_with('.'), "{s:?}: trailing dot");
    for label in n.labels() {
        assert!((1..=63).contains(&label.len()), "{s:?}: label {label:?}");
        assert!(
            label
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_')),
            "{s:?}: characters"
        );
        assert!(
            !label.starts_with('-') && !label.ends_with('-'),
            "{s:?}: hyphens"
        );
    }
    assert!(
        !n.labels()
            .last()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit()),
        "{s:?}: numeric TLD"
    );
    assert_eq!(n.label_count(), n.labels().count());
    assert_eq!(n.ancestors().count(), n.label_count() - 1);
}

/// Everything that must hold between an accepted name and its other forms.
fn assert_stable(n: &DomainName) {
    assert_invariants(n);
    assert_eq!(DomainName::parse(n.as_str()).as_ref(), Ok(n), "idempotent");
    assert_eq!(
        DomainName::parse(&n.to_string()).as_ref(),
        Ok(n),
        "Display round-trips"
    );
    assert_eq!(
        DomainName::parse(&format!("{n}.")).as_ref(),
        Ok(n),
        "trailing dot"
    );
    assert_eq!(
        DomainName::parse(&n.as_str().to_uppercase()).as_ref(),
        Ok(n),
        "case-insensitive"
    );
    assert_eq!(
        DomainName::parse(&n.to_unicode()).as_ref(),
        Ok(n),
        "U-label form parses back"
    );
    let reversed = n.reversed();
    let back: Vec<&str> = reversed.split('.').rev().collect();
    assert_eq!(back.join("."), n.as_str(), "reversed twice");
    if let Ok(r) = DomainName::parse(&reversed) {
        assert_eq!(r.reversed(), n.as_str(), "reversed twice through parse");
    }
    for a in n.ancestors() {
        assert!(
            n.is_subdomain_of(&a) && !a.is_subdomain_of(n),
            "{n} vs ancestor {a}"
        );
    }
    assert!(!n.is_subdomain_of(n));
    if let Some(r) = n.registrable() {
        assert!(r == *n || n.is_subdomain_of(&r), "{n}: registrable {r}");
        assert_eq!(r.suffix_kind(), None, "{r} is not itself a suffix");
        assert!(
            r.parent().is_some_and(|p| p.suffix_kind().is_some()),
            "{r}: one label above a suffix"
        );
    } else {
        assert!(
            n.suffix_kind().is_some(),
            "{n}: no registrable domain, so it is a suffix"
        );
    }
}

fn ascii_label() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_]([a-z0-9_-]{0,8}[a-z0-9_])?",
        "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
    ]
    .prop_filter("not an A-label", |l| !l.starts_with("xn--"))
}

fn tld() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{2,6}",
        Just("com".to_owned()),
        Just("co.uk".to_owned()),
        Just("github.io".to_owned())
    ]
}

fn ascii_name() -> impl Strategy<Value = String> {
    (prop::collection::vec(ascii_label(), 0..5), tld())
        .prop_map(|(mut labels, tld)| {
            labels.push(tld);
            labels.join(".")
        })
        .prop_filter("at most 253 octets", |n| n.len() <= 253)
}

/// Lower-case, NFC, left-to-right letters that UTS #46 keeps as they are.
const UNICODE_ALPHABET: &[char] = &[
    'a', 'b', 'x', '0', '7', '_', 'ä', 'ö', 'ü', 'ß', 'é', 'è', 'ç', 'ñ', 'å', 'ø', 'ł', 'α', 'β',
    'γ', 'δ', 'λ', 'ω', 'а', 'б', 'ж', 'я', 'ё', '中', '国', '例', 'え', '日', '本', '語', 'テ',
    'ス', 'ト', 'は', '한', '국', '어',
];

fn unicode_label() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(UNICODE_ALPHABET), 1..7)
        .prop_map(|chars| chars.into_iter().collect())
}

fn unicode_name() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(unicode_label(), 1..4),
        prop_oneof![tld(), Just("中国".to_owned()), Just("テスト".to_owned())],
    )
        .prop_map(|(mut labels, tld)| {
            labels.push(tld);
            labels.join(".")
        })
}

/// Upper-cases the characters picked by `mask` (cycling through its 64 bits).
fn mixed_case(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    /// A name's ancestors' texts are its ancestors', borrowed.
    #[test]
    fn ancestor_texts_are_the_ancestors(s in "([a-z0-9-]{1,6}\\.){0,4}[a-z]{2,5}|[a.ü中-]{0,24}") {
        if let Ok(n) = DomainName::parse(&s) {
            let owned: Vec<String> = n.ancestors().map(|a| a.as_str().to_owned()).collect();
            prop_assert_eq!(n.ancestor_texts().collect::<Vec<_>>(), owned);
        }
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,80}") {
        if let Ok(n) = DomainName::parse(&s) {
            assert_stable(&n);
        }
        if let Ok(q) = DomainQuery::parse(&s) {
            prop_assert_eq!(DomainQuery::parse(&q.to_string()), Ok(q));
        }
    }

    #[test]
    fn parse_never_panics_on_any_chars(s in ".{0,40}") {
        let _ = DomainName::parse(&s);
        let _ = DomainQuery::parse(&s);
    }

    #[test]
    fn domain_like_noise_is_stable(s in "[a-zA-Z0-9._*:/@\\[\\]%?#-]{0,40}|[aü中x.-]{0,20}|(xn--[a-z0-9-]{0,12}\\.){0,3}[a-z]{0,3}") {
        if let Ok(n) = DomainName::parse(&s) {
            assert_stable(&n);
        }
        if let Ok(q) = DomainQuery::parse(&s) {
            prop_assert_eq!(DomainQuery::parse(&q.to_string()), Ok(q.clone()));
            prop_assert!(q.name().suffix_kind() != Some(SuffixKind::Icann));
        }
    }

    #[test]
    fn ascii_names_are_accepted_as_lower_case(n in ascii_name(), mask in any::<u64>(), dot in any::<bool>()) {
        let input = format!("{}{}", mixed_case(&n, mask), if dot { "." } else { "" });
        let parsed = DomainName::parse(&input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        prop_assert_eq!(parsed.as_str(), n.as_str());
        assert_stable(&parsed);
    }

    #[test]
    fn unicode_and_punycode_forms_are_one_name(u in unicode_name(), dot in any::<bool>()) {
        let n = DomainName::parse(&u).unwrap_or_else(|e| panic!("{u:?}: {e}"));
        assert_stable(&n);
        prop_assert_eq!(n.to_unicode(), u.clone(), "the alphabet is already in normal form");
        // The A-label form, in any case, with or without the root dot, is the same name.
        let ascii = format!("{}{}", n.as_str().to_uppercase(), if dot { "." } else { "" });
        prop_assert_eq!(DomainName::parse(&ascii), Ok(n.clone()));
        // Ideographic full stops separate labels like `.` does.
        prop_assert_eq!(DomainName::parse(&u.replace('.', "。")), Ok(n.clone()));
        // Upper case where it maps back (not ß → SS).
        let upper = u.to_uppercase();
        if upper.to_lowercase() == u {
            prop_assert_eq!(DomainName::parse(&upper), Ok(n.clone()));
        }
        // Mixing the two forms label by label.
        let mixed: Vec<String> = u.split('.').zip(n.labels()).enumerate()
            .map(|(i, (ul, al))| if i % 2 == 0 { ul.to_owned() } else { al.to_owned() })
            .collect();
        prop_assert_eq!(DomainName::parse(&mixed.join(".")), Ok(n));
    }

    #[test]
    fn wildcards_wrap_their_zone(n in ascii_name()) {
        let zone = DomainName::parse(&n).unwrap();
        match DomainQuery::parse(&format!("*.{n}")) {
            Ok(q) => {
                prop_assert_eq!(&q, &DomainQuery::Wildcard(zone.clone()));
                prop_assert_eq!(q.to_string(), format!("*.{zone}"));
            }
            Err(e) => prop_assert_eq!(e, WildcardOverPublicSuffix { suffix: zone.to_string() }),
        }
        match DomainQuery::parse(&n) {
            Ok(q) => prop_assert_eq!(q, DomainQuery::Exact(zone)),
            Err(e) => prop_assert_eq!(e, PublicSuffix { name: zone.to_string() }),
        }
    }

    #[test]
    fn a_star_anywhere_is_misplaced(n in ascii_name(), at in any::<prop::sample::Index>()) {
        let mut chars: Vec<char> = n.chars().collect();
        let i = at.index(chars.len() + 1);
        chars.insert(i, '*');
        let input: String = chars.into_iter().collect();
        prop_assert!(matches!(DomainName::parse(&input), Err(MisplacedWildcard { .. })), "{}", input);
    }
}
