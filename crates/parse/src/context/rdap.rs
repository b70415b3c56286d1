//! RDAP domain objects (RFC 9083) → [`WhoisRecord`].
//!
//! - `events`: `registration` → created, `expiration` → expires, `last changed` → updated.
//! - `entities` (nested ones included, e.g. a registrar's `abuse` contact) by role:
//!   `registrant`, `administrative`, `technical`, `registrar`; contacts come from the jCard
//!   (RFC 7095) in `vcardArray`: `fn` → name, `org`, `email`, `tel` (a `tel:` URI is
//!   unwrapped), `adr` → street / city / province / country (the `cc` parameter when the
//!   country name is empty). The registrar's e-mail and phone fall back to its abuse contact.
//! - `nameservers[].ldhName` (lower case, no trailing dot, deduplicated), `port43` → WHOIS
//!   server, `secureDNS.delegationSigned` → `signed` / `unsigned`.
//! - `status`: RDAP's words are mapped to the EPP codes WHOIS uses (RFC 8056 §2:
//!   `client delete prohibited` → `clientDeleteProhibited`, `active` → `ok`); unknown values
//!   are kept as written.
//!
//! Structure is checked where the record depends on it: a value of the wrong JSON type, a
//! jCard that is not `["vcard", [[name, {params}, type, value...], ...]]` or has no `fn`, an
//! entity role outside RFC 9083's registry, or an unparseable date is a precise
//! [`RdapError`] naming the JSON path. Unknown members are ignored, as RFC 9083 requires.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use threatintel_model::{Contact, DomainName, Registrar, Timestamp, WhoisRecord};

/// Why a JSON text is not a usable RDAP domain object (or entity / jCard).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdapError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("{path}: expected {expected}")]
    Type {
        path: String,
        expected: &'static str,
    },
    #[error("objectClassName is {found:?}, not \"domain\"")]
    NotADomain { found: String },
    #[error("the domain object has neither ldhName nor unicodeName")]
    MissingName,
    #[error("{path}: {name:?} is not a domain name: {reason}")]
    BadName {
        path: String,
        name: String,
        reason: String,
    },
    #[error("{path}: {value:?} is not an RFC 3339 date")]
    BadDate { path: String, value: String },
    #[error("{path}: {reason}")]
    BadVcard { path: String, reason: String },
    #[error("{path}: {role:?} is not an RDAP entity role (RFC 9083 §10.2.4)")]
    BadRole { path: String, role: String },
}

/// RFC 9083 §10.2.4 entity roles.
const ROLES: [&str; 13] = [
    "registrant",
    "technical",
    "administrative",
    "abuse",
    "billing",
    "registrar",
    "reseller",
    "sponsor",
    "proxy",
    "notifications",
    "noc",
    "controller",
    "sponsoring registrar",
];

/// One entity with its roles and contact, nested entities flattened after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdapEntity {
    pub handle: String,
    pub roles: Vec<String>,
    pub contact: Contact,
    /// `url` from the jCard, if any.
    pub url: String,
    /// JSON path of the entity (`entities[0].entities[1]`).
    pub path: String,
    /// Path of the entity this one is nested in.
    pub parent: Option<String>,
}

/// Parses an RDAP domain response.
pub fn parse_rdap_domain(json: &str, observed_at: Timestamp) -> Result<WhoisRecord, RdapError> {
    parse_rdap_domain_for(json, None, observed_at)
}

/// Parses an RDAP domain response to a query for `queried`, which names the record when the
/// response has neither `ldhName` nor `unicodeName` (some servers redact them).
pub fn parse_rdap_domain_for(
    json: &str,
    queried: Option<&DomainName>,
    observed_at: Timestamp,
) -> Result<WhoisRecord, RdapError> {
    let value: Value = serde_json::from_str(json).map_err(|e| RdapError::Json(e.to_string()))?;
    parse_rdap_domain_value(&value, json, queried, observed_at)
}

