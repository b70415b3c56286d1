//! Geolocation and ASN of IP reports from databases built here: MMDB files in the GeoIP2 and
//! IPinfo schemas, iptoasn ranges and pfx2as prefixes.

use super::ip::{ip_engine, ip_golden, ip_native};
use super::mmdb::{place, write, Value};
use super::*;
use threatintel_report::{GeoError, Geolocator, IpLocation};

fn city_db() -> Vec<u8> {
    write(
        "GeoLite2-City",
        &[
            (
                "203.0.113.0/24",
                Value::Map(vec![
                    ("city", place("Osaka", "大阪市")),
                    ("continent", place("Asia", "亚洲")),
                    ("country", {
                        let Value::Map(mut members) = place("Japan", "日本") else {
                            unreachable!()
                        };
                        members.push(("iso_code", Value::Str("JP")));
                        Value::Map(members)
                    }),
                    ("subdivisions", Value::Array(vec![place("Osaka", "大阪府")])),
                ]),
            ),
            (
                "2001:db8:bad::/48",
                Value::Map(vec![("country", place("Germany", "德国"))]),
            ),
        ],
    )
}

fn asn_db() -> Vec<u8> {
    write(
        "GeoLite2-ASN",
        &[(
            "203.0.113.0/25",
            Value::Map(vec![
                ("autonomous_system_number", Value::U32(64500)),
                ("autonomous_system_organization", Value::Str("EXAMPLE-NET")),
            ]),
        )],
    )
}

fn ipinfo_db() -> Vec<u8> {
    write(
        "ipinfo lite.mmdb",
        &[(
            "198.51.100.0/24",
            Value::Map(vec![
                ("as_domain", Value::Str("example.net")),
                ("as_name", Value::Str("Example Transit")),
                ("asn", Value::Str("AS64511")),
                ("continent", Value::Str("Europe")),
                ("country", Value::Str("France")),
                ("country_code", Value::Str("FR")),
            ]),
        )],
    )
}

const IPTOASN: &str = "\
192.0.2.0\t192.0.2.255\t64496\tUS\tDOC-RANGE-ONE
0.0.0.0\t0.255.255.255\t0\tNone\tNot routed
2001:db8:1::\t2001:db8:1:ffff:ffff:ffff:ffff:ffff\t64497\tNL\tDOC-SIX
";

const PFX2AS: &str = "\
# prefix length asn
192.0.2.0\t24\t64498
192.0.2.128\t25\t64499_64501
10.0.0.0\t8\t{64502,64503}
";

fn located(geo: &Geolocator, ip: &str) -> IpLocation {
    geo.locate(ip.parse().unwrap())
}

fn strings(location: &IpLocation) -> [&str; 7] {
    [
        &location.country,
        &location.province,
        &location.city,
        &location.isp,
        &location.asn,
        &location.asn_label,
        &location.idc_name,
    ]
}

#[test]
fn mmdb_files_fill_the_fields_in_order() {
    let mut geo = Geolocator::default();
    assert!(geo.is_empty());
    geo.add_mmdb(city_db()).unwrap();
    geo.add_mmdb(asn_db()).unwrap();
    geo.add_mmdb(ipinfo_db()).unwrap();
    assert!(!geo.is_empty());
    assert_eq!(
        strings(&located(&geo, "203.0.113.7")),
        ["Japan", "Osaka", "Osaka", "", "64500", "EXAMPLE-NET", ""]
    );
    // Outside the ASN file's /25: only the city file answers.
    assert_eq!(
        strings(&located(&geo, "203.0.113.200")),
        ["Japan", "Osaka", "Osaka", "", "", "", ""]
    );
    assert_eq!(
        strings(&located(&geo, "198.51.100.1")),
        ["France", "", "", "", "64511", "Example Transit", ""]
    );
    assert_eq!(located(&geo, "2001:db8:bad:1::1").country, "Germany");
    assert_eq!(located(&geo, "192.0.2.1"), IpLocation::default());
    assert_eq!(located(&geo, "2001:db8::1"), IpLocation::default());
}

