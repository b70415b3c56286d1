//! DNS lookups (A, AAAA, CNAME, NS, MX) through hickory-resolver, against the configured
//! upstreams or the system's resolv.conf. The resolver's own cache is off: the enricher's TTLs
//! decide when a name is asked again.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, Resolver, TokioResolver};
use serde::Serialize;
use threatintel_model::DomainName;

use crate::{EnrichConfig, EnrichError};

/// What DNS said about one name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    pub addresses: Vec<IpAddr>,
    pub cnames: Vec<String>,
    pub nameservers: Vec<String>,
    pub mx: Vec<String>,
}

pub struct DnsClient {
    resolver: TokioResolver,
    server: String,
}

/// An upstream written `ip` or `ip:port` (port 53 when absent).
pub fn upstream_address(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("enrich.dns_upstreams: {text:?} is not ip or ip:port"))
}

impl DnsClient {
    pub fn new(config: &EnrichConfig) -> Result<Self, EnrichError> {
        let provider = TokioConnectionProvider::default();
        let (mut builder, server) = if config.dns_upstreams.is_empty() {
            let builder = Resolver::builder(provider)
                .map_err(|e| EnrichError::Config(format!("reading resolv.conf: {e}")))?;
            (builder, "system resolver".to_owned())
        } else {
            let mut resolver = ResolverConfig::new();
            for text in &config.dns_upstreams {
                let addr = upstream_address(text).map_err(EnrichError::Config)?;
                resolver.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
                resolver.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
            }
            let server = config.dns_upstreams.join(",");
            (Resolver::builder_with_config(resolver, provider), server)
        };
        let options = builder.options_mut();
        options.timeout = config.timeout();
        options.attempts = 1;
        options.cache_size = 0;
        Ok(Self {
            resolver: builder.build(),
            server: format!("dns://{server}"),
        })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// Asks the five record types at once; `None` when the name does not exist.
    pub async fn lookup(&self, name: &DomainName) -> Result<Option<DnsAnswer>, EnrichError> {
        let fqdn = format!("{}.", name.as_str());
        let ask = |kind| self.resolver.lookup(fqdn.clone(), kind);
        let (a, aaaa, cname, ns, mx) = tokio::join!(
            ask(RecordType::A),
            ask(RecordType::AAAA),
            ask(RecordType::CNAME),
            ask(RecordType::NS),
            ask(RecordType::MX)
        );
        let results = [a, aaaa, cname, ns, mx];
        if results
            .iter()
            .all(|r| r.as_ref().is_err_and(ResolveError::is_nx_domain))
        {
            return Ok(None);
        }
        if let Some(e) = results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .find(|e| !e.is_nx_domain() && !e.is_no_records_found())
        {
            if results.iter().all(Result::is_err) {
                return Err(self.error(e));
            }
        }
        let mut answer = DnsAnswer::default();
        for lookup in results.iter().flatten() {
            for record in lookup.record_iter() {
                // A CNAME's target answers for the name too: its addresses are the name's, but
                // its own CNAME, NS and MX records are not.
                let own = host(record.name()) == name.as_str();
                match record.data() {
                    RData::A(a) => answer.addresses.push(IpAddr::V4(a.0)),
                    RData::AAAA(a) => answer.addresses.push(IpAddr::V6(a.0)),
                    RData::CNAME(c) if own => answer.cnames.push(host(&c.0)),
                    RData::NS(n) if own => answer.nameservers.push(host(&n.0)),
                    RData::MX(m) if own => answer.mx.push(host(m.exchange())),
                    _ => {}
                }
            }
        }
        for list in [&mut answer.cnames, &mut answer.nameservers, &mut answer.mx] {
            list.sort();
            list.dedup();
        }
        answer.addresses.sort();
        answer.addresses.dedup();
        Ok(Some(answer))
    }

    fn error(&self, e: &ResolveError) -> EnrichError {
        let message = e.to_string();
        if message.contains("timed out") || message.contains("timeout") {
            EnrichError::Timeout {
                server: self.server.clone(),
            }
        } else {
            EnrichError::Io {
                server: self.server.clone(),
                message,
            }
        }
    }
}

fn host(name: &hickory_resolver::proto::rr::Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}
