//! First pass over a WHOIS answer: lines become `(section, key, value)` entries.
//!
//! Registries write the same facts in many layouts: `Key: value` (ICANN, most ccTLDs),
//! `Key.....: value`, `[Key]  value` (JPRS), `Key<TAB>value` (SWITCH), a header line with the
//! values indented below it (Nominet, EURid, .it), RIPE-style blocks separated by blank lines
//! (AFNIC, .ru, DENIC), and phrases such as `Record expires on 2021-08-13`. This pass only
//! recognises layout; the meaning of keys is decided in `fields`.

/// What a section header announces; it gives meaning to generic keys (`Name:`, `Created:`)
/// and to bare lines below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    Registrant,
    Admin,
    Tech,
    Billing,
    Registrar,
    NameServers,
    /// Domain data or dates: generic keys here describe the domain itself.
    Domain,
    Other,
}

#[derive(Debug, Clone)]
pub struct Section {
    /// The normalised header (`registrar`, `name servers`, `tech c`).
    pub name: String,
    pub kind: SectionKind,
}

/// One `key: value` found in the text. Bare lines inside a section get the section's name as
/// their key, so `Registrar:\n    Markmonitor Inc.` reads as `registrar = Markmonitor Inc.`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub section: Option<usize>,
    /// Normalised key: lower case, punctuation folded to spaces, brackets and parenthesised
    /// notes removed (`Registrant State/Province` → `registrant state province`).
    pub key: String,
    pub value: String,
    /// Index of the blank-line separated block the entry is in (RIPE-style objects).
    pub block: usize,
    /// Whether the entry came from a bare line (no key of its own).
    pub bare: bool,
}

#[derive(Debug, Default)]
pub struct Layout {
    pub entries: Vec<Entry>,
    pub sections: Vec<Section>,
}

impl Layout {
    pub fn section_kind(&self, entry: &Entry) -> Option<SectionKind> {
        entry.section.map(|i| self.sections[i].kind)
    }
}

/// Folds a raw key to its normal form.
pub fn normalize_key(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut depth = 0u32;
    for c in raw.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '[' | ']' | '.' | ':' | '_' | '-' | '/' | '\'' | '"' | '*' | '>' | '<' | '|' => {
                out.push(' ')
            }
            _ => out.extend(c.to_lowercase()),
        }
    }
    let mut key = out.split_whitespace().collect::<Vec<_>>().join(" ");
    // `a. [Domain Name]`, `1. Domain`: enumerations before the key.
    if let Some((first, rest)) = key.split_once(' ') {
        if first.len() == 1 && first.chars().all(|c| c.is_ascii_alphanumeric()) && !rest.is_empty()
        {
            key = rest.to_owned();
        }
    }
    key
}

/// How a header name (normalised) classifies, or `None` when it is not a known header.
pub fn header_kind(key: &str) -> Option<SectionKind> {
    let k = key
        .trim_end_matches(" information")
        .trim_end_matches(" info");
    let k = k.trim_end_matches(" data").trim_end_matches(" details");
    let words: Vec<&str> = k.split(' ').collect();
    let has = |w: &str| words.contains(&w);
    if words.len() > 7 || k.is_empty() {
        return None;
    }
    if has("nameservers")
        || has("nameserver")
        || has("nserver")
        || k.contains("name server")
        || k.contains("domain servers")
        || k.contains("domain server")
        || k == "dns"
        || k == "dns servers"
        || k == "servers"
        || k == "servidores de nombre"
        || k == "hosts"
    {
        return Some(SectionKind::NameServers);
    }
    if words.len() > 5 {
        return None;
    }
    // Keys that carry a value of their own are never headers (`registrant name`).
    const VALUE_WORDS: [&str; 27] = [
        "email",
        "e",
        "phone",
        "fax",
        "id",
        "city",
        "country",
        "street",
        "url",
        "ext",
        "iana",
        "whois",
        "date",
        "handle",
        "name",
        "organization",
        "organisation",
        "org",
        "postal",
        "province",
        "state",
        "address",
        "zip",
        "type",
        "company",
        "number",
        "code",
    ];
    if words
        .iter()
        .any(|w| VALUE_WORDS.contains(&w.trim_end_matches(|c: char| c.is_ascii_digit())))
    {
        return None;
    }
    if has("registrant")
        || has("owner")
        || has("holder")
        || has("titular")
        || k == "registrant contact"
        || k == "holder of domain name"
    {
        return Some(SectionKind::Registrant);
    }
    if has("admin") || has("administrative") || has("administrativo") || k == "ac" {
        return Some(SectionKind::Admin);
    }
    if has("tech") || has("technical") || has("tecnico") || has("técnico") || k == "zone c" {
        return Some(SectionKind::Tech);
    }
    if has("billing") || has("cobranza") {
        return Some(SectionKind::Billing);
    }
    if has("registrar") || k == "sponsoring registrar" {
        return Some(SectionKind::Registrar);
    }
    if matches!(
        k,
        "domain"
            | "domain name"
            | "relevant dates"
            | "important dates"
            | "dates"
            | "domain information"
            | "registration status"
            | "status"
            | "domain status"
            | "data validation"
    ) {
        return Some(SectionKind::Domain);
    }
    None
}

