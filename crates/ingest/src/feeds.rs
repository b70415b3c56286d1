//! Feeds declared in the config: where they are (a path or an HTTP(S) URL), how to read them,
//! and their refresh. A refresh downloads with `If-None-Match` / `If-Modified-Since`, retries
//! transient failures with exponential backoff, and imports the body in one transaction that
//! also records the new validators, so a failed import never marks the feed as fresh.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use threatintel_model::{IpNetwork, Reliability, Timestamp};
use threatintel_parse::feed::CsvMapping;
use threatintel_store::{FeedState, Store};

use crate::{import_file, Format, ImportOptions, ImportSummary, IngestError, Progress};

/// One `[[feeds]]` entry of the config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed's name; also the source its records are attributed to.
    pub name: String,
    /// A local file (or MISP feed directory)...
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// ... or an HTTP(S) URL.
    #[serde(default)]
    pub url: Option<String>,
    /// `auto` (default) or a format name of `threatintel import --format`.
    #[serde(default = "auto")]
    pub format: String,
    #[serde(default)]
    pub reliability: Option<Reliability>,
    #[serde(default)]
    pub threat_type: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How often `serve` refreshes the feed (`30m`, `6h`, `1d`); never when absent.
    #[serde(default)]
    pub refresh: Option<String>,
    /// Column mapping for a generic CSV.
    #[serde(default)]
    pub csv: Option<CsvMapping>,
}

fn auto() -> String {
    "auto".into()
}

fn yes() -> bool {
    true
}

/// HTTP behaviour of refreshes (`[feed_http]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub connect_timeout_secs: u64,
    /// Longest pause between two reads of the body.
    pub read_timeout_secs: u64,
    /// Attempts per refresh, the first included.
    pub attempts: u32,
    /// Pause before the first retry; doubled before each further one.
    pub backoff_millis: u64,
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout_secs: 10,
            read_timeout_secs: 60,
            attempts: 3,
            backoff_millis: 1_000,
            user_agent: concat!("threatintel/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// Parses a refresh interval: a number and `s`, `m`, `h` or `d`.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("refresh {text:?}: expected a number and s, m, h or d"))?;
    let seconds = match unit.trim() {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("refresh {text:?}: the unit must be s, m, h or d")),
    };
    if seconds == 0 {
        return Err(format!("refresh {text:?} must be longer than zero"));
    }
    Ok(Duration::from_secs(seconds))
}

impl FeedConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.path, &self.url) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "feed {:?}: give either path or url, not both",
                    self.name
                ))
            }
            (None, None) => return Err(format!("feed {:?}: needs a path or a url", self.name)),
            (None, Some(url)) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(format!(
                    "feed {:?}: url {url:?} must be http:// or https://",
                    self.name
                ))
            }
            _ => {}
        }
        if self.format != "auto" {
            self.format
                .parse::<Format>()
                .map_err(|e| format!("feed {:?}: {e}", self.name))?;
        }
        if let Some(refresh) = &self.refresh {
            parse_interval(refresh).map_err(|e| format!("feed {:?}: {e}", self.name))?;
        }
        Ok(())
    }

    fn options(&self, observed_at: Timestamp) -> ImportOptions {
        ImportOptions {
            format: self.format.parse().ok(),
            source: Some(self.name.clone()),
            reliability: self.reliability,
            threat_type: self.threat_type.clone(),
            observed_at,
            csv_mapping: self.csv.clone(),
            feed_state: None,
            industries: Vec::new(),
            expanded_limit: None,
        }
    }
}

