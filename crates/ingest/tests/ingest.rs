//! Imports as users run them: detection, idempotence, atomicity, and reports over the corpus.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use threatintel_ingest::{detect, import_file, Format, ImportOptions, IngestError, NoProgress};
use threatintel_model::{DomainName, DomainQuery, Reliability};
use threatintel_report::{FieldSet, ReportConfig, ReportEngine, ReportRequest, VerdictConfig};
use threatintel_store::{SqliteStore, Store};

mod hostile;

fn corpus(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(path)
}

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, day, 0, 0, 0).unwrap()
}

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    (dir, store)
}

fn import(
    store: &dyn Store,
    path: &Path,
    options: &ImportOptions,
) -> threatintel_ingest::ImportSummary {
    import_file(store, path, options, &mut NoProgress)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn formats_are_detected_from_content_not_extension() {
    let check = |name: &str, content: &str, expected: Option<Format>| {
        assert_eq!(
            detect(name, content.as_bytes()),
            expected,
            "{name}: {content:?}"
        );
    };
    check(
        "feed.dat",
        "0.0.0.0 evil.example\n0.0.0.0 bad.example\n",
        Some(Format::HostsFile),
    );
    check(
        "x.txt",
        "{\"record\": \"source\", \"name\": \"a\", \"reliability\": \"B\"}\n",
        Some(Format::Native),
    );
    check(
        "list.json",
        "||evil.example^\n||bad.example^\n",
        Some(Format::Adblock),
    );
    check("blob.bin", "\u{0}\u{1}\u{2}", None);
    assert_eq!("domain_list".parse::<Format>(), Ok(Format::DomainList));
    let err = "nope".parse::<Format>().unwrap_err();
    assert!(
        err.to_string()
            .contains("known formats: auto, native, stix"),
        "{err}"
    );
}

#[test]
fn importing_twice_changes_only_times_and_counters() {
    let (dir, store) = store();
    let list = dir.path().join("blocklist.txt");
    std::fs::write(&list, "# my list\nevil.example\nbad.example\nnot a name\n").unwrap();
    let mut options = ImportOptions::new(t(1));
    options.reliability = Some(Reliability::B);
    let first = import(&store, &list, &options);
    assert_eq!(
        (first.read, first.added, first.updated, first.rejected),
        (3, 2, 0, 1)
    );
    assert_eq!(first.rejects[0].line, 4);
    options.observed_at = t(5);
    let second = import(&store, &list, &options);
    assert_eq!((second.added, second.updated, second.rejected), (0, 2, 1));
    let reader = store.reader().unwrap();
    assert_eq!(reader.stats().unwrap().indicators, 2);
    let hits = reader
        .indicators_at(&[DomainName::parse("evil.example").unwrap()])
        .unwrap();
    assert_eq!(
        (
            hits[0].record.first_seen,
            hits[0].record.last_seen,
            hits[0].sightings
        ),
        (t(1), t(5), 2)
    );
    assert_eq!(hits[0].reliability, Reliability::B);
    assert_eq!(hits[0].record.source, "blocklist");
}

#[test]
fn a_file_that_fails_midway_leaves_the_store_as_it_was() {
    let (dir, store) = store();
    let file = dir.path().join("native.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"record\":\"source\",\"name\":\"feed\",\"reliability\":\"B\",\"default_threat_type\":null}\n",
            "{\"record\":\"resolution\",\"name\":\"a.example\",\"ip\":\"192.0.2.1\",\"first_seen\":\"2025-01-01T00:00:00Z\",\"last_seen\":\"2025-01-02T00:00:00Z\",\"count\":1}\n",
            "{\"record\":\"event\",\"name\":\"a.example\",\"time\":\"2025-01-01T00:00:00Z\",\"stage\":\"execution\",\"industry\":\"finance\",\"count\":1,\"source\":\"no-such-source\"}\n",
        ),
    )
    .unwrap();
    let err = import_file(&store, &file, &ImportOptions::new(t(1)), &mut NoProgress).unwrap_err();
    assert!(matches!(err, IngestError::Store { .. }), "{err}");
    assert!(err.to_string().contains("no-such-source"), "{err}");
    let stats = store.reader().unwrap().stats().unwrap();
    assert_eq!((stats.sources, stats.resolutions, stats.names), (0, 0, 0));
}

