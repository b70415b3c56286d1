//! The retro-hunt over the real logs of the corpus (fixtures/dns_logs, README there), with
//! indicators chosen from names the logs contain, judged as of each line's time.

use std::path::{Path, PathBuf};

use chrono::{Duration, TimeZone, Utc};
use threatintel_export::scan::{LogFormat, Matcher, ScanOptions, ScanReport, Scanner};
use threatintel_model::*;
use threatintel_store::SqliteStore;

use super::fixture::{config, indicator, name, put};

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dns_logs")
        .join(file)
}

/// The corpus's BIND logs, which have no licence and stay outside the repository.
fn bind_log(file: &str) -> PathBuf {
    crate::testdata::corpus_path(&format!("dns_logs/reference/bind/{file}"))
}

/// An indicator seen in the ten days up to `last`.
fn seen(n: &str, last: Timestamp) -> Evidence {
    let mut record = indicator(n, "feed-a", 0);
    record.first_seen = last - Duration::days(10);
    record.last_seen = last;
    Evidence::Indicator(record)
}

fn zone_listing(n: &str, last: Timestamp) -> Evidence {
    match seen(n, last) {
        Evidence::Indicator(mut r) => {
            r.zone = true;
            Evidence::Indicator(r)
        }
        _ => unreachable!(),
    }
}

fn store_with(evidence: Vec<Evidence>) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
    let mut all = vec![
        Evidence::Source(Source {
            name: "feed-a".into(),
            reliability: Reliability::B,
            default_threat_type: None,
        }),
        Evidence::Allowlist(Allowlist {
            name: "warninglist".into(),
            kind: AllowlistKind::Curated,
            enabled: true,
        }),
    ];
    all.extend(evidence);
    put(&store, &all);
    (dir, store)
}

fn allowlisted(n: &str) -> Evidence {
    Evidence::AllowlistEntry(AllowlistEntry {
        name: name(n),
        matching: AllowMatch::Hostname,
        list: "warninglist".into(),
        rank: None,
    })
}

fn scan(store: &SqliteStore, logs: &[PathBuf], options: ScanOptions) -> ScanReport {
    let matcher = Matcher::build(store, config()).unwrap();
    let mut scanner = Scanner::new(&matcher, options);
    for log in logs {
        scanner.scan_file(log).unwrap();
    }
    scanner.finish()
}

/// `(name, queries, [(client, queries)])`.
type Hit = (String, u64, Vec<(String, u64)>);

/// Every hit, worst first.
fn hits(report: &ScanReport) -> Vec<Hit> {
    report
        .hits
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                h.count,
                h.clients.iter().map(|(c, n)| (c.clone(), *n)).collect(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(c, n)| (c.to_string(), *n)).collect()
}

#[test]
fn zeek_tsv_and_json_give_the_same_hits() {
    let march_2018 = Utc.with_ymd_and_hms(2018, 3, 24, 0, 0, 0).unwrap();
    let (_dir, store) = store_with(vec![
        seen("detectportal.firefox.com", march_2018),
        zone_listing("wrccdc.cpp.edu", march_2018),
        seen("adservice.google.com", march_2018),
        allowlisted("adservice.google.com"),
    ]);
    let options = ScanOptions::new(Utc::now());
    let tsv = scan(
        &store,
        &[fixture("zeek_wrccdc2018_head2000.log.gz")],
        options.clone(),
    );
    let json = scan(
        &store,
        &[fixture("zeek_wrccdc2018_head2000.json.gz")],
        options,
    );
    assert_eq!(tsv.logs[0].format, LogFormat::Zeek);
    assert_eq!(json.logs[0].format, LogFormat::ZeekJson);
    assert!(tsv.logs[0].gzip && json.logs[0].gzip);
    assert_eq!((tsv.logs[0].queries, tsv.logs[0].malformed), (2000, 0));
    assert_eq!((json.logs[0].queries, json.logs[0].malformed), (2000, 0));
    let expected = vec![
        (
            "arena1.wrccdc.cpp.edu".to_owned(),
            40,
            pairs(&[
                ("10.47.1.100", 4),
                ("10.47.2.155", 4),
                ("10.47.3.10", 2),
                ("10.47.4.10", 4),
                ("10.47.5.155", 2),
                ("10.47.6.10", 10),
                ("10.47.6.154", 4),
                ("10.47.8.155", 10),
            ]),
        ),
        (
            "detectportal.firefox.com".to_owned(),
            38,
            pairs(&[
                ("10.47.1.153", 8),
                ("10.47.2.154", 6),
                ("10.47.5.155", 4),
                ("10.47.6.173", 6),
                ("10.47.8.150", 8),
                ("10.47.8.155", 6),
            ]),
        ),
    ];
    assert_eq!(hits(&tsv), expected);
    assert_eq!(hits(&json), expected);
    let portal = &tsv.hits[1];
    assert_eq!(portal.verdict.level, ThreatLevel::High);
    assert_eq!(portal.verdict.threat_types, ["C&C Server"]);
    assert_eq!(portal.verdict.families, ["mykings"]);
    assert_eq!(
        portal.first.unwrap(),
        Utc.timestamp_opt(1_521_911_724, 729_679_000).unwrap()
    );
    assert_eq!(portal.last, json.hits[1].last);
    // Per client: the machines that asked, worst first then by queries.
    assert_eq!(tsv.clients[0].client, "10.47.8.155");
    assert_eq!(tsv.clients[0].hits, 16);
    assert_eq!(tsv.clients.len(), 12);
}

