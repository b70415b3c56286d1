//! Raw port-43 WHOIS answers → [`WhoisRecord`].
//!
//! One lenient parser for every registry layout (ICANN thick and thin answers, RIPE-style
//! ccTLD objects, JPRS brackets, Nominet/EURid indented sections, SWITCH tab columns, ...):
//! `lines` recognises layout, `fields` the meaning of keys, [`date`] the dates. Nothing
//! here fails: what was found is returned with warnings for what could not be read, and a
//! "no match" answer is reported as [`WhoisParse::not_found`].

pub mod date;
mod fields;
mod lines;

use threatintel_model::{Contact, DomainName, Registrar, Timestamp, WhoisRecord};

use fields::Attr;
use lines::{Layout, SectionKind};

pub use date::parse_date as parse_whois_date;

/// The outcome of parsing one WHOIS answer.
#[derive(Debug, Clone, PartialEq)]
pub struct WhoisParse {
    /// The record, when the answer describes a registered domain and its name is known.
    pub record: Option<WhoisRecord>,
    /// The server said the name is not registered (or available).
    pub not_found: bool,
    /// The answer is a short refusal: a rate limit or query quota was exceeded.
    pub throttled: bool,
    /// What could not be read (unparseable dates, throttling notices, a missing name, ...).
    pub warnings: Vec<String>,
}

/// Parses a WHOIS answer; the domain is taken from the answer itself.
pub fn parse_whois(text: &str, observed_at: Timestamp) -> WhoisParse {
    parse_whois_for(text, None, observed_at)
}

/// Parses a WHOIS answer to a query for `queried`, which names the record when the answer
/// does not (thin answers, some ccTLDs).
pub fn parse_whois_for(
    text: &str,
    queried: Option<&DomainName>,
    observed_at: Timestamp,
) -> WhoisParse {
    let text = text.trim_start_matches('\u{feff}');
    let layout = lines::layout(text);
    let mut warnings = Vec::new();

    let mf = date::month_first(layout.entries.iter().map(|e| e.value.as_str()));
    let created = pick_date(&layout, fields::CREATED, "creation", mf, &mut warnings);
    let expires = pick_date(&layout, fields::EXPIRES, "expiry", mf, &mut warnings);
    let updated = pick_date(&layout, fields::UPDATED, "update", mf, &mut warnings);
    let domain = fields::domain_candidates(&layout)
        .into_iter()
        .find_map(|v| {
            let first = v.split_whitespace().next()?;
            DomainName::parse(first.trim_matches(|c| c == '"' || c == '\'')).ok()
        })
        .or_else(|| queried.cloned());
    let nameservers = nameservers(&layout, domain.as_ref().map(DomainName::as_str));
    let registrar = registrar(&layout);
    let status = status(&layout);

    let evidence = created.is_some()
        || expires.is_some()
        || !nameservers.is_empty()
        || !registrar.name.is_empty();
    let status_lower: Vec<String> = status.iter().map(|s| s.to_lowercase()).collect();
    // `Status: PREMIUM NAME (No match for ...)`, `Status: UNASSIGNABLE`: not registered, but
    // not available either.
    let withheld = status_lower.iter().any(|s| {
        [
            "premium",
            "reserved",
            "unassignable",
            "unavailable",
            "blocked",
            "restricted",
        ]
        .iter()
        .any(|w| s.contains(w))
    });
    let available_status = status_lower.iter().any(|s| {
        matches!(
            s.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' '),
            "available" | "free" | "not registered" | "no object found"
        )
    });
    if !evidence && !withheld && (available_status || says_not_found(text)) {
        return WhoisParse {
            record: None,
            not_found: true,
            throttled: false,
            warnings,
        };
    }
    let throttled = says_throttled(text);
    if throttled {
        warnings.push("the server refused the query (rate limit or quota)".to_owned());
    }
    let Some(domain) = domain else {
        warnings.push("the answer names no domain".to_owned());
        return WhoisParse {
            record: None,
            not_found: false,
            throttled,
            warnings,
        };
    };
    if !evidence && layout.entries.iter().all(|e| e.bare) {
        warnings.push("no WHOIS fields recognised".to_owned());
        return WhoisParse {
            record: None,
            not_found: false,
            throttled,
            warnings,
        };
    }
    let record = WhoisRecord {
        registrant: contact(&layout, SectionKind::Registrant),
        admin: contact(&layout, SectionKind::Admin),
        tech: contact(&layout, SectionKind::Tech),
        whois_server: fields::whois_server_values(&layout)
            .into_iter()
            .map(|v| v.trim().trim_start_matches("whois://").to_ascii_lowercase())
            .find(|v| v.contains('.') && !v.contains(' '))
            .unwrap_or_default(),
        dnssec: dnssec(&layout),
        domain,
        registrar,
        nameservers,
        status,
        created,
        expires,
        updated,
        observed_at,
        raw: text.to_owned(),
    };
    WhoisParse {
        record: Some(record),
        not_found: false,
        throttled,
        warnings,
    }
}

