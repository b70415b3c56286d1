//! `[enrich]`: when lookups run, what they may cost and where they may go.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When reports trigger lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Never look anything up on a report.
    Off,
    /// Answer from the store at once and queue the name.
    Background,
    /// Wait up to `inline_budget_ms` for the lookup, then answer with what the store has.
    Inline,
}

/// One kind of lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Rdap,
    Whois,
    Dns,
    Tls,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Rdap, Kind::Whois, Kind::Dns, Kind::Tls];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Rdap => "rdap",
            Kind::Whois => "whois",
            Kind::Dns => "dns",
            Kind::Tls => "tls",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| format!("{s:?} is not a lookup kind (rdap, whois, dns, tls)"))
    }
}

/// The `[enrich]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichConfig {
    pub mode: Mode,
    /// How long an inline report waits for its lookups.
    pub inline_budget_ms: u64,
    /// The kinds looked up (RDAP is used where the bootstrap knows the TLD, WHOIS elsewhere).
    pub kinds: Vec<Kind>,
    /// Lookups of names running at once.
    pub concurrency: usize,
    /// Requests at once to one RDAP or WHOIS server.
    pub per_upstream: usize,
    /// Names waiting; a name queued when the queue is full is dropped and counted.
    pub queue_capacity: usize,
    /// Connect-and-answer limit of one request.
    pub timeout_ms: u64,
    /// Largest RDAP answer read.
    pub max_rdap_bytes: u64,
    /// Largest WHOIS answer read (256 KiB).
    pub max_whois_bytes: u64,
    /// Redirects an RDAP request follows.
    pub max_redirects: u32,
    pub ttl_rdap_secs: u64,
    pub ttl_whois_secs: u64,
    pub ttl_dns_secs: u64,
    pub ttl_tls_secs: u64,
    /// How long "not registered" / "no such name" answers are remembered.
    pub negative_ttl_secs: u64,
    /// First wait after a failed lookup; doubled per further failure.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// RDAP bootstrap (RFC 9224 `dns.json`): a path or an http(s) URL; empty = the shipped
    /// IANA snapshot.
    pub rdap_bootstrap: String,
    /// The WHOIS server that names each TLD's server (`refer:`), `host` or `host:port`.
    pub whois_root: String,
    /// Port of WHOIS servers named without one.
    pub whois_port: u16,
    /// DNS servers (`ip` or `ip:port`); empty = the system's resolv.conf.
    pub dns_upstreams: Vec<String>,
    /// Port TLS certificates are read from.
    pub tls_port: u16,
    /// Connect to loopback, private, link-local, CGNAT, multicast and reserved addresses too
    /// (tests; never on a service that answers the public).
    pub allow_private_addresses: bool,
    /// Zones never looked up (internal names).
    pub never: Vec<String>,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Background,
            inline_budget_ms: 1500,
            kinds: Kind::ALL.to_vec(),
            concurrency: 32,
            per_upstream: 4,
            queue_capacity: 10_000,
            timeout_ms: 5000,
            max_rdap_bytes: 1 << 20,
            max_whois_bytes: 256 << 10,
            max_redirects: 3,
            ttl_rdap_secs: 7 * 86_400,
            ttl_whois_secs: 7 * 86_400,
            ttl_dns_secs: 3600,
            ttl_tls_secs: 86_400,
            negative_ttl_secs: 3600,
            backoff_base_secs: 30,
            backoff_max_secs: 3600,
            rdap_bootstrap: String::new(),
            whois_root: "whois.iana.org".into(),
            whois_port: 43,
            dns_upstreams: Vec::new(),
            tls_port: 443,
            allow_private_addresses: false,
            never: Vec::new(),
        }
    }
}

impl EnrichConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn ttl(&self, kind: Kind) -> chrono::Duration {
        let secs = match kind {
            Kind::Rdap => self.ttl_rdap_secs,
            Kind::Whois => self.ttl_whois_secs,
            Kind::Dns => self.ttl_dns_secs,
            Kind::Tls => self.ttl_tls_secs,
        };
        secs_to_duration(secs)
    }

    /// Checks what serde cannot: limits that must be positive and names that must parse.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("concurrency", self.concurrency as u64),
            ("per_upstream", self.per_upstream as u64),
            ("queue_capacity", self.queue_capacity as u64),
            ("timeout_ms", self.timeout_ms),
            ("max_rdap_bytes", self.max_rdap_bytes),
            ("max_whois_bytes", self.max_whois_bytes),
        ] {
            if value == 0 {
                return Err(format!("enrich.{key} must be at least 1"));
            }
        }
        for zone in &self.never {
            threatintel_model::DomainName::parse(zone.trim_start_matches("*."))
                .map_err(|e| format!("enrich.never: {zone:?}: {e}"))?;
        }
        for upstream in &self.dns_upstreams {
            crate::dns::upstream_address(upstream)?;
        }
        Ok(())
    }
}

pub(crate) fn secs_to_duration(secs: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
}
