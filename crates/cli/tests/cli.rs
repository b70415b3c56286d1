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

/// The binary takes the shipped example config and opens the store it names. (That the example
/// spells out the defaults is the unit test `the_example_config_spells_out_the_defaults`.)
#[test]
fn the_binary_accepts_the_shipped_example_config() {
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

/// A `threatintel serve` child process, killed when dropped.
struct Node {
    child: std::process::Child,
    url: String,
    /// Kept open: the server may write to its stdout later.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Node {
    fn start(dir: &Path, config: &Path) -> Node {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_threatintel"))
            .args([
                "--config",
                config.to_str().unwrap(),
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .current_dir(dir)
            .env_remove("THREATINTEL_STORE")
            .stdout(std::process::Stdio::piped())
            .stderr(
                std::fs::File::create(
                    dir.join(format!("node-{}.log", uuid::Uuid::new_v4().simple())),
                )
                .unwrap(),
            )
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_owned();
        Node {
            child,
            url,
            _stdout: stdout,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A V1-signed DescribeDomainReport URL, as aliyun-python-sdk-core builds it.
fn signed_url(base: &str, domain: &str, nonce: &str, key: (&str, &str)) -> String {
    use threatintel_api::params::{encode, Params};
    use threatintel_api::signature::{v1_sign, v1_string_to_sign};
    let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let query = format!(
        "AccessKeyId={}&Action=DescribeDomainReport&Domain={}&Format=JSON&SignatureMethod=HMAC-SHA1&SignatureNonce={}&SignatureVersion=1.0&Timestamp={}&Version=2020-05-12",
        key.0,
        encode(domain),
        nonce,
        encode(&timestamp)
    );
    let params = Params::parse(&query, None).unwrap();
    let signature = v1_sign(key.1, &v1_string_to_sign("GET", &params));
    format!("{base}/?{query}&Signature={}", encode(&signature))
}

/// (status, body) of a GET.
fn get_body(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("{url}: {e}"),
    }
}

/// (status, Code or ThreatLevel) of a GET.
fn get(url: &str) -> (u16, String) {
    let (status, body) = get_body(url);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body}"));
    let what = json
        .get("Code")
        .or_else(|| json.get("ThreatLevel"))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned();
    (status, what)
}

/// Two nodes over one PostgreSQL store and one Redis: shared nonces, shared limits, shared data.
#[test]
fn two_nodes_share_one_store_nonces_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("multinode_{}", uuid::Uuid::new_v4().simple());
    let config = dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"postgres://postgres@127.0.0.1/test\"\nschema = \"{schema}\"\nload_demo_when_empty = false\n\n\
             [enrich]\nmode = \"off\"\n\n\
             [server]\nredis_url = \"redis://127.0.0.1:6379\"\n\n\
             [[server.access_keys]]\nid = \"node-test\"\nsecret = \"s3cret\"\nrate_per_sec = 5\n"
        ),
    )
    .unwrap();
    let migrate = threatintel(
        dir.path(),
        &["--config", config.to_str().unwrap(), "migrate"],
    );
    assert!(
        migrate.status.success(),
        "needs PostgreSQL on 127.0.0.1:5432: {}",
        stderr(&migrate)
    );
    let a = Node::start(dir.path(), &config);
    let b = Node::start(dir.path(), &config);
    let key = ("node-test", "s3cret");

    // An import through the shared store is visible to both nodes.
    let unknown = get(&signed_url(
        &b.url,
        "evil-c2.example",
        &uuid::Uuid::new_v4().to_string(),
        key,
    ));
    assert_eq!(unknown, (200, "-1".into()));
    let import = threatintel(
        dir.path(),
        &["--config", config.to_str().unwrap(), "import", DEMO],
    );
    assert!(import.status.success(), "{}", stderr(&import));
    let known = get(&signed_url(
        &b.url,
        "evil-c2.example",
        &uuid::Uuid::new_v4().to_string(),
        key,
    ));
    assert_eq!(known.0, 200);
    assert_ne!(
        known.1, "-1",
        "node B sees what was imported into the shared store"
    );

    // A nonce used on node A is refused on node B.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let nonce = format!("shared-{}", uuid::Uuid::new_v4().simple());
    let url = signed_url(&a.url, "evil-c2.example", &nonce, key);
    assert_eq!(get(&url).0, 200);
    let replay = url.replacen(&a.url, &b.url, 1);
    assert_eq!(get(&replay), (400, "SignatureNonceUsed".into()));

    // A key limited to 5 requests/s gets at most 5 per second across both nodes together.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let started = std::time::Instant::now();
    let mut admitted = Vec::new();
    let mut i = 0;
    while started.elapsed() < std::time::Duration::from_secs(3) {
        let node = if i % 2 == 0 { &a } else { &b };
        let (status, code) = get(&signed_url(
            &node.url,
            "evil-c2.example",
            &uuid::Uuid::new_v4().to_string(),
            key,
        ));
        match status {
            200 => admitted.push(started.elapsed()),
            400 => assert_eq!(code, "Throttling.User"),
            other => panic!("unexpected {other} {code}"),
        }
        i += 1;
    }
    assert!(
        i > 30,
        "the test must send well over the limit ({i} requests)"
    );
    for (k, t) in admitted.iter().enumerate() {
        let in_second = admitted[k..]
            .iter()
            .take_while(|u| u.saturating_sub(*t) < std::time::Duration::from_millis(950))
            .count();
        assert!(
            in_second <= 5,
            "{in_second} admitted within one second across both nodes"
        );
    }
    assert!(
        admitted.len() >= 10,
        "the limit admits requests ({})",
        admitted.len()
    );
    let _ = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "test",
            "-qc",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        ])
        .output();
}

