//! The console's pages rendered from real reports: a SQLite store holding the demo evidence
//! (and, for escaping, hostile evidence), judged by the report engine at a fixed time. Checks
//! that every page renders for the demo names, an unknown name, an allowlisted name and a
//! wildcard; that text from evidence is escaped; and the pasted-list reader and the CSV.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use threatintel_console::domain::{self, DomainView};
use threatintel_console::pages::{self, LookupRate};
use threatintel_console::search::{self, parse_pasted, sort_rows, Row, MAX_NAMES};
use threatintel_console::Page;
use threatintel_ingest::{import_file, Format, ImportOptions, NoProgress};
use threatintel_model::*;
use threatintel_report::{FieldSet, ReportConfig, ReportEngine, ReportRequest, VerdictConfig};
use threatintel_store::{SqliteStore, Store};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
}

fn page(lang: Lang) -> Page<'static> {
    Page {
        lang,
        csrf: "c5rf",
        user: Some("LTAIanalyst"),
        anonymous: false,
        here: "/console/",
    }
}

/// A store with the demo evidence (imported as `serve` does), plus `extra`.
fn engine(dir: &Path, extra: &[Evidence]) -> ReportEngine {
    let store = SqliteStore::open(&dir.join("console.db")).unwrap();
    let mut options = ImportOptions::new(at());
    options.format = Some(Format::Native);
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/evidence.jsonl");
    import_file(&store, &demo, &options, &mut NoProgress).unwrap();
    let mut writer = store.writer().unwrap();
    for evidence in extra {
        writer.put(evidence).unwrap();
    }
    writer.commit().unwrap();
    ReportEngine::new(
        Arc::new(store),
        VerdictConfig::default(),
        ReportConfig::default(),
    )
    .unwrap()
}

/// The domain page of `query`, as the API renders it.
fn domain_page(engine: &ReportEngine, query: &str, lang: Lang) -> String {
    let report = engine
        .report(&ReportRequest {
            query: DomainQuery::parse(query).unwrap(),
            fields: FieldSet::ALL,
            at: at(),
            with_lists: true,
            heuristics: true,
        })
        .unwrap();
    let reader = engine.store().reader().unwrap();
    let ips: Vec<_> = report.resolutions.iter().map(|r| r.ip).collect();
    let (whois, certificates, malicious) = (
        reader.whois_history(&report.sld_domain).unwrap(),
        reader.certificates(&report.domain).unwrap(),
        reader.ip_intel(&ips).unwrap(),
    );
    let view = DomainView {
        report: &report,
        whois_history: &whois,
        certificates: &certificates,
        malicious_ips: &malicious,
        verdict_config: engine.verdict_config(),
    };
    domain::page(&page(lang), &view).into_string()
}

fn assert_contains(html: &str, expected: &[&str]) {
    for text in expected {
        assert!(html.contains(text), "the page lacks {text:?}:\n{html}");
    }
}

#[test]
fn every_page_renders_for_the_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), &[]);
    let c2 = domain_page(&engine, "evil-c2.example", Lang::En);
    assert_contains(
        &c2,
        &[
            "<h1>evil-c2.example</h1>",
            "level high",
            "abuse.ch-demo",
            "maltrail-demo",
            "mykings",
            "Support by source",
            "<polyline",
            "Sightings per source",
            "native.json",
            "compat.json",
        ],
    );
    let payload = domain_page(&engine, "payload.evil-c2.example", Lang::En);
    assert_contains(&payload, &["vendor-demo", "own"]);
    let allowlisted = domain_page(&engine, "popular.example", Lang::En);
    assert_contains(&allowlisted, &["tranco-demo", "Allowlist"]);
    let unknown = domain_page(&engine, "never-seen.example", Lang::En);
    assert_contains(
        &unknown,
        &[
            "level unknown",
            "There is no evidence about this name.",
            "No WHOIS record.",
        ],
    );
    let wildcard = domain_page(&engine, "*.evil-c2.example", Lang::En);
    assert_contains(
        &wildcard,
        &[
            "<h1>*.evil-c2.example</h1>",
            "payload.evil-c2.example",
            "Names judged",
        ],
    );
    let chinese = domain_page(&engine, "evil-c2.example", Lang::Zh);
    assert_contains(
        &chinese,
        &["高危", "来源支持", "命令与控制", "html lang=\"zh\""],
    );

    let reader = engine.store().reader().unwrap();
    let (stats, sources) = (reader.stats().unwrap(), reader.sources().unwrap());
    let rate = LookupRate {
        by_route: vec![("rpc".into(), 120)],
        seconds_up: 60.0,
    };
    // Imports are stamped with the writer's clock: the chart's window ends today.
    let now = Utc::now();
    let overview = reader
        .overview(pages::TOP_FAMILIES, pages::import_window_start(now))
        .unwrap();
    assert!(!overview.by_threat_type.is_empty() && !overview.top_families.is_empty());
    let dashboard =
        pages::dashboard(&page(Lang::En), &stats, &sources, &overview, &rate, now).into_string();
    let imported_today = format!(
        "<title>{}: {}</title>",
        now.format("%Y-%m-%d"),
        overview
            .imports_by_day
            .iter()
            .map(|d| d.imports)
            .sum::<u64>()
    );
    assert_contains(
        &dashboard,
        &[
            &imported_today,
            "Indicator records by threat type",
            "Command and control",
            "Top families",
            "Imports per day",
            "indicator records",
            "vendor-demo",
            "120.0",
            "Sign out",
            "LTAIanalyst",
        ],
    );
    let listed = pages::sources(&page(Lang::En), &sources, &[], at()).into_string();
    assert_contains(
        &listed,
        &["abuse.ch-demo", "ipfeed-demo", "declares no [[feeds]]"],
    );
    assert_contains(
        &pages::login(&page(Lang::En), Some("nope")).into_string(),
        &["name=\"csrf\" value=\"c5rf\"", "nope"],
    );
}

