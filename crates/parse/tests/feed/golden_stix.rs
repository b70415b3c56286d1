//! Golden tests of the STIX parser on the corpus's STIX 2.1 and 2.0 bundles.

use std::collections::BTreeMap;

use insta::assert_json_snapshot;
use serde_json::json;
use threatintel_model::Evidence;
use threatintel_parse::feed::Parsed;
use threatintel_parse::Format;

use super::{
    corpus, corpus_files, defaults, fixture, merge, read_as, reason_kinds, summary, via_url_count,
};

fn stix(rel: &str) -> Parsed {
    read_as(
        Format::Stix,
        &corpus(rel),
        &defaults("stix", "malicious-activity"),
    )
}

#[test]
fn tweetfeed_week() {
    let p = stix("cti_formats/stix21/tweetfeed/week.json");
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    for e in &p.evidence {
        if let Evidence::Indicator(r) = e {
            *labels
                .entry(format!(
                    "{} / {}",
                    r.threat_type,
                    r.label.as_deref().unwrap_or("-")
                ))
                .or_insert(0) += 1;
        }
    }
    assert_json_snapshot!(json!({"summary": summary(&p, 3), "types_and_labels": labels}));
}

#[test]
fn oasis_threat_reports() {
    let mut out = BTreeMap::new();
    for rel in [
        "threat-reports/apt1.json",
        "threat-reports/poisonivy.json",
        "indicators-for-C2-with-COA.json",
        "indicator-for-c2-ip-address.json",
    ] {
        let p = stix(&format!(
            "cti_formats/stix21/oasis_cti-stix2-json-schemas/examples/{rel}"
        ));
        out.insert(
            rel,
            json!({"summary": summary(&p, 3), "aliases": p.aliases}),
        );
    }
    assert_json_snapshot!(out);
}

#[test]
fn sco_bundle_resolutions() {
    let p = stix("cti_formats/stix21/oasis_cti-python-stix2/sco-examples-bundle.json");
    assert_json_snapshot!(summary(&p, 5));
}

/// STIX 2.0: domains tied to campaigns, intrusion sets, malware and ATT&CK stages.
#[test]
fn unit42_playbooks() {
    let mut out = BTreeMap::new();
    for f in corpus_files("cti_formats/stix20/unit42_playbooks", "json") {
        let p = read_as(
            Format::Stix,
            &std::fs::read_to_string(&f).unwrap(),
            &defaults("unit42", "malicious-activity"),
        );
        let mut stages: BTreeMap<String, usize> = BTreeMap::new();
        let mut labels: BTreeMap<String, usize> = BTreeMap::new();
        for e in &p.evidence {
            if let Evidence::Indicator(r) = e {
                *stages
                    .entry(r.attack_stage.clone().unwrap_or_default())
                    .or_insert(0) += 1;
                *labels
                    .entry(format!(
                        "{} / {}",
                        r.threat_type,
                        r.label.as_deref().unwrap_or("-")
                    ))
                    .or_insert(0) += 1;
            }
        }
        out.insert(
            f.file_name().unwrap().to_string_lossy().into_owned(),
            json!({"counts": p.counts(), "rejects": reason_kinds(&p.rejects), "skipped": p.skipped, "stages": stages, "labels": labels}),
        );
    }
    assert_json_snapshot!(out);
}

/// Every STIX file of the corpus parses without a panic; totals.
#[test]
fn corpus_totals() {
    let mut all = Parsed::default();
    let mut files = corpus_files("cti_formats/stix21", "json");
    files.extend(corpus_files("cti_formats/stix20", "json"));
    for f in &files {
        merge(
            &mut all,
            read_as(
                Format::Stix,
                &std::fs::read_to_string(f).unwrap(),
                &defaults("stix", "malicious-activity"),
            ),
        );
    }
    assert_json_snapshot!(json!({
        "files": files.len(),
        "counts": all.counts(),
        "indicators_via_url": via_url_count(&all),
        "rejects": all.rejects.len(),
        "skipped": all.skipped,
        "reject_kinds": reason_kinds(&all.rejects),
    }));
}

#[test]
fn sightings_resolutions_and_relationships() {
    let p = read_as(
        Format::Stix,
        &fixture("stix_sightings.json"),
        &defaults("stix", "malicious-activity"),
    );
    assert_json_snapshot!(json!({
        "evidence": p.evidence,
        "sources": p.sources,
        "rejects": p.rejects.iter().map(super::reject_line).collect::<Vec<_>>(),
        "skipped": p.skipped,
        "aliases": p.aliases,
    }));
}

/// A bundle large enough to be walked in slices on several threads gives exactly what one
/// walk over the same objects gives: records, rejects (with their positions), sources, aliases.
#[test]
fn a_large_bundle_parses_as_one_walk_would() {
    let mut objects: Vec<serde_json::Value> = Vec::new();
    for rel in [
        "cti_formats/stix21/oasis_cti-stix2-json-schemas/examples/threat-reports/apt1.json",
        "cti_formats/stix21/oasis_cti-stix2-json-schemas/examples/indicators-for-C2-with-COA.json",
        "cti_formats/stix21/tweetfeed/week.json",
    ] {
        let doc: serde_json::Value = serde_json::from_str(&corpus(rel)).unwrap();
        objects.extend(doc["objects"].as_array().unwrap().iter().cloned());
    }
    // A broken object and an unknown one, in every copy.
    objects.push(json!({"id": "indicator--no-type"}));
    objects.push(json!({"type": "indicator", "id": "indicator--bad", "pattern": "[nonsense"}));
    let copies = 25_000 / objects.len() + 1;
    let all: Vec<serde_json::Value> = std::iter::repeat_n(objects, copies).flatten().collect();
    assert!(all.len() > 20_000, "{}", all.len());
    let d = defaults("stix", "malicious-activity");
    let text = json!({"type": "bundle", "id": "bundle--x", "objects": all}).to_string();
    let sliced = read_as(Format::Stix, &text, &d);
    let one_walk = threatintel_parse::feed::parse_stix_objects(&all, &d);
    assert_eq!(sliced.evidence.len(), one_walk.evidence.len());
    assert!(
        sliced.rejects.len() >= 2 * copies,
        "{}",
        sliced.rejects.len()
    );
    assert_eq!(sliced, one_walk);
}
