//! `threatintel export`: the verdicts as a blocklist, an IDS dataset or a threat-intel feed.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use threatintel_export::{
    export, export_to_file, misp_event_uuid, misp_manifest, suricata_rule, write_atomically,
    ExportSummary, Format, FormatOptions, RpzAction, Selection, SURICATA_SID,
};
use threatintel_report::VerdictConfig;
use threatintel_store::Store;

#[derive(Args)]
pub struct ExportArgs {
    /// rpz, hosts, adblock (adguard), dnsmasq, unbound, suricata, csv, stix, misp.
    #[arg(long)]
    format: Format,
    /// Output file (written atomically); standard output when absent. For `misp`, a directory
    /// (manifest.json and the event); for `suricata`, the dataset, with the rule next to it
    /// (same name, `.rules`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Lowest threat level exported: 1 low, 2 medium, 3 high.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=3))]
    min_level: u8,
    /// Lowest verdict confidence exported (0-100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    min_confidence: u8,
    /// Only verdicts carried by these threat types (repeat or comma-separate).
    #[arg(long = "threat-type", value_delimiter = ',')]
    threat_types: Vec<String>,
    /// Only verdicts carried by these sources (repeat or comma-separate).
    #[arg(long = "source", value_delimiter = ',')]
    sources: Vec<String>,
    /// Verdicts as of this time (RFC 3339, `YYYY-MM-DD HH:MM:SS` UTC, a date or Unix seconds);
    /// default now.
    #[arg(long)]
    at: Option<String>,
    /// RPZ action: nxdomain (default), nodata, drop, or a walled-garden host name.
    #[arg(long, default_value = "nxdomain")]
    action: RpzAction,
    /// Export every allowlisted name as an exception (RPZ `rpz-passthru.`), not only those
    /// below a zone rule.
    #[arg(long)]
    pass_allowlisted: bool,
}

pub fn run(store: &dyn Store, config: &VerdictConfig, args: ExportArgs) -> Result<()> {
    let at = match &args.at {
        Some(text) => crate::parse_time(text)?,
        None => Utc::now(),
    };
    let selection = Selection {
        at,
        min_level: Selection::min_level_of(args.min_level).context("--min-level is 1, 2 or 3")?,
        min_confidence: args.min_confidence,
        threat_types: args.threat_types,
        sources: args.sources,
        pass_allowlisted: args.pass_allowlisted,
    };
    let mut options = FormatOptions::new(at);
    options.rpz_action = args.action;
    let summary = match (&args.out, args.format) {
        (None, Format::Misp) => {
            bail!("--format misp writes a feed directory (manifest.json and the event): give --out DIR")
        }
        (None, format) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            let summary = export(store, config, &selection, format, &options, &mut out)?;
            out.flush()
                .context("writing the export to standard output")?;
            summary
        }
        (Some(dir), Format::Misp) => export_misp(store, config, &selection, &options, dir, at)?,
        (Some(path), Format::Suricata) => {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                options.dataset = stem.to_owned();
            }
            let summary =
                export_to_file(store, config, &selection, Format::Suricata, &options, path)?;
            let rule_path = path.with_extension("rules");
            write_atomically(&rule_path, |out| {
                out.write_all(suricata_rule(&options.dataset, SURICATA_SID).as_bytes())
                    .map_err(threatintel_export::ExportError::Output)
            })?;
            eprintln!("rule loading the dataset: {}", rule_path.display());
            summary
        }
        (Some(path), format) => export_to_file(store, config, &selection, format, &options, path)?,
    };
    print_summary(&summary, args.out.as_deref());
    Ok(())
}

/// A MISP feed directory: the event, then `manifest.json` naming it (each atomically).
fn export_misp(
    store: &dyn Store,
    config: &VerdictConfig,
    selection: &Selection,
    options: &FormatOptions,
    dir: &Path,
    at: DateTime<Utc>,
) -> Result<ExportSummary> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the feed directory {}", dir.display()))?;
    let event = dir.join(format!("{}.json", misp_event_uuid(at)));
    let summary = export_to_file(store, config, selection, Format::Misp, options, &event)?;
    write_atomically(&dir.join("manifest.json"), |out| {
        out.write_all(misp_manifest(at).as_bytes())
            .map_err(threatintel_export::ExportError::Output)
    })?;
    Ok(summary)
}

/// The summary on standard error (standard output may be the export itself).
fn print_summary(summary: &ExportSummary, out: Option<&Path>) {
    let s = &summary.selection;
    eprintln!(
        "exported {} ({}): {} names and {} zones listed, {} exceptions, of {} names with records",
        summary.format,
        out.map_or_else(|| "standard output".to_owned(), |p| p.display().to_string()),
        s.names_listed,
        s.zones_listed,
        s.passes,
        s.names_seen
    );
    for (kind, n) in &summary.written.rules {
        eprintln!("  rules written ({kind}): {n}");
    }
    for (reason, n) in &summary.written.left_out {
        eprintln!("  rules left out ({reason}): {n}");
    }
    for (skip, n) in &s.skipped {
        eprintln!("  not listed ({}): {n}", skip.describe());
    }
}
