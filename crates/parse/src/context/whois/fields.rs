//! Second pass: which normalised keys mean which record field, across registries.
//!
//! Keys are matched after `lines::normalize_key`, so `Registry Expiry Date`, `registry-expiry-date`
//! and `[Registry Expiry Date]` are one key. Each domain-level field has an ordered list of
//! keys: the earliest key in the list that the answer has wins, and for one key its first
//! occurrence. Generic keys (`created`, `changed`, `status`) count only outside contact and
//! registrar sections, so a contact's own dates never become the domain's.

use super::lines::{Entry, Layout, SectionKind};

pub const CREATED: &[&str] = &[
    "creation date",
    "created date",
    "domain registration date",
    "registration date",
    "registration time",
    "registered date",
    "domain record activated",
    "record created",
    "domain creation date",
    "date registered",
    "domain registered",
    "record created on",
    "domain created on",
    "domain created",
    "domain create date",
    "created on",
    "registered on",
    "registered",
    "created",
    "first registration date",
    "domain name commencement date",
    "commencement date",
    "activation date",
    "activated",
    "entry created",
    "created at",
    "create date",
    "creation",
    "date of registration",
    "registration",
    "fecha de creacion",
    "fecha de registro",
    "data de registo",
    "data de criacao",
    "data registrazione",
    "registro",
    "registered at",
    "domain dateregistered",
    "dateregistered",
];

pub const EXPIRES: &[&str] = &[
    "registry expiry date",
    "registrar registration expiration date",
    "expiration date",
    "expiry date",
    "domain expiration date",
    "domain expiry date",
    "expiration time",
    "record expires on",
    "domain expires on",
    "domain expires",
    "record will expire on",
    "domain currently expires",
    "valid date",
    "exp date",
    "expires at",
    "expires on",
    "expires",
    "expire date",
    "expire",
    "expiry",
    "expired",
    "expiration",
    "paid till",
    "paid until",
    "valid until",
    "validity",
    "renewal date",
    "renewal",
    "registered until",
    "domain expire",
    "expires at",
    "fecha de vencimiento",
    "fecha de expiracion",
    "data de expiracao",
    "data scadenza",
    "domain datebilleduntil",
    "datebilleduntil",
];

pub const UPDATED: &[&str] = &[
    "updated date",
    "last updated date",
    "domain last updated date",
    "last updated on",
    "record last updated on",
    "record last updated",
    "domain last updated",
    "domain record last updated",
    "last updated",
    "last update",
    "last modified",
    "modification date",
    "modified",
    "updated",
    "changed",
    "last changed",
    "domain datelastmodified",
    "ultima actualizacion",
    "last update of whois database",
];

const DOMAIN: &[&str] = &[
    "domain name",
    "domain",
    "domainname",
    "domain name ascii",
    "nom de domaine",
    "nombre de dominio",
    "dominio",
    "query",
];

const REGISTRAR: &[&str] = &[
    "registrar",
    "registrar name",
    "sponsoring registrar",
    "registrar organization",
    "registrar organisation",
    "sponsoring registrar organization",
    "registration service provider",
    "authorized agency",
    "registrar of record",
    "current registrar",
    "current registar",
    "registrar company",
];

const REGISTRAR_URL: &[&str] = &[
    "registrar url",
    "registrar website",
    "registrar web",
    "sponsoring registrar url",
    "sponsoring registrar website",
    "referral url",
    "registrar homepage",
];

const REGISTRAR_EMAIL: &[&str] = &[
    "registrar abuse contact email",
    "registrar email",
    "registrar e mail",
    "sponsoring registrar email",
    "registrar contact email",
];

const REGISTRAR_PHONE: &[&str] = &[
    "registrar abuse contact phone",
    "registrar phone",
    "sponsoring registrar phone",
    "registrar telephone",
];

const WHOIS_SERVER: &[&str] = &[
    "registrar whois server",
    "whois server",
    "referral whois",
    "whois",
];

const STATUS: &[&str] = &[
    "domain status",
    "status",
    "state",
    "eppstatus",
    "epp status",
    "registration status",
    "domain state",
    "estatus del dominio",
    "estado",
    "query status",
];

