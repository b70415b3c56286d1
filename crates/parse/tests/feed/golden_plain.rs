//! Golden tests of the line-oriented parser on real lists: Phishing.Database, maltrail.

use std::collections::BTreeMap;

use insta::assert_json_snapshot;
use serde_json::json;
use threatintel_model::Evidence;
use threatintel_parse::feed::{FeedDefaults, Parsed};
use threatintel_parse::Format;

use super::{
    corpus, corpus_files, corpus_path, defaults, full_corpus_present, merge, observed_at, read_as,
    reason_kinds, summary, via_url_count,
};

#[test]
fn phishing_database_domains() {
    let text = corpus("phishing_feeds/visible/phishing_database_domains_ACTIVE_2018-05.txt");
    let p = read_as(
        Format::DomainList,
        &text,
        &defaults("phishing.database", "Phishing"),
    );
    assert_eq!(
        p.evidence.len() + p.rejects.len(),
        text.lines().filter(|l| !l.trim().is_empty()).count()
    );
    // A list of domains: nothing came from a URL.
    assert_eq!(via_url_count(&p), 0);
    assert_json_snapshot!(summary(&p, 5));
}

fn maltrail(rel: &str) -> Parsed {
    let path = corpus_path(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let d = FeedDefaults::maltrail("maltrail", path.to_str().unwrap(), observed_at());
    read_as(Format::MaltrailTrails, &text, &d)
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

/// maltrail's URL-path trails (`mailchi.mp/d975f55661ef/4jzmygx2t9`) name a URL on an often
/// shared host: the host's record is marked `via_url`; the file's bare names are not.
#[test]
fn maltrail_url_path_trails() {
    let p = maltrail("maltrail_trails/visible/malware/trickbot.txt");
    let via_url = |name: &str| -> Vec<bool> {
        p.evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::Indicator(r) if r.name.as_str() == name => Some(r.via_url),
                _ => None,
            })
            .collect()
    };
    assert!(!via_url("mailchi.mp").is_empty());
    assert!(via_url("mailchi.mp").iter().all(|v| *v));
    let text = corpus("maltrail_trails/visible/malware/trickbot.txt");
    let path_trails = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with(['#', '/']) && l.contains('/'))
        .count();
    let (urls, names): (Vec<_>, Vec<_>) = p
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Indicator(r) => Some(r.via_url),
            _ => None,
        })
        .partition(|v| *v);
    assert!(
        !urls.is_empty() && urls.len() <= path_trails,
        "{} of {path_trails}",
        urls.len()
    );
    assert!(!names.is_empty());
}

/// Every trail file of the corpus: totals.
#[test]
fn maltrail_corpus_totals() {
    if !full_corpus_present("maltrail_corpus_totals") {
        return;
    }
    let mut all = Parsed::default();
    let files = corpus_files("maltrail_trails/visible", "txt");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let d = FeedDefaults::maltrail("maltrail", f.to_str().unwrap(), observed_at());
        merge(&mut all, read_as(Format::MaltrailTrails, &text, &d));
    }
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let via_url = via_url_count(&all);
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
        "indicators_via_url": via_url,
        "reject_kinds": reason_kinds(&all.rejects),
        "families_with_aliases": all.aliases.len(),
    }));
}

/// A plain list of file hashes: detected as a list, each hash (any case) one file record; a
/// hash cut short is a reject.
#[test]
fn hash_list() {
    let text = super::fixture("hash_list.txt");
    assert_eq!(
        threatintel_parse::detect("hashes.txt", text.as_bytes()),
        Some(Format::DomainList)
    );
    let p = read_as(Format::DomainList, &text, &defaults("hashes", "Malware"));
    assert_eq!((p.evidence.len(), p.rejects.len()), (4, 1));
    assert_json_snapshot!(summary(&p, 2));
}