/// What a refresh did.
#[derive(Debug)]
pub enum Refreshed {
    /// The server answered 304: nothing to import.
    NotModified,
    Imported(ImportSummary),
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed {feed:?}: {url}: {reason}")]
    Http {
        feed: String,
        url: String,
        reason: String,
    },
    #[error("feed {feed:?}: cannot save the download: {source}")]
    Download {
        feed: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Import(#[from] IngestError),
    #[error("feed {feed:?}: {source}")]
    Store {
        feed: String,
        #[source]
        source: threatintel_store::StoreError,
    },
}

/// Refreshes one feed: a local path is imported as it is; a URL is fetched (conditionally) and
/// imported. The feed's state is committed with its records.
pub fn refresh(
    store: &dyn Store,
    feed: &FeedConfig,
    http: &HttpConfig,
    industries: &[(IpNetwork, String)],
    now: Timestamp,
    progress: &mut dyn Progress,
) -> Result<Refreshed, FeedError> {
    let mut options = feed.options(now);
    options.industries = industries.to_vec();
    if let Some(path) = &feed.path {
        options.feed_state = Some(FeedState {
            name: feed.name.clone(),
            etag: None,
            last_modified: None,
            refreshed_at: now,
        });
        return Ok(Refreshed::Imported(import_file(
            store, path, &options, progress,
        )?));
    }
    let url = feed.url.as_deref().expect("validated: a path or a url");
    let previous = store
        .reader()
        .and_then(|r| r.feed_state(&feed.name))
        .map_err(|source| FeedError::Store {
            feed: feed.name.clone(),
            source,
        })?;
    let download = tempfile::Builder::new()
        .prefix("threatintel-feed-")
        .tempdir()
        .map_err(|source| FeedError::Download {
            feed: feed.name.clone(),
            source,
        })?;
    let file = download.path().join(file_name(url));
    let Some(Validators {
        etag,
        last_modified,
    }) = fetch(feed, url, previous.as_ref(), http, &file)?
    else {
        return Ok(Refreshed::NotModified);
    };
    options.feed_state = Some(FeedState {
        name: feed.name.clone(),
        etag,
        last_modified,
        refreshed_at: now,
    });
    Ok(Refreshed::Imported(import_file(
        store, &file, &options, progress,
    )?))
}

/// The last path segment of a URL, as a file name that keeps detection's name hints.
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let last = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("feed");
    let clean: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .collect();
    if clean.is_empty() || clean.contains("..") {
        "feed".into()
    } else {
        clean
    }
}

/// The HTTP validators of a download, for the next conditional request.
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Downloads `url` to `file`; `None` on 304. Retries connection failures, 429 and 5xx.
fn fetch(
    feed: &FeedConfig,
    url: &str,
    previous: Option<&FeedState>,
    http: &HttpConfig,
    file: &Path,
) -> Result<Option<Validators>, FeedError> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(http.connect_timeout_secs))
        .timeout_read(Duration::from_secs(http.read_timeout_secs))
        .user_agent(&http.user_agent)
        .build();
    let fail = |reason: String| FeedError::Http {
        feed: feed.name.clone(),
        url: url.to_owned(),
        reason,
    };
    let mut backoff = Duration::from_millis(http.backoff_millis);
    let attempts = http.attempts.max(1);
    for attempt in 1..=attempts {
        let mut request = agent.get(url);
        if let Some(state) = previous {
            if let Some(etag) = &state.etag {
                request = request.set("If-None-Match", etag);
            }
            if let Some(modified) = &state.last_modified {
                request = request.set("If-Modified-Since", modified);
            }
        }
        let retryable = match request.call() {
            Ok(response) if response.status() == 304 => return Ok(None),
            Ok(response) => {
                let etag = response.header("ETag").map(str::to_owned);
                let modified = response.header("Last-Modified").map(str::to_owned);
                let save = || -> std::io::Result<()> {
                    let mut out = BufWriter::new(File::create(file)?);
                    std::io::copy(&mut response.into_reader(), &mut out)?;
                    out.flush()
                };
                match save() {
                    Ok(()) => {
                        return Ok(Some(Validators {
                            etag,
                            last_modified: modified,
                        }))
                    }
                    // A body cut short by a timeout or a reset is worth another try.
                    Err(_) if attempt < attempts => true,
                    Err(source) => {
                        return Err(FeedError::Download {
                            feed: feed.name.clone(),
                            source,
                        })
                    }
                }
            }
            Err(ureq::Error::Status(304, _)) => return Ok(None),
            Err(ureq::Error::Status(code, response)) => {
                let reason = format!("HTTP {code} {}", response.status_text());
                if !(code == 429 || code >= 500) || attempt == attempts {
                    return Err(fail(reason));
                }
                true
            }
            Err(ureq::Error::Transport(t)) => {
                if attempt == attempts {
                    return Err(fail(t.to_string()));
                }
                true
            }
        };
        if retryable {
            std::thread::sleep(backoff);
            backoff = backoff.saturating_mul(2);
        }
    }
    unreachable!("the last attempt returns")
}
