//! Data-driven tables for the line parsers.

use threatintel_model::{DomainName, Evidence, IpNetwork};
use threatintel_parse::feed::{refang, CsvParser, CsvPreset, LineContext, PlainItem, PlainParser};

use super::defaults;

/// What a table expects of one line.
#[derive(Debug, PartialEq)]
enum Want {
    Nothing,
    Name(&'static str),
    Zone(&'static str),
    Net(&'static str),
    /// A reject whose reason contains this.
    Reject(&'static str),
}

fn check(input: &str, expected: Want) {
    let parser = PlainParser::new(defaults("test", "Malware"));
    let got = match parser.parse_item(input, 7) {
        Ok(None) => Want::Nothing,
        Ok(Some(PlainItem::Name { name, zone: false })) => Want::Name(leak(name)),
        Ok(Some(PlainItem::Name { name, zone: true })) => Want::Zone(leak(name)),
        Ok(Some(PlainItem::Net(n))) => Want::Net(Box::leak(n.to_string().into_boxed_str())),
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
        ("hxxps://evil(.)example/path", Name("evil.example")),
        ("http://evil.example:8080/x?y", Name("evil.example")),
        ("evil.example/path/to", Name("evil.example")),
        ("/exploit.swf", Nothing),
        ("/Consulta FGTS.js", Nothing),
        ("1.2.3.4", Net("1.2.3.4/32")),
        ("66.210.228.178:443", Net("66.210.228.178/32")),
        ("10.0.0.0/8", Net("10.0.0.0/8")),
        ("http://162.55.189.96", Net("162.55.189.96/32")),
        ("2001:db8::1", Net("2001:db8::1/128")),
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
    let parser = PlainParser::new(defaults("maltrail", "Malware").with_label("fam"));
    let text = "# Aliases: a, b\n\n# Reference: https://one\n# Reference: https://two\n\nx1.example\n\n# Reference: https://three\nx2.example\n";
    let p = parser.parse_str(text);
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
    let ip_row = r#""2","2025-04-21 12:35:06","http://1.2.3.4:80/i","online","","malware_download","","https://urlhaus.abuse.ch/url/2/","r""#;
    assert!(
        matches!(p.push_line(ip_row, 3), Ok(Some(Evidence::IpIntel(i))) if i.network == "1.2.3.4".parse::<IpNetwork>().unwrap())
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