fn is_comment(t: &str) -> bool {
    t.starts_with('%')
        || t.starts_with('#')
        || t.starts_with(">>>")
        || t.starts_with("--")
        || t.starts_with(';')
        || (t.starts_with('[') && t.ends_with(']') && t.len() > 40)
}

/// `Key: value`, `Key....: value`, `[Key] value`, `Key<TAB>value`; `None` for a bare line.
fn split_kv(t: &str) -> Option<(String, String)> {
    // JPRS: `[Domain Name]   GOOGLE.JP`, `a. [Domain Name]   GOOGLE.JP`.
    let unnumbered = t
        .split_once(". [")
        .filter(|(n, _)| n.len() <= 2 && n.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(|(_, rest)| rest)
        .or_else(|| t.strip_prefix('['));
    if let Some(rest) = unnumbered {
        if let Some((k, v)) = rest.split_once(']') {
            if !k.is_empty() && k.chars().count() <= 40 {
                return Some((k.to_owned(), v.trim().to_owned()));
            }
        }
    }
    // The first colon that is not inside a time of day (`Registered on 30th April 2003 at 00:00`).
    let colon = t.char_indices().find(|&(i, c)| {
        if c != ':' {
            return false;
        }
        let before = t[..i]
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .chars()
            .last();
        let hour = t[..i].ends_with(|c: char| c.is_ascii_digit())
            && !before.is_some_and(char::is_alphabetic);
        !(hour && t[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
    });
    if let Some((pos, _)) = colon {
        let (k, v) = (&t[..pos], &t[pos + 1..]);
        let bare_key = k.trim().trim_end_matches('.');
        let host_like = !bare_key.contains(' ') && bare_key.contains('.');
        let key_ok = !k.trim().is_empty()
            && !host_like
            && !k.contains('[')
            && !k.trim().contains('\t')
            && k.chars().count() <= 60
            && k.chars().any(char::is_alphabetic)
            && !v.starts_with("//")
            && k.split_whitespace().count() <= 8
            && !k.contains("http");
        if key_ok {
            // `Key: value` where the value begins with the tab or space of a column layout.
            return Some((k.to_owned(), v.trim().to_owned()));
        }
    }
    if let Some((k, v)) = t.split_once('\t') {
        let k = k.trim();
        // `ns1.example.ch<TAB>[192.0.2.1]` is a value, not a key.
        if !k.is_empty()
            && k.chars().count() <= 40
            && k.chars().any(char::is_alphabetic)
            && !k.contains('.')
        {
            return Some((k.to_owned(), v.trim().to_owned()));
        }
    }
    // Column layout without a colon: `Domain Name      google.com` (only for known keys).
    if let Some(pos) = t.find("  ") {
        let (k, v) = (t[..pos].trim(), t[pos..].trim());
        let key_like = k.ends_with(|c: char| c.is_alphanumeric() || c == ')');
        // `Admin-legal-form    zivnost` (SK-NIC): one hyphenated or underscored token.
        let one_token = !k.contains([' ', '.', '@', '/'])
            && k.contains(['-', '_'])
            && k.chars().next().is_some_and(char::is_alphabetic);
        if key_like
            && !v.is_empty()
            && (one_token || super::fields::is_known_key(&normalize_key(k)))
        {
            return Some((k.to_owned(), v.to_owned()));
        }
    }
    // Phrases: `Record expires on 2021-08-13 00:00:00 (UTC+8)`, `Created on 2001-01-01`.
    let lower = t.to_ascii_lowercase();
    for phrase in [
        "record expires on",
        "record created on",
        "record will expire on",
        "record last updated on",
        "domain expires on",
        "domain created on",
        "expires on",
        "created on",
        "last updated on",
        "registered on",
        "expiry date",
        "renewal date",
    ] {
        if let Some(rest) = lower.strip_prefix(phrase) {
            let rest_raw = &t[t.len() - rest.len()..];
            if super::date::parse_date(rest_raw).is_some() {
                return Some((phrase.to_owned(), rest_raw.trim().to_owned()));
            }
        }
    }
    None
}

fn indent_of(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 8 } else { 1 })
        .sum()
}

/// Splits a WHOIS answer into entries.
pub fn layout(text: &str) -> Layout {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', ' ', '\t']))
        .collect();
    let mut out = Layout::default();
    let mut section: Option<(usize, usize)> = None; // (section index, header indent)
                                                    // Whether the open section began with `Key<TAB>value` (it then ends at the next key).
    let mut opened_by_value = false;
    let mut last_kv: Option<(String, usize)> = None; // (key, indent)
    let mut block = 0usize;
    let next_indent = |i: usize| -> Option<usize> {
        lines[i + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .map(|l| indent_of(l))
    };
    let next_is_bare = |i: usize| -> bool {
        lines
            .get(i + 1)
            .is_some_and(|l| !l.trim().is_empty() && split_kv(l.trim()).is_none())
    };
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            // `Name Servers Information:`, a blank line, then the values: a header with
            // nothing under it yet stays open across one blank line.
            let empty_header = section.is_some_and(|(s, _)| {
                !out.entries.iter().any(|e| e.section == Some(s))
                    && lines
                        .get(i.wrapping_sub(1))
                        .is_some_and(|l| !l.trim().is_empty())
            });
            if !empty_header {
                section = None;
            }
            last_kv = None;
            if i > 0 && !lines[i - 1].trim().is_empty() {
                block += 1;
            }
            continue;
        }
        if is_comment(t) {
            continue;
        }
        let indent = indent_of(line);
        if let Some((k, v)) = split_kv(t) {
            let key = normalize_key(&k);
            if key.is_empty() {
                continue;
            }
            let kind = header_kind(&key);
            let deeper_next = next_indent(i).is_some_and(|n| n > indent);
            // `First registration date:` with the value on the next line (SWITCH).
            let field_header = v.is_empty()
                && super::fields::is_known_key(&key)
                && lines
                    .get(i + 1)
                    .is_some_and(|l| !l.trim().is_empty() && split_kv(l.trim()).is_none());
            if v.is_empty() && (kind.is_some() || deeper_next || field_header) {
                // A header: `Registrar:` with the values below it.
                let kind = kind.unwrap_or(if super::fields::is_ns_key(&key) {
                    SectionKind::NameServers
                } else if field_header {
                    SectionKind::Domain
                } else {
                    SectionKind::Other
                });
                out.sections.push(Section {
                    name: key.clone(),
                    kind,
                });
                section = Some((out.sections.len() - 1, indent));
                opened_by_value = false;
                last_kv = None;
                continue;
            }
            if let Some((_, header_indent)) = section {
                // A line as shallow as a deeper-indented header's ends that section.
                if indent < header_indent
                    || (indent == header_indent && header_indent > 0 && kind.is_some())
                    || (opened_by_value && indent <= header_indent)
                    || (indent <= header_indent
                        && out.sections[section.map_or(0, |(s, _)| s)].kind
                            == SectionKind::NameServers)
                {
                    section = None;
                }
            }
            let mut entry_section = section.map(|(s, _)| s);
            if kind.is_some() && !v.is_empty() && next_is_bare(i) && section.is_none() {
                // `Registrar<TAB>MarkMonitor` followed by address lines (SWITCH).
                out.sections.push(Section {
                    name: key.clone(),
                    kind: kind.unwrap_or(SectionKind::Other),
                });
                section = Some((out.sections.len() - 1, indent));
                opened_by_value = true;
                entry_section = section.map(|(s, _)| s);
            }
            let value_indent = indent + line.trim_start().find(&v).unwrap_or(k.len() + 1);
            out.entries.push(Entry {
                section: entry_section,
                key: key.clone(),
                value: v,
                block,
                bare: false,
            });
            last_kv = Some((key, value_indent.max(indent + 1)));
            continue;
        }
        // A bare line: a header without colon, a continuation, or a value under a header.
        let key = normalize_key(t);
        if let Some(kind) = header_kind(&key) {
            if t.chars().count() <= 40 && !t.contains('@') && key.split(' ').count() <= 5 {
                out.sections.push(Section { name: key, kind });
                section = Some((out.sections.len() - 1, indent));
                opened_by_value = false;
                last_kv = None;
                continue;
            }
        }
        if let Some((s, header_indent)) = section {
            if indent >= header_indent {
                let name = out.sections[s].name.clone();
                let key = match &last_kv {
                    Some((k, value_indent)) if indent >= *value_indent => k.clone(),
                    _ => name,
                };
                out.entries.push(Entry {
                    section: Some(s),
                    key,
                    value: t.to_owned(),
                    block,
                    bare: true,
                });
                continue;
            }
        }
        if let Some((k, value_indent)) = &last_kv {
            if indent >= *value_indent || indent > 0 {
                out.entries.push(Entry {
                    section: section.map(|(s, _)| s),
                    key: k.clone(),
                    value: t.to_owned(),
                    block,
                    bare: true,
                });
                continue;
            }
        }
        out.entries.push(Entry {
            section: None,
            key: String::new(),
            value: t.to_owned(),
            block,
            bare: true,
        });
    }
    object_blocks(&mut out);
    out
}