#[test]
fn unknown_content_is_a_clear_error() {
    let (dir, store) = store();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "\u{0}\u{0}binary").unwrap();
    let err = import_file(&store, &file, &ImportOptions::new(t(1)), &mut NoProgress).unwrap_err();
    assert!(err.to_string().contains("cannot tell the format"), "{err}");
}

/// The corpus's feeds and allowlists, then reports: right types, families, sources and times,
/// and no top site at level 2 or 3.
#[test]
fn corpus_feeds_and_allowlists_give_the_right_reports() {
    let (_dir, store) = store();
    let observed = t(20);
    let feed = |path: &str, source: &str, reliability: Reliability| {
        let mut options = ImportOptions::new(observed);
        options.source = Some(source.to_owned());
        options.reliability = Some(reliability);
        import(&store, &corpus(path), &options);
    };
    feed(
        "abusech_feeds/visible/urlhaus_2025-04-21.csv",
        "urlhaus",
        Reliability::B,
    );
    feed(
        "abusech_feeds/visible/threatfox_iocs_defanged.jsonl",
        "threatfox",
        Reliability::B,
    );
    feed(
        "phishing_feeds/visible/phishing_database_domains_ACTIVE_2018-05.txt",
        "phishing-database",
        Reliability::C,
    );
    let maltrail = corpus("maltrail_trails/visible/malware");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&maltrail)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "txt"))
    {
        let mut options = ImportOptions::new(observed);
        options.format = Some(Format::MaltrailTrails);
        import(&store, file, &options);
    }
    feed(
        "top_sites/tranco_top10k_2025-06.csv",
        "tranco",
        Reliability::A,
    );
    for list in ["google", "microsoft", "amazon-aws", "cloudflare"] {
        let path = corpus(&format!("misp_warninglists/{list}/list.json"));
        if path.exists() {
            import(&store, &path, &ImportOptions::new(observed));
        }
    }

    let store: Arc<dyn Store> = Arc::new(store);
    let engine = ReportEngine::new(
        store.clone(),
        VerdictConfig::default(),
        ReportConfig::default(),
    )
    .unwrap();
    // After every record of the corpus (ThreatFox's run to 2026), so that none is in the future.
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let report = |name: &str| {
        let query = DomainQuery::parse(name).unwrap();
        engine
            .report(&ReportRequest {
                query,
                fields: FieldSet::ALL,
                at,
                with_lists: false,
                heuristics: true,
            })
            .unwrap()
    };

    // A name maltrail attributes to a family: the family, the source and the import time.
    let reader = store.reader().unwrap();
    let trail = reader
        .indicators_below(&DomainName::parse("com").unwrap())
        .unwrap()
        .into_iter()
        .find(|h| {
            h.record.source == "maltrail"
                && h.record.label.as_deref() == Some("agenttesla")
                && !h.record.zone
        })
        .expect("maltrail's agenttesla trails are imported");
    let r = report(trail.record.name.as_str());
    let intel = r
        .intelligences
        .iter()
        .find(|i| i.label.as_deref() == Some("agenttesla"))
        .expect("family intelligence");
    assert_eq!(
        (intel.source.as_str(), intel.first_find, intel.last_find),
        ("maltrail", observed, observed)
    );
    assert!(r
        .threat_types
        .iter()
        .any(|t| t.threat_type == trail.record.threat_type));

    // ThreatFox carries its own times and families.
    let threatfox = reader
        .indicators_below(&DomainName::parse("com").unwrap())
        .unwrap()
        .into_iter()
        .find(|h| h.record.source == "threatfox" && h.record.label.is_some())
        .expect("ThreatFox names");
    let r = report(threatfox.record.name.as_str());
    let intel = r
        .intelligences
        .iter()
        .find(|i| i.source == "threatfox" && i.label == threatfox.record.label)
        .expect("threatfox intelligence with its family");
    assert_eq!(intel.first_find, threatfox.record.first_seen);
    assert!(r
        .threat_types
        .iter()
        .any(|t| t.threat_type == threatfox.record.threat_type));

    // No name of the top-site list is malicious, whatever the feeds say.
    let tranco = std::fs::read_to_string(corpus("top_sites/tranco_top10k_2025-06.csv")).unwrap();
    let mut checked = 0;
    let mut listed_in_feeds = 0;
    for name in tranco
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next_back())
    {
        let Ok(query) = DomainQuery::parse(name) else {
            continue;
        };
        let r = engine
            .report(&ReportRequest {
                query,
                fields: FieldSet::NONE,
                at: observed,
                with_lists: false,
                heuristics: true,
            })
            .unwrap();
        assert!(
            !r.verdict.level.is_malicious(),
            "{name} is on the top list but got {:?}",
            r.verdict.level
        );
        checked += 1;
        listed_in_feeds += usize::from(!r.verdict.records.is_empty());
    }
    assert!(checked > 9_900, "{checked}");
    assert!(
        listed_in_feeds > 10,
        "some top sites are in the feeds ({listed_in_feeds}), and stay safe"
    );
}