/// `serve` started in a directory without `demo/` (as after `cargo install`) loads the demo
/// evidence built into the binary: the store holds what importing `demo/evidence.jsonl` gives.
#[test]
fn serve_loads_the_built_in_demo_into_an_empty_store_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("anonymous.toml");
    std::fs::write(&config, "[server]\nanonymous = true\n").unwrap();
    let node = Node::start(dir.path(), &config);
    // The demo is committed before the server listens.
    let served = threatintel(dir.path(), &["db", "stats"]);
    drop(node);
    let imported = tempfile::tempdir().unwrap();
    assert!(threatintel(imported.path(), &["import", DEMO])
        .status
        .success());
    let expected = threatintel(imported.path(), &["db", "stats"]);
    assert!(served.status.success(), "{}", stderr(&served));
    assert!(
        stdout(&served).contains("indicators"),
        "{}",
        stdout(&served)
    );
    assert_eq!(stdout(&served), stdout(&expected));
}

#[test]
fn serve_refreshes_scheduled_feeds() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("blocklist.txt");
    std::fs::write(&list, "scheduled-feed.example\n").unwrap();
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nload_demo_when_empty = false\n\n[enrich]\nmode = \"off\"\n\n[server]\nanonymous = true\n\n\
             [[feeds]]\nname = \"local-list\"\npath = \"{}\"\nreliability = \"A\"\nrefresh = \"1s\"\n",
            list.display()
        ),
    )
    .unwrap();
    let node = Node::start(dir.path(), &config);
    let url = format!(
        "{}/?Action=DescribeDomainReport&Version=2020-05-12&Format=JSON&Domain=scheduled-feed.example",
        node.url
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, level) = get(&url);
        assert_eq!(status, 200);
        if level == "3" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the feed was not imported (ThreatLevel {level})"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The console's sources page shows the scheduled refresh's result.
    let (status, sources) = get_body(&format!("{}/console/sources", node.url));
    assert_eq!(status, 200);
    let row = sources
        .split("data-feed=\"local-list\"")
        .nth(1)
        .unwrap_or_else(|| panic!("{sources}"));
    assert!(row.contains("imported"), "{sources}");
}
