//! Throughput of the plain-list parser on a large generated file (ignored by default):
//! `FEED_THROUGHPUT_FILE=/tmp/feed_5m.txt cargo test --release -p threatintel-parse --test parse throughput -- --ignored --nocapture`

use std::time::Instant;

use threatintel_parse::feed::{LineContext, PlainParser};

use super::defaults;

#[test]
#[ignore = "needs a generated file; run in release mode"]
fn plain_list_throughput() {
    let Ok(path) = std::env::var("FEED_THROUGHPUT_FILE") else {
        eprintln!("FEED_THROUGHPUT_FILE not set");
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let parser = PlainParser::new(defaults("bench", "Malware"));

    // The floor: DomainName::parse alone on every line.
    let start = Instant::now();
    let mut ok = 0u64;
    for line in text.lines() {
        ok += u64::from(threatintel_model::DomainName::parse(line).is_ok());
    }
    eprintln!(
        "DomainName::parse alone: {:.0} lines/s ({ok} ok)",
        text.lines().count() as f64 / start.elapsed().as_secs_f64()
    );

    // The allocation-free core: items only.
    let start = Instant::now();
    let (mut items, mut rejects) = (0u64, 0u64);
    for (i, line) in text.lines().enumerate() {
        match parser.parse_item(line, i as u64 + 1) {
            Ok(Some(_)) => items += 1,
            Ok(None) => {}
            Err(_) => rejects += 1,
        }
    }
    let t_items = start.elapsed();

    // Full records, as an importer streams them.
    let start = Instant::now();
    let mut ctx = LineContext::default();
    let mut records = 0u64;
    for (i, line) in text.lines().enumerate() {
        parser.parse_line_each(line, i as u64 + 1, &mut ctx, &mut |r| {
            if r.is_ok() {
                records += 1;
            }
        });
    }
    let t_records = start.elapsed();
    let lines = text.lines().count() as f64;
    eprintln!(
        "{lines} lines: parse_item {:.0} lines/s ({items} items, {rejects} rejects); parse_line_each {:.0} lines/s ({records} records)",
        lines / t_items.as_secs_f64(),
        lines / t_records.as_secs_f64(),
    );
    assert_eq!(items, records);
}
