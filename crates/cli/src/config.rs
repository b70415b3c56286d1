//! The one configuration file (TOML). Every table is optional; unknown keys are errors.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use threatintel_api::ServerConfig;
use threatintel_enrich::EnrichConfig;
use threatintel_ingest::feeds::{FeedConfig, HttpConfig};
use threatintel_model::IpNetwork;
use threatintel_report::{Geolocator, HeuristicsConfig, ReportConfig, VerdictConfig};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub store: StoreConfig,
    pub report: ReportConfig,
    pub verdict: VerdictConfig,
    pub heuristics: HeuristicsConfig,
    /// `[[feeds]]`: feeds `threatintel feeds refresh` (and `serve`) keep up to date.
    pub feeds: Vec<FeedConfig>,
    pub feed_http: HttpConfig,
    pub server: ServerConfig,
    pub events: EventsConfig,
    /// `[enrich]`: live RDAP/WHOIS, DNS and TLS lookups.
    pub enrich: EnrichConfig,
    /// `[ip]`: geolocation and ASN databases of IP reports.
    pub ip: IpConfig,
}

/// The `[ip]` table: the databases IP reports take `Ip`'s location and AS from (none is
/// shipped); each field comes from the first file that gives it, MMDB files first.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpConfig {
    /// MMDB files: MaxMind GeoLite2/GeoIP2 City, Country, ASN, ISP; DB-IP lite; IPinfo lite.
    pub mmdb: Vec<PathBuf>,
    /// iptoasn TSV files (`range_start range_end AS_number country AS_description`).
    pub iptoasn: Vec<PathBuf>,
    /// RouteViews prefix-to-AS files (`prefix length asn`).
    pub pfx2as: Vec<PathBuf>,
}

impl IpConfig {
    /// Reads every configured database.
    pub fn open(&self) -> Result<Geolocator> {
        let mut geo = Geolocator::default();
        for path in &self.mmdb {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read MMDB file {}", path.display()))?;
            geo.add_mmdb(bytes)
                .with_context(|| format!("invalid MMDB file {}", path.display()))?;
        }
        for path in &self.iptoasn {
            geo.add_iptoasn(open(path)?)
                .with_context(|| format!("invalid iptoasn file {}", path.display()))?;
        }
        for path in &self.pfx2as {
            geo.add_pfx2as(open(path)?)
                .with_context(|| format!("invalid pfx2as file {}", path.display()))?;
        }
        Ok(geo)
    }
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(std::io::BufReader::new(file))
}

/// The `[events]` table: how security events are read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// `[[events.industries]]`: victim networks and their industry; the most specific wins.
    pub industries: Vec<IndustryNetwork>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndustryNetwork {
    pub cidr: IpNetwork,
    pub industry: String,
}

impl EventsConfig {
    pub fn map(&self) -> Vec<(IpNetwork, String)> {
        self.industries
            .iter()
            .map(|n| (n.cidr, n.industry.clone()))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The embedded store's file.
    pub path: PathBuf,
    /// A PostgreSQL store instead (`postgres://user@host/db`, or `host=... dbname=...`), shared
    /// by several nodes.
    pub url: Option<String>,
    /// PostgreSQL schema to use (default: the connection's search path).
    pub schema: Option<String>,
    /// `serve` loads the demo evidence (`demo/evidence.jsonl`, built into the binary) into an
    /// empty store on first start.
    pub load_demo_when_empty: bool,
    /// Page cache of the writing connection, in MiB (large imports into a large store go faster
    /// with more).
    pub write_cache_mib: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("threatintel.db"),
            url: None,
            schema: None,
            load_demo_when_empty: true,
            write_cache_mib: threatintel_store::DEFAULT_WRITE_CACHE_MIB,
        }
    }
}

impl Config {
    /// Reads `path`, or the defaults when no file is given.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid config {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1);
            let message = e.message().trim().replace('\n', " ");
            match line {
                Some(line) => anyhow::anyhow!("line {line}: {message}"),
                None => anyhow::anyhow!("{message}"),
            }
        })?;
        config.verdict.validate().map_err(anyhow::Error::msg)?;
        config.heuristics.validate().map_err(anyhow::Error::msg)?;
        config.report.offset().map_err(anyhow::Error::msg)?;
        config.server.validate().map_err(anyhow::Error::msg)?;
        config.enrich.validate().map_err(anyhow::Error::msg)?;
        for (i, feed) in config.feeds.iter().enumerate() {
            feed.validate().map_err(anyhow::Error::msg)?;
            if config.feeds[..i].iter().any(|f| f.name == feed.name) {
                anyhow::bail!("feed {:?} is declared twice", feed.name);
            }
        }
        Ok(config)
    }
}