fn obj<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, RdapError> {
    v.as_object().ok_or_else(|| RdapError::Type {
        path: path.to_owned(),
        expected: "an object",
    })
}

fn arr<'a>(v: Option<&'a Value>, path: &str) -> Result<&'a [Value], RdapError> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(RdapError::Type {
            path: path.to_owned(),
            expected: "an array",
        }),
    }
}

fn opt_str<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, RdapError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(RdapError::Type {
            path: format!("{path}.{key}"),
            expected: "a string",
        }),
    }
}

/// Parses an already-decoded RDAP domain response; `raw` is kept as the record's raw text.
pub fn parse_rdap_domain_value(
    value: &Value,
    raw: &str,
    queried: Option<&DomainName>,
    observed_at: Timestamp,
) -> Result<WhoisRecord, RdapError> {
    let m = obj(value, "$")?;
    if let Some(class) = opt_str(m, "objectClassName", "$")? {
        if !class.eq_ignore_ascii_case("domain") {
            return Err(RdapError::NotADomain {
                found: class.to_owned(),
            });
        }
    }
    let (name_path, name) = match (opt_str(m, "ldhName", "$")?, opt_str(m, "unicodeName", "$")?) {
        (Some(n), _) => ("$.ldhName", Some(n)),
        (None, Some(n)) => ("$.unicodeName", Some(n)),
        (None, None) => ("$", None),
    };
    let domain = match (name, queried) {
        (Some(name), _) => DomainName::parse(name).map_err(|e| RdapError::BadName {
            path: name_path.to_owned(),
            name: name.to_owned(),
            reason: e.to_string(),
        })?,
        (None, Some(q)) => q.clone(),
        (None, None) => return Err(RdapError::MissingName),
    };

    let (mut created, mut expires, mut updated) = (None, None, None);
    for (i, ev) in arr(m.get("events"), "$.events")?.iter().enumerate() {
        let path = format!("$.events[{i}]");
        let e = obj(ev, &path)?;
        let action = opt_str(e, "eventAction", &path)?.unwrap_or("");
        let Some(date) = opt_str(e, "eventDate", &path)? else {
            continue;
        };
        let t = parse_time(date).ok_or_else(|| RdapError::BadDate {
            path: format!("{path}.eventDate"),
            value: date.to_owned(),
        })?;
        let slot = match action.to_ascii_lowercase().as_str() {
            "registration" => &mut created,
            "expiration" => &mut expires,
            "last changed" => &mut updated,
            _ => continue,
        };
        slot.get_or_insert(t);
    }

    let mut nameservers: Vec<String> = Vec::new();
    for (i, ns) in arr(m.get("nameservers"), "$.nameservers")?
        .iter()
        .enumerate()
    {
        let path = format!("$.nameservers[{i}]");
        let n = obj(ns, &path)?;
        let name = opt_str(n, "ldhName", &path)?.or(opt_str(n, "unicodeName", &path)?);
        if let Some(name) = name {
            let host = DomainName::parse(name)
                .map(|d| d.to_string())
                .unwrap_or_else(|_| name.trim_end_matches('.').to_lowercase());
            if !nameservers.contains(&host) {
                nameservers.push(host);
            }
        }
    }

    let mut status: Vec<String> = Vec::new();
    for (i, s) in arr(m.get("status"), "$.status")?.iter().enumerate() {
        let s = s.as_str().ok_or_else(|| RdapError::Type {
            path: format!("$.status[{i}]"),
            expected: "a string",
        })?;
        let code = epp_status(s);
        if !status.contains(&code) {
            status.push(code);
        }
    }

    let dnssec = match m.get("secureDNS") {
        None | Some(Value::Null) => String::new(),
        Some(v) => {
            let sd = obj(v, "$.secureDNS")?;
            match sd.get("delegationSigned") {
                Some(Value::Bool(true)) => "signed".to_owned(),
                Some(Value::Bool(false)) => "unsigned".to_owned(),
                None | Some(Value::Null) => String::new(),
                Some(_) => {
                    return Err(RdapError::Type {
                        path: "$.secureDNS.delegationSigned".to_owned(),
                        expected: "a boolean",
                    })
                }
            }
        }
    };

    let entities = parse_entities(m.get("entities"), "$.entities", None)?;
    let with_role = |role: &str| entities.iter().find(|e| e.roles.iter().any(|r| r == role));
    let contact_of = |role: &str| {
        with_role(role)
            .map(|e| e.contact.clone())
            .unwrap_or_default()
    };
    let mut registrar = Registrar::default();
    if let Some(r) = with_role("registrar") {
        registrar.name = if r.contact.name.is_empty() {
            r.contact.organization.clone()
        } else {
            r.contact.name.clone()
        };
        registrar.url = r.url.clone();
        registrar.email = r.contact.email.clone();
        registrar.phone = r.contact.phone.clone();
        let abuse = entities.iter().find(|e| {
            e.parent.as_deref() == Some(r.path.as_str()) && e.roles.iter().any(|x| x == "abuse")
        });
        if let Some(a) = abuse {
            if registrar.email.is_empty() {
                registrar.email = a.contact.email.clone();
            }
            if registrar.phone.is_empty() {
                registrar.phone = a.contact.phone.clone();
            }
        }
    }

    Ok(WhoisRecord {
        domain,
        registrar,
        registrant: contact_of("registrant"),
        admin: contact_of("administrative"),
        tech: contact_of("technical"),
        whois_server: opt_str(m, "port43", "$")?
            .unwrap_or("")
            .to_ascii_lowercase(),
        dnssec,
        nameservers,
        status,
        created,
        expires,
        updated,
        observed_at,
        raw: raw.to_owned(),
    })
}