/// Evidence whose free text carries markup.
fn hostile() -> Vec<Evidence> {
    let name = DomainName::parse("hostile.example").unwrap();
    let script = "<script>alert(1)</script>";
    vec![
        Evidence::Source(Source {
            name: format!("feed{script}"),
            reliability: Reliability::B,
            default_threat_type: None,
        }),
        Evidence::Indicator(IndicatorRecord {
            name: name.clone(),
            zone: false,
            source: format!("feed{script}"),
            threat_type: "Phishing".into(),
            label: Some(format!("\"><img src=x onerror=alert(2)>{script}")),
            risk: RiskLevel::High,
            scenario: None,
            attack_stage: None,
            first_seen: at() - chrono::Duration::days(3),
            last_seen: at() - chrono::Duration::days(1),
            confidence: Some(90),
            reference: None,
            via_url: false,
        }),
        Evidence::Whois(Box::new(WhoisRecord {
            domain: name.clone(),
            registrar: Registrar {
                name: script.into(),
                ..Default::default()
            },
            registrant: Contact {
                organization: script.into(),
                email: "<b>@x".into(),
                ..Default::default()
            },
            admin: Contact::default(),
            tech: Contact::default(),
            whois_server: String::new(),
            dnssec: String::new(),
            nameservers: vec![script.into()],
            status: vec![],
            created: None,
            expires: None,
            updated: None,
            observed_at: at() - chrono::Duration::days(2),
            raw: String::new(),
        })),
    ]
}

#[test]
fn text_from_evidence_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), &hostile());
    let html = domain_page(&engine, "hostile.example", Lang::En);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("<b>@x"), "{html}");
    assert_contains(
        &html,
        &[
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "&quot;&gt;&lt;img src=x",
        ],
    );
    let pasted = "<script>alert(3)</script>\nhostile.example";
    let parsed = parse_pasted(pasted).unwrap();
    let search = search::page(&page(Lang::En), pasted, &[], &parsed.rejected, None).into_string();
    assert!(!search.contains("<script>alert(3)"), "{search}");
}

fn check(pasted: &str, queries: &[&str], rejected: &[&str]) {
    let parsed = parse_pasted(pasted).unwrap();
    let got: Vec<String> = parsed.queries.iter().map(|q| q.to_string()).collect();
    assert_eq!(got, queries, "queries of {pasted:?}");
    let got: Vec<&str> = parsed
        .rejected
        .iter()
        .map(|(entry, _)| entry.as_str())
        .collect();
    assert_eq!(got, rejected, "rejected entries of {pasted:?}");
}

#[test]
fn a_pasted_list_gives_one_query_per_host() {
    check("example.com", &["example.com"], &[]);
    check("Example.COM.\nexample.com", &["example.com"], &[]);
    check(
        "evil[.]example hxxps://login.evil[.]example/path?x=1",
        &["evil.example", "login.evil.example"],
        &[],
    );
    check(
        "a.example,b.example;c.example\r\n\t",
        &["a.example", "b.example", "c.example"],
        &[],
    );
    check("*.evil.example", &["*.evil.example"], &[]);
    check("http://user@host.example:8080/", &["host.example"], &[]);
    check(
        "10.0.0.1 [2001:db8::1] not_a..name",
        &[],
        &["10.0.0.1", "[2001:db8::1]", "not_a..name"],
    );
    check("bücher.example", &["xn--bcher-kva.example"], &[]);
    check("", &[], &[]);
    let many = vec!["x.example"; MAX_NAMES + 1].join("\n");
    assert_eq!(parse_pasted(&many).unwrap_err().0, MAX_NAMES + 1);
}

