//! WHOIS layouts of registries outside the corpus, written from the registries' own
//! documentation of their port-43 output: sectioned answers whose keys (`name:`, `changed:`)
//! repeat under each heading, and dates with named months and UTC offsets.

use chrono::{DateTime, Utc};
use threatintel_model::DomainName;
use threatintel_parse::context::{parse_whois_date, parse_whois_for};

use super::observed_at;

/// What a sectioned answer must yield.
struct Expected<'a> {
    domain: &'a str,
    registrar: &'a str,
    registrant: &'a str,
    admin: &'a str,
    nameservers: &'a [&'a str],
    created: &'a str,
    expires: &'a str,
}

fn check(text: &str, expected: Expected<'_>) {
    let queried = DomainName::parse(expected.domain).unwrap();
    let parsed = parse_whois_for(text, Some(&queried), observed_at());
    let record = parsed
        .record
        .unwrap_or_else(|| panic!("no record: {:?}", parsed.warnings));
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    assert_eq!(record.domain.as_str(), expected.domain);
    assert_eq!(record.registrar.name, expected.registrar, "registrar");
    assert_eq!(record.registrant.name, expected.registrant, "registrant");
    assert_eq!(record.admin.name, expected.admin, "admin");
    assert_eq!(record.nameservers, expected.nameservers, "nameservers");
    assert_eq!(record.created, Some(at(expected.created)), "created");
    assert_eq!(record.expires, Some(at(expected.expires)), "expires");
}

/// Estonian Internet Foundation (.ee): every object is a heading with `name:`, `email:`,
/// `changed:` below it; dates carry their UTC offset.
#[test]
fn repeated_keys_under_headings() {
    check(
        "Estonia .ee Top Level Domain WHOIS server\n\n\
         Domain:\n\
         name:       example.ee\n\
         status:     ok (paid and in zone)\n\
         registered: 2010-05-25 13:35:21 +03:00\n\
         changed:    2024-04-11 10:50:03 +03:00\n\
         expire:     2025-05-26\n\
         outzone:    \n\
         delete:     \n\n\
         Registrant:\n\
         name:       Example OÜ\n\
         org id:     10000000\n\
         country:    EE\n\
         email:      Not Disclosed - Visit www.internet.ee for webbased WHOIS\n\
         changed:    2023-01-03 09:12:44 +02:00\n\n\
         Administrative contact:\n\
         name:       Mari Maasikas\n\
         email:      Not Disclosed - Visit www.internet.ee for webbased WHOIS\n\
         changed:    2023-01-03 09:12:44 +02:00\n\n\
         Technical contact:\n\
         name:       Jaan Tamm\n\
         email:      Not Disclosed - Visit www.internet.ee for webbased WHOIS\n\
         changed:    2023-01-03 09:12:44 +02:00\n\n\
         Registrar:\n\
         name:       Zone Media OÜ\n\
         url:        http://www.zone.ee\n\
         phone:      +372 6886886\n\
         changed:    2020-10-13 12:04:12 +03:00\n\n\
         Name servers:\n\
         nserver:   ns1.example.ee\n\
         nserver:   ns2.example.net\n\
         changed:   2021-01-05 10:00:00 +02:00\n\n\
         DNSSEC:\n\
         dnskey:     \n\
         changed:    \n",
        Expected {
            domain: "example.ee",
            registrar: "Zone Media OÜ",
            registrant: "Example OÜ",
            admin: "Mari Maasikas",
            nameservers: &["ns1.example.ee", "ns2.example.net"],
            created: "2010-05-25T10:35:21Z",
            expires: "2025-05-26T00:00:00Z",
        },
    );
}

/// Headings with their values indented below them, name servers one a line, and the same
/// `Name:` key in the registrant, admin and registrar blocks.
#[test]
fn indented_blocks_with_repeated_names() {
    check(
        "Domain Name: example.ly\n\n\
         Registrant:\n    Name: Example Trading Co.\n    Country: LY\n    Changed: 12 Mar 2019\n\n\
         Admin Contact:\n    Name: Ali Example\n    Changed: 12 Mar 2019\n\n\
         Registrar:\n    Name: Libya Telecom & Technology\n    Changed: 01 Jan 2015\n\n\
         Name Servers:\n    ns1.example.ly\n    ns2.example.ly\n\n\
         Created: 14 Feb 2008 09:30:00 GMT+02:00\n\
         Expires: 14 Feb 2026 09:30:00 GMT+02:00\n",
        Expected {
            domain: "example.ly",
            registrar: "Libya Telecom & Technology",
            registrant: "Example Trading Co.",
            admin: "Ali Example",
            nameservers: &["ns1.example.ly", "ns2.example.ly"],
            created: "2008-02-14T07:30:00Z",
            expires: "2026-02-14T07:30:00Z",
        },
    );
}

fn date(text: &str, expected: &str) {
    let got = parse_whois_date(text);
    assert_eq!(
        got.map(|d| d.to_rfc3339()),
        Some(expected.parse::<DateTime<Utc>>().unwrap().to_rfc3339()),
        "{text:?}"
    );
}

#[test]
fn dates_with_named_months_and_offsets() {
    date("14 Feb 2008 09:30:00 GMT+02:00", "2008-02-14T07:30:00Z");
    date("Thu Feb 14 09:30:00 GMT+02:00 2008", "2008-02-14T07:30:00Z");
    date("Thu, 14 Feb 2008 09:30:00 +0200", "2008-02-14T07:30:00Z");
    date("14-February-2008 09:30 UTC+2", "2008-02-14T07:30:00Z");
    date("February 14, 2008 09:30:00 -05:00", "2008-02-14T14:30:00Z");
    date("2008-02-14 09:30:00 +03:00", "2008-02-14T06:30:00Z");
    date("14.02.2008 09:30:00 (UTC+1)", "2008-02-14T08:30:00Z");
}
