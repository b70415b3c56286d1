//! Registration data from two answers (a thin registry's and its registrar's).

use threatintel_model::{Contact, Registrar, WhoisRecord};

/// What a registration-data server (RDAP or WHOIS) answered.
pub enum Answer {
    Registered(Box<WhoisRecord>),
    NotRegistered,
}

/// Fills what `primary` (the registry's answer: dates, status, nameservers are its word) left
/// empty from `secondary` (the registrar's: contacts, registrar details).
pub fn merge(primary: &mut WhoisRecord, secondary: WhoisRecord) {
    fill_contact(&mut primary.registrant, secondary.registrant);
    fill_contact(&mut primary.admin, secondary.admin);
    fill_contact(&mut primary.tech, secondary.tech);
    fill_registrar(&mut primary.registrar, secondary.registrar);
    fill(&mut primary.dnssec, secondary.dnssec);
    if primary.nameservers.is_empty() {
        primary.nameservers = secondary.nameservers;
    }
    if primary.status.is_empty() {
        primary.status = secondary.status;
    }
    primary.created = primary.created.or(secondary.created);
    primary.expires = primary.expires.or(secondary.expires);
    primary.updated = primary.updated.or(secondary.updated);
    if !secondary.raw.is_empty() {
        primary.raw.push_str("\n\n");
        primary.raw.push_str(&secondary.raw);
    }
}

fn fill(field: &mut String, other: String) {
    if field.is_empty() {
        *field = other;
    }
}

fn fill_contact(contact: &mut Contact, other: Contact) {
    if *contact == Contact::default() {
        *contact = other;
    }
}

fn fill_registrar(registrar: &mut Registrar, other: Registrar) {
    fill(&mut registrar.name, other.name);
    fill(&mut registrar.url, other.url);
    fill(&mut registrar.email, other.email);
    fill(&mut registrar.phone, other.phone);
}
