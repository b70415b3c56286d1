//! Context records: WHOIS, RDAP, certificates, passive DNS (COF) and security events (Suricata EVE, native JSONL).
//!
//! Every parser here is pure (text or bytes in, values out) and never panics on any input:
//! WHOIS is lenient and returns what it found plus warnings; the structured formats return a
//! precise error for a malformed object or line, so that a caller can skip it and go on.

pub mod certificate;
pub mod eve;
pub mod network;
pub mod pdns;
pub mod rdap;
pub mod whois;

pub use certificate::{parse_certificates, parse_der, CertError};
pub use eve::{
    classify_alert, industry_of, parse_eve_line, parse_event_line, Classification, EveEvent,
    EventError,
};
pub use network::{is_rdap_ip_network, parse_rdap_ip_network, parse_whois_network, NetworkError};
pub use pdns::{parse_cof_line, PdnsError, PdnsRecord};
pub use rdap::{parse_rdap_domain, parse_rdap_domain_for, RdapError};
pub use whois::{parse_whois, parse_whois_date, parse_whois_for, WhoisParse};
