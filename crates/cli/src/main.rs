//! The `threatintel` binary: import, reports, exports, the store's upkeep and the server.

#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

mod allocator;
mod config;
mod enrich;
mod export;
mod import;
mod scan;
mod serve;
mod store;

#[cfg(test)]
mod tests {
    #[test]
    fn the_example_config_spells_out_the_defaults() {
        let text = include_str!("../../../threatintel.example.toml");
        assert_eq!(
            crate::config::Config::parse(text).unwrap(),
            crate::config::Config::default()
        );
    }

    #[test]
    fn the_ip_table_opens_its_databases() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("ip2asn-v4.tsv");
        std::fs::write(&tsv, "192.0.2.0\t192.0.2.255\t64496\tUS\tDOC-NET\n").unwrap();
        let text = format!("[ip]\niptoasn = [{:?}]\n", tsv.display().to_string());
        let config = crate::config::Config::parse(&text).unwrap();
        let location = config
            .ip
            .open()
            .unwrap()
            .locate("192.0.2.1".parse().unwrap());
        assert_eq!((&*location.asn, &*location.asn_label), ("64496", "DOC-NET"));
        let missing = crate::config::Config::parse("[ip]\nmmdb = [\"/nonexistent.mmdb\"]").unwrap();
        let error = crate::chain(&missing.ip.open().unwrap_err());
        assert!(error.contains("/nonexistent.mmdb"), "{error}");
        std::fs::write(&tsv, "192.0.2.0\tbad\n").unwrap();
        let error = crate::chain(&config.ip.open().unwrap_err());
        assert!(error.contains("line 1"), "{error}");
        assert!(crate::config::Config::parse("[ip]\ngeoip = []").is_err());
    }

    #[test]
    fn an_error_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(threatintel_ingest::IngestError::Io {
            path: "feed.txt".into(),
            source: io,
        })
        .context("importing 2 files");
        assert_eq!(
            crate::chain(&e),
            "importing 2 files: cannot read feed.txt: no such file"
        );
    }
}

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use threatintel_model::DomainQuery;
use threatintel_report::{CompatReport, Field, FieldSet, Lang, ReportEngine, ReportRequest};

use crate::config::Config;
use crate::enrich::EnrichArgs;
use crate::import::ImportArgs;
use crate::store::Location;

