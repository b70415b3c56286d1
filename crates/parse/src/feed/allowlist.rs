//! Allowlists: MISP warninglists and ranked top-site lists.
//!
//! **Warninglists** (kind [`AllowlistKind::Curated`]); each `type` keeps its own semantics:
//! - `string`: exact values → [`AllowMatch::Exact`] entries. A leading dot (`.google.ad`,
//!   as the `google` and `microsoft` lists write zones) can never equal a name exactly, so
//!   it is read as the zone notation it is → [`AllowMatch::Hostname`].
//! - `hostname`: the name and everything below it → `Hostname` (a leading dot is dropped).
//! - `cidr`: addresses and networks → [`NetworkAllowEntry`], a type of its own, not a record
//!   with risk "none": an allowlisted network is the list's statement, switched on and off
//!   with the list, while an `IpRecord` is a source's threat claim.
//! - `substring` and `regex`: only what is unambiguously one domain name becomes an entry,
//!   and only with a matching that is a subset of what the list meant: a substring entry that
//!   is a whole registrable-or-deeper name (`app.any.run`) → `Hostname` (every name it covers
//!   contains the substring); a regex that is an anchored literal (`^www\.example\.com$`) →
//!   `Exact`, or `^(.*\.)?literal$` / `(^|\.)literal$` → `Hostname`. Everything else is a
//!   [`PatternRule`], kept for a store that can hold it, with label-aligned substring
//!   semantics (see [`PatternRule::matches`]) so `mail` never vouches for `gmail.com`.
//! - Any entry that is an IP address or CIDR block is a network entry, whatever the type.
//! - `matching_attributes`: a list for neither names nor addresses (hashes, e-mail
//!   addresses, phone numbers, application ids) yields nothing: [`WarninglistRole::NotDomains`].
//! - Hostname matching never covers names below a public suffix the entry itself is
//!   (`duckdns.org`, `github.io`, `co.uk`): those names belong to unrelated owners, so such
//!   entries become `Exact`.
//! - Lists of shared infrastructure that attackers use as much as anyone (dynamic DNS,
//!   parking, sinkholes, URL shorteners, disposable e-mail, free hosting / "living off trusted
//!   sites", IPFS gateways, link-in-bio) are imported disabled
//!   ([`WarninglistRole::SharedInfrastructure`]): being on them says "not informative", not
//!   "safe", and an operator may still enable them.
//!
//! **Top-site lists** (kind [`AllowlistKind::TopSites`]): `rank,name` CSV (Tranco, Alexa,
//! Umbrella dumps) or one name per line (rank = position); a header line (`Domain`,
//! `rank,domain`) is skipped. An entry that is its own registrable domain matches as
//! `Hostname` (the owner's whole zone); a deeper name (Umbrella's FQDNs) or a public suffix
//! matches `Exact` only, unless [`TopListOptions::matching`] forces one matching for all.

use regex::RegexBuilder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use threatintel_model::NetworkAllowEntry;
use threatintel_model::{
    AllowMatch, Allowlist, AllowlistEntry, AllowlistKind, DomainName, Evidence,
};

use super::ioc::parse_network;
use super::{numbered_lines, Parsed};
use crate::Reject;

/// How a [`PatternRule`] matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    /// The needle, lower-cased, as a run of whole labels of the name.
    Substring,
    /// A regular expression (Rust `regex` syntax, validated), matched against the whole
    /// lower-case name as written (its own anchors decide).
    Regex { case_insensitive: bool },
}

/// A warninglist entry this model cannot hold as a name entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternRule {
    pub list: String,
    pub kind: PatternKind,
    /// The needle, or the regex source without `/.../flags` delimiters.
    pub pattern: String,
}

impl PatternRule {
    /// Whether the rule covers `name`. Substring rules match only at label boundaries:
    /// needle `mail.ru` matches `mail.ru` and `x.mail.ru` and `mail.ru.example`, never
    /// `gmail.ru` or `hotmail.ru.example` — MISP's raw substring test would flag names the
    /// list never meant. An invalid regex matches nothing.
    pub fn matches(&self, name: &DomainName) -> bool {
        let n = name.as_str();
        match &self.kind {
            PatternKind::Substring => {
                let needle = self.pattern.trim_matches('.').to_ascii_lowercase();
                if needle.is_empty() {
                    return false;
                }
                n.match_indices(&needle).any(|(i, m)| {
                    let before_ok = i == 0 || n.as_bytes()[i - 1] == b'.';
                    let end = i + m.len();
                    let after_ok = end == n.len() || n.as_bytes()[end] == b'.';
                    before_ok && after_ok
                })
            }
            PatternKind::Regex { case_insensitive } => RegexBuilder::new(&self.pattern)
                .case_insensitive(*case_insensitive)
                .size_limit(1 << 20)
                .build()
                .is_ok_and(|re| re.is_match(n)),
        }
    }
}

