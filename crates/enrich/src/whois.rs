//! WHOIS over TCP port 43 (RFC 3912) for TLDs without RDAP: the TLD's server comes from the
//! root server's `refer:` (cached); `Registrar WHOIS Server:`, `refer:` and `ReferralServer:`
//! are followed at most two hops; answers are capped and rate-limit answers (the parser's `throttled`) pause the server.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use parking_lot::Mutex;
use threatintel_model::{DomainName, Timestamp};
use threatintel_parse::context::parse_whois_for;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::registration::{merge, Answer};
use crate::{safety, EnrichConfig, EnrichError};

/// Referrals followed after the registry's answer.
const MAX_REFERRALS: usize = 2;

/// How long a server that said "limit exceeded" is left alone.
const RATE_LIMIT_PAUSE: Duration = Duration::from_secs(300);

/// A WHOIS server: host (name or address) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "whois://{}:{}", self.host, self.port)
    }
}

impl Server {
    /// Reads `host`, `host:port`, `whois://host[:port][/]` or `[v6]:port`; `None` for what
    /// is not a server (an `rwhois://` URL, free text).
    pub fn parse(text: &str, default_port: u16) -> Option<Self> {
        let text = text.trim();
        let text = text.strip_prefix("whois://").unwrap_or(text);
        let text = text.trim_end_matches('/');
        if text.is_empty() || text.contains("://") || text.contains(char::is_whitespace) {
            return None;
        }
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Some(Self {
                host: addr.ip().to_string(),
                port: addr.port(),
            });
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, port.parse().ok()?),
            _ => (text, default_port),
        };
        Some(Self {
            host: host.trim_matches(['[', ']']).to_ascii_lowercase(),
            port,
        })
    }
}

/// A WHOIS client with the root's answers cached per TLD.
pub struct WhoisClient {
    root: Server,
    port: u16,
    max_bytes: u64,
    timeout: Duration,
    allow_private: bool,
    tld_servers: Mutex<HashMap<String, Server>>,
}

impl WhoisClient {
    pub fn new(config: &EnrichConfig) -> Result<Self, EnrichError> {
        let root = Server::parse(&config.whois_root, config.whois_port).ok_or_else(|| {
            EnrichError::Config(format!(
                "enrich.whois_root: {:?} is not host[:port]",
                config.whois_root
            ))
        })?;
        Ok(Self {
            root,
            port: config.whois_port,
            max_bytes: config.max_whois_bytes,
            timeout: config.timeout(),
            allow_private: config.allow_private_addresses,
            tld_servers: Mutex::new(HashMap::new()),
        })
    }

    /// The registry's server for `domain`'s TLD, from the root (cached).
    pub async fn server_for(&self, domain: &DomainName) -> Result<Server, EnrichError> {
        let tld = domain.labels().next_back().unwrap_or_default().to_owned();
        if let Some(server) = self.tld_servers.lock().get(&tld) {
            return Ok(server.clone());
        }
        let answer = self.query(&self.root, &tld).await?;
        let server = referral(&answer, self.port).ok_or_else(|| EnrichError::NoServer {
            name: domain.to_string(),
        })?;
        self.tld_servers.lock().insert(tld, server.clone());
        Ok(server)
    }

    /// Looks `domain` up at `registry`, following referrals; the registry's answer is the
    /// record, a registrar's fills what it left empty.
    pub async fn lookup(
        &self,
        registry: &Server,
        domain: &DomainName,
        now: Timestamp,
    ) -> Result<Answer, EnrichError> {
        let answer = self.query(registry, &query_form(registry, domain)).await?;
        let parsed = parse_whois_for(&answer, Some(domain), now);
        if parsed.not_found {
            return Ok(Answer::NotRegistered);
        }
        if parsed.throttled && parsed.record.is_none() {
            return Err(EnrichError::RateLimited {
                server: registry.to_string(),
                retry_after: RATE_LIMIT_PAUSE,
            });
        }
        let mut record = parsed.record.ok_or_else(|| EnrichError::Parse {
            server: registry.to_string(),
            message: format!("no record in the answer ({})", parsed.warnings.join("; ")),
        })?;
        let mut at = registry.clone();
        let mut text = answer;
        for _ in 0..MAX_REFERRALS {
            let Some(next) = referral(&text, self.port).filter(|next| *next != at) else {
                break;
            };
            match self.query(&next, domain.as_str()).await {
                Ok(answer) => {
                    if let Some(registrar) = parse_whois_for(&answer, Some(domain), now).record {
                        merge(&mut record, registrar);
                    }
                    text = answer;
                    at = next;
                }
                Err(e) => {
                    tracing::info!(server = %next, error = %e, "WHOIS referral failed");
                    break;
                }
            }
        }
        if record.whois_server.is_empty() {
            record.whois_server = registry.host.clone();
        }
        Ok(Answer::Registered(Box::new(record)))
    }