/// RIPE-style objects without a header line: a block that opens with `Registrar: HANDLE` or
/// `Administrative Contact: HANDLE` and goes on with generic keys (`Name:`, `Email:`) is that
/// role's section. Blocks that describe name-server hosts (`Server Name:` in Verisign thin
/// answers) are dropped: they are other objects that matched the query.
fn object_blocks(out: &mut Layout) {
    let mut i = 0;
    while i < out.entries.len() {
        let block = out.entries[i].block;
        let end = out.entries[i..]
            .iter()
            .position(|e| e.block != block)
            .map_or(out.entries.len(), |p| i + p);
        let first = &out.entries[i];
        if first.key == "server name" && first.section.is_none() {
            out.entries.drain(i..end);
            continue;
        }
        let kind = header_kind(&first.key);
        let rest = &out.entries[i + 1..end];
        let generic = rest
            .iter()
            .filter(|e| {
                e.section.is_none() && super::fields::attr(&e.key).is_some() && !e.key.is_empty()
            })
            .count();
        if let Some(kind) = kind.filter(|k| {
            !matches!(
                k,
                SectionKind::Domain | SectionKind::NameServers | SectionKind::Other
            )
        }) {
            if first.section.is_none()
                && !first.value.is_empty()
                && generic >= 2
                && generic * 5 >= rest.len() * 3
            {
                out.sections.push(Section {
                    name: first.key.clone(),
                    kind,
                });
                let s = out.sections.len() - 1;
                for e in &mut out.entries[i..end] {
                    if e.section.is_none() {
                        e.section = Some(s);
                    }
                }
            }
        }
        i = end;
    }
}