#[test]
fn dnsmasq_log_with_a_zone_listing() {
    let june_2025 = Utc.with_ymd_and_hms(2025, 6, 18, 0, 0, 0).unwrap();
    let (_dir, store) = store_with(vec![
        seen("ads.mozilla.org", june_2025),
        zone_listing("trouter.skype.com", june_2025),
    ]);
    // dnsmasq's syslog times have no year: the scan's.
    let now = Utc.with_ymd_and_hms(2025, 7, 1, 0, 0, 0).unwrap();
    let report = scan(&store, &[fixture("dnsmasq.log")], ScanOptions::new(now));
    let log = &report.logs[0];
    assert_eq!(
        (log.format, log.lines, log.queries),
        (LogFormat::Dnsmasq, 3088, 891)
    );
    assert_eq!(
        hits(&report),
        [
            (
                "go.trouter.skype.com".to_owned(),
                31,
                pairs(&[("192.168.4.3", 31)])
            ),
            (
                "ads.mozilla.org".to_owned(),
                21,
                pairs(&[("192.168.4.3", 21)])
            ),
            (
                "pub-csm-plce-02-t.trouter.skype.com".to_owned(),
                19,
                pairs(&[("192.168.4.3", 19)])
            ),
        ]
    );
    assert_eq!(
        report.hits[0].first.unwrap().to_rfc3339(),
        "2025-06-19T22:26:21+00:00"
    );
}

#[test]
fn bind_logs_of_both_styles_judged_as_of_each_line() {
    if !crate::testdata::full_corpus_present("bind_logs_of_both_styles_judged_as_of_each_line") {
        return;
    }
    let nov_2015 = Utc.with_ymd_and_hms(2015, 11, 10, 0, 0, 0).unwrap();
    let dec_2024 = Utc.with_ymd_and_hms(2024, 12, 1, 0, 0, 0).unwrap();
    let (_dir, store) = store_with(vec![
        seen("mc.yandex.ru", nov_2015),
        // First seen in 2024: not known when the 2015 log was written.
        seen("google.com", dec_2024),
        seen("github.com", dec_2024),
    ]);
    let logs = [
        bind_log("sunilbinghamton_queries.log"),
        bind_log("sunilbinghamton_queries3.log"),
        bind_log("psantos-it_dnsfw_queries.log"),
    ];
    let report = scan(&store, &logs, ScanOptions::new(Utc::now()));
    assert!(report.logs.iter().all(|l| l.format == LogFormat::Bind));
    assert!(
        report.logs.iter().all(|l| l.malformed == 0),
        "{:?}",
        report.logs
    );
    assert_eq!(
        hits(&report),
        [
            ("mc.yandex.ru".to_owned(), 39, pairs(&[("127.0.0.1", 39)])),
            ("google.com".to_owned(), 27, pairs(&[("192.168.0.51", 27)])),
            ("github.com".to_owned(), 6, pairs(&[("192.168.0.51", 6)])),
        ]
    );
    // Judged at one time instead: the 2015 queries of google.com (and of the names below it,
    // which inherit its verdict) count; mc.yandex.ru's records have decayed by then.
    let mut at_once = ScanOptions::new(Utc::now());
    at_once.at = Some(dec_2024);
    let report = scan(&store, &logs, at_once);
    let names: Vec<(String, u64)> = hits(&report).into_iter().map(|(n, c, _)| (n, c)).collect();
    assert_eq!(
        names,
        [
            ("google.com".to_owned(), 29),
            ("www.google.com".to_owned(), 15),
            ("clients1.google.com".to_owned(), 13),
            ("github.com".to_owned(), 6),
            ("plus.google.com".to_owned(), 4),
            ("apis.google.com".to_owned(), 2),
        ]
    );
}

