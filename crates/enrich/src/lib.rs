//! Live enrichment: RDAP or WHOIS, DNS and TLS looked up on demand, remembered by TTL, and
//! stored as evidence through the normal `StoreWriter` path, so the store grows its own WHOIS,
//! certificate and passive-DNS history from every lookup.
//!
//! IO lives at this edge only: [`rdap`], [`whois`], [`dns`] and [`tls`] talk to servers and
//! hand bytes to the pure parsers of `threatintel-parse`. [`Enricher`] decides what is due
//! (TTLs, negative answers, backoff), queues names (bounded, de-duplicated), limits concurrency
//! overall and per upstream server, writes results and counts them. [`safety`] keeps every
//! connection away from non-public addresses and `never` zones.

pub mod bootstrap;
mod config;
pub mod dns;
mod enricher;
mod metrics;
pub mod rdap;
mod registration;
pub mod safety;
mod sink;
pub mod tls;
pub mod whois;

use std::net::IpAddr;
use std::time::Duration;

pub use config::{EnrichConfig, Kind, Mode};
pub use enricher::{Clock, Enricher, Fetch, Outcome};

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error(
        "refused to connect to {address}: {reason} address (enrich.allow_private_addresses is off)"
    )]
    Refused {
        address: IpAddr,
        reason: &'static str,
    },
    #[error("{server}: no answer within the timeout")]
    Timeout { server: String },
    #[error("{server}: rate limited, retry after {}s", retry_after.as_secs())]
    RateLimited {
        server: String,
        retry_after: Duration,
    },
    #[error("{server}: HTTP status {status}")]
    Status { server: String, status: u16 },
    #[error("{server}: {message}")]
    Io { server: String, message: String },
    #[error("{server}: answer larger than {limit} bytes")]
    TooLarge { server: String, limit: u64 },
    #[error("{server}: unusable answer: {message}")]
    Parse { server: String, message: String },
    #[error("no server known for {name}")]
    NoServer { name: String },
    #[error("RDAP bootstrap: {0}")]
    Bootstrap(String),
    #[error("{0}")]
    Config(String),
    #[error("store: {0}")]
    Store(String),
}
