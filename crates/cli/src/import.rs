//! `threatintel import` and `threatintel sources`: files in, a summary and the rejects out.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use threatintel_ingest::feeds::{self, FeedConfig, Refreshed};
use threatintel_ingest::{
    import_file, Format, ImportOptions, ImportSummary, IngestError, Progress, RejectedRecord,
};
use threatintel_model::Reliability;
use threatintel_store::Store;

use crate::config::Config;

#[derive(Args)]
pub struct ImportArgs {
    /// Files, or directories (every file inside; a MISP feed directory as one unit).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// `auto` detects the format from the content.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Source the records are attributed to (default: the file name).
    #[arg(long)]
    source: Option<String>,
    /// Source reliability on the Admiralty scale (A-F; default: as stored, else C).
    #[arg(long)]
    reliability: Option<Reliability>,
    /// Threat type of records that carry none (default: the format's, or Malware).
    #[arg(long)]
    threat_type: Option<String>,
    /// Writes every rejected record here (TSV: file, line, reason).
    #[arg(long)]
    rejects: Option<PathBuf>,
}

/// Rejects printed when no `--rejects` file is given.
const SHOWN_REJECTS: usize = 10;

pub fn run(store: &dyn Store, args: ImportArgs, config: &Config) -> Result<()> {
    let format = match args.format.as_str() {
        "auto" => None,
        name => Some(name.parse::<Format>()?),
    };
    let options = ImportOptions {
        format,
        source: args.source,
        reliability: args.reliability,
        threat_type: args.threat_type,
        observed_at: Utc::now(),
        csv_mapping: None,
        feed_state: None,
        industries: config.events.map(),
        expanded_limit: None,
    };
    let files = expand(&args.paths)?;
    let mut rejects_file = match &args.rejects {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    let mut total = (0u64, 0u64, 0u64, 0u64);
    for (file, named) in &files {
        let started = Instant::now();
        let mut progress = Bar::new();
        progress.rejects = rejects_file.as_mut().map(|out| (file.as_path(), Ok(out)));
        let summary = match import_file(store, file, &options, &mut progress) {
            Err(IngestError::UnknownFormat { .. } | IngestError::NeedsMapping { .. }) if !named => {
                eprintln!(
                    "{}: skipped, not a format threatintel reads",
                    file.display()
                );
                continue;
            }
            other => other?,
        };
        if let Some((_, Err(e))) = progress.rejects.take() {
            return Err(e).context("cannot write the rejects file");
        }
        report(&summary, started.elapsed().as_secs_f64());
        if rejects_file.is_none() {
            for r in summary.rejects.iter().take(SHOWN_REJECTS) {
                eprintln!("  rejected {}:{}: {}", file.display(), r.line, r.reason);
            }
            if summary.rejected > SHOWN_REJECTS as u64 {
                eprintln!(
                    "  ... {} more; --rejects FILE lists them all",
                    summary.rejected - SHOWN_REJECTS as u64
                );
            }
        }
        total.0 += summary.read;
        total.1 += summary.added;
        total.2 += summary.updated;
        total.3 += summary.rejected;
    }
    if let Some(out) = rejects_file.as_mut() {
        out.flush().context("cannot write the rejects file")?;
    }
    if files.len() > 1 {
        println!(
            "total: {} files, {} read, {} added, {} updated, {} rejected",
            files.len(),
            total.0,
            total.1,
            total.2,
            total.3
        );
    }
    Ok(())
}

fn report(s: &ImportSummary, seconds: f64) {
    let rate = if seconds > 0.0 {
        s.read as f64 / seconds
    } else {
        0.0
    };
    println!(
        "{}: {} ({} read, {} added, {} updated, {} rejected, {} skipped; {:.0} records/s)",
        s.path.display(),
        s.format,
        s.read,
        s.added,
        s.updated,
        s.rejected,
        s.skipped,
        rate
    );
}

/// Files to import, each with whether the user named it: each file as given; a directory's
/// files in name order, recursively, except that a MISP feed directory (with `manifest.json`)
/// is one unit. Files found in a directory whose format is unknown are skipped, not errors.
fn expand(paths: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() && !path.join("manifest.json").is_file() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| !is_hidden(p))
                .collect();
            entries.sort();
            out.extend(expand(&entries)?.into_iter().map(|(p, _)| (p, false)));
        } else {
            out.push((path.clone(), true));
        }
    }
    Ok(out)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