#[test]
fn csv_rows_are_quoted_and_safe_for_spreadsheets() {
    let row = |query: &str, level, label: &str| Row {
        query: query.into(),
        level,
        confidence: 80,
        threat_types: vec!["C&C Server".into()],
        families: vec![label.into()],
        sources: vec!["a".into(), "b".into()],
    };
    let mut rows = vec![
        row("low.example", ThreatLevel::Low, "x"),
        row(
            "high.example",
            ThreatLevel::High,
            "=HYPERLINK(\"http://x\")",
        ),
    ];
    sort_rows(&mut rows);
    assert_eq!(
        search::csv(&rows),
        "name,threat_level,confidence,threat_types,families,sources\r\n\
         high.example,3,80,C&C Server,\"'=HYPERLINK(\"\"http://x\"\")\",a|b\r\n\
         low.example,1,80,C&C Server,x,a|b\r\n"
    );
}

fn feed_row(last_run: Option<pages::ImportStatus>, job: Option<&str>) -> pages::FeedRow {
    pages::FeedRow {
        name: "urlhaus<b>".into(),
        location: "https://feeds.example/urlhaus.txt".into(),
        enabled: true,
        every: Some("6h".into()),
        last_success: Some(at()),
        last_run,
        last_run_job: job.map(str::to_owned),
    }
}

#[test]
fn the_sources_page_lists_feeds_with_their_last_refresh_and_a_refresh_form_for_writers() {
    let running = pages::ImportStatus {
        file: "urlhaus<b>".into(),
        records: 4096,
        ..Default::default()
    };
    let feeds = [feed_row(Some(running), Some("job1")), feed_row(None, None)];
    let listed = pages::sources(&page(Lang::En), &[], &feeds, at()).into_string();
    assert_contains(
        &listed,
        &[
            "urlhaus&lt;b&gt;",
            "https://feeds.example/urlhaus.txt",
            "6h",
            "2026-11-20",
            "href=\"/console/import/job1\"",
            "running",
            "4096 records",
            "action=\"/console/feeds/urlhaus%3Cb%3E/refresh\"",
            "name=\"csrf\" value=\"c5rf\"",
        ],
    );
    assert!(!listed.contains("urlhaus<b>"), "escaped");
    // A reader (anonymous) sees the feeds, but no refresh form.
    let reader = Page {
        user: None,
        anonymous: true,
        ..page(Lang::En)
    };
    let failed = pages::ImportStatus {
        outcome: Some(pages::Outcome::Failed("feed \"urlhaus\": HTTP 503".into())),
        ..Default::default()
    };
    let read = pages::sources(&reader, &[], &[feed_row(Some(failed), None)], at()).into_string();
    assert_contains(&read, &["failed", "HTTP 503"]);
    assert!(!read.contains("form class=\"refresh\"") && !read.contains("/console/import/"));
}

#[test]
fn an_import_job_shows_progress_then_its_summary_and_rejects() {
    let job_page = Page {
        here: "/console/import/abc",
        ..page(Lang::En)
    };
    let mut status = pages::ImportStatus {
        file: "feed<1>.txt".into(),
        format: Some(Format::DomainList),
        bytes_read: 500,
        bytes_total: 1000,
        records: 12,
        rejected: 1,
        rejects: vec![threatintel_ingest::RejectedRecord {
            line: 3,
            reason: "not a host name: <x>".into(),
        }],
        outcome: None,
    };
    let running = pages::import_job(&job_page, &status).into_string();
    assert_contains(
        &running,
        &[
            "<noscript><meta http-equiv=\"refresh\" content=\"1\"></noscript>",
            "data-poll=\"/console/import/abc.json\"",
            "<progress id=\"bytes\" max=\"1000\" value=\"500\">",
            "feed&lt;1&gt;.txt",
            "data-field=\"records\">12<",
            "not a host name: &lt;x&gt;",
        ],
    );
    assert_eq!(
        status.to_json(),
        r#"{"done":false,"format":"domain_list","records":12,"rejected":1,"bytes_read":500,"bytes_total":1000}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.txt");
    std::fs::write(&file, "bad-one.example\nnot a host!\nbad-two.example\n").unwrap();
    let store = SqliteStore::open(&dir.path().join("job.db")).unwrap();
    let summary = import_file(&store, &file, &ImportOptions::new(at()), &mut NoProgress).unwrap();
    status.outcome = Some(pages::Outcome::Imported(summary));
    let done = pages::import_job(&job_page, &status).into_string();
    assert!(
        !done.contains("http-equiv") && !done.contains("data-poll"),
        "{done}"
    );
    assert_contains(
        &done,
        &["id=\"added\">2<", "id=\"rejected\">1<", "<td>3</td>"],
    );
    assert!(status.to_json().starts_with(r#"{"done":true"#));
    status.outcome = Some(pages::Outcome::Failed("cannot detect the format".into()));
    assert_contains(
        &pages::import_job(&job_page, &status).into_string(),
        &[
            "role=\"alert\"",
            "cannot detect the format",
            "Nothing of this import was kept",
        ],
    );
}
