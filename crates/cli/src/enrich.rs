//! `threatintel enrich`: looks names up (RDAP or WHOIS, DNS, TLS) and stores what was found,
//! with a progress bar and a summary; and the enricher `serve` and `report --enrich` use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use threatintel_enrich::bootstrap::{self, Bootstrap};
use threatintel_enrich::{EnrichConfig, Enricher, Kind, Outcome};
use threatintel_model::DomainQuery;
use threatintel_store::Store;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The writer's page cache (MiB) of `threatintel enrich` at most: lookup results are committed
/// a few hundred at a time, so an import-sized cache (`store.write_cache_mib`) would only hold
/// pages already written.
pub const WRITE_CACHE_MIB: u32 = 16;

#[derive(Args)]
pub struct EnrichArgs {
    /// Names to look up (`example.com`; `*.example.com` looks up the zone's name).
    names: Vec<String>,
    /// Also the names in this file, one a line (`#` starts a comment).
    #[arg(long)]
    from: Option<PathBuf>,
    /// Kinds of lookup; comma-separated. Default: `enrich.kinds` of the config.
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<Kind>,
    /// Names looked up at once. Default: `enrich.concurrency` of the config.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Downloads the RDAP bootstrap registry (from `enrich.rdap_bootstrap` when it is a URL,
    /// else IANA's) into this file; point `enrich.rdap_bootstrap` at it.
    #[arg(long, value_name = "FILE")]
    update_bootstrap: Option<PathBuf>,
}

/// Starts an enricher on the current runtime with the configured bootstrap.
pub fn start(config: &EnrichConfig, store: Arc<dyn Store>) -> Result<Enricher> {
    let bootstrap = Bootstrap::load(&config.rdap_bootstrap)?;
    Ok(Enricher::start(config.clone(), bootstrap, store)?)
}

pub fn run(store: Arc<dyn Store>, config: &EnrichConfig, args: EnrichArgs) -> Result<()> {
    if let Some(out) = &args.update_bootstrap {
        let source = match config.rdap_bootstrap.as_str() {
            s if s.starts_with("http://") || s.starts_with("https://") => s,
            _ => bootstrap::IANA_URL,
        };
        let text = bootstrap::read(source)?;
        std::fs::write(out, &text).with_context(|| format!("cannot write {}", out.display()))?;
        let registry = Bootstrap::parse(&text)?;
        println!(
            "RDAP bootstrap from {source}: {} suffixes, published {}, written to {}",
            registry.len(),
            registry.publication,
            out.display()
        );
        if args.names.is_empty() && args.from.is_none() {
            return Ok(());
        }
    }
    let mut names = args.names;
    if let Some(path) = &args.from {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        names.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    if names.is_empty() {
        bail!("no names: give NAME... or --from FILE");
    }
    let queries = names
        .iter()
        .map(|n| DomainQuery::parse(n).with_context(|| format!("invalid domain {n:?}")))
        .collect::<Result<Vec<_>>>()?;
    let kinds = if args.kinds.is_empty() {
        config.kinds.clone()
    } else {
        args.kinds
    };
    let concurrency = args.concurrency.unwrap_or(config.concurrency).max(1);
    let config = EnrichConfig {
        concurrency,
        ..config.clone()
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let summary = runtime.block_on(async move {
        let enricher = start(&config, store)?;
        let bar = ProgressBar::new(queries.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} names, {per_sec}, eta {eta}")
                .expect("a valid template"),
        );
        let started = Instant::now();
        let permits = Arc::new(Semaphore::new(concurrency));
        let mut tasks = JoinSet::new();
        let mut outcomes: BTreeMap<(Kind, Outcome), u64> = BTreeMap::new();
        for query in queries {
            let permit = permits.clone().acquire_owned().await?;
            let (enricher, kinds) = (enricher.clone(), kinds.clone());
            tasks.spawn(async move {
                let fetched = enricher.refresh(&query, &kinds).await;
                drop(permit);
                fetched
            });
            while let Some(done) = tasks.try_join_next() {
                tally(&mut outcomes, done?, &bar);
            }
        }
        while let Some(done) = tasks.join_next().await {
            tally(&mut outcomes, done?, &bar);
        }
        bar.finish_and_clear();
        anyhow::Ok((outcomes, started.elapsed()))
    })?;
    let (outcomes, took) = summary;
    println!(
        "{} names in {:.2}s ({:.0} names/s)",
        names.len(),
        took.as_secs_f64(),
        names.len() as f64 / took.as_secs_f64().max(1e-9)
    );
    for ((kind, outcome), n) in outcomes {
        println!("{:<6} {:<13} {n}", kind.as_str(), outcome.as_str());
    }
    Ok(())
}

fn tally(
    outcomes: &mut BTreeMap<(Kind, Outcome), u64>,
    fetched: Vec<threatintel_enrich::Fetch>,
    bar: &ProgressBar,
) {
    for fetch in fetched {
        *outcomes.entry((fetch.kind, fetch.outcome)).or_default() += 1;
    }
    bar.inc(1);
}