#[test]
fn malformed_lines_are_counted_with_their_numbers() {
    let (dir, store) = store_with(vec![seen("evil.com", Utc::now())]);
    let log = dir.path().join("eve.json");
    std::fs::write(
        &log,
        concat!(
            r#"{"timestamp":"2024-06-01T10:00:00.000000+0000","event_type":"dns","src_ip":"10.0.0.5","dns":{"type":"query","rrname":"www.example.net"}}"#,
            "\n",
            r#"{"timestamp":"2024-06-01T10:00:01.000000+0000","event_type":"dns","src_ip":"10.0.0.5","dns":{"type":"query","rrname":"EVIL.com."}}"#,
            "\n{\"event_type\":\"dns\", broken\n",
            r#"{"timestamp":"2024-06-01T10:00:02.000000+0000","event_type":"flow","src_ip":"10.0.0.6"}"#,
            "\n",
            r#"{"timestamp":"not a time","event_type":"dns","src_ip":"10.0.0.7","dns":{"type":"query","rrname":"evil.com"}}"#,
            "\n",
            r#"{"timestamp":"2024-06-01T10:00:03.000000+0000","event_type":"dns","src_ip":"10.0.0.8","dns":{"version":3,"queries":[{"rrname":"a.evil.com"}]}}"#,
            "\n",
        ),
    )
    .unwrap();
    let mut options = ScanOptions::new(Utc::now());
    options.at = None;
    let report = scan(&store, &[log], options);
    let summary = &report.logs[0];
    assert_eq!(summary.format, LogFormat::Eve);
    assert_eq!(
        (summary.lines, summary.queries, summary.malformed),
        (6, 4, 2)
    );
    let numbers: Vec<u64> = summary.malformed_lines.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [3, 5]);
    assert!(summary.malformed_lines[1].1.contains("unreadable time"));
    // The record was seen now: a query two years earlier predates it.
    assert!(report.hits.is_empty(), "{:?}", hits(&report));
}