const DNSSEC: &[&str] = &["dnssec", "signing key", "ds records", "dnssec status"];

/// Keys whose meaning depends on the section they are in.
const GENERIC: &[&str] = &[
    "created",
    "changed",
    "status",
    "state",
    "modified",
    "updated",
    "registered",
    "expires",
    "expire",
    "last update",
    "last updated",
    "created on",
    "registration",
    "source",
    "name",
    "domain",
];

/// Whether a key names any domain-level field (used to accept `Key    value` column lines).
pub fn is_known_key(key: &str) -> bool {
    [
        CREATED,
        EXPIRES,
        UPDATED,
        DOMAIN,
        REGISTRAR,
        STATUS,
        DNSSEC,
        WHOIS_SERVER,
    ]
    .iter()
    .any(|list| list.contains(&key))
        || is_ns_key(key)
}

/// Whether `key` announces name servers (`name server`, `nserver`, `nameserver1`, `dns 2`).
pub fn is_ns_key(key: &str) -> bool {
    let k = key.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ');
    matches!(
        k,
        "name server"
            | "name servers"
            | "nameserver"
            | "nameservers"
            | "nserver"
            | "ns"
            | "dns"
            | "dns servers"
            | "dns server"
            | "domain servers in listed order"
            | "domain nameservers"
            | "domain name servers"
            | "name servers in listed order"
            | "primary server"
            | "secondary server"
            | "primary name server"
            | "secondary name server"
            | "primary dns"
            | "secondary dns"
            | "ns list"
            | "host name"
            | "hostname"
            | "servidores dns"
            | "servidor dns"
            | "serveurs dns"
            | "nameserver information"
            | "name server information"
            | "ns name"
            | "dns name"
            | "domain server"
            | "domain servers"
            | "servidores de nombre"
            | "name servers in the listed order"
            | "domain name servers listed in order"
            | "name servers information"
    )
}

/// Keys that, inside a name-server section, hold a server name.
fn is_ns_section_key(key: &str, section_name: &str) -> bool {
    let is_address = key.contains("address") || key.contains("ip") || key.contains("netaddress");
    key == section_name
        || is_ns_key(key)
        || matches!(key, "name" | "server" | "host")
        || (!is_address && (key.contains("hostname") || key.contains("host name")))
}

/// Whether an entry may describe the domain itself.
pub fn domain_level(layout: &Layout, entry: &Entry) -> bool {
    match layout.section_kind(entry) {
        None | Some(SectionKind::Domain | SectionKind::Other) => true,
        Some(_) => !GENERIC.contains(&entry.key.as_str()) && !entry.bare,
    }
}

/// Values for the first key of `keys` that the answer has, in text order.
pub fn values_for<'a>(layout: &'a Layout, keys: &[&str]) -> Vec<&'a str> {
    for key in keys {
        let found: Vec<&str> = layout
            .entries
            .iter()
            .filter(|e| e.key == *key && !e.value.is_empty() && domain_level(layout, e))
            .map(|e| e.value.as_str())
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// Every value of every key of `keys`, in priority order (for dates: try the next if one
/// does not parse). Entries in the block that names the domain come first: in RIPE-style
/// answers the contact and registrar objects after it have `created:` lines of their own.
pub fn candidates<'a>(layout: &'a Layout, keys: &[&str]) -> Vec<(&'a str, &'a str)> {
    let domain_block = layout
        .entries
        .iter()
        .find(|e| DOMAIN.contains(&e.key.as_str()) && !e.value.is_empty() && !e.bare)
        .map(|e| e.block);
    let mut out = Vec::new();
    for in_domain_block in [true, false] {
        for key in keys {
            for e in &layout.entries {
                if e.key == *key
                    && !e.value.is_empty()
                    && domain_level(layout, e)
                    && (Some(e.block) == domain_block) == in_domain_block
                {
                    out.push((e.key.as_str(), e.value.as_str()));
                }
            }
        }
    }
    out
}

