//! Context records: WHOIS, RDAP, certificates, passive DNS (COF) and security events (Suricata EVE, native JSONL).