#[test]
fn formats_are_detected_from_the_first_lines() {
    let check = |lines: &[&str], expected: Option<LogFormat>| {
        assert_eq!(
            LogFormat::detect(lines.iter().copied()),
            expected,
            "{lines:?}"
        );
    };
    check(&["#separator \\x09", "#fields\tts"], Some(LogFormat::Zeek));
    check(
        &[r#"{"_path":"dns","query":"a.com"}"#],
        Some(LogFormat::ZeekJson),
    );
    check(&[r#"{"event_type":"dns"}"#], Some(LogFormat::Eve));
    check(
        &["12-Nov-2015 23:34:08.622 client 127.0.0.1#59680 (cnn.com): query: cnn.com IN A + (127.0.0.1)"],
        Some(LogFormat::Bind),
    );
    check(
        &[
            "Jun 19 21:30:43 dnsmasq[830]: started, version 2.90 cachesize 150",
            "Jun 19 22:26:08 dnsmasq[14240]: query[A] a.example.com from 192.168.4.3",
        ],
        Some(LogFormat::Dnsmasq),
    );
    check(&["# a list", "evil.example.com"], Some(LogFormat::Plain));
    check(&["Time,Client_IP,QName,QType"], Some(LogFormat::Csv));
    check(&["\"timestamp\",\"domain\""], Some(LogFormat::Csv));
    check(&["time,client,answer"], None);
    check(&["hello world"], None);
}

#[test]
fn a_csv_log_is_read_by_its_header() {
    let june = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    let (dir, store) = store_with(vec![
        seen("evil.com", june),
        zone_listing("zonebad.net", june),
    ]);
    let log = dir.path().join("queries.csv");
    std::fs::write(
        &log,
        "QType,Client_IP,Time,QName\n\
         A,10.0.0.5,2024-05-31T10:00:00Z,www.example.net\n\
         A,10.0.0.5,2024-05-31 10:00:01,EVIL.com.\n\
         AAAA,\"10.0.0.6\",1717149602,\"x.zonebad.net\"\n\
         A,10.0.0.7,2024-05-31T10:00:03Z\n\
         A,10.0.0.7,2019-01-01T00:00:00Z,evil.com\n\
         A,10.0.0.8,not a time,evil.com\n",
    )
    .unwrap();
    let mut options = ScanOptions::new(june);
    options.at = None;
    let report = scan(&store, &[log], options);
    let summary = &report.logs[0];
    assert_eq!(summary.format, LogFormat::Csv);
    assert_eq!(
        (summary.lines, summary.queries, summary.malformed),
        (7, 5, 2),
        "{:?}",
        summary.malformed_lines
    );
    let numbers: Vec<u64> = summary.malformed_lines.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [5, 7]);
    // The 2019 query predates the record; the others are judged at their own times.
    assert_eq!(
        hits(&report),
        [
            ("evil.com".to_owned(), 1, pairs(&[("10.0.0.5", 1)])),
            ("x.zonebad.net".to_owned(), 1, pairs(&[("10.0.0.6", 1)])),
        ]
    );

    // Without a header naming the query column, every line is malformed.
    let headless = dir.path().join("headless.csv");
    std::fs::write(&headless, "a,b\nevil.com,10.0.0.5\n").unwrap();
    let mut options = ScanOptions::new(june);
    options.format = Some(LogFormat::Csv);
    let report = scan(&store, &[headless], options);
    assert_eq!(report.logs[0].malformed, 2);
}

#[test]
fn a_log_of_many_chunks_is_summed_as_one_read_line_by_line() {
    // Over 5 MiB: several chunks on several threads. A second `#fields` line in the middle
    // moves the query column; a line without the last line's newline ends the log.
    let now = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    let (dir, store) = store_with(vec![
        seen("evil.com", now),
        zone_listing("bad.zone.net", now),
    ]);
    let log = dir.path().join("dns.log");
    let mut text = String::from("#separator \\x09\n#fields\tts\tid.orig_h\tquery\n");
    let mut expected_malformed = Vec::new();
    let mut evil = 0;
    let mut below_zone = 0;
    let lines = 120_000;
    let moved_at = lines / 2;
    for i in 0..lines {
        if i == moved_at {
            text.push_str("#fields\tquery\tts\tid.orig_h\n");
        }
        // Two header lines, and the second `#fields` line once passed.
        let number = i + 3 + u64::from(i >= moved_at);
        if i % 10_007 == 5 {
            text.push_str("short\tline\n");
            expected_malformed.push(number);
            continue;
        }
        let client = format!("10.0.{}.{}", i % 3, i % 250);
        let query = match i % 97 {
            0 => {
                evil += 1;
                "evil.com".to_owned()
            }
            1 => {
                below_zone += 1;
                format!("h{i}.bad.zone.net")
            }
            _ => format!("www.benign{i}.example.org"),
        };
        if i >= moved_at {
            text.push_str(&format!("{query}\t1717200000.5\t{client}\n"));
        } else {
            text.push_str(&format!("1717200000.5\t{client}\t{query}\n"));
        }
    }
    text.pop();
    assert!(text.len() > 5 << 20, "{}", text.len());
    std::fs::write(&log, &text).unwrap();
    let report = scan(&store, &[log], ScanOptions::new(now));
    let summary = &report.logs[0];
    assert_eq!(summary.format, LogFormat::Zeek);
    let short_lines = expected_malformed.len() as u64;
    assert_eq!(
        summary.lines,
        lines + 3,
        "every line, the last without its newline"
    );
    assert_eq!(summary.queries, lines - short_lines);
    assert_eq!(summary.malformed, short_lines);
    let numbers: Vec<u64> = summary.malformed_lines.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, expected_malformed);
    assert_eq!(summary.hits, evil + below_zone);
    let evil_hit = report.hits.iter().find(|h| h.name.as_str() == "evil.com");
    assert_eq!(evil_hit.map(|h| h.count), Some(evil));
    assert_eq!(report.hits.len() as u64, 1 + below_zone);
    let clients: u64 = report.clients.iter().map(|c| c.hits).sum();
    assert_eq!(clients, evil + below_zone);
}