/// What a warninglist is good for here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarninglistRole {
    /// Names and addresses that are benign: imported enabled.
    Benign,
    /// Infrastructure shared with attackers: imported disabled.
    SharedInfrastructure,
    /// Not a list of names or addresses: nothing imported.
    NotDomains,
}

/// One warninglist, converted.
#[derive(Debug, Clone, PartialEq)]
pub struct WarninglistOutput {
    pub allowlist: Allowlist,
    pub role: WarninglistRole,
    /// The warninglist's `type`.
    pub list_type: String,
    pub entries: Vec<AllowlistEntry>,
    pub networks: Vec<NetworkAllowEntry>,
    pub patterns: Vec<PatternRule>,
    /// 1-based entry positions in `list`.
    pub rejects: Vec<Reject>,
    /// Entries not imported on purpose (the list is for other attribute types).
    pub skipped: u64,
}

impl WarninglistOutput {
    /// The allowlist, then its name entries (what a store holds today).
    pub fn into_evidence(self) -> Vec<Evidence> {
        let mut out = vec![Evidence::Allowlist(self.allowlist)];
        out.extend(self.entries.into_iter().map(Evidence::AllowlistEntry));
        out.extend(self.networks.into_iter().map(Evidence::NetworkAllowEntry));
        out
    }
}

const DOMAIN_ATTRIBUTES: &[&str] = &[
    "hostname",
    "domain",
    "domain|ip",
    "url",
    "uri",
    "hostname|port",
    "link",
];
const IP_ATTRIBUTES: &[&str] = &[
    "ip-src",
    "ip-dst",
    "ip-src|port",
    "ip-dst|port",
    "domain|ip",
    "ip",
];

/// Words in a list's name or description that mark shared infrastructure.
const SHARED_MARKERS: &[&str] = &[
    "dynamic dns",
    "dynamic-dns",
    "parking",
    "sinkhole",
    "shortener",
    "disposable",
    "living off trusted sites",
    "lots-project",
    "ipfs",
    "link-in-bio",
    "link in bio",
    "free hosting",
];