fn pick_date(
    layout: &Layout,
    keys: &[&str],
    what: &str,
    month_first: bool,
    warnings: &mut Vec<String>,
) -> Option<Timestamp> {
    let mut bad = None;
    for (key, value) in fields::candidates(layout, keys) {
        match date::parse_date_ordered(value, month_first) {
            Some(t) => return Some(t),
            None => {
                bad.get_or_insert((key, value));
            }
        }
    }
    if let Some((key, value)) = bad {
        warnings.push(format!("unreadable {what} date in {key:?}: {value:?}"));
    }
    None
}

/// Host names in a name-server value (`ns1.example.com. 192.0.2.1` → `ns1.example.com`).
fn hosts_in(value: &str) -> Vec<String> {
    // Zone-file style `example.pt NS ns1.example.com.`: the server follows `NS`.
    let value = value
        .split_once("\tNS\t")
        .or_else(|| value.split_once(" NS "))
        .map_or(value, |(_, server)| server);
    value
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|t| {
            t.trim_matches(|c: char| matches!(c, '(' | ')' | '[' | ']' | '"' | '\'' | '<' | '>'))
                .trim_end_matches('.')
                .to_lowercase()
        })
        .filter(|t| looks_like_host(t) && !matches!(t.as_str(), "not.defined" | "no.nameserver"))
        .collect()
}

fn looks_like_host(t: &str) -> bool {
    if !t.contains('.') || t.parse::<std::net::IpAddr>().is_ok() || t.contains('@') {
        return false;
    }
    let last = t.rsplit('.').next().unwrap_or("");
    if last.is_empty() || last.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    t.chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && DomainName::parse(t).is_ok()
}

fn nameservers(layout: &Layout, domain: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in &layout.entries {
        if e.value.is_empty() || !fields::is_ns_entry(layout, e) {
            continue;
        }
        for host in hosts_in(&e.value) {
            // DK Hostmaster's `DNS: example.dk` names the zone, not a server.
            if e.key == "dns" && Some(host.as_str()) == domain {
                continue;
            }
            let host = DomainName::parse(&host)
                .map(|d| d.to_string())
                .unwrap_or(host);
            if !out.contains(&host) {
                out.push(host);
            }
        }
    }
    out
}

fn status(layout: &Layout) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in fields::status_values(layout) {
        // `clientDeleteProhibited https://icann.org/epp#clientDeleteProhibited`
        let value = value
            .split(" http")
            .next()
            .unwrap_or(value)
            .split(" (")
            .next()
            .unwrap_or(value)
            .trim();
        let parts: Vec<&str> = if value.contains(',') && !value.contains(". ") {
            value.split(',').map(str::trim).collect()
        } else {
            vec![value]
        };
        for part in parts {
            if !part.is_empty() && !out.iter().any(|s| s == part) {
                out.push(part.to_owned());
            }
        }
    }
    out
}

fn dnssec(layout: &Layout) -> String {
    let Some(value) = fields::dnssec_values(layout).into_iter().next() else {
        let signed = layout
            .entries
            .iter()
            .any(|e| matches!(e.key.as_str(), "dnskey" | "ds rdata" | "ds") && !e.value.is_empty());
        return if signed {
            "signed".to_owned()
        } else {
            String::new()
        };
    };
    let v = value.to_lowercase();
    if v.contains("unsigned")
        || v == "no"
        || v == "n"
        || v.starts_with("inactive")
        || v == "false"
        || v.contains("not signed")
        || v == "미서명"
        || v == "none"
    {
        "unsigned".to_owned()
    } else if v.contains("signed") || v == "yes" || v == "y" || v == "active" || v == "true" {
        "signed".to_owned()
    } else {
        value.trim().to_owned()
    }
}