fn parse_time(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// RDAP status words → EPP status codes (RFC 8056 §2).
pub fn epp_status(rdap: &str) -> String {
    let s = rdap.trim();
    if s.eq_ignore_ascii_case("active") {
        return "ok".to_owned();
    }
    if !s.contains(' ') {
        return s.to_owned();
    }
    let mut out = String::new();
    for (i, word) in s.split_whitespace().enumerate() {
        let lower = word.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut c = lower.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        }
    }
    out
}

/// Parses an `entities` array (and the arrays nested in its members), depth first.
pub fn parse_entities(
    value: Option<&Value>,
    path: &str,
    parent: Option<&str>,
) -> Result<Vec<RdapEntity>, RdapError> {
    let mut out = Vec::new();
    for (i, e) in arr(value, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let (entity, nested) = entity_at(e, &p, parent)?;
        out.push(entity);
        out.extend(nested);
    }
    Ok(out)
}

/// Parses one entity object (with its nested entities after it).
pub fn parse_rdap_entity(value: &Value) -> Result<Vec<RdapEntity>, RdapError> {
    let (e, nested) = entity_at(value, "$", None)?;
    let mut out = vec![e];
    out.extend(nested);
    Ok(out)
}

fn entity_at(
    value: &Value,
    path: &str,
    parent: Option<&str>,
) -> Result<(RdapEntity, Vec<RdapEntity>), RdapError> {
    let m = obj(value, path)?;
    let mut roles = Vec::new();
    for (i, r) in arr(m.get("roles"), &format!("{path}.roles"))?
        .iter()
        .enumerate()
    {
        let r = r.as_str().ok_or_else(|| RdapError::Type {
            path: format!("{path}.roles[{i}]"),
            expected: "a string",
        })?;
        let lower = r.trim().to_ascii_lowercase();
        if !ROLES.contains(&lower.as_str()) {
            return Err(RdapError::BadRole {
                path: format!("{path}.roles[{i}]"),
                role: r.to_owned(),
            });
        }
        roles.push(lower);
    }
    let (contact, url) = match m.get("vcardArray") {
        None | Some(Value::Null) => (Contact::default(), String::new()),
        Some(v) => parse_jcard_at(v, &format!("{path}.vcardArray"))?,
    };
    let entity = RdapEntity {
        handle: opt_str(m, "handle", path)?.unwrap_or("").to_owned(),
        roles,
        contact,
        url,
        path: path.to_owned(),
        parent: parent.map(str::to_owned),
    };
    let nested = parse_entities(m.get("entities"), &format!("{path}.entities"), Some(path))?;
    Ok((entity, nested))
}