#[derive(Parser)]
#[command(
    name = "threatintel",
    version,
    about = "Self-hosted domain threat intelligence"
)]
struct Cli {
    /// Configuration file (TOML); built-in defaults when absent.
    #[arg(long, global = true, env = "THREATINTEL_CONFIG")]
    config: Option<PathBuf>,
    /// Store: a SQLite file, or a `postgres://` URL (overrides `store.path` / `store.url`).
    #[arg(long, global = true, env = "THREATINTEL_STORE")]
    store: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints the report on a domain (`example.com`, `*.example.com`, Unicode or punycode).
    Report {
        domain: String,
        /// Heavy fields to include; repeat or comma-separate. Default: none.
        #[arg(long = "field", value_delimiter = ',')]
        fields: Vec<String>,
        #[arg(long, value_enum, default_value_t = LangArg::Zh)]
        lang: LangArg,
        /// Report time (RFC 3339, `YYYY-MM-DD HH:MM:SS` UTC, `YYYY-MM-DD` or Unix seconds); default now.
        #[arg(long)]
        at: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// The verdict without the heuristic judge (feeds and allowlists only).
        #[arg(long)]
        no_heuristics: bool,
        /// Look the name up first (RDAP or WHOIS, DNS, TLS; what is past its TTL) and store
        /// what was found.
        #[arg(long)]
        enrich: bool,
    },
    /// Serves the Alibaba Cloud-compatible API and the native API.
    Serve {
        /// Address to listen on (default: `server.listen` of the config, 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Answer unsigned requests too (local use; same as `server.anonymous = true`).
        #[arg(long)]
        anonymous: bool,
    },
    /// Imports feeds, allowlists and context records (files, or directories of them).
    Import(ImportArgs),
    /// Looks names up now (RDAP or WHOIS, DNS, TLS) and stores what was found.
    Enrich(EnrichArgs),
    /// Lists the sources with their record counts, reliability and last import.
    Sources,
    /// Exports the verdicts for DNS firewalls, blockers and IDSs (RPZ, hosts, Adblock, dnsmasq,
    /// Unbound, Suricata) or as threat intelligence (CSV, STIX 2.1, MISP feed).
    Export(export::ExportArgs),
    /// Retro-hunts DNS logs: every queried name judged against the store as of the line's time.
    Scan(scan::ScanArgs),
    /// Feeds declared in the config (`[[feeds]]`).
    Feeds {
        #[command(subcommand)]
        command: FeedsCommand,
    },
    /// Creates the store or brings its schema up to date (SQLite or PostgreSQL).
    Migrate,
    /// Manages the store.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Subcommand)]
enum FeedsCommand {
    /// Lists the declared feeds and their last refresh.
    List,
    /// Fetches and imports the enabled feeds (or the named ones, enabled or not).
    Refresh { names: Vec<String> },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Creates the store (or brings its schema up to date).
    Init,
    /// Prints record counts.
    Stats,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Zh,
    En,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// DescribeDomainReport's compatibility JSON.
    Json,
    /// The typed report with the verdict's explanation.
    Native,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("threatintel: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each once: a message that already ends with its
/// cause's text (`"{path}: {source}"`) does not repeat it.
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain().map(ToString::to_string) {
        if out.is_empty() {
            out = cause;
        } else if !out.ends_with(&cause) {
            out.push_str(": ");
            out.push_str(&cause);
        }
    }
    out
}

fn run(cli: Cli) -> Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    let location = Location::choose(cli.store, &config);
    match cli.command {
        Command::Report {
            domain,
            fields,
            lang,
            at,
            format,
            no_heuristics,
            enrich,
        } => {
            let query = DomainQuery::parse(&domain)
                .with_context(|| format!("invalid domain {domain:?}"))?;
            let fields: FieldSet = fields
                .iter()
                .map(|f| f.parse::<Field>())
                .collect::<Result<_, _>>()?;
            let at = match at {
                Some(text) => parse_time(&text)?,
                None => Utc::now(),
            };
            let store = store::open(&location, &config, !enrich)?.store;
            if enrich {
                enrich_first(&config, &store, &query)?;
            }
            let engine = ReportEngine::new(store, config.verdict, config.report)?
                .with_heuristics(config.heuristics)?;
            let native = format == Format::Native;
            let report = engine.report(&ReportRequest {
                query,
                fields,
                at,
                with_lists: native,
                heuristics: !no_heuristics,
            })?;
            let out = if native {
                serde_json::to_string_pretty(&report)?
            } else {
                let lang = match lang {
                    LangArg::Zh => Lang::Zh,
                    LangArg::En => Lang::En,
                };
                let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
                serde_json::to_string_pretty(&CompatReport::render(
                    &report,
                    lang,
                    engine.offset(),
                    request_id,
                ))?
            };
            println!("{out}");
        }
        Command::Serve { listen, anonymous } => {
            let mut config = config;
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            config.server.anonymous |= anonymous;
            let store = store::open(&location, &config, false)?.store;
            serve::run(config, store)?;
        }
        Command::Import(args) => {
            let store = store::open(&location, &config, false)?.store;
            import::run(&*store, args, &config)?;
        }
        Command::Enrich(args) => {
            let mut config = config;
            config.store.write_cache_mib =
                config.store.write_cache_mib.min(enrich::WRITE_CACHE_MIB);
            let store = store::open(&location, &config, false)?.store;
            enrich::run(store, &config.enrich, args)?;
        }
        Command::Feeds { command } => {
            let store = store::open(&location, &config, false)?.store;
            match command {
                FeedsCommand::List => import::list_feeds(&*store, &config.feeds)?,
                FeedsCommand::Refresh { names } => import::refresh_feeds(&*store, &config, &names)?,
            }
        }
        Command::Export(args) => {
            let store = store::open(&location, &config, true)?.store;
            export::run(&*store, &config.verdict, args)?;
        }
        Command::Scan(args) => {
            let store = store::open(&location, &config, true)?.store;
            scan::run(&*store, &config.verdict, args)?;
        }
        Command::Sources => {
            let store = store::open(&location, &config, true)?.store;
            import::print_sources(&*store)?;
        }
        Command::Db {
            command: DbCommand::Init,
        }
        | Command::Migrate => {
            let opened = store::open(&location, &config, false)?;
            println!(
                "store ready at {}, schema version {}",
                location.describe(),
                opened.schema_version
            );
        }
        Command::Db {
            command: DbCommand::Stats,
        } => {
            let stats = store::open(&location, &config, true)?
                .store
                .reader()?
                .stats()?;
            println!("store              {}", location.describe());
            for (name, n) in [
                ("names", stats.names),
                ("sources", stats.sources),
                ("indicators", stats.indicators),
                ("allowlists", stats.allowlists),
                ("allowlist entries", stats.allowlist_entries),
                ("whois records", stats.whois_records),
                ("certificates", stats.certificates),
                ("resolutions", stats.resolutions),
                ("ip intelligence", stats.ip_intel),
                ("events", stats.events),
            ] {
                println!("{name:<18} {n}");
            }
        }
    }
    Ok(())
}

/// Runs the lookups due for `query` and says on stderr what each did.
fn enrich_first(
    config: &Config,
    store: &std::sync::Arc<dyn threatintel_store::Store>,
    query: &DomainQuery,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let fetched = runtime.block_on(async {
        let enricher = enrich::start(&config.enrich, store.clone())?;
        anyhow::Ok(enricher.enrich_due(query).await)
    })?;
    for fetch in fetched {
        eprintln!(
            "{:<5} {:<12} {} {}",
            fetch.kind.as_str(),
            fetch.outcome.as_str(),
            fetch.server,
            fetch.error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

/// Parses a report time: the forms the HTTP API's `at` accepts too (see
/// [`threatintel_model::parse_time`]).
fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    Ok(threatintel_model::parse_time(text)?)
}
