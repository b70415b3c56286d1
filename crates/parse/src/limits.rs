//! Bounds on what one input may make [`read`](fn@crate::read) hold or a store keep: a line, a
//! document read whole, a stored field, a reject's reason. Whatever the input, a record stays
//! small and reading it costs bounded memory.

use threatintel_model::{Contact, Evidence, Registrar};

/// Bytes of one line of a line format (without its line ending); a longer line is a reject.
pub const MAX_LINE: usize = 1 << 20;

/// Bytes of a feed document read whole (STIX, MISP, ThreatFox JSON, warninglists, top lists);
/// a larger one is refused.
pub const MAX_DOCUMENT: u64 = 128 << 20;

/// Bytes of a registration record or certificate file (WHOIS, RDAP, PEM/DER); a larger one is
/// refused. Real answers are a few kilobytes.
pub const MAX_RECORD_DOCUMENT: u64 = 4 << 20;

/// Bytes of one stored text field (names of sources and registrars, labels, references, ...).
pub const MAX_FIELD: usize = 2048;

/// Bytes of the raw WHOIS text or RDAP JSON a registration record keeps.
pub const MAX_RAW: usize = 64 << 10;

/// Entries of one stored list (name servers, statuses, SANs, names a certificate covers).
pub const MAX_LIST: usize = 1000;

/// Bytes of a reject's reason (reasons quote the input).
pub const MAX_REASON: usize = 4096;

/// `s` cut to at most `max` bytes at a character boundary, marked with `…` when cut.
pub(crate) fn truncate(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
}

fn field(s: &mut String) {
    truncate(s, MAX_FIELD);
}

fn optional(s: &mut Option<String>) {
    if let Some(s) = s {
        field(s);
    }
}

fn list(items: &mut Vec<String>) {
    items.truncate(MAX_LIST);
    items.iter_mut().for_each(field);
}

fn contact(c: &mut Contact) {
    for s in [
        &mut c.name,
        &mut c.organization,
        &mut c.email,
        &mut c.phone,
        &mut c.street,
        &mut c.city,
        &mut c.province,
        &mut c.country,
    ] {
        field(s);
    }
}

fn registrar(r: &mut Registrar) {
    for s in [&mut r.name, &mut r.url, &mut r.email, &mut r.phone] {
        field(s);
    }
}

/// Every text field and list of `evidence` cut to its bound.
pub(crate) fn bound(evidence: &mut Evidence) {
    match evidence {
        Evidence::Source(s) => {
            field(&mut s.name);
            optional(&mut s.default_threat_type);
        }
        Evidence::Indicator(r) => {
            for s in [&mut r.source, &mut r.threat_type] {
                field(s);
            }
            for s in [
                &mut r.label,
                &mut r.scenario,
                &mut r.attack_stage,
                &mut r.reference,
            ] {
                optional(s);
            }
        }
        Evidence::Allowlist(a) => field(&mut a.name),
        Evidence::AllowlistEntry(e) => field(&mut e.list),
        Evidence::Whois(w) => {
            registrar(&mut w.registrar);
            for c in [&mut w.registrant, &mut w.admin, &mut w.tech] {
                contact(c);
            }
            field(&mut w.whois_server);
            field(&mut w.dnssec);
            list(&mut w.nameservers);
            list(&mut w.status);
            truncate(&mut w.raw, MAX_RAW);
        }
        Evidence::Certificate(c) => {
            for s in [
                &mut c.serial,
                &mut c.issuer,
                &mut c.subject,
                &mut c.sha256,
                &mut c.seen_where,
            ] {
                field(s);
            }
            list(&mut c.sans);
            c.covers.truncate(MAX_LIST);
        }
        Evidence::Resolution(_) => {}
        Evidence::Relation(r) => field(&mut r.source),
        Evidence::IpIntel(i) => {
            field(&mut i.source);
            optional(&mut i.threat_type);
        }
        Evidence::Event(e) => {
            for s in [&mut e.stage, &mut e.industry, &mut e.source] {
                field(s);
            }
        }
        Evidence::IpRecord(r) => {
            for s in [&mut r.source, &mut r.threat_type] {
                field(s);
            }
            for s in [&mut r.label, &mut r.scenario, &mut r.reference] {
                optional(s);
            }
        }
        Evidence::NetworkAllowEntry(e) => field(&mut e.list),
        Evidence::NetworkRegistration(r) => {
            field(&mut r.range);
            for s in [
                &mut r.name,
                &mut r.organisation,
                &mut r.country,
                &mut r.abuse_email,
            ] {
                optional(s);
            }
        }
        Evidence::FileRecord(r) => {
            for s in [&mut r.source, &mut r.threat_type] {
                field(s);
            }
            for s in [
                &mut r.label,
                &mut r.scenario,
                &mut r.file_type,
                &mut r.reference,
            ] {
                optional(s);
            }
            list(&mut r.file_names);
        }
    }
}