/// Converts one warninglist (`lists/<name>/list.json`). `list_name` names the allowlist
/// (e.g. `misp-warninglist:tranco10k` from the directory); without it the list's own `name`
/// does. A document that is not a warninglist yields no entries and one reject.
pub fn parse_warninglist(text: &str, list_name: Option<&str>) -> WarninglistOutput {
    let doc: Result<Value, _> = serde_json::from_str(text);
    let (doc, err) = match doc {
        Ok(v)
            if v.get("list").is_some_and(Value::is_array)
                && v.get("type").is_some_and(Value::is_string) =>
        {
            (v, None)
        }
        Ok(_) => (
            Value::Null,
            Some(Reject {
                line: 0,
                reason: "not a warninglist: needs \"type\" and a \"list\" array".to_owned(),
            }),
        ),
        Err(e) => (
            Value::Null,
            Some(Reject {
                line: e.line() as u64,
                reason: format!("not JSON: {e}"),
            }),
        ),
    };
    let name = list_name
        .map(str::to_owned)
        .or_else(|| doc.get("name").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "warninglist".to_owned());
    let list_type = doc
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut out = WarninglistOutput {
        allowlist: Allowlist {
            name: name.clone(),
            kind: AllowlistKind::Curated,
            enabled: true,
        },
        role: WarninglistRole::Benign,
        list_type: list_type.clone(),
        entries: Vec::new(),
        networks: Vec::new(),
        patterns: Vec::new(),
        rejects: err.into_iter().collect(),
        skipped: 0,
    };
    let items: Vec<&Value> = doc
        .get("list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let attrs: Vec<&str> = doc
        .get("matching_attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let for_names = attrs.is_empty() || attrs.iter().any(|a| DOMAIN_ATTRIBUTES.contains(a));
    let for_ips = attrs.is_empty() || attrs.iter().any(|a| IP_ATTRIBUTES.contains(a));
    if !for_names && !for_ips {
        out.role = WarninglistRole::NotDomains;
        out.allowlist.enabled = false;
        out.skipped = items.len() as u64;
        return out;
    }
    let text_of = |k: &str| {
        doc.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let about = format!(
        "{} {} {}",
        name.to_ascii_lowercase(),
        text_of("name"),
        text_of("description")
    );
    if SHARED_MARKERS.iter().any(|m| about.contains(m)) {
        out.role = WarninglistRole::SharedInfrastructure;
        out.allowlist.enabled = false;
    }
    if !matches!(
        list_type.as_str(),
        "string" | "hostname" | "substring" | "regex" | "cidr"
    ) {
        out.rejects.push(Reject {
            line: 0,
            reason: format!("unknown warninglist type {list_type:?}"),
        });
        return out;
    }
    for (i, item) in items.iter().enumerate() {
        let line = i as u64 + 1;
        let Some(raw) = item.as_str() else {
            out.rejects.push(Reject {
                line,
                reason: "entry is not a string".to_owned(),
            });
            continue;
        };
        let entry = raw.trim();
        if entry.is_empty() {
            continue;
        }
        // Addresses and networks, whatever the type (regexes excepted: `.` is special there).
        if list_type != "regex" {
            if let Some(net) = parse_network(entry) {
                if for_ips {
                    out.networks.push(NetworkAllowEntry {
                        list: name.clone(),
                        network: net,
                    });
                } else {
                    out.skipped += 1;
                }
                continue;
            }
        }
        if list_type == "cidr" {
            out.rejects.push(Reject {
                line,
                reason: format!("{entry:?} is not an IP address or CIDR block"),
            });
            continue;
        }
        if !for_names {
            out.skipped += 1;
            continue;
        }
        let converted = match list_type.as_str() {
            "string" => match entry.strip_prefix('.') {
                Some(zone) => name_entry(zone, AllowMatch::Hostname),
                None => name_entry(entry, AllowMatch::Exact),
            },
            "hostname" => name_entry(entry.trim_start_matches('.'), AllowMatch::Hostname),
            "substring" => match substring_entry(entry) {
                Some(n) => Ok(n),
                None => {
                    out.patterns.push(PatternRule {
                        list: name.clone(),
                        kind: PatternKind::Substring,
                        pattern: entry.to_ascii_lowercase(),
                    });
                    continue;
                }
            },
            _ => match regex_entry(entry) {
                Ok(RegexEntry::Name(n, m)) => name_entry(&n, m),
                Ok(RegexEntry::Rule(pattern, case_insensitive)) => {
                    out.patterns.push(PatternRule {
                        list: name.clone(),
                        kind: PatternKind::Regex { case_insensitive },
                        pattern,
                    });
                    continue;
                }
                Err(e) => Err(e),
            },
        };
        match converted {
            Ok((n, matching)) => out.entries.push(AllowlistEntry {
                name: n,
                matching,
                list: name.clone(),
                rank: None,
            }),
            Err(reason) => out.rejects.push(Reject { line, reason }),
        }
    }
    out
}

/// A name entry; `Hostname` narrowed to `Exact` for public suffixes.
fn name_entry(s: &str, matching: AllowMatch) -> Result<(DomainName, AllowMatch), String> {
    let n = DomainName::parse(s).map_err(|e| format!("{s:?}: {e}"))?;
    let matching = if matching == AllowMatch::Hostname && n.suffix_kind().is_some() {
        AllowMatch::Exact
    } else {
        matching
    };
    Ok((n, matching))
}

/// A substring entry that is unambiguously a domain name at or below a registrable domain.
fn substring_entry(s: &str) -> Option<(DomainName, AllowMatch)> {
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && s.contains('.');
    if !plain || s.starts_with('.') || s.ends_with('.') || s.starts_with('-') {
        return None;
    }
    let n = DomainName::parse(s).ok()?;
    if n.suffix_kind().is_some() || n.registrable().is_none() {
        return None;
    }
    Some((n, AllowMatch::Hostname))
}

enum RegexEntry {
    Name(String, AllowMatch),
    Rule(String, bool),
}

/// `/body/flags` (PCRE style, as MISP writes them) or a bare body.
fn regex_entry(s: &str) -> Result<RegexEntry, String> {
    let (body, flags) = match s.strip_prefix('/').and_then(|r| r.rsplit_once('/')) {
        Some((body, flags)) if flags.bytes().all(|b| b.is_ascii_alphabetic()) => (body, flags),
        _ => (s, ""),
    };
    let case_insensitive = flags.contains('i');
    // PCRE's `\@` and `\/` are plain characters; Rust's regex rejects the needless escapes.
    let body = body.replace("\\@", "@").replace("\\/", "/");
    RegexBuilder::new(&body)
        .case_insensitive(case_insensitive)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            format!(
                "regex {s:?}: {}",
                e.to_string().lines().last().unwrap_or("invalid")
            )
        })?;
    for (prefix, matching) in [
        ("^(.*\\.)?", AllowMatch::Hostname),
        ("(^|\\.)", AllowMatch::Hostname),
        ("^", AllowMatch::Exact),
    ] {
        if let Some(lit) = body
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix('$'))
            .and_then(unescape_literal)
        {
            if lit.contains('.') && DomainName::parse(&lit).is_ok() {
                return Ok(RegexEntry::Name(lit, matching));
            }
        }
    }
    Ok(RegexEntry::Rule(body, case_insensitive))
}

