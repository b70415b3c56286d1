//! Golden tests of the MISP parser: PyMISP's test events and two real MISP feeds.

use std::collections::BTreeMap;

use insta::assert_json_snapshot;
use serde_json::json;
use threatintel_model::Evidence;
use threatintel_parse::feed::{parse_misp_manifest, Parsed};
use threatintel_parse::{Context, Format};

use super::{
    corpus, corpus_dir, corpus_files, defaults, merge, read_as, read_in, reason_kinds, summary,
};

#[test]
fn pymisp_events() {
    let mut out = BTreeMap::new();
    for f in corpus_files("cti_formats/misp/events/pymisp_tests", "json") {
        let p = read_as(
            Format::MispEvent,
            &std::fs::read_to_string(&f).unwrap(),
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
    let p = read_as(Format::MispEvent, &text, &defaults("misp", "malware"));
    assert_json_snapshot!(json!({"summary": summary(&p, 8), "aliases": p.aliases}));
}

#[test]
fn existing_event_with_galaxies() {
    let text =
        corpus("cti_formats/misp/events/pymisp_tests/mispevent_testfiles/existing_event.json");
    let p = read_as(Format::MispEvent, &text, &defaults("misp", "malware"));
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
            read_in(
                Format::MispEvent,
                &text,
                &Context {
                    manifest_entry: Some(e.clone()),
                    ..Context::new("event.json", defaults("misp-feed", "malware"))
                },
            ),
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

/// An event large enough to be read on several threads, its attributes kept raw until each is
/// read, gives exactly what the whole-tree reading gives: records, rejects with their
/// positions, sources, aliases (the existing event brings galaxies, tags and objects).
#[test]
fn a_large_event_parses_as_the_whole_tree_would() {
    let text =
        corpus("cti_formats/misp/events/pymisp_tests/mispevent_testfiles/existing_event.json");
    let bare: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut doc = json!({ "Event": bare });
    let event = doc.get_mut("Event").unwrap();
    let mut attributes = event["Attribute"].as_array().unwrap().clone();
    attributes.push(json!({"type": "domain", "to_ids": true}));
    attributes.push(json!({"type": "domain", "value": "bad..name", "to_ids": true}));
    let per_copy = attributes.len();
    let copies = 25_000 / per_copy + 1;
    let attributes: Vec<serde_json::Value> = std::iter::repeat_n(attributes, copies)
        .flatten()
        .enumerate()
        .map(|(i, mut a)| {
            if let Some(v) = a.get("value").and_then(|v| v.as_str()).map(str::to_owned) {
                if a["type"] == "domain" || a["type"] == "hostname" {
                    a["value"] = format!("n{i}.{v}").into();
                }
            }
            a
        })
        .collect();
    event["Attribute"] = attributes.into();
    let d = defaults("misp", "malicious-activity");
    let whole = threatintel_parse::feed::parse_misp_event_value(&doc, None, &d);
    assert!(whole.evidence.len() > 10_000, "{}", whole.evidence.len());
    // Rejects carry their attribute's position, in order, whichever thread read it.
    let lines: Vec<u64> = whole.rejects.iter().map(|r| r.line).collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
    for c in 0..copies {
        for position in [(c + 1) * per_copy - 1, (c + 1) * per_copy] {
            assert!(
                lines.contains(&(position as u64)),
                "{position} in {lines:?}"
            );
        }
    }
    assert_eq!(
        read_as(Format::MispEvent, &doc.to_string(), &d),
        whole,
        "wrapped"
    );
    let bare = doc["Event"].to_string();
    assert_eq!(read_as(Format::MispEvent, &bare, &d), whole, "bare");
}