/// A one-thread HTTP server on 127.0.0.1 answering each connection with the next scripted
/// response; returns its URL and the requests it saw.
fn serve(responses: Vec<String>) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/lists/blocklist.txt",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for response in responses {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                request.push_str(&line);
            }
            tx.send(request).unwrap();
            stream.write_all(response.as_bytes()).unwrap();
        }
    });
    (url, rx)
}

fn http(status: &str, headers: &[&str], body: &str) -> String {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

#[test]
fn url_feeds_are_fetched_conditionally_and_retried() {
    use threatintel_ingest::feeds::{refresh, FeedConfig, HttpConfig, Refreshed};
    let (url, requests) = serve(vec![
        http("503 Service Unavailable", &[], "busy"),
        http(
            "200 OK",
            &[
                "ETag: \"v1\"",
                "Last-Modified: Wed, 21 Oct 2025 07:28:00 GMT",
            ],
            "evil.example\nbad.example\n",
        ),
        http("304 Not Modified", &[], ""),
    ]);
    let feed: FeedConfig = toml_feed(&format!(
        "name = \"local\"\nurl = \"{url}\"\nreliability = \"B\"\n"
    ));
    feed.validate().unwrap();
    let http = HttpConfig {
        backoff_millis: 10,
        ..HttpConfig::default()
    };
    let (_dir, store) = store();
    let first = refresh(&store, &feed, &http, &[], t(1), &mut NoProgress).unwrap();
    let Refreshed::Imported(summary) = first else {
        panic!("imported")
    };
    assert_eq!((summary.added, summary.format), (2, Format::DomainList));
    let state = store
        .reader()
        .unwrap()
        .feed_state("local")
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.etag.as_deref(), state.refreshed_at),
        (Some("\"v1\""), t(1))
    );
    let second = refresh(&store, &feed, &http, &[], t(2), &mut NoProgress).unwrap();
    assert!(matches!(second, Refreshed::NotModified));
    let seen: Vec<String> = requests.try_iter().collect();
    assert_eq!(seen.len(), 3);
    assert!(!seen[1].to_lowercase().contains("if-none-match"));
    assert!(seen[2].contains("If-None-Match: \"v1\""), "{}", seen[2]);
    assert!(
        seen[2].contains("If-Modified-Since: Wed, 21 Oct 2025 07:28:00 GMT"),
        "{}",
        seen[2]
    );
}

#[test]
fn a_feed_that_keeps_failing_is_a_clear_error_and_changes_nothing() {
    use threatintel_ingest::feeds::{refresh, HttpConfig};
    let (url, _requests) = serve(vec![
        http("500 Internal Server Error", &[], ""),
        http("404 Not Found", &[], ""),
    ]);
    let feed = toml_feed(&format!("name = \"broken\"\nurl = \"{url}\"\n"));
    let http = HttpConfig {
        backoff_millis: 10,
        attempts: 3,
        ..HttpConfig::default()
    };
    let (_dir, store) = store();
    let err = refresh(&store, &feed, &http, &[], t(1), &mut NoProgress).unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert!(store
        .reader()
        .unwrap()
        .feed_state("broken")
        .unwrap()
        .is_none());
    assert_eq!(store.reader().unwrap().stats().unwrap().names, 0);
}