fn clean(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

fn registrar(layout: &Layout) -> Registrar {
    let mut r = Registrar::default();
    // Inside a `Registrar:` section: organisation, then name, then the first bare line.
    let sections: Vec<usize> = (0..layout.sections.len())
        .filter(|&i| layout.sections[i].kind == SectionKind::Registrar)
        .collect();
    let in_section = |attr_wanted: Attr| -> Option<String> {
        layout.entries.iter().find_map(|e| {
            let s = e.section?;
            if !sections.contains(&s) || e.value.is_empty() {
                return None;
            }
            let key = fields::role_prefix(&e.key)
                .filter(|(k, _)| *k == SectionKind::Registrar)
                .map(|(_, rest)| rest)
                .unwrap_or(&e.key);
            (fields::attr(key) == Some(attr_wanted) && !e.bare).then(|| e.value.clone())
        })
    };
    let bare_in_section = layout.entries.iter().find_map(|e| {
        let s = e.section?;
        (sections.contains(&s) && e.key == layout.sections[s].name && !e.value.is_empty())
            .then(|| e.value.clone())
    });
    let name = in_section(Attr::Organization)
        .or_else(|| in_section(Attr::Name))
        .or(bare_in_section)
        .or_else(|| {
            fields::values_for(layout, fields::REGISTRAR_KEYS)
                .into_iter()
                .find_map(clean)
        })
        .map(|n| strip_id_suffix(&n));
    r.name = name.unwrap_or_default();
    r.url = fields::values_for(layout, fields::REGISTRAR_URL_KEYS)
        .into_iter()
        .find_map(clean)
        .or_else(|| in_section(Attr::Url))
        .unwrap_or_default();
    r.email = fields::values_for(layout, fields::REGISTRAR_EMAIL_KEYS)
        .into_iter()
        .find_map(clean)
        .or_else(|| in_section(Attr::Email))
        .unwrap_or_default();
    r.phone = fields::values_for(layout, fields::REGISTRAR_PHONE_KEYS)
        .into_iter()
        .find_map(clean)
        .or_else(|| in_section(Attr::Phone))
        .unwrap_or_default();
    r
}

/// `MarkMonitor, Inc. (R22-LRCC)` → `MarkMonitor, Inc.`: a trailing parenthesised registry
/// handle, IANA id or URL (one word) is not part of the name.
fn strip_id_suffix(name: &str) -> String {
    let name = name.trim();
    if let Some(open) = name.rfind(" (") {
        let inner = &name[open + 2..];
        if let Some(inner) = inner.strip_suffix(')') {
            let id_like = inner.chars().any(|c| c.is_ascii_digit()) || inner.starts_with("http");
            if id_like && !inner.contains(' ') && open > 0 {
                return name[..open].trim_end().to_owned();
            }
        }
    }
    name.to_owned()
}

fn set(contact: &mut Contact, attr: Attr, value: &str) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    let slot = match attr {
        Attr::Name => &mut contact.name,
        Attr::Organization => &mut contact.organization,
        Attr::Email => &mut contact.email,
        Attr::Phone => &mut contact.phone,
        Attr::City => &mut contact.city,
        Attr::Province => &mut contact.province,
        Attr::Country => &mut contact.country,
        Attr::Url => return,
        Attr::Street => {
            if !contact.street.is_empty() {
                contact.street.push_str(", ");
            }
            contact.street.push_str(value);
            return;
        }
    };
    if slot.is_empty() {
        *slot = value.to_owned();
    }
}

/// Handle keys that point at a RIPE-style contact object elsewhere in the answer.
fn handle_keys(role: SectionKind) -> &'static [&'static str] {
    match role {
        SectionKind::Registrant => &["holder c", "registrant c", "owner c", "registrant"],
        SectionKind::Admin => &["admin c", "admin contact"],
        SectionKind::Tech => &["tech c", "technical contact", "zone c"],
        _ => &[],
    }
}

