//! The binary as users run it: config parsing, store commands, reports and error messages.

use std::path::Path;
use std::process::{Command, Output};

fn threatintel(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_threatintel"))
        .args(args)
        .current_dir(dir)
        .env_remove("THREATINTEL_CONFIG")
        .env_remove("THREATINTEL_STORE")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const EXAMPLE_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../threatintel.example.toml"
);
const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../demo/evidence.jsonl");

#[test]
fn the_shipped_example_config_parses_and_equals_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let out = threatintel(dir.path(), &["--config", EXAMPLE_CONFIG, "db", "init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("threatintel.db").exists());
}

#[test]
fn config_errors_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    for (text, expected) in [
        ("[store]\npaht = \"x.db\"\n", "unknown field `paht`"),
        (
            "[verdict.reliability_weights]\nA = 2.0\n",
            "must be between 0 and 1",
        ),
        (
            "[report]\ntime_zone = \"Mars/Olympus\"\n",
            "must be a UTC offset",
        ),
        (
            "[verdict.decay_by_threat_type]\nPhishing = \"nope\"\n",
            "unknown decay model",
        ),
    ] {
        std::fs::write(&bad, text).unwrap();
        let out = threatintel(
            dir.path(),
            &["--config", bad.to_str().unwrap(), "db", "init"],
        );
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains(expected), "{text:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[test]
fn reports_from_the_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let load = threatintel(dir.path(), &["import", DEMO]);
    assert!(load.status.success(), "{}", stderr(&load));
    let out = threatintel(
        dir.path(),
        &[
            "report",
            "update-check.evil-c2.example",
            "--field",
            "ThreatTypes,Intelligences",
            "--at",
            "2026-11-20",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["ThreatLevel"], "3");
    assert_ne!(report["ThreatTypes"], "");
    assert_eq!(report["AttackPreferenceTop5"], "");
    let native = threatintel(
        dir.path(),
        &[
            "report",
            "*.evil-c2.example",
            "--format",
            "native",
            "--at",
            "2026-11-20",
        ],
    );
    let native: serde_json::Value = serde_json::from_str(&stdout(&native)).unwrap();
    assert!(native["contributing_names"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    // Loading the same file again changes nothing but counters.
    let again = threatintel(dir.path(), &["import", DEMO]);
    assert!(stdout(&again).contains(" 0 added"), "{}", stdout(&again));
    let stats = threatintel(dir.path(), &["db", "stats"]);
    assert!(stdout(&stats).contains("indicators"));
}

#[test]
fn a_bad_line_is_a_reject_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.jsonl");
    std::fs::write(
        &file,
        "{\"record\":\"source\",\"name\":\"feed\",\"reliability\":\"B\",\"default_threat_type\":null}\n{\"record\":\"nonsense\"}\n",
    )
    .unwrap();
    let out = threatintel(dir.path(), &["import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(":2: unknown variant `nonsense`"),
        "{}",
        stderr(&out)
    );
    let stats = threatintel(dir.path(), &["db", "stats"]);
    assert!(
        stdout(&stats).contains("sources            1"),
        "{}",
        stdout(&stats)
    );
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    assert!(threatintel(dir.path(), &["db", "init"]).status.success());
    for (args, expected) in [
        (&["report", "http://evil.com/x"][..], "evil.com"),
        (&["report", "com"], "public suffix"),
        (&["report", "a..b.com"], "empty label"),
        (
            &["report", "example.com", "--field", "Nope"],
            "valid values are ThreatTypes",
        ),
        (
            &["report", "example.com", "--at", "yesterday"],
            "invalid time",
        ),
        (
            &["report", "example.com", "--store", "missing.db"],
            "no store at",
        ),
    ] {
        let out = threatintel(dir.path(), args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let unknown = threatintel(dir.path(), &["report", "never-seen.com", "--lang", "en"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&unknown)).unwrap();
    assert_eq!(
        (
            report["ThreatLevel"].as_str(),
            report["Confidence"].as_str()
        ),
        (Some("-1"), Some("0"))
    );
}

#[test]
fn the_starter_feeds_parse_and_are_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../feeds.example.toml");
    let out = threatintel(dir.path(), &["--config", feeds, "feeds", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = stdout(&out);
    assert!(
        listing.contains("urlhaus") && listing.contains("threatfox"),
        "{listing}"
    );
    assert!(
        listing.lines().skip(1).all(|l| l.contains(" false ")),
        "{listing}"
    );
    let refresh = threatintel(dir.path(), &["--config", feeds, "feeds", "refresh"]);
    assert!(
        stdout(&refresh).contains("no enabled feeds"),
        "{}",
        stdout(&refresh)
    );
}

#[test]
fn a_killed_import_leaves_the_store_as_it_was() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    assert!(threatintel(dir.path(), &["import", DEMO]).status.success());
    let before = stdout(&threatintel(dir.path(), &["db", "stats"]));
    let big = dir.path().join("big.txt");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    for i in 0..3_000_000 {
        writeln!(out, "host{i}.killed-import.example").unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let mut child = Command::new(env!("CARGO_BIN_EXE_threatintel"))
        .args(["import", big.to_str().unwrap(), "--format", "domain_list"])
        .current_dir(dir.path())
        .env_remove("THREATINTEL_CONFIG")
        .env_remove("THREATINTEL_STORE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Well into the import (tens of thousands of records written, nothing committed) ...
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import must still be running when killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // ... and the store is exactly as before, and still usable.
    assert_eq!(stdout(&threatintel(dir.path(), &["db", "stats"])), before);
    let again = threatintel(dir.path(), &["import", DEMO]);
    assert!(again.status.success(), "{}", stderr(&again));
}
