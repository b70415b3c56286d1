//! `GET /api/v1/export/{format}`: the bytes of the export, its validators (ETag, Last-Modified,
//! 304), who may pull it, and the errors of a bad request.

use chrono::{Duration, Timelike, Utc};
use threatintel_api::ServerConfig;
use threatintel_model::*;

use crate::support::*;

fn pull(server: &Server, path_and_query: &str, headers: &[(&str, &str)]) -> Response {
    call("GET", &server.url(path_and_query), headers, b"")
}

fn pull_signed(path_and_query: &str, extra: &[(&str, &str)]) -> Response {
    let auth = bearer();
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    pull(server(), path_and_query, &headers)
}

#[test]
fn each_format_is_served_with_its_content_type() {
    for (format, content_type, expected) in [
        (
            "rpz",
            "text/plain; charset=utf-8",
            format!("{MALICIOUS} CNAME ."),
        ),
        (
            "hosts",
            "text/plain; charset=utf-8",
            format!("0.0.0.0 {MALICIOUS}"),
        ),
        (
            "adguard",
            "text/plain; charset=utf-8",
            format!("|{MALICIOUS}^"),
        ),
        (
            "dnsmasq",
            "text/plain; charset=utf-8",
            format!("address=/{MALICIOUS}/"),
        ),
        (
            "unbound",
            "text/plain; charset=utf-8",
            format!("local-zone: \"{MALICIOUS}.\""),
        ),
        (
            "csv",
            "text/csv; charset=utf-8",
            format!("{MALICIOUS},name,3,"),
        ),
        (
            "stix",
            "application/json",
            format!("[domain-name:value = '{MALICIOUS}']"),
        ),
        (
            "misp",
            "application/json",
            format!("\"value\":\"{MALICIOUS}\""),
        ),
    ] {
        let r = pull_signed(&format!("/api/v1/export/{format}"), &[]);
        assert_eq!(r.status, 200, "{format}: {}", r.text());
        assert_eq!(r.header("content-type"), Some(content_type), "{format}");
        assert!(r.text().contains(&expected), "{format}: {}", r.text());
        assert!(!r.text().contains(ALLOWLISTED), "{format}: {}", r.text());
    }
    let dataset = pull_signed("/api/v1/export/suricata", &[]);
    assert_eq!(dataset.status, 200);
    use base64::Engine;
    let names: Vec<String> = dataset
        .text()
        .lines()
        .map(|l| {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(l).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(names, [MALICIOUS]);
}

#[test]
fn the_selection_parameters_shape_the_export() {
    let at = (Utc::now() - Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let r = pull_signed(
        &format!("/api/v1/export/rpz?at={at}&min_level=3&min_confidence=50&action=drop&threat_type=C%26C%20Server,Phishing&source=feed-b-one,other"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    assert!(
        body.starts_with(&format!("; threatintel export: verdicts as of {at}\n")),
        "{body}"
    );
    assert!(
        body.contains(&format!("{MALICIOUS} CNAME rpz-drop.")),
        "{body}"
    );
    // A selection that leaves the name out: a valid, empty zone.
    let none = pull_signed(
        &format!("/api/v1/export/rpz?at={at}&source=no-such-source"),
        &[],
    );
    assert_eq!(none.status, 200);
    assert!(!none.text().contains(MALICIOUS), "{}", none.text());
    assert!(none.text().contains("IN SOA"), "{}", none.text());
}

#[test]
fn the_at_parameter_takes_every_form_the_cli_takes() {
    let hour_ago = (Utc::now() - Duration::hours(1))
        .with_nanosecond(0)
        .unwrap();
    let rfc3339 = pull_signed(
        &format!(
            "/api/v1/export/rpz?at={}",
            hour_ago.format("%Y-%m-%dT%H:%M:%SZ")
        ),
        &[],
    );
    assert_eq!(rfc3339.status, 200, "{}", rfc3339.text());
    assert!(rfc3339.text().contains(MALICIOUS), "{}", rfc3339.text());
    for at in [
        hour_ago.timestamp().to_string(),
        hour_ago.format("%Y-%m-%d%%20%H:%M:%S").to_string(),
        (hour_ago + Duration::hours(2))
            .format("%Y-%m-%dT%H:%M:%S%%2B02:00")
            .to_string(),
    ] {
        let r = pull_signed(&format!("/api/v1/export/rpz?at={at}"), &[]);
        assert_eq!(r.status, 200, "{at}: {}", r.text());
        assert_eq!(r.text(), rfc3339.text(), "{at}");
        assert_eq!(r.header("etag"), rfc3339.header("etag"), "{at}");
    }
    let date = pull_signed(
        &format!("/api/v1/export/rpz?at={}", hour_ago.format("%Y-%m-%d")),
        &[],
    );
    assert_eq!(date.status, 200);
    assert!(
        date.text().starts_with(&format!(
            "; threatintel export: verdicts as of {}T00:00:00Z\n",
            hour_ago.format("%Y-%m-%d")
        )),
        "{}",
        date.text()
    );
    let bad = pull_signed("/api/v1/export/rpz?at=1714564800.5", &[]);
    let body = assert_error(&bad, 400, "InvalidParameter");
    assert!(body.message.contains("Unix seconds"), "{}", body.message);
}

/// The manifest's one event: its UUID and summary.
fn manifest_event(manifest: &Response) -> (String, serde_json::Value) {
    assert_eq!(manifest.status, 200, "{}", manifest.text());
    assert_eq!(manifest.header("content-type"), Some("application/json"));
    let json = manifest.json();
    let events = json.as_object().expect("the manifest is an object");
    assert_eq!(events.len(), 1, "{json}");
    let (uuid, summary) = events.iter().next().unwrap();
    (uuid.clone(), summary.clone())
}

#[test]
fn misp_pulls_the_feed_by_url_the_manifest_then_the_event_it_names() {
    // MISP appends `/manifest.json`, then `/<uuid>.json`, to the feed's URL.
    let feed = "/api/v1/export/misp";
    let (uuid, summary) = manifest_event(&pull_signed(&format!("{feed}/manifest.json"), &[]));
    let event = pull_signed(&format!("{feed}/{uuid}.json"), &[]);
    assert_eq!(event.status, 200, "{}", event.text());
    assert_eq!(event.header("content-type"), Some("application/json"));
    let json = event.json();
    assert_eq!(json["Event"]["uuid"], uuid.as_str());
    assert_eq!(json["Event"]["timestamp"], summary["timestamp"]);
    assert_eq!(json["Event"]["info"], summary["info"]);
    let values: Vec<&str> = json["Event"]["Attribute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, [MALICIOUS]);
    // The event file is the export of the feed, byte for byte, under the same tag.
    let export = pull_signed(feed, &[]);
    assert_eq!(export.body, event.body);
    assert_eq!(export.header("etag"), event.header("etag"));

    // At a given time, the manifest names that time's event.
    let at = (Utc::now() - Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (then, _) = manifest_event(&pull_signed(&format!("{feed}/manifest.json?at={at}"), &[]));
    assert_ne!(then, uuid);
    let event_then = pull_signed(&format!("{feed}/{then}.json?at={at}"), &[]);
    assert_eq!(event_then.status, 200, "{}", event_then.text());
    assert_eq!(event_then.json()["Event"]["uuid"], then.as_str());
    // An event of another time, or no event at all, is not found.
    for missing in [
        format!("{feed}/{then}.json"),
        format!("{feed}/{uuid}.json?at={at}"),
        format!("{feed}/00000000-0000-4000-8000-000000000000.json"),
        format!("{feed}/{uuid}"),
        format!("{feed}/hashes.csv"),
        "/api/v1/export/rpz/manifest.json".to_owned(),
        "/api/v1/export/suricata/manifest.json".to_owned(),
    ] {
        assert_error(&pull_signed(&missing, &[]), 404, "InvalidAction.NotFound");
    }
}

#[test]
fn a_manifest_read_as_a_step_ends_still_finds_its_event() {
    let step = ServerConfig::default().export_time_step_secs as i64;
    let feed = "/api/v1/export/misp";
    // The event of the step before the current one is still served (MISP reads the manifest,
    // then the event); the one before that is gone. Retried if a step ends during the check.
    for attempt in 0.. {
        let (uuid, summary) = manifest_event(&pull_signed(&format!("{feed}/manifest.json"), &[]));
        let current: i64 = summary["timestamp"].as_str().unwrap().parse().unwrap();
        let event_of = |secs: i64| {
            threatintel_export::misp_event_uuid(chrono::DateTime::from_timestamp(secs, 0).unwrap())
        };
        assert_eq!(event_of(current), uuid);
        let previous = pull_signed(&format!("{feed}/{}.json", event_of(current - step)), &[]);
        let older = pull_signed(
            &format!("{feed}/{}.json", event_of(current - 2 * step)),
            &[],
        );
        let (still, _) = manifest_event(&pull_signed(&format!("{feed}/manifest.json"), &[]));
        if still != uuid && attempt == 0 {
            continue;
        }
        assert_eq!(previous.status, 200, "{}", previous.text());
        assert_eq!(
            previous.json()["Event"]["timestamp"],
            (current - step).to_string().as_str()
        );
        assert_error(&older, 404, "InvalidAction.NotFound");
        break;
    }
}

#[test]
fn the_suricata_rule_that_loads_the_served_dataset_is_served_beside_it() {
    let rule = pull_signed("/api/v1/export/suricata/rules", &[]);
    assert_eq!(rule.status, 200, "{}", rule.text());
    assert_eq!(
        rule.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        rule.text(),
        threatintel_export::suricata_rule("threatintel-domains", threatintel_export::SURICATA_SID)
    );
    assert!(
        rule.text().contains("load threatintel-domains.lst;"),
        "{}",
        rule.text()
    );
    let etag = rule.header("etag").expect("an ETag").to_owned();
    let again = pull_signed("/api/v1/export/suricata/rules", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert_ne!(
        pull_signed("/api/v1/export/suricata", &[]).header("etag"),
        Some(etag.as_str()),
        "the dataset and the rule are two representations"
    );
}

#[test]
fn etag_and_last_modified_answer_304_until_the_store_or_the_request_changes() {
    let server = Server::start(config());
    let auth = bearer();
    let authorised = [("Authorization", auth.as_str())];
    let path = "/api/v1/export/hosts?min_level=2";
    let first = pull(&server, path, &authorised);
    assert_eq!(first.status, 200, "{}", first.text());
    let etag = first.header("etag").expect("an ETag").to_owned();
    let last_modified = first
        .header("last-modified")
        .expect("Last-Modified")
        .to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    chrono::DateTime::parse_from_rfc2822(&last_modified).expect("an HTTP date");

    let again = pull(&server, path, &authorised);
    assert_eq!(
        (again.status, again.header("etag")),
        (200, Some(etag.as_str())),
        "same request, same tag"
    );
    assert_eq!(again.body, first.body, "same bytes within one time step");

    let with =
        |name: &'static str, value: &str| pull(&server, path, &[authorised[0], (name, value)]);
    let not_modified = with("If-None-Match", &etag);
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    assert_eq!(
        with("If-None-Match", &format!("\"other\", W/{etag}")).status,
        304
    );
    assert_eq!(with("If-None-Match", "*").status, 304);
    assert_eq!(with("If-None-Match", "\"other\"").status, 200);
    assert_eq!(with("If-Modified-Since", &last_modified).status, 304);
    assert_eq!(
        with("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT").status,
        200
    );
    // If-None-Match decides when both are present.
    let both = pull(
        &server,
        path,
        &[
            authorised[0],
            ("If-None-Match", "\"other\""),
            ("If-Modified-Since", &last_modified),
        ],
    );
    assert_eq!(both.status, 200);

    // Another selection is another representation.
    let other = pull(&server, "/api/v1/export/hosts?min_level=3", &authorised);
    assert_ne!(other.header("etag"), Some(etag.as_str()));
    // The same selection written differently is the same one.
    let a = pull(&server, "/api/v1/export/hosts?source=b,a", &authorised);
    let b = pull(&server, "/api/v1/export/hosts?source=a,b,a", &authorised);
    assert_eq!(a.header("etag"), b.header("etag"));

    // A commit (here by another handle on the store, as an import would) changes the tag.
    let name = DomainName::parse("new-after-first-pull.net").unwrap();
    let now = Utc::now();
    let record = |source: &str| {
        Evidence::Indicator(IndicatorRecord {
            name: name.clone(),
            zone: false,
            source: source.into(),
            threat_type: "C&C Server".into(),
            label: None,
            risk: RiskLevel::High,
            scenario: None,
            attack_stage: None,
            first_seen: now - Duration::days(2),
            last_seen: now - Duration::days(1),
            confidence: Some(90),
            reference: None,
            via_url: false,
        })
    };
    server.commit(&[record("feed-b-one"), record("feed-b-two")]);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let changed = with("If-None-Match", &etag);
    assert_eq!(changed.status, 200, "a commit makes the old tag stale");
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    assert!(changed.text().contains(name.as_str()), "{}", changed.text());
}

#[test]
fn exports_need_credentials_unless_public_for_the_callers_network() {
    let anonymous = pull(server(), "/api/v1/export/rpz", &[]);
    assert_error(&anonymous, 400, "MissingAccessKeyId");
    let wrong = pull(
        server(),
        "/api/v1/export/rpz",
        &[("Authorization", &format!("Bearer {KEY}:wrong"))],
    );
    assert_error(&wrong, 404, "InvalidAccessKeyId.NotFound");

    let public = |networks: &[&str]| {
        Server::start(ServerConfig {
            public_exports: true,
            public_export_networks: networks.iter().map(|n| n.parse().unwrap()).collect(),
            ..config()
        })
    };
    let loopback = public(&["127.0.0.0/8"]);
    let r = pull(&loopback, "/api/v1/export/rpz", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(MALICIOUS));
    // Credentials, when given, are still checked.
    let wrong = pull(
        &loopback,
        "/api/v1/export/rpz",
        &[("Authorization", &format!("Bearer {KEY}:wrong"))],
    );
    assert_error(&wrong, 404, "InvalidAccessKeyId.NotFound");
    // The switch opens exports only: reports still need a key.
    let report = pull(
        &loopback,
        &format!("/api/v1/domains/{MALICIOUS}/report"),
        &[],
    );
    assert_error(&report, 400, "MissingAccessKeyId");

    let elsewhere = public(&["10.0.0.0/8", "::1/128"]);
    assert_error(
        &pull(&elsewhere, "/api/v1/export/rpz", &[]),
        400,
        "MissingAccessKeyId",
    );
}

#[test]
fn bad_formats_and_parameters_are_pop_errors() {
    for (query, parameter) in [
        ("/api/v1/export/bind", "format"),
        ("/api/v1/export/rpz?min_level=4", "min_level"),
        ("/api/v1/export/rpz?min_level=x", "min_level"),
        ("/api/v1/export/rpz?min_confidence=101", "min_confidence"),
        ("/api/v1/export/rpz?at=yesterday", "at"),
        ("/api/v1/export/rpz?action=-bad-", "action"),
        (
            "/api/v1/export/rpz?pass_allowlisted=yes",
            "pass_allowlisted",
        ),
        ("/api/v1/export/rpz?minlevel=2", "minlevel"),
    ] {
        let r = pull_signed(query, &[]);
        let body = assert_error(&r, 400, "InvalidParameter");
        assert!(
            body.message.contains(parameter),
            "{query}: {}",
            body.message
        );
    }
}