fn contact(layout: &Layout, role: SectionKind) -> Contact {
    let mut c = Contact::default();
    let mut bare_lines: Vec<&str> = Vec::new();
    for e in &layout.entries {
        if e.value.is_empty() {
            continue;
        }
        let kind = layout.section_kind(e);
        if kind == Some(role) {
            let section_name = &layout.sections[e.section.unwrap_or(0)].name;
            if e.bare && e.key == *section_name {
                bare_lines.push(&e.value);
                continue;
            }
            if let Some(a) = fields::attr(&e.key) {
                set(&mut c, a, &e.value);
                continue;
            }
        }
        if let Some((r, rest)) = fields::role_prefix(&e.key) {
            if r == role
                && !matches!(kind, Some(k) if k != role && k != SectionKind::Domain && k != SectionKind::Other)
            {
                if let Some(a) = fields::attr(rest) {
                    let handle_like = e.value.is_ascii()
                        && !e.value.contains(' ')
                        && e.value.chars().any(|c| c.is_ascii_digit() || c == '-');
                    if rest.is_empty() && handle_like {
                        // `registrant: HANDLE` (a reference, resolved below).
                        continue;
                    }
                    set(&mut c, a, &e.value);
                }
            }
        }
    }
    for (i, line) in bare_lines.iter().enumerate() {
        if i == 0 && c.name.is_empty() && c.organization.is_empty() {
            set(&mut c, Attr::Name, line);
        } else if !line.contains('@') {
            set(&mut c, Attr::Street, line);
        } else {
            set(&mut c, Attr::Email, line);
        }
    }
    if c == Contact::default() {
        resolve_handle(layout, role, &mut c);
    }
    c
}

/// RIPE style: `admin-c: XYZ1-FRNIC` and, in a later block, `nic-hdl: XYZ1-FRNIC` with the
/// contact's own keys.
fn resolve_handle(layout: &Layout, role: SectionKind, c: &mut Contact) {
    let Some(handle) = layout.entries.iter().find_map(|e| {
        (handle_keys(role).contains(&e.key.as_str()) && !e.value.is_empty())
            .then(|| e.value.split_whitespace().next().unwrap_or("").to_owned())
    }) else {
        return;
    };
    let Some(block) = layout.entries.iter().find_map(|e| {
        (matches!(
            e.key.as_str(),
            "nic hdl" | "handle" | "nic handle" | "contact id"
        ) && e.value.eq_ignore_ascii_case(&handle))
        .then_some(e.block)
    }) else {
        return;
    };
    for e in layout.entries.iter().filter(|e| e.block == block) {
        let key = match e.key.as_str() {
            "contact" | "person" | "role" => "name",
            "e mail" => "email",
            "org" | "organisation" => "organization",
            k => k,
        };
        if let Some(a) = fields::attr(key) {
            set(c, a, &e.value);
        }
    }
}

fn says_not_found(text: &str) -> bool {
    let lower = text.to_lowercase();
    const PHRASES: [&str; 47] = [
        "no data was found",
        "no objects found",
        "no results were found",
        "not registred",
        "not available in our whois database",
        "object_not_found",
        "could not find",
        "no match",
        "not found",
        "no entries found",
        "no data found",
        "no matching record",
        "nothing found",
        "no object found",
        "object does not exist",
        "does not exist",
        "is available for",
        "is free",
        "status: free",
        "status:\tfree",
        "status: available",
        "status:      available",
        "no information available",
        "not registered",
        "no such domain",
        "domain is available",
        "returned 0 objects",
        "not been registered",
        "no records matching",
        "no found",
        "not exist",
        "no existe",
        "no entries",
        "no se encontr",
        "is not registered",
        "available for registration",
        "invalid query or domain name not known",
        "domain name not known",
        "no information was found",
        "no records found",
        "is available.",
        "available\n",
        "domain status: available",
        "no domain",
        "not have an entry",
        "ничего не найдено",
        "no existen",
    ];
    PHRASES.iter().any(|p| lower.contains(p))
}

fn says_throttled(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "limit exceeded",
        "exceeded",
        "too many",
        "quota",
        "try again later",
        "rate limit",
    ]
    .iter()
    .any(|p| lower.contains(p))
        && lower.len() < 2000
}

#[cfg(test)]
mod tests {
    /// `WHOIS_DUMP=path cargo test -p threatintel-parse --lib dump_layout -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn dump_layout() {
        let Ok(path) = std::env::var("WHOIS_DUMP") else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let layout = super::lines::layout(&text);
        let parsed = super::parse_whois(&text, chrono::Utc::now());
        println!(
            "{:#?}",
            parsed.record.as_ref().map(|r| (
                &r.domain,
                &r.registrar,
                r.created,
                r.expires,
                &r.nameservers,
                &r.status
            ))
        );
        println!(
            "not_found={} warnings={:?}",
            parsed.not_found, parsed.warnings
        );
        for s in &layout.sections {
            println!("SECTION {:?} {:?}", s.name, s.kind);
        }
        for e in &layout.entries {
            println!(
                "{:>3} {:?} {:<30} {:?}{}",
                e.block,
                e.section,
                e.key,
                e.value,
                if e.bare { " (bare)" } else { "" }
            );
        }
    }
}
