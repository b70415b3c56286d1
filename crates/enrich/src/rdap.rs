//! RDAP over HTTP (RFC 7480, 9082): `Accept: application/rdap+json`, bounded redirects, 404 =
//! not registered, 429 with `Retry-After`; a thin registry's `related` link is followed to the
//! registrar's RDAP and merged. Blocking (ureq); the enricher runs it on the blocking pool.

use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use threatintel_model::{DomainName, Timestamp, WhoisRecord};
use threatintel_parse::context::rdap::parse_rdap_domain_value;

use crate::registration::Answer;
use crate::{safety, EnrichConfig, EnrichError};

const RDAP_JSON: &str = "application/rdap+json";

/// An RDAP client.
pub struct RdapClient {
    agent: ureq::Agent,
    max_bytes: u64,
}

/// Resolves host names like the system does and drops the addresses the service may not
/// connect to, so redirects and `related` links cannot reach them either.
struct GuardedResolver {
    allow_private: bool,
}

impl ureq::Resolver for GuardedResolver {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        let addrs = netloc.to_socket_addrs()?.collect();
        safety::allowed(addrs, self.allow_private)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e.to_string()))
    }
}

impl RdapClient {
    pub fn new(config: &EnrichConfig) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(config.timeout())
            .redirects(config.max_redirects)
            .max_idle_connections_per_host(config.per_upstream)
            .resolver(GuardedResolver {
                allow_private: config.allow_private_addresses,
            })
            .user_agent(concat!("threatintel/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent,
            max_bytes: config.max_rdap_bytes,
        }
    }

    /// Looks `domain` up at the server whose base URL is `base`; follows a `related` link to
    /// the registrar's server and fills what the registry left empty.
    pub fn lookup(
        &self,
        base: &str,
        domain: &DomainName,
        now: Timestamp,
    ) -> Result<Answer, EnrichError> {
        let url = format!("{base}domain/{}", domain.as_str());
        let Some((value, raw)) = self.get(&url)? else {
            return Ok(Answer::NotRegistered);
        };
        let mut record = parse(&value, &raw, domain, &url, now)?;
        if let Some(related) = related_link(&value, &url) {
            match self.get(&related) {
                Ok(Some((value, raw))) => match parse(&value, &raw, domain, &related, now) {
                    Ok(registrar) => crate::registration::merge(&mut record, registrar),
                    Err(e) => {
                        tracing::info!(url = %related, error = %e, "registrar RDAP answer unusable")
                    }
                },
                Ok(None) => tracing::info!(url = %related, "registrar RDAP does not know the name"),
                Err(e) => tracing::info!(url = %related, error = %e, "registrar RDAP failed"),
            }
        }
        Ok(Answer::Registered(Box::new(record)))
    }

    /// GETs an RDAP object: `None` on 404.
    fn get(&self, url: &str) -> Result<Option<(Value, String)>, EnrichError> {
        let server = server_of(url);
        let response = match self.agent.get(url).set("Accept", RDAP_JSON).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(404, _)) => return Ok(None),
            Err(ureq::Error::Status(429, r)) => {
                return Err(EnrichError::RateLimited {
                    server,
                    retry_after: retry_after(r.header("Retry-After"), Utc::now()),
                })
            }
            Err(ureq::Error::Status(status, _)) => {
                return Err(EnrichError::Status { server, status })
            }
            Err(ureq::Error::Transport(t)) => {
                let message = t.to_string();
                return Err(if message.contains("timed out") {
                    EnrichError::Timeout { server }
                } else {
                    EnrichError::Io { server, message }
                });
            }
        };
        let mut raw = String::new();
        response
            .into_reader()
            .take(self.max_bytes + 1)
            .read_to_string(&mut raw)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                    EnrichError::Timeout {
                        server: server.clone(),
                    }
                }
                _ => EnrichError::Io {
                    server: server.clone(),
                    message: e.to_string(),
                },
            })?;
        if raw.len() as u64 > self.max_bytes {
            return Err(EnrichError::TooLarge {
                server,
                limit: self.max_bytes,
            });
        }
        let value = serde_json::from_str(&raw).map_err(|e| EnrichError::Parse {
            server,
            message: format!("not JSON: {e}"),
        })?;
        Ok(Some((value, raw)))
    }
}

fn parse(
    value: &Value,
    raw: &str,
    domain: &DomainName,
    url: &str,
    now: Timestamp,
) -> Result<WhoisRecord, EnrichError> {
    let mut record =
        parse_rdap_domain_value(value, raw, Some(domain), now).map_err(|e| EnrichError::Parse {
            server: server_of(url),
            message: e.to_string(),
        })?;
    if record.whois_server.is_empty() {
        record.whois_server = server_of(url);
    }
    Ok(record)
}

/// The registrar's RDAP URL of a thin registry's answer: a `related` link of RDAP type that is
/// not the answer itself.
fn related_link(value: &Value, url: &str) -> Option<String> {
    value["links"].as_array()?.iter().find_map(|link| {
        let href = link["href"].as_str()?;
        let related = link["rel"].as_str() == Some("related")
            && link["type"]
                .as_str()
                .is_none_or(|t| t.starts_with(RDAP_JSON))
            && (href.starts_with("https://") || href.starts_with("http://"))
            && !href.eq_ignore_ascii_case(url);
        related.then(|| href.to_owned())
    })
}

/// `scheme://host[:port]` of a URL, for logs, metrics and per-server limits.
pub fn server_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    let scheme = url.split_once("://").map_or("http", |(s, _)| s);
    format!("{scheme}://{host}")
}

/// `Retry-After` as a wait: delay-seconds or an HTTP date (RFC 9110 §10.2.3); a missing or
/// unreadable value waits a minute.
pub fn retry_after(header: Option<&str>, now: DateTime<Utc>) -> Duration {
    const DEFAULT: Duration = Duration::from_secs(60);
    let Some(text) = header.map(str::trim) else {
        return DEFAULT;
    };
    if let Ok(secs) = text.parse::<u64>() {
        return Duration::from_secs(secs);
    }
    DateTime::parse_from_rfc2822(text)
        .ok()
        .and_then(|at| (at.with_timezone(&Utc) - now).to_std().ok())
        .unwrap_or(DEFAULT)
}
