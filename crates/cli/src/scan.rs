//! `threatintel scan`: DNS logs judged against the store (retro-hunting).

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;
use clap::{Args, ValueEnum};
use threatintel_export::scan::{LogFormat, Matcher, ScanOptions, ScanReport, Scanner};
use threatintel_model::ThreatLevel;
use threatintel_report::VerdictConfig;
use threatintel_store::Store;

#[derive(Args)]
pub struct ScanArgs {
    /// DNS logs (Zeek dns.log TSV or JSON, Suricata EVE, BIND query log, dnsmasq/Pi-hole, or
    /// one name a line), plain or gzip.
    #[arg(required = true)]
    logs: Vec<PathBuf>,
    /// auto (detected per file), zeek, zeek-json, eve, bind, dnsmasq, csv or plain.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Lowest threat level reported: 1 low, 2 medium, 3 high.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=3))]
    min_level: u8,
    /// Only lines at or after this time.
    #[arg(long)]
    since: Option<String>,
    /// Judge every line at this time instead of the line's own.
    #[arg(long)]
    at: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
    Csv,
}

pub fn run(store: &dyn Store, config: &VerdictConfig, args: ScanArgs) -> Result<()> {
    let mut options = ScanOptions::new(Utc::now());
    if args.format != "auto" {
        options.format = Some(args.format.parse::<LogFormat>()?);
    }
    options.min_level = match args.min_level {
        1 => ThreatLevel::Low,
        2 => ThreatLevel::Medium,
        _ => ThreatLevel::High,
    };
    options.since = args.since.as_deref().map(crate::parse_time).transpose()?;
    options.at = args.at.as_deref().map(crate::parse_time).transpose()?;
    let matcher = Matcher::build(store, config.clone())?;
    eprintln!("matcher: {} names with records", matcher.len());
    let mut scanner = Scanner::new(&matcher, options);
    for path in &args.logs {
        let log = scanner.scan_file(path)?;
        eprintln!(
            "{}: {}{} ({} lines, {} queries, {} hits, {} malformed)",
            path.display(),
            log.format,
            if log.gzip { ", gzip" } else { "" },
            log.lines,
            log.queries,
            log.hits,
            log.malformed
        );
        for (line, why) in &log.malformed_lines {
            eprintln!("  line {line}: {why}");
        }
    }
    let report = scanner.finish();
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Output::Csv => print_csv(&report),
        Output::Table => print_table(&report),
    }
    Ok(())
}

fn time(t: Option<chrono::DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".into(),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

fn print_table(report: &ScanReport) {
    println!("names queried while listed: {}", report.hits.len());
    println!(
        "{:<40} {:>5} {:>4} {:>7} {:<20} {:<20} {:<24} clients",
        "name", "level", "conf", "queries", "first", "last", "threat types"
    );
    for hit in &report.hits {
        let clients: Vec<String> = hit
            .clients
            .iter()
            .map(|(c, n)| format!("{c} ({n})"))
            .collect();
        println!(
            "{:<40} {:>5} {:>4} {:>7} {:<20} {:<20} {:<24} {}",
            hit.name,
            hit.verdict.level.code(),
            hit.verdict.confidence,
            hit.count,
            time(hit.first),
            time(hit.last),
            hit.verdict.threat_types.join(";"),
            clients.join(", ")
        );
    }
    println!();
    println!(
        "clients that asked for listed names: {}",
        report.clients.len()
    );
    println!("{:<40} {:>5} {:>7} names", "client", "worst", "queries");
    for client in &report.clients {
        let names: Vec<&str> = client.names.iter().map(|n| n.as_str()).collect();
        println!(
            "{:<40} {:>5} {:>7} {}",
            client.client,
            client.worst.code(),
            client.hits,
            names.join(", ")
        );
    }
}

fn print_csv(report: &ScanReport) {
    println!(
        "name,level,confidence,threat_types,families,queries,first,last,client,client_queries"
    );
    for hit in &report.hits {
        for (client, n) in &hit.clients {
            println!(
                "{},{},{},{},{},{},{},{},{client},{n}",
                hit.name,
                hit.verdict.level.code(),
                hit.verdict.confidence,
                hit.verdict.threat_types.join(";"),
                hit.verdict.families.join(";"),
                hit.count,
                time(hit.first),
                time(hit.last),
            );
        }
    }
}
