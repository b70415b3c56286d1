//! Property tests: no parser panics on arbitrary input; refang is idempotent.

use proptest::prelude::*;
use threatintel_parse::feed::{parse_misp_manifest, parse_warninglist, refang, PlainParser};
use threatintel_parse::Format;

use super::{defaults, read_as};

/// Text that looks a little like feeds: IOC characters, brackets, quotes, separators.
fn feedish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9.:/\\[\\](){}|^$#@*,\" \t\n'\\\\-]{0,200}",
        "(hxxps?://)?[a-z0-9-]{1,10}(\\[\\.\\]|\\(\\.\\)|\\.)[a-z]{2,5}(:[0-9]{1,6})?(/[a-z]*)?",
    ]
}

/// JSON documents shaped like the formats, with random leaves.
fn jsonish() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        feedish().prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    let keys = prop_oneof![
        Just("type"),
        Just("pattern"),
        Just("objects"),
        Just("value"),
        Just("Attribute"),
        Just("Event"),
        Just("list"),
        Just("ioc"),
        Just("id"),
        Just("source_ref"),
        Just("target_ref"),
        Just("resolves_to_refs"),
        Just("Tag"),
        Just("name"),
        Just("Sighting"),
        Just("valid_from"),
        Just("kill_chain_phases"),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                let body: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn refang_is_idempotent(s in feedish()) {
        let once = refang(&s).into_owned();
        prop_assert_eq!(refang(&once).into_owned(), once);
    }

    #[test]
    fn text_parsers_never_panic(s in feedish()) {
        let d = defaults("fuzz", "Malware");
        let p = PlainParser::new(d.clone());
        for (i, line) in s.lines().enumerate() {
            let _ = p.parse_line(line, i as u64 + 1);
        }
        let _ = read_as(Format::DomainList, &s, &d);
        let _ = read_as(Format::UrlhausCsv, &s, &d);
        let _ = read_as(Format::FeodoCsv, &s, &d);
        let _ = read_as(Format::ThreatFoxJson, &s, &d);
        let _ = read_as(Format::TopList, &s, &defaults("t", "Malware"));
        let _ = threatintel_parse::detect("x.txt", s.as_bytes());
    }

    #[test]
    fn json_parsers_never_panic(s in jsonish()) {
        let d = defaults("fuzz", "Malware");
        let _ = read_as(Format::Stix, &s, &d);
        let _ = read_as(Format::MispEvent, &s, &d);
        let _ = parse_misp_manifest(&s);
        let _ = parse_warninglist(&s, None);
        let _ = read_as(Format::ThreatFoxJson, &s, &d);
        let _ = threatintel_parse::detect("x.json", s.as_bytes());
    }

    #[test]
    fn stix_patterns_never_panic(body in "[\\[\\]()a-z0-9:._'= !<>-]{0,80}|(AND|OR|NOT|IN|FOLLOWEDBY|WITHIN| |\\[|\\]|\\(|\\)|'x'|domain-name:value|=|t'|h'|1)*") {
        let doc = serde_json::json!({"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--1", "pattern": body}]});
        let _ = read_as(Format::Stix, &doc.to_string(), &defaults("fuzz", "Malware"));
    }
}