    /// Sends one query and reads the answer (at most `max_bytes`, within the timeout).
    async fn query(&self, server: &Server, query: &str) -> Result<String, EnrichError> {
        let timeout = |_| EnrichError::Timeout {
            server: server.to_string(),
        };
        let io = |e: std::io::Error| EnrichError::Io {
            server: server.to_string(),
            message: e.to_string(),
        };
        let work = async {
            let addrs = tokio::net::lookup_host((server.host.as_str(), server.port))
                .await
                .map_err(io)?
                .collect();
            let addrs = safety::allowed(addrs, self.allow_private)?;
            let mut stream = TcpStream::connect(&addrs[..]).await.map_err(io)?;
            stream
                .write_all(format!("{query}\r\n").as_bytes())
                .await
                .map_err(io)?;
            let mut bytes = Vec::new();
            (&mut stream)
                .take(self.max_bytes + 1)
                .read_to_end(&mut bytes)
                .await
                .map_err(io)?;
            Ok::<_, EnrichError>(bytes)
        };
        let bytes = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(timeout)??;
        if bytes.len() as u64 > self.max_bytes {
            return Err(EnrichError::TooLarge {
                server: server.to_string(),
                limit: self.max_bytes,
            });
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The query a registry documents for a domain lookup, or the bare name.
fn query_form(server: &Server, domain: &DomainName) -> String {
    let name = domain.as_str();
    match server.host.as_str() {
        // Verisign: restrict to domain objects (a bare name also matches host names).
        "whois.verisign-grs.com" | "whois.crsnic.net" => format!("domain {name}"),
        // DENIC: the full record in ASCII.
        "whois.denic.de" => format!("-T dn,ace {name}"),
        // JPRS: English labels.
        "whois.jprs.jp" => format!("{name}/e"),
        // DK Hostmaster: contact handles included.
        "whois.dk-hostmaster.dk" => format!("--show-handles {name}"),
        _ => name.to_owned(),
    }
}

/// The server an answer refers to: `refer:` (IANA), `whois:`, `Registrar WHOIS Server:` or
/// `ReferralServer:`.
fn referral(answer: &str, default_port: u16) -> Option<Server> {
    answer.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let key = key.trim().to_ascii_lowercase();
        matches!(
            key.as_str(),
            "refer" | "whois" | "registrar whois server" | "referralserver" | "whois server"
        )
        .then(|| Server::parse(value, default_port))
        .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_read_in_every_referral_spelling() {
        let check = |text: &str, expected: Option<(&str, u16)>| {
            let got = Server::parse(text, 43);
            assert_eq!(
                got.as_ref().map(|s| (s.host.as_str(), s.port)),
                expected,
                "{text}"
            );
        };
        check(
            "whois.verisign-grs.com",
            Some(("whois.verisign-grs.com", 43)),
        );
        check(" WHOIS.Example.NET ", Some(("whois.example.net", 43)));
        check(
            "whois://whois.ripe.net:4343/",
            Some(("whois.ripe.net", 4343)),
        );
        check("127.0.0.1:4300", Some(("127.0.0.1", 4300)));
        check("[::1]:4300", Some(("::1", 4300)));
        check("rwhois://rwhois.example.net:4321", None);
        check("see the web site", None);
        check("", None);
    }

    #[test]
    fn referrals_are_recognised() {
        assert_eq!(
            referral("domain: COM\nrefer:  whois.verisign-grs.com\n", 43),
            Server::parse("whois.verisign-grs.com", 43)
        );
        assert_eq!(
            referral("Registrar WHOIS Server: whois.markmonitor.com\n", 43),
            Server::parse("whois.markmonitor.com", 43)
        );
        assert_eq!(referral("Domain Name: EXAMPLE.COM\n", 43), None);
    }
}