/// `www\.example\.com` → `www.example.com`; `None` if any other regex syntax is in it.
fn unescape_literal(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '.' => out.push('.'),
                '-' => out.push('-'),
                _ => return None,
            },
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// How to read a top-site list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopListOptions {
    /// The allowlist's name (`tranco`, `umbrella-top10k`).
    pub list: String,
    /// One matching for every entry; `None` for the per-entry rule (module docs).
    pub matching: Option<AllowMatch>,
    /// Entries ranked below this are left out.
    pub max_rank: Option<u32>,
}

impl TopListOptions {
    pub fn new(list: impl Into<String>) -> Self {
        Self {
            list: list.into(),
            matching: None,
            max_rank: None,
        }
    }
}

const HEADER_WORDS: &[&str] = &[
    "domain", "domains", "name", "host", "hostname", "site", "rank", "origin", "fqdn",
];

/// A ranked top-site list: the [`Allowlist`] first, then one entry per name. Rejects carry
/// line numbers.
pub(crate) fn parse_top_list(text: &str, opts: &TopListOptions) -> Parsed {
    let mut out = Parsed::default();
    out.evidence.push(Evidence::Allowlist(Allowlist {
        name: opts.list.clone(),
        kind: AllowlistKind::TopSites,
        enabled: true,
    }));
    let mut implicit_rank: u32 = 0;
    let mut seen_data = false;
    for (no, line) in numbered_lines(text) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect();
        if !seen_data
            && fields
                .iter()
                .all(|f| HEADER_WORDS.iter().any(|h| f.eq_ignore_ascii_case(h)))
        {
            continue;
        }
        seen_data = true;
        implicit_rank = implicit_rank.saturating_add(1);
        let (rank, name) = match fields.as_slice() {
            [name] => (implicit_rank, *name),
            [rank, name, ..] if !rank.is_empty() && rank.bytes().all(|b| b.is_ascii_digit()) => {
                match rank.parse::<u32>() {
                    Ok(r) => (r, *name),
                    Err(_) => {
                        out.reject(no, format!("rank {rank:?} is out of range"));
                        continue;
                    }
                }
            }
            _ => {
                out.reject(no, format!("expected `rank,name` or `name`, got {line:?}"));
                continue;
            }
        };
        if opts.max_rank.is_some_and(|m| rank > m) {
            out.skipped += 1;
            continue;
        }
        let parsed = match DomainName::parse(name) {
            Ok(n) => n,
            Err(e) => {
                out.reject(no, format!("{name:?}: {e}"));
                continue;
            }
        };
        let matching = opts.matching.unwrap_or_else(|| {
            if parsed.suffix_kind().is_none() && parsed.registrable().as_ref() == Some(&parsed) {
                AllowMatch::Hostname
            } else {
                AllowMatch::Exact
            }
        });
        out.evidence.push(Evidence::AllowlistEntry(AllowlistEntry {
            name: parsed,
            matching,
            list: opts.list.clone(),
            rank: Some(rank),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_literals() {
        assert!(
            matches!(regex_entry(r"/^www\.example\.com$/i"), Ok(RegexEntry::Name(n, AllowMatch::Exact)) if n == "www.example.com")
        );
        assert!(matches!(
            regex_entry(r"^(.*\.)?example\.com$"),
            Ok(RegexEntry::Name(_, AllowMatch::Hostname))
        ));
        assert!(matches!(
            regex_entry(r"/^(security|noc)\@.*\..*$/i"),
            Ok(RegexEntry::Rule(_, true))
        ));
        assert!(regex_entry("/(unclosed/").is_err());
    }
}
