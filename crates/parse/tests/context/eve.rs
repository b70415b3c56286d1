//! EVE alerts (our own fixture lines; the corpus has no EVE sample) and native JSON-lines
//! events: snapshots of the parsed events, the victim/industry rule and the keyword table.

use std::net::IpAddr;

use threatintel_model::IpNetwork;
use threatintel_parse::context::eve::{
    classify_alert, industry_of, parse_eve_line, parse_event_line,
};

use super::fixtures;

fn industries() -> Vec<(IpNetwork, String)> {
    vec![
        ("10.0.0.0/8".parse().unwrap(), "finance".to_owned()),
        ("10.9.0.0/16".parse().unwrap(), "healthcare".to_owned()),
        ("172.16.0.0/12".parse().unwrap(), "gaming".to_owned()),
    ]
}

#[test]
fn eve_fixture_snapshot() {
    let text = std::fs::read_to_string(fixtures().join("eve_alerts.jsonl")).unwrap();
    let map = industries();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let events = parse_eve_line(line, "suricata-lab", &map).unwrap();
        for e in events {
            out.push(serde_json::json!({
                "line": i + 1,
                "event": e.event,
                "threat_type": e.threat_type,
                "victim": e.victim.map(|v| v.to_string()),
            }));
        }
    }
    insta::assert_json_snapshot!(out);
}

#[test]
fn victim_and_industry() {
    let map = industries();
    let text = std::fs::read_to_string(fixtures().join("eve_alerts.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Outbound DNS callback: the querying client.
    let e = &parse_eve_line(lines[0], "s", &map).unwrap()[0];
    assert_eq!(e.victim, Some("10.1.2.3".parse::<IpAddr>().unwrap()));
    assert_eq!(e.event.industry, "finance");
    assert_eq!(e.event.stage, "command-and-control");
    // A server→client packet: the flow's client.
    let e = &parse_eve_line(lines[1], "s", &map).unwrap()[0];
    assert_eq!(e.victim, Some("172.16.5.9".parse::<IpAddr>().unwrap()));
    assert_eq!(e.event.industry, "gaming");
    assert_eq!(e.event.time.to_rfc3339(), "2024-03-01T09:15:03+00:00");
    // An inbound exploit with the rule's target: the attacked server, longest prefix wins.
    let e = &parse_eve_line(lines[2], "s", &map).unwrap()[0];
    assert_eq!(e.event.industry, "healthcare");
    assert_eq!(e.event.stage, "initial-access");
    // An IP literal host names no domain; a dns event is not an alert.
    assert!(parse_eve_line(lines[3], "s", &map).unwrap().is_empty());
    assert!(parse_eve_line(lines[4], "s", &map).unwrap().is_empty());
    assert_eq!(industry_of(None, &map), "unknown");
    assert_eq!(
        industry_of(Some("8.8.8.8".parse().unwrap()), &map),
        "unknown"
    );
}

#[test]
fn keyword_table() {
    let c = classify_alert("ET SCAN Nmap Scripting Engine", "");
    assert_eq!((c.threat_type, c.stage), ("Scanner", "reconnaissance"));
    let c = classify_alert("GPL something", "Attempted Administrator Privilege Gain");
    assert_eq!((c.threat_type, c.stage), ("Exploit", "initial-access"));
    let c = classify_alert("ET COINMINER Stratum", "");
    assert_eq!((c.threat_type, c.stage), ("Miner Pool", "impact"));
    let c = classify_alert("LOCAL rule", "Not Suspicious Traffic");
    assert_eq!((c.threat_type, c.stage), ("Suspicious", "unknown"));
}

#[test]
fn eve_errors_are_precise() {
    let map = industries();
    assert!(parse_eve_line("{", "s", &map).is_err());
    assert_eq!(
        parse_eve_line("[]", "s", &map).unwrap_err().to_string(),
        "an event must be a JSON object"
    );
    assert_eq!(
        parse_eve_line(r#"{"event_type":"alert","alert":{}}"#, "s", &map)
            .unwrap_err()
            .to_string(),
        "missing field \"timestamp\""
    );
    assert!(parse_eve_line("   ", "s", &map).unwrap().is_empty());
}

#[test]
fn native_events() {
    let text = std::fs::read_to_string(fixtures().join("native_events.jsonl")).unwrap();
    let results: Vec<String> = text
        .lines()
        .map(|l| match parse_event_line(l, "native") {
            Ok(Some(e)) => serde_json::to_string(&e).unwrap(),
            Ok(None) => "(blank)".to_owned(),
            Err(e) => format!("error: {e}"),
        })
        .collect();
    insta::assert_json_snapshot!(results);
}
