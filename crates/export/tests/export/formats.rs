//! Every format's output for the fixture store, and the selection's summary.

use threatintel_export::{export, Format, FormatOptions, RpzAction, Selection, Skip};
use threatintel_model::ThreatLevel;

use super::fixture::{at, config, store};

fn output(format: Format, selection: &Selection, options: &FormatOptions) -> String {
    let (_dir, store) = store();
    let mut out = Vec::new();
    export(&store, &config(), selection, format, options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn check(format: Format, expected: &str) {
    let got = output(format, &Selection::new(at()), &FormatOptions::new(at()));
    assert_eq!(got, expected, "{format}:\n{got}");
}

#[test]
fn rpz() {
    check(
        Format::Rpz,
        "; threatintel export: verdicts as of 2024-06-01T00:00:00Z
$TTL 300
@ IN SOA localhost. hostmaster.localhost. 1717200000 3600 600 604800 300
@ IN NS localhost.
evil.com CNAME .
*.evil.com CNAME .
*.zonebad.net CNAME .
good.zonebad.net CNAME rpz-passthru.
*.good.zonebad.net CNAME rpz-passthru.
phish.example.org CNAME .
*.phish.example.org CNAME .
",
    );
}

#[test]
fn rpz_actions_and_exceptions_on_request() {
    let mut options = FormatOptions::new(at());
    options.rpz_action = "drop".parse::<RpzAction>().unwrap();
    let mut selection = Selection::new(at());
    selection.pass_allowlisted = true;
    let got = output(Format::Rpz, &selection, &options);
    let rules: Vec<&str> = got.lines().skip(4).collect();
    assert_eq!(
        rules,
        [
            "evil.com CNAME rpz-drop.",
            "*.evil.com CNAME rpz-drop.",
            "google.com CNAME rpz-passthru.",
            "*.google.com CNAME rpz-passthru.",
            "*.zonebad.net CNAME rpz-drop.",
            "good.zonebad.net CNAME rpz-passthru.",
            "*.good.zonebad.net CNAME rpz-passthru.",
            "allowlisted.org CNAME rpz-passthru.",
            "*.allowlisted.org CNAME rpz-passthru.",
            "phish.example.org CNAME rpz-drop.",
            "*.phish.example.org CNAME rpz-drop.",
        ]
    );
    let walled = "walled.example.net".parse::<RpzAction>().unwrap();
    assert_eq!(
        walled,
        RpzAction::WalledGarden(super::fixture::name("walled.example.net"))
    );
    assert!("no such action!".parse::<RpzAction>().is_err());
}

#[test]
fn blocklists() {
    check(
        Format::Hosts,
        "# threatintel export: verdicts as of 2024-06-01T00:00:00Z\n0.0.0.0 evil.com\n0.0.0.0 phish.example.org\n",
    );
    check(
        Format::Adblock,
        "[Adblock Plus 2.0]\n! Title: threatintel\n! threatintel export: verdicts as of 2024-06-01T00:00:00Z\n||evil.com^\n@@||good.zonebad.net^\n||phish.example.org^\n",
    );
    check(
        Format::Dnsmasq,
        "# threatintel export: verdicts as of 2024-06-01T00:00:00Z\naddress=/evil.com/\nserver=/good.zonebad.net/#\naddress=/phish.example.org/\n",
    );
    check(
        Format::Unbound,
        "# threatintel export: verdicts as of 2024-06-01T00:00:00Z\nlocal-zone: \"evil.com.\" always_nxdomain\nlocal-zone: \"good.zonebad.net.\" always_transparent\nlocal-zone: \"phish.example.org.\" always_nxdomain\n",
    );
    check(Format::Suricata, "ZXZpbC5jb20=\ncGhpc2guZXhhbXBsZS5vcmc=\n");
}

#[test]
fn csv_carries_the_verdicts() {
    check(
        Format::Csv,
        "name,rule,level,confidence,threat_types,families,sources,attack_stages,first_seen,last_seen,valid_until
evil.com,name,3,92,C&C Server,mykings,feed-a,command-and-control,2024-05-21T00:00:00Z,2024-05-31T00:00:00Z,2024-07-17T13:43:42Z
*.evil.com,zone,3,86,C&C Server,mykings,feed-a,command-and-control,2024-05-21T00:00:00Z,2024-05-31T00:00:00Z,2024-07-04T14:37:02Z
*.zonebad.net,zone,3,92,C&C Server,mykings,feed-a,command-and-control,2024-05-21T00:00:00Z,2024-05-31T00:00:00Z,2024-07-17T13:43:42Z
phish.example.org,name,2,80,Phishing,,feed-b,,2024-05-22T00:00:00Z,2024-06-01T00:00:00Z,2024-06-01T05:45:13Z
*.phish.example.org,zone,2,76,Phishing,,feed-b,,2024-05-22T00:00:00Z,2024-06-01T00:00:00Z,2024-06-01T01:10:06Z
",
    );
}

#[test]
fn the_selection_says_what_it_left_out_and_why() {
    let (_dir, store) = store();
    let mut out = Vec::new();
    let mut selection = Selection::new(at());
    selection.min_level = ThreatLevel::Medium;
    let summary = export(
        &store,
        &config(),
        &selection,
        Format::Hosts,
        &FormatOptions::new(at()),
        &mut out,
    )
    .unwrap();
    let s = &summary.selection;
    assert_eq!((s.names_listed, s.zones_listed, s.passes), (2, 3, 1));
    assert_eq!(s.skipped.get(&Skip::Allowlisted), Some(&2), "{s:?}");
    assert_eq!(s.skipped.get(&Skip::UrlOnly), Some(&2), "{s:?}");
    assert_eq!(s.skipped.get(&Skip::Decayed), Some(&2), "{s:?}");
    assert_eq!(
        summary
            .written
            .left_out
            .get("zone rule the format cannot express"),
        Some(&3)
    );
}

#[test]
fn filters_by_level_confidence_threat_type_and_source() {
    let hosts = |edit: &dyn Fn(&mut Selection)| {
        let mut selection = Selection::new(at());
        edit(&mut selection);
        output(Format::Hosts, &selection, &FormatOptions::new(at()))
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        hosts(&|_| {}),
        ["0.0.0.0 evil.com", "0.0.0.0 phish.example.org"]
    );
    assert_eq!(
        hosts(&|s| s.threat_types = vec!["phishing".into()]),
        ["0.0.0.0 phish.example.org"]
    );
    assert_eq!(
        hosts(&|s| s.sources = vec!["feed-b".into()]),
        ["0.0.0.0 phish.example.org"]
    );
    assert!(hosts(&|s| s.min_level = ThreatLevel::High)
        .iter()
        .all(|l| l != "0.0.0.0 phish.example.org"));
    assert!(hosts(&|s| s.min_confidence = 100).is_empty());
}

#[test]
fn the_same_store_and_time_give_the_same_bytes() {
    for format in Format::ALL {
        let once = output(format, &Selection::new(at()), &FormatOptions::new(at()));
        let again = output(format, &Selection::new(at()), &FormatOptions::new(at()));
        assert_eq!(once, again, "{format}");
    }
}

#[test]
fn a_file_is_replaced_only_by_a_complete_export() {
    let (dir, store) = store();
    let path = dir.path().join("zone.rpz");
    std::fs::write(&path, "old contents\n").unwrap();
    let failed: Result<(), _> = threatintel_export::write_atomically(&path, |out| {
        out.write_all(b"half").unwrap();
        Err(threatintel_export::ExportError::Output(
            std::io::Error::other("disk full"),
        ))
    });
    assert!(failed.is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old contents\n");
    threatintel_export::export_to_file(
        &store,
        &config(),
        &Selection::new(at()),
        Format::Rpz,
        &FormatOptions::new(at()),
        &path,
    )
    .unwrap();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("evil.com CNAME ."));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".threatintel-export-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
