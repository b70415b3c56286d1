//! Feed and allowlist parser tests: golden summaries of the real corpus files (insta),
//! line tables, property tests and format detection.

mod allowlist;
mod detect;
mod golden_csv;
mod golden_misp;
mod golden_plain;
mod golden_stix;
mod lines;
mod props;
mod throughput;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use serde::Serialize;
use threatintel_model::{Evidence, Timestamp};
use threatintel_parse::feed::{FeedDefaults, Parsed};
use threatintel_parse::{Context, Format, Reject};

/// `shared/corpus` beside the repository.
pub fn corpus_dir() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ))
    .to_path_buf()
}

pub fn corpus(rel: &str) -> String {
    let path = corpus_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn fixture(rel: &str) -> String {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/feed")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Files under a corpus directory, sorted, recursively.
pub fn corpus_files(rel: &str, ext: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&corpus_dir().join(rel), ext, &mut out);
    out.sort();
    out
}

/// The fixed observation time of every golden test.
pub fn observed_at() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 8, 23, 0, 0, 0).unwrap()
}

pub fn defaults(source: &str, threat_type: &str) -> FeedDefaults {
    FeedDefaults::new(source, threat_type, observed_at())
}

/// `text` read as `format` through [`threatintel_parse::read`] with these defaults, collected.
pub fn read_as(format: Format, text: &str, defaults: &FeedDefaults) -> Parsed {
    read_in(format, text, &Context::new("test", defaults.clone()))
}

/// `text` read as `format` in `context`, collected.
pub fn read_in(format: Format, text: &str, context: &Context) -> Parsed {
    let mut out = Parsed::default();
    threatintel_parse::read(format, &mut text.as_bytes(), context, &mut out)
        .unwrap_or_else(|e| panic!("{format}: {e}"));
    out
}

/// What a golden snapshot holds: counts by kind, the first records and the first rejects.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub counts: BTreeMap<String, usize>,
    pub rejects: usize,
    pub skipped: u64,
    pub sources: Vec<String>,
    /// Indicator records whose host came from a URL (left out when there are no indicators).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicators_via_url: Option<usize>,
    pub first: Vec<Evidence>,
    pub first_rejects: Vec<String>,
}

pub fn summary(p: &Parsed, n: usize) -> Summary {
    Summary {
        counts: p
            .counts()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        rejects: p.rejects.len(),
        skipped: p.skipped,
        sources: p
            .sources
            .iter()
            .map(|s| format!("{} ({})", s.name, s.reliability))
            .collect(),
        indicators_via_url: p
            .evidence
            .iter()
            .any(|e| matches!(e, Evidence::Indicator(_)))
            .then(|| via_url_count(p)),
        first: p.evidence.iter().take(n).cloned().collect(),
        first_rejects: p.rejects.iter().take(n).map(reject_line).collect(),
    }
}

/// Indicator records marked `via_url`.
pub fn via_url_count(p: &Parsed) -> usize {
    p.evidence
        .iter()
        .filter(|e| matches!(e, Evidence::Indicator(r) if r.via_url))
        .count()
}

/// `(via_url, listed)`: indicator records whose host came from a URL, and the others.
pub fn via_url_split(p: &Parsed) -> (usize, usize) {
    let all = p
        .evidence
        .iter()
        .filter(|e| matches!(e, Evidence::Indicator(_)))
        .count();
    let via = via_url_count(p);
    (via, all - via)
}

pub fn reject_line(r: &Reject) -> String {
    format!("{}: {}", r.line, r.reason)
}

/// Adds `b` into `a` (for corpus-wide totals).
pub fn merge(a: &mut Parsed, b: Parsed) {
    for s in b.sources {
        if !a.sources.iter().any(|x| x.name == s.name) {
            a.sources.push(s);
        }
    }
    a.evidence.extend(b.evidence);
    a.rejects.extend(b.rejects);
    a.skipped += b.skipped;
    a.aliases.extend(b.aliases);
}

/// Reject reasons with their quoted values blanked, counted: what kinds of bad records a file
/// holds.
pub fn reason_kinds(rejects: &[Reject]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in rejects {
        let mut s = String::new();
        let mut in_quote = false;
        for c in r.reason.chars() {
            if c == '"' {
                in_quote = !in_quote;
                if in_quote {
                    s.push_str("\"…\"");
                }
            } else if !in_quote {
                s.push(c);
            }
        }
        *out.entry(s).or_insert(0) += 1;
    }
    out
}
