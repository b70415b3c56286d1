//! Enrichment against fake RDAP, WHOIS, DNS and TLS servers on 127.0.0.1.

#[path = "enrich/fakes.rs"]
mod fakes;
#[path = "enrich/logs.rs"]
mod logs;
#[path = "enrich/lookups.rs"]
mod lookups;
