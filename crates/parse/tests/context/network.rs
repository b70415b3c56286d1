//! Network registrations from RIR WHOIS answers (RPSL `inetnum`/`inet6num`, ARIN `NetRange`)
//! and RDAP `ip network` objects, through `read` as an import sees them, formats detected.

use chrono::{TimeZone, Utc};
use threatintel_model::{Evidence, NetworkRegistration};
use threatintel_parse::feed::{FeedDefaults, Parsed};
use threatintel_parse::{detect, read, Context, Format};

const RIPE: &str = "\
% This is the RIPE Database query service.

inetnum:        192.0.2.0 - 192.0.3.127
netname:        DOC-NET-EXAMPLE
descr:          Documentation block
country:        NL
org:            ORG-EX1-RIPE
admin-c:        EX1-RIPE
status:         ASSIGNED PA
mnt-by:         EXAMPLE-MNT
created:        2020-01-01T00:00:00Z

organisation:   ORG-EX1-RIPE
org-name:       Example Hosting B.V.
country:        DE

role:           Example Abuse
abuse-mailbox:  abuse@hosting.example
nic-hdl:        EX1-RIPE
";

const ARIN: &str = "\
NetRange:       198.51.100.0 - 198.51.100.255
CIDR:           198.51.100.0/24
NetName:        EXAMPLE-ARIN
Organization:   Example Cloud LLC (EXCL)

OrgName:        Example Cloud LLC
Country:        US

OrgAbuseHandle: ABUSE1-ARIN
OrgAbuseEmail:  network-abuse@cloud.example
";

const RDAP: &str = r#"{
  "rdapConformance": ["rdap_level_0", "cidr0"],
  "objectClassName": "ip network",
  "handle": "NET6-2001-DB8-1",
  "startAddress": "2001:db8::",
  "endAddress": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
  "ipVersion": "v6",
  "name": "DOC-V6",
  "type": "ALLOCATED PA",
  "country": "JP",
  "entities": [
    {"objectClassName": "entity", "handle": "ORG-1", "roles": ["registrant"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Six K.K."],
                              ["kind", {}, "text", "org"]]],
     "entities": [
       {"objectClassName": "entity", "handle": "AB-1", "roles": ["abuse"],
        "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Abuse desk"],
                                 ["email", {}, "text", "abuse@six.example"]]]}
     ]}
  ]
}"#;

fn read_as(name: &str, text: &str) -> (Format, Parsed) {
    let format = detect(name, text.as_bytes()).expect("detected");
    let observed = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let context = Context::new(name, FeedDefaults::new("test", "Malware", observed));
    let mut out = Parsed::default();
    read(format, &mut text.as_bytes(), &context, &mut out).unwrap();
    (format, out)
}

fn registrations(parsed: &Parsed) -> Vec<&NetworkRegistration> {
    assert!(parsed.rejects.is_empty(), "{:?}", parsed.rejects);
    parsed
        .evidence
        .iter()
        .map(|e| match e {
            Evidence::NetworkRegistration(r) => r,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_ripe_inetnum_gives_one_registration_per_block_of_its_range() {
    let (format, parsed) = read_as("192.0.2.1.txt", RIPE);
    assert_eq!(format, Format::Whois);
    let found = registrations(&parsed);
    let networks: Vec<String> = found.iter().map(|r| r.network.to_string()).collect();
    assert_eq!(networks, ["192.0.2.0/24", "192.0.3.0/25"]);
    let r = found[0];
    assert_eq!(r.range, "192.0.2.0 - 192.0.3.127");
    assert_eq!(r.name.as_deref(), Some("DOC-NET-EXAMPLE"));
    assert_eq!(r.organisation.as_deref(), Some("Example Hosting B.V."));
    assert_eq!(
        r.country.as_deref(),
        Some("NL"),
        "the network's, not its organisation's"
    );
    assert_eq!(r.abuse_email.as_deref(), Some("abuse@hosting.example"));
}

#[test]
fn an_arin_netrange_names_its_organisation_and_abuse_contact() {
    let (format, parsed) = read_as("198.51.100.7.txt", ARIN);
    assert_eq!(format, Format::Whois);
    let [r] = registrations(&parsed)[..] else {
        panic!("{parsed:?}")
    };
    assert_eq!(r.network.to_string(), "198.51.100.0/24");
    assert_eq!(r.name.as_deref(), Some("EXAMPLE-ARIN"));
    assert_eq!(r.organisation.as_deref(), Some("Example Cloud LLC"));
    assert_eq!(r.country.as_deref(), Some("US"));
    assert_eq!(
        r.abuse_email.as_deref(),
        Some("network-abuse@cloud.example")
    );
}

#[test]
fn an_rdap_ip_network_gives_its_registrant_and_abuse_email() {
    let (format, parsed) = read_as("2001-db8.json", RDAP);
    assert_eq!(format, Format::Rdap);
    let [r] = registrations(&parsed)[..] else {
        panic!("{parsed:?}")
    };
    assert_eq!(r.network.to_string(), "2001:db8::/32");
    assert_eq!(
        r.range,
        "2001:db8:: - 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
    );
    assert_eq!(r.name.as_deref(), Some("DOC-V6"));
    assert_eq!(r.organisation.as_deref(), Some("Example Six K.K."));
    assert_eq!(r.country.as_deref(), Some("JP"));
    assert_eq!(r.abuse_email.as_deref(), Some("abuse@six.example"));
}

#[test]
fn a_bad_range_is_a_reject() {
    for (name, text) in [
        (
            "a.txt",
            "inetnum: 192.0.2.9 - 192.0.2.1\nnetname: BACKWARDS\n",
        ),
        ("b.txt", "inetnum: 200.160/20\nnetname: ABBREVIATED\n"),
        (
            "c.json",
            r#"{"objectClassName": "ip network", "startAddress": "192.0.2.0", "endAddress": "::1"}"#,
        ),
        (
            "d.json",
            r#"{"objectClassName": "ip network", "name": "NO-RANGE"}"#,
        ),
    ] {
        let (_, parsed) = read_as(name, text);
        assert!(parsed.evidence.is_empty(), "{name}: {:?}", parsed.evidence);
        assert_eq!(parsed.rejects.len(), 1, "{name}");
    }
}