#[test]
fn asn_tables_give_the_most_specific_as() {
    let mut geo = Geolocator::default();
    assert_eq!(geo.add_iptoasn(IPTOASN.as_bytes()).unwrap(), 2);
    assert_eq!(geo.add_pfx2as(PFX2AS.as_bytes()).unwrap(), 3);
    // The iptoasn range comes first and names its AS.
    let doc = located(&geo, "192.0.2.200");
    assert_eq!((&*doc.asn, &*doc.asn_label), ("64496", "DOC-RANGE-ONE"));
    assert_eq!(located(&geo, "2001:db8:1::5").asn_label, "DOC-SIX");
    // pfx2as: the longest prefix; a multi-origin or set AS counts as its first.
    let mut prefixes = Geolocator::default();
    prefixes.add_pfx2as(PFX2AS.as_bytes()).unwrap();
    assert_eq!(located(&prefixes, "192.0.2.1").asn, "64498");
    assert_eq!(located(&prefixes, "192.0.2.129").asn, "64499");
    assert_eq!(located(&prefixes, "10.1.2.3").asn, "64502");
    assert_eq!(located(&prefixes, "11.0.0.1").asn, "");
    assert_eq!(
        located(&prefixes, "10.1.2.3").asn_label,
        "",
        "pfx2as has no names"
    );
    // Not routed (AS 0) says nothing.
    assert_eq!(located(&geo, "0.1.2.3"), IpLocation::default());
}

#[test]
fn an_mmdb_answer_comes_before_the_asn_tables() {
    let mut geo = Geolocator::default();
    geo.add_iptoasn("203.0.113.0\t203.0.113.255\t64497\tJP\tOTHER\n".as_bytes())
        .unwrap();
    geo.add_mmdb(asn_db()).unwrap();
    let location = located(&geo, "203.0.113.1");
    assert_eq!(
        (&*location.asn, &*location.asn_label),
        ("64500", "EXAMPLE-NET")
    );
    assert_eq!(located(&geo, "203.0.113.129").asn_label, "OTHER");
}

#[test]
fn bad_databases_are_refused_with_the_line() {
    let mut geo = Geolocator::default();
    assert!(matches!(
        geo.add_mmdb(b"not a database".to_vec()),
        Err(GeoError::Mmdb(_))
    ));
    for (text, line) in [
        (
            "192.0.2.0\t192.0.2.255\t64496\tUS\tA\n1.2.3\t1.2.3.4\t1\tUS\tB\n",
            2,
        ),
        ("\n192.0.2.9\t192.0.2.1\t64496\tUS\tA\n", 2),
        ("192.0.2.0\t192.0.2.255\tASx\tUS\tA\n", 1),
        ("192.0.2.0\n", 1),
    ] {
        match geo.add_iptoasn(text.as_bytes()) {
            Err(GeoError::Line { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    for text in [
        "192.0.2.0\t33\t1\n",
        "192.0.2.0\t24\n",
        "192.0.2.0 24 1 2\n",
    ] {
        assert!(
            matches!(
                geo.add_pfx2as(text.as_bytes()),
                Err(GeoError::Line { line: 1, .. })
            ),
            "{text:?}"
        );
    }
}

/// The listed address with every database: `Ip` filled.
#[test]
fn golden_ip_located() {
    let (_dir, engine) = ip_engine();
    let mut geo = Geolocator::default();
    geo.add_mmdb(city_db()).unwrap();
    geo.add_mmdb(asn_db()).unwrap();
    let engine = engine.with_geolocator(Arc::new(geo));
    let native = ip_native(&engine, "203.0.113.7", FieldSet::NONE);
    assert_eq!(native.location.asn, "64500");
    insta::assert_snapshot!(ip_golden(&engine, "203.0.113.7", Lang::En));
}