fn toml_feed(text: &str) -> threatintel_ingest::feeds::FeedConfig {
    toml::from_str(text).unwrap()
}

fn parse_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../parse/tests/fixtures/context")
        .join(name)
}

/// Reports over imported WHOIS, certificates, passive DNS and events, at fixed report times.
#[test]
fn context_records_fill_the_report() {
    use threatintel_report::{CompatReport, Lang};
    let (_dir, store) = store();
    let observed = t(1);
    for path in [
        corpus("whois_likexian/visible/noterror/com_google.com.whois.txt"),
        corpus("rdap_samples/visible/whoisit/google.com.json"),
        corpus("certificates/visible/webpki/cloudflare_dns/ee.der"),
        corpus("passive_dns_cof/samples/draft12_example_query_www.ietf.org.jsonl"),
        corpus("passive_dns_cof/samples/draft12_example_query_ietf.org.jsonl"),
    ] {
        if path.exists() {
            import(&store, &path, &ImportOptions::new(observed));
        }
    }
    let mut events = ImportOptions::new(observed);
    events.source = Some("ids".into());
    events.industries = vec![("10.1.0.0/16".parse().unwrap(), "finance".into())];
    let eve = import(&store, &parse_fixture("eve_alerts.jsonl"), &events);
    assert_eq!(eve.format, Format::SuricataEve);
    import(&store, &parse_fixture("native_events.jsonl"), &events);

    let store: Arc<dyn Store> = Arc::new(store);
    let engine =
        ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default()).unwrap();
    let compat = |name: &str, at: DateTime<Utc>| {
        let query = DomainQuery::parse(name).unwrap();
        let report = engine
            .report(&ReportRequest {
                query,
                fields: FieldSet::ALL,
                at,
                with_lists: true,
                heuristics: true,
            })
            .unwrap();
        let compat = CompatReport::render(&report, Lang::En, engine.offset(), "TEST".into());
        (report, compat)
    };

    let (google, google_compat) = compat(
        "google.com",
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
    );
    assert!(
        google.whois.is_some()
            && google.basic.reg_date.is_some()
            && google.basic.expire_date.is_some()
    );
    insta::assert_snapshot!("whois_google", pretty(&google_compat.whois));

    let (cert, cert_compat) = compat("one.one.one.one", t(1));
    assert!(cert.certificate.is_some(), "the SAN covers the name");
    let (wildcard, _) = compat("dns.cloudflare-dns.com", t(1));
    assert_eq!(
        wildcard.certificate, cert.certificate,
        "the wildcard SAN covers names one label down"
    );
    insta::assert_snapshot!("ssl_cert_cloudflare", pretty(&cert_compat.ssl_cert));

    // Passive DNS: seen until January 2014; counted within 365 days of the report time only.
    let (www, _) = compat(
        "www.ietf.org",
        Utc.with_ymd_and_hms(2014, 2, 1, 0, 0, 0).unwrap(),
    );
    assert!(www.basic.ip_cnt >= 1, "{:?}", www.basic);
    let (later, _) = compat(
        "www.ietf.org",
        Utc.with_ymd_and_hms(2016, 2, 1, 0, 0, 0).unwrap(),
    );
    assert_eq!(later.basic.ip_cnt, 0);
    let (ietf, ietf_compat) = compat(
        "ietf.org",
        Utc.with_ymd_and_hms(2014, 2, 1, 0, 0, 0).unwrap(),
    );
    assert!(ietf.basic.child_domain_cnt >= 1);
    insta::assert_snapshot!("basic_ietf", pretty(&ietf_compat.basic));

    let (c2, c2_compat) = compat(
        "evil-c2.example",
        Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
    );
    let top = &c2.attack_preference_top5;
    assert!(!top.is_empty() && top.len() <= 5);
    assert!(top.windows(2).all(|w| w[0].event_cnt >= w[1].event_cnt));
    assert!(!c2.attack_count_by_stage.is_empty());
    insta::assert_snapshot!(
        "events_evil_c2",
        format!(
            "{}\n{}",
            pretty(&c2_compat.attack_preference_top5),
            pretty(&c2_compat.attack_cnt_by_threat_type)
        )
    );
}

fn pretty(document: &str) -> String {
    serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(document).unwrap())
        .unwrap()
}
