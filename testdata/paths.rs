//! Where tests find the corpus files they read. Included by the test binaries of parse and
//! ingest (`#[path = "../../../testdata/paths.rs"] mod testdata;`), so that the full corpus
//! beside the repository is named in this one place.
//!
//! `testdata/corpus/` holds copies of the small corpus files tests read, under the corpus's own
//! paths (its README says where each comes from). Tests over whole corpus datasets, or over
//! files too large to copy, read the full corpus at `../shared/corpus` beside the repository,
//! and are skipped, with one line saying so, where it is not there.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The full corpus, beside the repository, or where `THREATINTEL_CORPUS` says (a git worktree
/// elsewhere).
fn full_corpus() -> PathBuf {
    match std::env::var_os("THREATINTEL_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

/// `rel`, a path in the corpus's layout. A file: the repository's copy when it has one, else the
/// full corpus's. A directory: the full corpus's when it is there (the repository may hold only
/// some of the directory's files), else the copy. Only tests that checked
/// [`full_corpus_present`] may need what the repository does not hold.
pub fn corpus_path(rel: &str) -> PathBuf {
    let copy = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/corpus")
        .join(rel);
    let full = full_corpus().join(rel);
    if copy.is_file() || (copy.is_dir() && !full.is_dir()) {
        copy
    } else {
        full
    }
}

/// Whether the full corpus is beside the repository; when it is not, says on one line that
/// `test` is skipped and why. A test over the full corpus starts with
/// `if !full_corpus_present("name") { return; }`.
pub fn full_corpus_present(test: &str) -> bool {
    let present = full_corpus().is_dir();
    if !present {
        // Straight to stderr: the test harness would capture `eprintln!` of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "skipped {test}: it reads the full corpus, and there is no ../shared/corpus beside the repository"
        );
    }
    present
}
