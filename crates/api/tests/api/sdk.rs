//! The official Alibaba Cloud Python SDKs against the real `threatintel serve`:
//! `scripts/sdk-tests/run.sh` installs them from PyPI into `target/sdk-venv` (once), builds the
//! binary, starts it on 127.0.0.1 and runs `scripts/sdk-tests/test_sdks.py`; once over plain
//! HTTP and once over HTTPS (`--tls`, with a certificate this test issues from its own CA,
//! which the SDKs are told to trust). Without Python 3 or PyPI this test fails: it never passes
//! by skipping.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use crate::tls::TestCa;

/// The two runs share the venv and the build: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run_sdk_tests(args: &[&Path]) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("scripts/sdk-tests/run.sh");
    assert!(script.is_file(), "{} is missing", script.display());
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(&script)
        .args(args)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scripts/sdk-tests/run.sh {args:?} failed ({}) after {:.0?}.\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        started.elapsed()
    );
    // Shown with --nocapture: what ran, and how long it took.
    println!("{stdout}");
    println!("official SDK tests passed in {:.1?}", started.elapsed());
}

#[test]
fn official_python_sdks() {
    run_sdk_tests(&[]);
}

#[test]
fn official_python_sdks_over_https() {
    let ca = TestCa::new("threatintel SDK test CA");
    ca.issue();
    run_sdk_tests(&[Path::new("--tls"), ca.dir.path()]);
}
