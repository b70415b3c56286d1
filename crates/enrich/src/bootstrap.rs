//! The RDAP bootstrap registry for domains (RFC 9224 `dns.json`): which RDAP server answers
//! for a TLD.

use std::collections::HashMap;

use std::io::Read;

use serde::Deserialize;
use threatintel_model::DomainName;

use crate::EnrichError;

/// The IANA snapshot shipped with the binary (see `data/README.md`).
pub const SHIPPED: &str = include_str!("../data/iana_rdap_bootstrap_dns.json");

/// Where IANA publishes the registry.
pub const IANA_URL: &str = "https://data.iana.org/rdap/dns.json";

/// Largest registry read (IANA's is about 40 KiB).
const MAX_BYTES: u64 = 4 << 20;

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

    /// The registry `source` names: empty = the shipped snapshot, an http(s) URL, or a file.
    pub fn load(source: &str) -> Result<Self, EnrichError> {
        match source.trim() {
            "" => Ok(Self::shipped()),
            source => Self::parse(&read(source)?),
        }
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

/// The text of a registry from an http(s) URL or a file, checked to parse.
pub fn read(source: &str) -> Result<String, EnrichError> {
    let text = if source.starts_with("https://") || source.starts_with("http://") {
        let fail = |e: &dyn std::fmt::Display| EnrichError::Bootstrap(format!("{source}: {e}"));
        let response = ureq::get(source)
            .timeout(std::time::Duration::from_secs(30))
            .call()
            .map_err(|e| fail(&e))?;
        let mut text = String::new();
        std::io::Read::take(response.into_reader(), MAX_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| fail(&e))?;
        text
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| EnrichError::Bootstrap(format!("{source}: {e}")))?
    };
    Bootstrap::parse(&text)?;
    Ok(text)
}