pub fn domain_candidates(layout: &Layout) -> Vec<&str> {
    candidates(layout, DOMAIN)
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

pub fn whois_server_values(layout: &Layout) -> Vec<&str> {
    values_for(layout, WHOIS_SERVER)
}

pub fn status_values(layout: &Layout) -> Vec<&str> {
    values_for(layout, STATUS)
}

pub fn dnssec_values(layout: &Layout) -> Vec<&str> {
    values_for(layout, DNSSEC)
}

/// What a contact key says once its role prefix is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    Name,
    Organization,
    Email,
    Phone,
    Street,
    City,
    Province,
    Country,
    Url,
}

pub fn attr(rest: &str) -> Option<Attr> {
    let rest = rest
        .trim_start_matches("contact ")
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ');
    Some(match rest {
        "" | "name" | "contact" | "person" | "personname" | "full name" | "contact name"
        | "nombre" | "nom" | "name surname" => Attr::Name,
        "organization" | "organisation" | "org" | "company" | "company name"
        | "organization name" | "organisation name" | "org name" | "organization org" => {
            Attr::Organization
        }
        "email" | "e mail" | "mail" | "email address" | "e mail address" | "emails" => Attr::Email,
        "phone" | "phone number" | "telephone" | "tel" | "voice" | "phone no" | "fon"
        | "telephone number" => Attr::Phone,
        "street" | "address" | "street address" | "addr" | "address line" | "postal address"
        | "address loc" | "street1" | "street 1" | "street 2" | "street 3" => Attr::Street,
        "city" | "town" => Attr::City,
        "state" | "province" | "state province" | "state or province" | "region"
        | "stateprovince" => Attr::Province,
        "country" | "country code" | "countrycode" | "country region" => Attr::Country,
        "url" | "website" | "web" | "www" | "web page" | "homepage" => Attr::Url,
        _ => return None,
    })
}

/// Splits a contact key into its role and the rest (`registrant state province` →
/// (Registrant, `state province`)).
pub fn role_prefix(key: &str) -> Option<(SectionKind, &str)> {
    const PREFIXES: [(&str, SectionKind); 17] = [
        ("registrant contact", SectionKind::Registrant),
        ("registrant", SectionKind::Registrant),
        ("holder", SectionKind::Registrant),
        ("owner", SectionKind::Registrant),
        ("titular", SectionKind::Registrant),
        ("administrative contact", SectionKind::Admin),
        ("administrative", SectionKind::Admin),
        ("admin contact", SectionKind::Admin),
        ("admin", SectionKind::Admin),
        ("ac", SectionKind::Admin),
        ("technical contact", SectionKind::Tech),
        ("technical", SectionKind::Tech),
        ("tech contact", SectionKind::Tech),
        ("tech", SectionKind::Tech),
        ("billing contact", SectionKind::Billing),
        ("billing", SectionKind::Billing),
        ("registrar", SectionKind::Registrar),
    ];
    for (prefix, kind) in PREFIXES {
        if let Some(rest) = key.strip_prefix(prefix) {
            if rest.is_empty() {
                return Some((kind, ""));
            }
            if let Some(rest) = rest.strip_prefix(' ') {
                return Some((kind, rest));
            }
        }
    }
    None
}

/// Whether entry `e` is a name-server entry (by key, or by its section).
pub fn is_ns_entry(layout: &Layout, e: &Entry) -> bool {
    match e.section {
        Some(s) if layout.sections[s].kind == SectionKind::NameServers => {
            is_ns_section_key(&e.key, &layout.sections[s].name)
        }
        Some(s)
            if matches!(
                layout.sections[s].kind,
                SectionKind::Domain | SectionKind::Other
            ) =>
        {
            is_ns_key(&e.key)
        }
        Some(_) => false,
        None => is_ns_key(&e.key),
    }
}

pub const REGISTRAR_KEYS: &[&str] = REGISTRAR;
pub const REGISTRAR_URL_KEYS: &[&str] = REGISTRAR_URL;
pub const REGISTRAR_EMAIL_KEYS: &[&str] = REGISTRAR_EMAIL;
pub const REGISTRAR_PHONE_KEYS: &[&str] = REGISTRAR_PHONE;
