//! Golden tests of the line-oriented parser on real lists: Phishing.Database, maltrail.

use std::collections::BTreeMap;

use insta::assert_json_snapshot;
use serde_json::json;
use threatintel_parse::feed::{FeedDefaults, Parsed, PlainParser};

use super::{
    corpus, corpus_dir, corpus_files, defaults, merge, observed_at, reason_kinds, summary,
};

#[test]
fn phishing_database_domains() {
    let text = corpus("phishing_feeds/visible/phishing_database_domains_ACTIVE_2018-05.txt");
    let p = PlainParser::new(defaults("phishing.database", "Phishing")).parse_str(&text);
    assert_eq!(
        p.evidence.len() + p.rejects.len(),
        text.lines().filter(|l| !l.trim().is_empty()).count()
    );
    assert_json_snapshot!(summary(&p, 5));
}

fn maltrail(rel: &str) -> Parsed {
    let path = corpus_dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let d = FeedDefaults::maltrail("maltrail", path.to_str().unwrap(), observed_at());
    PlainParser::new(d).parse_str(&text)
}

#[test]
fn maltrail_oceanlotus() {
    let p = maltrail("maltrail_trails/visible/malware/apt_oceanlotus.txt");
    assert_eq!(p.aliases["apt_oceanlotus"][0], "apt32");
    assert_json_snapshot!(json!({"summary": summary(&p, 3), "aliases": p.aliases}));
}

#[test]
fn maltrail_categories() {
    let mut out = BTreeMap::new();
    for rel in [
        "malware/mykings_miner.txt",
        "malware/agenttesla.txt",
        "malicious/ek_rig.txt",
        "malicious/sliver.txt",
        "suspicious/crypto_mining.txt",
        "suspicious/parking_site.txt",
    ] {
        let p = maltrail(&format!("maltrail_trails/visible/{rel}"));
        out.insert(rel, summary(&p, 2));
    }
    assert_json_snapshot!(out);
}

/// Every trail file of the corpus: totals.
#[test]
fn maltrail_corpus_totals() {
    let mut all = Parsed::default();
    let files = corpus_files("maltrail_trails/visible", "txt");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let d = FeedDefaults::maltrail("maltrail", f.to_str().unwrap(), observed_at());
        merge(&mut all, PlainParser::new(d).parse_str(&text));
    }
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    for e in &all.evidence {
        if let threatintel_model::Evidence::Indicator(r) = e {
            *by_type.entry(r.threat_type.clone()).or_insert(0) += 1;
        }
    }
    assert_json_snapshot!(json!({
        "files": files.len(),
        "counts": all.counts(),
        "rejects": all.rejects.len(),
        "indicators_by_threat_type": by_type,
        "reject_kinds": reason_kinds(&all.rejects),
        "families_with_aliases": all.aliases.len(),
    }));
}
