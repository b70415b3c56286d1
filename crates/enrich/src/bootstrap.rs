//! The RDAP bootstrap registry for domains (RFC 9224 `dns.json`): which RDAP server answers
//! for a TLD.

use std::collections::HashMap;

use serde::Deserialize;
use threatintel_model::DomainName;

use crate::EnrichError;

/// The IANA snapshot shipped with the binary (see `data/README.md`).
pub const SHIPPED: &str = include_str!("../data/iana_rdap_bootstrap_dns.json");

/// TLD (or longer suffix) → base URLs, each ending in `/`.
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    servers: HashMap<String, Vec<String>>,
    pub publication: String,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    publication: String,
    services: Vec<(Vec<String>, Vec<String>)>,
}

impl Bootstrap {
    /// Parses a `dns.json` text.
    pub fn parse(text: &str) -> Result<Self, EnrichError> {
        let file: File = serde_json::from_str(text)
            .map_err(|e| EnrichError::Bootstrap(format!("not an RFC 9224 registry: {e}")))?;
        let mut servers = HashMap::new();
        for (suffixes, urls) in file.services {
            // RFC 9224 §3: prefer https when a service lists both.
            let mut urls: Vec<String> = urls
                .into_iter()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .map(|u| if u.ends_with('/') { u } else { format!("{u}/") })
                .collect();
            urls.sort_by_key(|u| !u.starts_with("https://"));
            if urls.is_empty() {
                continue;
            }
            for suffix in suffixes {
                servers.insert(suffix.to_ascii_lowercase(), urls.clone());
            }
        }
        Ok(Self {
            servers,
            publication: file.publication,
        })
    }

    /// The shipped snapshot.
    pub fn shipped() -> Self {
        Self::parse(SHIPPED).expect("the shipped bootstrap parses")
    }

    /// The base URL of the RDAP server for `name`: the longest listed suffix wins.
    pub fn base_for(&self, name: &DomainName) -> Option<&str> {
        let text = name.as_str();
        let mut at = 0;
        loop {
            if let Some(urls) = self.servers.get(&text[at..]) {
                return urls.first().map(String::as_str);
            }
            at += text[at..].find('.')? + 1;
        }
    }

    pub fn len(&self) -> usize {
        self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }
}
