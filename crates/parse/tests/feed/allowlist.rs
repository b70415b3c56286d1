//! Warninglists and top-site lists.

use std::collections::BTreeMap;

use insta::assert_json_snapshot;
use serde_json::json;
use threatintel_model::{AllowMatch, DomainName, Evidence};
use threatintel_parse::feed::{parse_warninglist, PatternKind, PatternRule, WarninglistRole};
use threatintel_parse::Format;

use super::{corpus, corpus_files, defaults, fixture, read_as, reason_kinds, summary};

/// Every warninglist of the corpus: role, entries by matching, networks, patterns, rejects.
#[test]
fn misp_warninglists() {
    let mut out = BTreeMap::new();
    for f in corpus_files("misp_warninglists/lists", "json") {
        let slug = f
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let w = parse_warninglist(
            &std::fs::read_to_string(&f).unwrap(),
            Some(&format!("misp:{slug}")),
        );
        let exact = w
            .entries
            .iter()
            .filter(|e| e.matching == AllowMatch::Exact)
            .count();
        out.insert(
            slug,
            json!({
                "type": w.list_type,
                "role": w.role,
                "enabled": w.allowlist.enabled,
                "exact": exact,
                "hostname": w.entries.len() - exact,
                "networks": w.networks.len(),
                "patterns": w.patterns.len(),
                "rejects": reason_kinds(&w.rejects),
                "skipped": w.skipped,
            }),
        );
    }
    assert_json_snapshot!(out);
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

fn covered(
    entries: &[threatintel_model::AllowlistEntry],
    patterns: &[PatternRule],
    n: &str,
) -> bool {
    let n = name(n);
    entries.iter().any(|e| match e.matching {
        AllowMatch::Exact => e.name == n,
        AllowMatch::Hostname => e.name == n || n.is_subdomain_of(&e.name),
    }) || patterns.iter().any(|p| p.matches(&n))
}

/// Substring lists: the real `automated-malware-analysis` list must not vouch for look-alikes.
#[test]
fn substring_list_does_not_match_unmeant_names() {
    let w = parse_warninglist(
        &corpus("misp_warninglists/lists/automated-malware-analysis/list.json"),
        None,
    );
    assert_eq!(w.list_type, "substring");
    for meant in [
        "app.any.run",
        "www.virustotal.com",
        "virustotal.com",
        "x.joesandbox.com",
    ] {
        assert!(covered(&w.entries, &w.patterns, meant), "{meant}");
    }
    for unmeant in [
        "virustotal.com.evil.example",
        "notvirustotal.com",
        "malwr.com-login.example",
        "evilmcafee.com",
        "any.run",
    ] {
        assert!(!covered(&w.entries, &w.patterns, unmeant), "{unmeant}");
    }
}

/// Regex and odd substring entries: kept as pattern rules, label-aligned.
#[test]
fn regex_and_substring_rules() {
    let w = parse_warninglist(&fixture("warninglist_regex.json"), None);
    assert_eq!(w.rejects.len(), 1, "{:?}", w.rejects);
    let exact: Vec<_> = w
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.matching))
        .collect();
    assert_eq!(
        exact,
        [
            ("www.example-exact.com", AllowMatch::Exact),
            ("example-zone.org", AllowMatch::Hostname)
        ]
    );
    assert_eq!(w.patterns.len(), 1);
    assert!(matches!(
        w.patterns[0].kind,
        PatternKind::Regex {
            case_insensitive: true
        }
    ));
    for meant in ["cdn1.example-cdn.net", "CDN22.example-cdn.net"] {
        assert!(covered(&w.entries, &w.patterns, meant), "{meant}");
    }
    for unmeant in [
        "cdn1.example-cdn.net.evil.example",
        "example-exact.com",
        "x.www.example-exact.com",
        "evilexample-zone.org",
    ] {
        assert!(!covered(&w.entries, &w.patterns, unmeant), "{unmeant}");
    }
    let sub = PatternRule {
        list: "t".into(),
        kind: PatternKind::Substring,
        pattern: "mail".into(),
    };
    assert!(sub.matches(&name("mail.example.com")));
    assert!(!sub.matches(&name("gmail.com")));
}

#[test]
fn shared_infrastructure_lists_are_disabled() {
    let w = parse_warninglist(
        &corpus("misp_warninglists/lists/dynamic-dns/list.json"),
        None,
    );
    assert_eq!(w.role, WarninglistRole::SharedInfrastructure);
    assert!(!w.allowlist.enabled);
    let w = parse_warninglist(
        &corpus("misp_warninglists/lists/common-ioc-false-positive/list.json"),
        None,
    );
    assert_eq!(w.role, WarninglistRole::NotDomains);
    assert!(w.entries.is_empty());
}

#[test]
fn top_lists() {
    let mut out = BTreeMap::new();
    for (rel, list) in [
        ("top_sites/tranco_top10k_2025-06.csv", "tranco"),
        ("top_sites/alexa_top100k_2015.csv", "alexa"),
        ("top_sites/umbrella_top10k_2021-03.txt", "umbrella"),
    ] {
        let p = read_as(Format::TopList, &corpus(rel), &defaults(list, "Malware"));
        let hostname = p
            .evidence
            .iter()
            .filter(
                |e| matches!(e, Evidence::AllowlistEntry(a) if a.matching == AllowMatch::Hostname),
            )
            .count();
        out.insert(
            list,
            json!({"summary": summary(&p, 3), "hostname_matching": hostname}),
        );
    }
    assert_json_snapshot!(out);
}
