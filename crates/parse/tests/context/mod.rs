//! Context-record parser tests: WHOIS accuracy against the corpora's own expected outputs,
//! RDAP and certificate goldens, passive DNS and EVE fixtures, property tests.

mod certificate;
mod eve;
mod network;
mod pdns;
mod props;
mod rdap;
mod whois_accuracy;
mod whois_golden;
mod whois_unseen;

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use threatintel_model::Timestamp;

pub use crate::testdata::{corpus_path, full_corpus_present};

/// Our own fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/context"
    ))
    .to_path_buf()
}

/// The fixed observation time of every golden.
pub fn observed_at() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// Files under `dir` (recursively) whose name ends with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
