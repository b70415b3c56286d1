//! Data-driven tables for the line parsers.

use serde_json::json;
use threatintel_model::{DomainName, Evidence, IpNetwork};
use threatintel_parse::feed::{
    refang, CsvMapping, CsvParser, CsvPreset, LineContext, Parsed, PlainItem, PlainParser,
};
use threatintel_parse::{Context, Format};

use super::{defaults, read_as, read_in};

/// What a table expects of one line.
#[derive(Debug, PartialEq)]
enum Want {
    Nothing,
    /// The name itself.
    Name(&'static str),
    /// The host of a URL the line gave (`scheme://host/...`, `host/path`): `via_url`.
    UrlHost(&'static str),
    Zone(&'static str),
    Net(&'static str),
    /// A file hash, lower case.
    File(&'static str),
    /// A reject whose reason contains this.
    Reject(&'static str),
}

fn check(input: &str, expected: Want) {
    let parser = PlainParser::new(defaults("test", "Malware"));
    let got = match parser.parse_item(input, 7) {
        Ok(None) => Want::Nothing,
        Ok(Some(PlainItem::Name {
            name,
            zone: false,
            via_url: false,
        })) => Want::Name(leak(name)),
        Ok(Some(PlainItem::Name {
            name,
            zone: false,
            via_url: true,
        })) => Want::UrlHost(leak(name)),
        Ok(Some(PlainItem::Name {
            name,
            zone: true,
            via_url,
        })) => {
            assert!(!via_url, "{input:?}: a zone is not a URL's host");
            Want::Zone(leak(name))
        }
        Ok(Some(PlainItem::Net(n))) => Want::Net(Box::leak(n.to_string().into_boxed_str())),
        Ok(Some(PlainItem::File(h))) => Want::File(Box::leak(h.to_string().into_boxed_str())),
        Err(r) => {
            assert_eq!(r.line, 7);
            if let Want::Reject(part) = expected {
                assert!(
                    r.reason.contains(part),
                    "{input:?}: reason {:?} lacks {part:?}",
                    r.reason
                );
                return;
            }
            panic!("{input:?}: rejected: {}", r.reason);
        }
    };
    assert_eq!(got, expected, "{input:?}");
}

fn leak(n: DomainName) -> &'static str {
    Box::leak(n.as_str().to_owned().into_boxed_str())
}

#[test]
fn plain_lines() {
    use Want::*;
    let table = [
        ("", Nothing),
        ("   ", Nothing),
        ("# comment", Nothing),
        ("! adblock comment", Nothing),
        ("[Adblock Plus 2.0]", Nothing),
        ("evil.example", Name("evil.example")),
        ("Evil.Example.", Name("evil.example")),
        ("0-facebook.com ", Name("0-facebook.com")),
        ("xn--ker-ina.hu    # was: keró.hu", Name("xn--ker-ina.hu")),
        ("*.zone.example", Zone("zone.example")),
        (".zone.example", Zone("zone.example")),
        ("evil[.]example", Name("evil.example")),
        ("hxxps://evil(.)example/path", UrlHost("evil.example")),
        ("http://evil.example:8080/x?y", UrlHost("evil.example")),
        ("https://evil.example", UrlHost("evil.example")),
        ("https://user@Evil.Example/", UrlHost("evil.example")),
        ("evil.example/path/to", UrlHost("evil.example")),
        ("evil.example/", UrlHost("evil.example")),
        // maltrail URL-path trails on shared services.
        ("mailchi.mp/d975f55661ef/4jzmygx2t9", UrlHost("mailchi.mp")),
        (
            "docs.google.com/uc?export=download",
            UrlHost("docs.google.com"),
        ),
        ("evil[.]example/x # note", UrlHost("evil.example")),
        ("mailchi.mp", Name("mailchi.mp")),
        ("/exploit.swf", Nothing),
        ("/Consulta FGTS.js", Nothing),
        ("1.2.3.4", Net("1.2.3.4/32")),
        ("66.210.228.178:443", Net("66.210.228.178/32")),
        ("10.0.0.0/8", Net("10.0.0.0/8")),
        ("http://162.55.189.96", Net("162.55.189.96/32")),
        ("2001:db8::1", Net("2001:db8::1/128")),
        (
            "44D88612FEA8A8F36DE82E1278ABB02F",
            File("44d88612fea8a8f36de82e1278abb02f"),
        ),
        (
            "3395856ce81f2b7382dee72602f798b642f14140 # eicar",
            File("3395856ce81f2b7382dee72602f798b642f14140"),
        ),
        ("0.0.0.0 ads.example", Name("ads.example")),
        ("127.0.0.1\tads.example # tracker", Name("ads.example")),
        ("127.0.0.1 localhost", Nothing),
        ("::1 ip6-localhost", Nothing),
        ("0.0.0.0 0.0.0.0", Nothing),
        ("||ads.example^", Name("ads.example")),
        ("||ads.example^$third-party", Name("ads.example")),
        ("||ads.example^$important,third-party", Name("ads.example")),
        ("@@||good.example^", Nothing),
        ("example.com##.banner", Nothing),
        ("||ads.example^$script", Reject("$script narrows")),
        ("||ads.example/path^", Reject("not a whole-domain rule")),
        ("|https://ads.example/", Reject("address rule")),
        ("/banner[0-9]+/", Reject("regular-expression")),
        ("bad_host!.example", Reject("invalid character")),
        ("two words", Reject("unexpected text")),
        ("http:///nohost", Reject("no host")),
    ];
    for (input, want) in table {
        check(input, want);
    }
}

#[test]
fn hosts_line_with_several_names() {
    let parser = PlainParser::new(defaults("test", "Malware"));
    let mut got = Vec::new();
    parser.parse_line_each(
        "0.0.0.0 a.example b.example localhost c.example",
        1,
        &mut LineContext::default(),
        &mut |r| got.push(r.unwrap()),
    );
    let names: Vec<String> = got
        .iter()
        .map(|e| match e {
            Evidence::Indicator(r) => r.name.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["a.example", "b.example", "c.example"]);
    // The per-line API yields the first.
    assert!(
        matches!(parser.parse_line("0.0.0.0 a.example b.example", 1), Ok(Some(Evidence::Indicator(r))) if r.name.as_str() == "a.example")
    );
}

#[test]
fn maltrail_reference_blocks() {
    let d = defaults("maltrail", "Malware").with_label("fam");
    let text = "# Aliases: a, b\n\n# Reference: https://one\n# Reference: https://two\n\nx1.example\n\n# Reference: https://three\nx2.example\n";
    let p = read_as(Format::MaltrailTrails, text, &d);
    let refs: Vec<_> = p
        .evidence
        .iter()
        .map(|e| match e {
            Evidence::Indicator(r) => r.reference.clone().unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(refs, ["https://one", "https://three"]);
    assert_eq!(p.aliases["fam"], ["a", "b"]);
}

#[test]
fn refang_table() {
    let table = [
        ("hxxp://a[.]b", "http://a.b"),
        ("hXXps://a(.)b/c", "https://a.b/c"),
        ("a{.}b[dot]c(dot)d", "a.b.c.d"),
        ("http[:]//a.b", "http://a.b"),
        ("a[:]//b", "a://b"),
        ("fxp://files[.]example", "ftp://files.example"),
        ("user[at]mail[.]example", "user@mail.example"),
        ("[[.]]", "."),
        ("plain.example", "plain.example"),
        ("boxxp.example", "boxxp.example"),
    ];
    for (input, want) in table {
        assert_eq!(refang(input), want, "{input:?}");
    }
}

#[test]
fn csv_rows() {
    let mut p = CsvParser::preset(CsvPreset::Urlhaus, defaults("urlhaus", ""));
    let header = "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter";
    assert_eq!(p.push_line(header, 1), Ok(None));
    let row = r#""1","2025-04-21 12:35:06","hxxp://evil[.]example/x.sh","online","","malware_download","elf,Mozi","https://urlhaus.abuse.ch/url/1/","r""#;
    let e = p.push_line(row, 2).unwrap().unwrap();
    let Evidence::Indicator(r) = e else { panic!() };
    assert_eq!(
        (r.name.as_str(), r.threat_type.as_str(), r.label.as_deref()),
        ("evil.example", "Malicious Source", Some("Mozi"))
    );
    assert!(r.via_url, "a URLhaus URL names a URL on the host");
    let ip_row = r#""2","2025-04-21 12:35:06","http://1.2.3.4:80/i","online","","malware_download","","https://urlhaus.abuse.ch/url/2/","r""#;
    assert!(
        matches!(p.push_line(ip_row, 3), Ok(Some(Evidence::IpRecord(i))) if i.network == "1.2.3.4".parse::<IpNetwork>().unwrap())
    );
    let bad_time =
        r#""3","yesterday","http://evil.example/","online","","malware_download","","","""#;
    assert!(p
        .push_line(bad_time, 4)
        .unwrap_err()
        .reason
        .contains("cannot read time"));
    let bad_host = r#""4","2025-04-21 12:35:06","http://bad host.example/","online","","malware_download","","","""#;
    assert!(p.push_line(bad_host, 5).is_err());
    // A quoted field spanning two lines.
    assert_eq!(p.push_line(r#""5","2025-04-21 12:35:06","http://multi.example/","online","","malware_download","a"#, 6), Ok(None));
    assert!(matches!(
        p.push_line(r#"b","","""#, 7),
        Ok(Some(Evidence::Indicator(_)))
    ));
}

/// `(name, via_url)` of every indicator record.
fn indicators(p: &Parsed) -> Vec<(&str, bool)> {
    assert!(p.rejects.is_empty(), "{:?}", p.rejects);
    p.evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Indicator(r) => Some((r.name.as_str(), r.via_url)),
            _ => None,
        })
        .collect()
}

/// Every format marks a record `via_url` exactly when its host came from a URL (a value with
/// `scheme://` or a `host/path`), whatever the column or attribute type says, and leaves a
/// listed name, zone or hosts entry unmarked.
#[test]
fn via_url_by_format() {
    let plain = read_as(
        Format::DomainList,
        "evil.example\nhttps://url.example/x\nmailchi.mp/d975f55661ef/4jzmygx2t9\n\
         0.0.0.0 hosts.example other.example\n||ads.example^\n*.zone.example\n\
         hxxp://defanged[.]example\nhttp://1.2.3.4/x\n",
        &defaults("list", "Malware"),
    );
    assert_eq!(
        indicators(&plain),
        [
            ("evil.example", false),
            ("url.example", true),
            ("mailchi.mp", true),
            ("hosts.example", false),
            ("other.example", false),
            ("ads.example", false),
            ("zone.example", false),
            ("defanged.example", true),
        ]
    );

    let urlhaus = read_as(Format::UrlhausCsv, "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\
         \"1\",\"2025-04-21 12:35:06\",\"http://u.example/x.sh\",\"online\",\"\",\"malware_download\",\"\",\"\",\"r\"\n", &defaults("urlhaus", ""));
    assert_eq!(indicators(&urlhaus), [("u.example", true)]);

    let threatfox = read_as(
        Format::ThreatFoxJson,
        &[
            json!({"ioc": "hxxps://mindtribe[.]io/", "type": "url", "malware": "x"}),
            json!({"ioc": "evil[.]example", "type": "domain", "malware": "x"}),
            json!({"ioc": "bare.example", "type": "url", "malware": "x"}),
        ]
        .iter()
        .map(|v| v.to_string() + "\n")
        .collect::<String>(),
        &defaults("threatfox", "C&C Server"),
    );
    assert_eq!(
        indicators(&threatfox),
        [
            ("mindtribe.io", true),
            ("evil.example", false),
            ("bare.example", false),
        ]
    );
    // `c2.example:443` as a url is not a host this model reads.
    let p = read_as(
        Format::ThreatFoxJson,
        &json!({"ioc": "c2.example:443", "type": "url"}).to_string(),
        &defaults("threatfox", "C&C Server"),
    );
    assert_eq!(p.rejects.len(), 1);

    let phishtank = read_as(Format::PhishTankCsv, "phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target\n\
         1,https://www.phish.example/,http://www.phishtank.com/phish_detail.php?phish_id=1,2021-03-14T07:31:24+00:00,yes,2021-03-14T07:36:16+00:00,yes,Other\n", &defaults("phishtank", ""));
    assert_eq!(indicators(&phishtank), [("www.phish.example", true)]);

    let tweetfeed = read_as(Format::TweetFeedCsv, "2026-08-16 01:04:58,r,domain,hndjsy.com,#phishing,https://x.com/r/status/1\n\
         2026-08-16 01:04:58,r,url,https://hndjsy.com/lYfKfsvY/,#phishing,https://x.com/r/status/1\n\
         2026-08-16 01:04:58,r,url,hxxps://sites[.]google[.]com/view/x,#phishing,https://x.com/r/status/2\n", &defaults("tweetfeed", ""));
    assert_eq!(
        indicators(&tweetfeed),
        [
            ("hndjsy.com", false),
            ("hndjsy.com", true),
            ("sites.google.com", true)
        ]
    );

    let mapping: CsvMapping =
        serde_json::from_value(json!({"name": "host", "url": "link"})).unwrap();
    let generic = read_in(
        Format::Csv,
        "host,link\nnamed.example,\n,https://linked.example/p\nhttp://url-in-name.example/p,\n",
        &Context {
            csv_mapping: Some(mapping),
            ..Context::new("generic.csv", defaults("generic", "Phishing"))
        },
    );
    assert_eq!(
        indicators(&generic),
        [
            ("named.example", false),
            ("linked.example", true),
            ("url-in-name.example", true),
        ]
    );

    let misp = read_as(
        Format::MispEvent,
        &json!({"Event": {"Orgc": {"name": "org"}, "Attribute": [
            {"type": "domain", "value": "d.example"},
            {"type": "hostname", "value": "h.example"},
            {"type": "hostname|port", "value": "hp.example|443"},
            {"type": "domain|ip", "value": "di.example|192.0.2.1"},
            {"type": "url", "value": "hxxps://u[.]example/login"},
            {"type": "uri", "value": "http://uri.example/x"},
            {"type": "url", "value": "bare.example"},
            {"type": "url", "value": "http://192.0.2.2/x"},
            {"type": "link", "value": "https://blog.example/report"},
        ]}})
        .to_string(),
        &defaults("misp", "malware"),
    );
    assert_eq!(
        indicators(&misp),
        [
            ("d.example", false),
            ("h.example", false),
            ("hp.example", false),
            ("di.example", false),
            ("u.example", true),
            ("uri.example", true),
            ("bare.example", false),
        ]
    );

    let indicator = |id: &str, pattern: &str| {
        json!({"type": "indicator", "spec_version": "2.1", "id": id, "pattern": pattern,
               "pattern_type": "stix", "valid_from": "2026-08-16T00:00:00Z"})
    };
    let stix = read_as(
        Format::Stix,
        &json!({"type": "bundle", "id": "bundle--1", "objects": [
            indicator("indicator--1", "[domain-name:value = 'd.example']"),
            indicator("indicator--2", "[url:value = 'https://u.example/x']"),
            indicator(
                "indicator--3",
                "[domain-name:value = 'a.example'] OR [url:value = 'http://b.example/p']"
            ),
            indicator("indicator--4", "[network-traffic:dst_ref.value = 'c2.example']"),
            indicator("indicator--5", "[url:value = 'http://192.0.2.3/x']"),
        ]})
        .to_string(),
        &defaults("stix", "malicious-activity"),
    );
    assert_eq!(
        indicators(&stix),
        [
            ("d.example", false),
            ("u.example", true),
            ("a.example", false),
            ("b.example", true),
            ("c2.example", false),
        ]
    );
}