type RejectsFile = std::io::BufWriter<std::fs::File>;

/// A progress bar on a terminal (nothing otherwise), and the rejects file as rejects are found.
struct Bar<'a> {
    bar: Option<ProgressBar>,
    started: Instant,
    /// The file being imported and where its rejects go (TSV: file, line, reason), or the
    /// first error writing there.
    rejects: Option<(&'a Path, std::io::Result<&'a mut RejectsFile>)>,
}

impl Bar<'_> {
    fn new() -> Self {
        Self {
            bar: None,
            started: Instant::now(),
            rejects: None,
        }
    }
}

impl Progress for Bar<'_> {
    fn begin(&mut self, path: &Path, format: Format, bytes: u64) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::new(bytes);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{} ({format})", path.display()));
        self.bar = Some(bar);
        self.started = Instant::now();
    }

    fn advance(&mut self, bytes: u64, records: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            let rate = records as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{records} records, {rate:.0}/s"));
        }
    }

    fn rejected(&mut self, r: &RejectedRecord) {
        if let Some((file, Ok(out))) = &mut self.rejects {
            let reason = r.reason.replace(['\t', '\n'], " ");
            if let Err(e) = writeln!(out, "{}\t{}\t{reason}", file.display(), r.line) {
                self.rejects = self.rejects.take().map(|(file, _)| (file, Err(e)));
            }
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

pub fn print_sources(store: &dyn Store) -> Result<()> {
    let sources = store.reader()?.sources()?;
    println!(
        "{:<32} {:<11} {:>12}  last import (UTC)",
        "source", "reliability", "indicators"
    );
    for s in sources {
        let last = s
            .last_import
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<32} {:<11} {:>12}  {last}",
            s.source.name, s.source.reliability, s.indicators
        );
    }
    Ok(())
}

pub fn list_feeds(store: &dyn Store, feeds: &[FeedConfig]) -> Result<()> {
    let reader = store.reader()?;
    println!(
        "{:<28} {:<8} {:<10} last refresh (UTC)   location",
        "feed", "enabled", "refresh"
    );
    for feed in feeds {
        let last = reader
            .feed_state(&feed.name)?
            .map(|s| s.refreshed_at.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "never".into());
        let location = feed
            .url
            .clone()
            .or_else(|| feed.path.as_ref().map(|p| p.display().to_string()))
            .unwrap_or_default();
        let refresh = feed.refresh.as_deref().unwrap_or("-");
        println!(
            "{:<28} {:<8} {:<10} {last:<20} {location}",
            feed.name, feed.enabled, refresh
        );
    }
    Ok(())
}

/// Refreshes the enabled feeds, or the named ones. Every feed is tried; the command fails if any did.
pub fn refresh_feeds(store: &dyn Store, config: &Config, names: &[String]) -> Result<()> {
    for name in names {
        if !config.feeds.iter().any(|f| &f.name == name) {
            anyhow::bail!("no feed {name:?} in the config");
        }
    }
    let chosen: Vec<&FeedConfig> = config
        .feeds
        .iter()
        .filter(|f| {
            if names.is_empty() {
                f.enabled
            } else {
                names.contains(&f.name)
            }
        })
        .collect();
    if chosen.is_empty() {
        println!(
            "no enabled feeds; declare them as [[feeds]] in the config (see feeds.example.toml)"
        );
    }
    let mut failed = 0;
    for feed in chosen {
        let started = Instant::now();
        let industries = config.events.map();
        match feeds::refresh(
            store,
            feed,
            &config.feed_http,
            &industries,
            Utc::now(),
            &mut Bar::new(),
        ) {
            Ok(Refreshed::NotModified) => println!("{}: not modified", feed.name),
            Ok(Refreshed::Imported(summary)) => report(&summary, started.elapsed().as_secs_f64()),
            Err(e) => {
                failed += 1;
                eprintln!(
                    "threatintel: {}",
                    anyhow::Error::from(e)
                        .chain()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(": ")
                );
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} feed(s) failed to refresh");
    }
    Ok(())
}
