//! Golden tests of the MISP parser: PyMISP's test events and two real MISP feeds.

use std::collections::BTreeMap;

use insta::assert_json_snapshot;
use serde_json::json;
use threatintel_model::Evidence;
use threatintel_parse::feed::{parse_misp_event, parse_misp_manifest, Parsed};

use super::{corpus, corpus_dir, corpus_files, defaults, merge, reason_kinds, summary};

#[test]
fn pymisp_events() {
    let mut out = BTreeMap::new();
    for f in corpus_files("cti_formats/misp/events/pymisp_tests", "json") {
        let p = parse_misp_event(
            &std::fs::read_to_string(&f).unwrap(),
            None,
            &defaults("misp", "malware"),
        );
        let rel = f
            .strip_prefix(corpus_dir().join("cti_formats/misp/events/pymisp_tests"))
            .unwrap();
        out.insert(
            rel.to_string_lossy().into_owned(),
            json!({"counts": p.counts(), "rejects": reason_kinds(&p.rejects), "skipped": p.skipped}),
        );
    }
    assert_json_snapshot!(out);
}

#[test]
fn sighting_and_galaxy_event() {
    let text = corpus("cti_formats/misp/events/pymisp_tests/reportlab_testfiles/sighting_1.json");
    let p = parse_misp_event(&text, None, &defaults("misp", "malware"));
    assert_json_snapshot!(json!({"summary": summary(&p, 8), "aliases": p.aliases}));
}

#[test]
fn existing_event_with_galaxies() {
    let text =
        corpus("cti_formats/misp/events/pymisp_tests/mispevent_testfiles/existing_event.json");
    let p = parse_misp_event(&text, None, &defaults("misp", "malware"));
    assert_json_snapshot!(summary(&p, 3));
}

fn feed(dir: &str) -> (usize, Parsed) {
    let base = corpus_dir().join(dir);
    let (entries, rejects) =
        parse_misp_manifest(&std::fs::read_to_string(base.join("manifest.json")).unwrap());
    assert!(rejects.is_empty(), "{rejects:?}");
    let mut all = Parsed::default();
    for e in &entries {
        let text = std::fs::read_to_string(base.join(format!("{}.json", e.uuid))).unwrap();
        merge(
            &mut all,
            parse_misp_event(&text, Some(e), &defaults("misp-feed", "malware")),
        );
    }
    (entries.len(), all)
}

#[test]
fn tweetfeed_misp_feed() {
    let (events, p) = feed("cti_formats/misp/feeds/tweetfeed_last7");
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for e in &p.evidence {
        if let Evidence::Indicator(r) = e {
            *types
                .entry(format!(
                    "{} / {}",
                    r.threat_type,
                    r.label.as_deref().unwrap_or("-")
                ))
                .or_insert(0) += 1;
        }
    }
    assert_json_snapshot!(
        json!({"events": events, "summary": summary(&p, 3), "types_and_labels": types})
    );
}

#[test]
fn threat_feed_publisher() {
    let (events, p) = feed("cti_formats/misp/feeds/threat-feed-publisher");
    assert_json_snapshot!(json!({"events": events, "summary": summary(&p, 2)}));
}