/// Parses a jCard (`vcardArray`) into a contact.
pub fn parse_jcard(value: &Value) -> Result<Contact, RdapError> {
    parse_jcard_at(value, "$.vcardArray").map(|(c, _)| c)
}

fn vcard_err(path: &str, reason: impl Into<String>) -> RdapError {
    RdapError::BadVcard {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Text of a jCard value: a string, or the non-empty strings of an array joined by ", ".
fn jtext(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Array(a) => a
            .iter()
            .map(jtext)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn parse_jcard_at(value: &Value, path: &str) -> Result<(Contact, String), RdapError> {
    let outer = value
        .as_array()
        .ok_or_else(|| vcard_err(path, "a jCard must be an array [\"vcard\", [properties]]"))?;
    if outer.len() != 2 || outer[0].as_str() != Some("vcard") {
        return Err(vcard_err(
            path,
            "a jCard must be an array of two elements, \"vcard\" and the property list",
        ));
    }
    let props = outer[1]
        .as_array()
        .ok_or_else(|| vcard_err(&format!("{path}[1]"), "the property list must be an array"))?;
    let mut c = Contact::default();
    let mut url = String::new();
    let mut has_fn = false;
    for (i, p) in props.iter().enumerate() {
        let pp = format!("{path}[1][{i}]");
        let p = p
            .as_array()
            .ok_or_else(|| vcard_err(&pp, "a property must be an array"))?;
        if p.len() < 4 {
            return Err(vcard_err(
                &pp,
                "a property must be [name, {parameters}, type, value, ...]",
            ));
        }
        let name = p[0]
            .as_str()
            .ok_or_else(|| vcard_err(&pp, "the property name must be a string"))?
            .to_ascii_lowercase();
        let params = p[1]
            .as_object()
            .ok_or_else(|| vcard_err(&pp, "the property parameters must be an object"))?;
        if !p[2].is_string() {
            return Err(vcard_err(&pp, "the value type must be a string"));
        }
        let value = &p[3];
        let set = |slot: &mut String, v: String| {
            if slot.is_empty() && !v.is_empty() {
                *slot = v;
            }
        };
        match name.as_str() {
            "fn" => {
                has_fn = true;
                set(&mut c.name, jtext(value));
            }
            "org" => set(&mut c.organization, jtext(value)),
            "email" => set(&mut c.email, jtext(value)),
            "tel" => {
                let t = jtext(value);
                let t = t.strip_prefix("tel:").unwrap_or(&t).to_owned();
                // Prefer a voice number over a fax.
                let is_fax = params
                    .get("type")
                    .map(jtext)
                    .is_some_and(|t| t.to_ascii_lowercase().contains("fax"));
                if !is_fax {
                    set(&mut c.phone, t);
                }
            }
            "url" => set(&mut url, jtext(value)),
            "adr" => {
                if let Value::Array(parts) = value {
                    // [po box, extended, street, locality, region, postal code, country]
                    let part = |k: usize| parts.get(k).map(jtext).unwrap_or_default();
                    let street: Vec<String> = [part(0), part(1), part(2)]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect();
                    set(&mut c.street, street.join(", "));
                    set(&mut c.city, part(3));
                    set(&mut c.province, part(4));
                    set(&mut c.country, part(6));
                } else if let Some(label) = params.get("label") {
                    set(&mut c.street, jtext(label));
                }
                if let Some(cc) = params.get("cc") {
                    set(&mut c.country, jtext(cc));
                }
            }
            _ => {}
        }
    }
    if !has_fn {
        return Err(vcard_err(
            path,
            "a vCard must have an fn property (RFC 6350 §6.2.1)",
        ));
    }
    Ok((c, url))
}
