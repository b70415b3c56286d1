//! Hostile and unusual inputs, generated in the test: over-long lines, unterminated CSV quotes,
//! gzip input of every kind of format, and gzip bombs.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use threatintel_ingest::{import_file, Format, ImportOptions, IngestError, NoProgress};
use threatintel_parse::limits::{MAX_LINE, MAX_REASON};
use threatintel_store::Store;

use super::{import, store, t};

fn gzip(path: &Path, text: &[u8]) {
    let mut out = GzEncoder::new(Vec::new(), flate2::Compression::default());
    out.write_all(text).unwrap();
    std::fs::write(path, out.finish().unwrap()).unwrap();
}

/// `(read, added, rejected, skipped)` and the rejects' lines of one import.
fn counts(summary: &threatintel_ingest::ImportSummary) -> ((u64, u64, u64, u64), Vec<u64>) {
    (
        (
            summary.read,
            summary.added,
            summary.rejected,
            summary.skipped,
        ),
        summary.rejects.iter().map(|r| r.line).collect(),
    )
}

#[test]
fn an_overlong_line_is_a_reject_with_its_line_and_the_rest_is_read() {
    let (dir, store) = store();
    let file = dir.path().join("list.txt");
    let long = "a".repeat(MAX_LINE + 10);
    std::fs::write(&file, format!("evil.example\n{long}\nbad.example\n{long}")).unwrap();
    let mut options = ImportOptions::new(t(1));
    options.format = Some(Format::DomainList);
    let summary = import(&store, &file, &options);
    assert_eq!(counts(&summary), ((4, 2, 2, 0), vec![2, 4]));
    assert!(
        summary.rejects[0].reason.contains("longer than"),
        "{:?}",
        summary.rejects[0]
    );
}

#[test]
fn a_reject_repeats_at_most_a_bounded_part_of_its_line() {
    let (dir, store) = store();
    let file = dir.path().join("list.txt");
    // One token per line, far too long for a name but short enough to be a line.
    let bad = format!("{}.example", "x".repeat(200_000));
    std::fs::write(&file, format!("evil.example\n{bad}\n")).unwrap();
    let mut options = ImportOptions::new(t(1));
    options.format = Some(Format::DomainList);
    let summary = import(&store, &file, &options);
    assert_eq!(counts(&summary).1, vec![2]);
    assert!(summary.rejects[0].reason.len() <= MAX_REASON);
}

#[test]
fn a_csv_with_an_unterminated_quote_is_a_reject_at_its_line() {
    let check = |csv: &str, expected: ((u64, u64, u64, u64), Vec<u64>)| {
        let (dir, store) = store();
        let file = dir.path().join("urlhaus.csv");
        std::fs::write(&file, csv).unwrap();
        let mut options = ImportOptions::new(t(1));
        options.format = Some(Format::UrlhausCsv);
        let summary = import(&store, &file, &options);
        assert_eq!(counts(&summary), expected, "{csv}");
    };
    let header = "id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n";
    let row = |n: u32, url: &str| {
        format!("\"{n}\",\"2025-06-01 00:00:00\",\"{url}\",\"online\",\"\",\"malware_download\",\"elf\",\"https://urlhaus.abuse.ch/url/{n}/\",\"r\"\n")
    };
    // The quote opened on line 3 never closes: everything after it is that one record.
    check(
        &format!(
            "{header}{}\"2\",\"2025-06-01 00:00:00\",\"http://bad.example/x,\"online\"\n{}",
            row(1, "http://evil.example/a"),
            row(3, "http://worse.example/b")
        ),
        ((2, 1, 1, 0), vec![3]),
    );
    // Closed over two lines: one record, no reject.
    check(
        &format!(
            "{header}\"1\",\"2025-06-01 00:00:00\",\"http://evil.example/a\",\"online\",\"\",\"malware_download\",\"multi\nline\",\"https://urlhaus.abuse.ch/url/1/\",\"r\"\n"
        ),
        ((1, 1, 0, 0), vec![]),
    );
}

#[test]
fn gzip_input_is_read_in_every_format() {
    let stix = r#"{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-000000000001", "created": "2025-06-01T00:00:00Z", "modified": "2025-06-01T00:00:00Z", "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix", "valid_from": "2025-06-01T00:00:00Z"}]}"#;
    let native = "{\"record\":\"source\",\"name\":\"feed\",\"reliability\":\"B\",\"default_threat_type\":null}\n{\"record\":\"resolution\",\"name\":\"a.example\",\"ip\":\"192.0.2.1\",\"first_seen\":\"2025-01-01T00:00:00Z\",\"last_seen\":\"2025-01-02T00:00:00Z\",\"count\":1}\n";
    let eve = "{\"timestamp\":\"2025-06-01T00:00:00.000000+0000\",\"event_type\":\"alert\",\"src_ip\":\"192.0.2.1\",\"dest_ip\":\"198.51.100.1\",\"dns\":{\"query\":[{\"rrname\":\"evil.example\"}]},\"alert\":{\"signature\":\"ET MALWARE Trojan C2 domain\",\"category\":\"A Network Trojan was detected\"}}\n";
    let table: [(&str, &str, Format, u64); 5] = [
        (
            "list.txt.gz",
            "evil.example\nbad.example\n",
            Format::DomainList,
            2,
        ),
        (
            "hosts.gz",
            "0.0.0.0 evil.example\n0.0.0.0 bad.example\n",
            Format::HostsFile,
            2,
        ),
        ("bundle.json.gz", stix, Format::Stix, 1),
        ("records.jsonl.gz", native, Format::Native, 2),
        ("eve.json.gz", eve, Format::SuricataEve, 1),
    ];
    for (name, text, format, added) in table {
        let (dir, store) = store();
        let file = dir.path().join(name);
        gzip(&file, text.as_bytes());
        let summary = import(&store, &file, &ImportOptions::new(t(1)));
        assert_eq!((summary.format, summary.added), (format, added), "{name}");
        assert!(summary.rejects.is_empty(), "{name}: {:?}", summary.rejects);
    }
}

#[test]
fn a_gzip_bomb_is_refused_and_changes_nothing() {
    let (dir, store) = store();
    let file = dir.path().join("list.gz");
    let text: String = (0..100_000)
        .map(|i| format!("host{i}.evil.example\n"))
        .collect();
    gzip(&file, text.as_bytes());
    let mut options = ImportOptions::new(t(1));
    options.expanded_limit = Some(text.len() as u64 / 2);
    let err = import_file(&store, &file, &options, &mut NoProgress).unwrap_err();
    assert!(matches!(err, IngestError::GzipBomb { .. }), "{err}");
    assert!(err.to_string().contains("gzip bomb"), "{err}");
    let stats = store.reader().unwrap().stats().unwrap();
    assert_eq!((stats.sources, stats.indicators), (0, 0));
    // Exactly at the limit is not a bomb.
    options.expanded_limit = Some(text.len() as u64);
    assert_eq!(import(&store, &file, &options).added, 100_000);
}

#[test]
fn the_expanded_limit_grows_with_the_compressed_size() {
    use threatintel_ingest::default_expanded_limit;
    assert_eq!(default_expanded_limit(0), 1 << 30);
    assert_eq!(default_expanded_limit(100 << 20), 200 * (100 << 20));
}
