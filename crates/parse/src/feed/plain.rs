//! Line-oriented lists: one name per line, hosts files, Adblock domain rules and maltrail
//! trail files, all through one line grammar (the syntaxes do not conflict):
//!
//! | line | meaning |
//! |---|---|
//! | blank, `# ...`, `! ...`, `; ...`, `[Adblock Plus 2.0]` | nothing (maltrail's `# Reference:` and `# Aliases:` are kept in the [`LineContext`]) |
//! | `name`, `name # comment` | the name |
//! | `*.name`, `.name` | the zone: every name strictly below `name` |
//! | `IP`, `IP:port`, `[v6]:port`, `CIDR` | the address or network ([`IpIntel`](threatintel_model::IpIntel)) |
//! | `scheme://host/...`, `host/path` | the URL's host, marked `via_url` (the list named a URL on the host, not the host) |
//! | 32, 40 or 64 hex digits | a file by its MD5, SHA-1 or SHA-256: a file record |
//! | `/path` | nothing: a maltrail path-only trail names no host |
//! | `0.0.0.0 name [name...]`, `127.0.0.1 name`, `::1 name` | hosts file: the names; `localhost` and the like are skipped |
//! | `\|\|name^`, `\|\|name^$third-party`, `\|\|name^$important` | Adblock whole-domain block: the name |
//! | `@@...`, `...##...` | nothing: Adblock exceptions and cosmetic rules are not threat claims |
//!
//! Defanged values are refanged. Everything else is a [`Reject`] with the reason (a bad name
//! gives the `DomainError` message; an Adblock rule with options that narrow it says which).
//!
//! Speed: a line costs one pass over its bytes plus [`DomainName::parse`]; building the
//! [`Evidence`] clones the defaults' strings (the model's records own them).
//! [`PlainParser::parse_item`] skips that and allocates nothing but the `DomainName`.

use threatintel_model::{DomainName, Evidence, FileHash, FileHashes, IpNetwork};

use super::ioc::{self, parse_network, refang, Target};
use super::FeedDefaults;
use crate::Reject;

/// What one line names, before the feed's defaults make it a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainItem {
    /// A name; `zone` for a listing of everything strictly below it; `via_url` when the line
    /// was a URL on the host (`scheme://host/...`, `host/path`) rather than the host itself.
    Name {
        name: DomainName,
        zone: bool,
        via_url: bool,
    },
    /// An address or network.
    Net(IpNetwork),
    /// A file, by one hash (a list of hashes: MD5, SHA-1 or SHA-256).
    File(FileHash),
}

impl PlainItem {
    /// The name itself, as the list wrote it (not a zone, not a URL's host).
    pub fn name(name: DomainName) -> Self {
        Self::Name {
            name,
            zone: false,
            via_url: false,
        }
    }
}

/// Block metadata of maltrail trail files, carried from line to line by
/// [`PlainParser::parse_line_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineContext {
    /// The `# Reference:` of the block being read (the first of stacked references).
    pub reference: Option<String>,
    /// Every `# Aliases:` name seen so far.
    pub aliases: Vec<String>,
    /// Whether a trail line came after the last reference (a new reference then starts a block).
    in_trails: bool,
}

/// Parser for line-oriented lists. Stateless: [`parse_line`](Self::parse_line) can run on
/// any line from any thread; [`parse_line_with`](Self::parse_line_with) adds maltrail's block
/// metadata.
#[derive(Debug, Clone)]
pub struct PlainParser {
    defaults: FeedDefaults,
}

const LOCAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// Adblock options that do not narrow a whole-domain block.
const HARMLESS_OPTIONS: &[&str] = &[
    "third-party",
    "3p",
    "important",
    "all",
    "document",
    "doc",
    "first-party",
    "1p",
    "~third-party",
];

impl PlainParser {
    pub fn new(defaults: FeedDefaults) -> Self {
        Self { defaults }
    }

    pub fn defaults(&self) -> &FeedDefaults {
        &self.defaults
    }

    /// One record from one line: `Ok(None)` for lines that carry no claim (comments,
    /// blanks, headers, localhost entries, path-only trails, Adblock exceptions). A hosts line
    /// naming several hosts yields its first here; [`parse_line_each`](Self::parse_line_each)
    /// yields all of them.
    pub fn parse_line(&self, line: &str, line_no: u64) -> Result<Option<Evidence>, Reject> {
        Ok(self
            .parse_item(line, line_no)?
            .map(|item| self.evidence(item, None)))
    }

    /// [`parse_line`](Self::parse_line) that reads maltrail's `# Reference:` / `# Aliases:`
    /// comments into `ctx` and gives the block's reference to the records that follow.
    pub fn parse_line_with(
        &self,
        line: &str,
        line_no: u64,
        ctx: &mut LineContext,
    ) -> Result<Option<Evidence>, Reject> {
        let trimmed = line.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            read_comment(comment, ctx);
            return Ok(None);
        }
        let item = self.parse_item(line, line_no)?;
        if item.is_some() {
            ctx.in_trails = true;
        }
        Ok(item.map(|item| self.evidence(item, ctx.reference.as_deref())))
    }

    /// Every record of one line (several for a hosts line naming several hosts), each as
    /// `Ok` or `Err`, to `sink`.
    pub fn parse_line_each(
        &self,
        line: &str,
        line_no: u64,
        ctx: &mut LineContext,
        sink: &mut impl FnMut(Result<Evidence, Reject>),
    ) {
        match self.parse_line_with(line, line_no, ctx) {
            Ok(Some(e)) => sink(Ok(e)),
            Ok(None) => return,
            Err(r) => sink(Err(r)),
        }
        // Further names of a hosts line.
        let line = strip_inline_comment(line.trim());
        let mut tokens = line.split_ascii_whitespace();
        let first = tokens.next().unwrap_or("");
        if ioc::parse_ip_with_port(first).is_none() {
            return;
        }
        for token in tokens.skip(1) {
            match hosts_name(token) {
                Ok(Some(name)) => {
                    ctx.in_trails = true;
                    sink(Ok(
                        self.evidence(PlainItem::name(name), ctx.reference.as_deref())
                    ))
                }
                Ok(None) => {}
                Err(reason) => sink(Err(Reject {
                    line: line_no,
                    reason,
                })),
            }
        }
    }

    /// What one line names, without building a record: the allocation-free core.
    pub fn parse_item(&self, line: &str, line_no: u64) -> Result<Option<PlainItem>, Reject> {
        parse_item(line).map_err(|reason| Reject {
            line: line_no,
            reason,
        })
    }

    fn evidence(&self, item: PlainItem, reference: Option<&str>) -> Evidence {
        match item {
            PlainItem::Name {
                name,
                zone,
                via_url,
            } => {
                let mut rec = self.defaults.indicator(name, zone, via_url);
                if let Some(r) = reference {
                    rec.reference = Some(r.to_owned());
                }
                Evidence::Indicator(rec)
            }
            PlainItem::Net(net) => Evidence::IpRecord(self.defaults.ip_record(net)),
            PlainItem::File(hash) => {
                Evidence::FileRecord(Box::new(self.defaults.file_record(FileHashes::one(hash))))
            }
        }
    }
}

/// Maltrail comment metadata.
fn read_comment(comment: &str, ctx: &mut LineContext) {
    let c = comment.trim();
    let lower_head: String = c.chars().take(12).flat_map(char::to_lowercase).collect();
    if lower_head.starts_with("aliases:") {
        let list = &c["aliases:".len()..];
        ctx.aliases.extend(
            list.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
        );
        return;
    }
    // `Reference:` and its misspellings (`Refernce`, `Refereence`), and `(Reference: url)`
    // inside a `# Note:`.
    let url = if lower_head.starts_with("ref") {
        c.split_once(':').map(|(_, u)| u.trim())
    } else {
        c.find("(Reference:").map(|i| {
            c[i + "(Reference:".len()..]
                .trim_end()
                .trim_end_matches(')')
                .trim()
        })
    };
    if let Some(url) = url.filter(|u| !u.is_empty()) {
        if ctx.in_trails || ctx.reference.is_none() {
            ctx.reference = Some(url.to_owned());
            ctx.in_trails = false;
        }
    }
}

/// The line without a trailing ` # comment`.
fn strip_inline_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for i in 1..b.len() {
        if b[i] == b'#' && (b[i - 1] == b' ' || b[i - 1] == b'\t') {
            return line[..i].trim_end();
        }
    }
    line
}

fn parse_item(line: &str) -> Result<Option<PlainItem>, String> {
    let line = line.trim();
    // Fast path, one pass: a bare name (letters, digits, `-`, `_`, `.`; not only digits and
    // dots, which would be an address).
    let b = line.as_bytes();
    if b.first().is_some_and(u8::is_ascii_alphanumeric) {
        let mut letters = false;
        let plain = b.iter().all(|&c| {
            letters |= c.is_ascii_alphabetic() || c == b'-' || c == b'_';
            c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_'
        });
        if plain && letters {
            if let Some(hash) = matches!(b.len(), 32 | 40 | 64)
                .then(|| ioc::file_hash(line))
                .flatten()
            {
                return Ok(Some(PlainItem::File(hash)));
            }
            return DomainName::parse(line)
                .map(|name| Some(PlainItem::name(name)))
                .map_err(|e| e.to_string());
        }
    }
    let Some(&first) = line.as_bytes().first() else {
        return Ok(None);
    };
    match first {
        b'#' | b'!' | b';' => return Ok(None),
        b'[' if line.ends_with(']') && line.contains(' ') => return Ok(None), // [Adblock Plus 2.0]
        b'|' if line.starts_with("||") => return adblock(&line[2..]),
        b'|' => {
            return Err(
                "Adblock address rule (|...): only ||name^ whole-domain rules name a domain"
                    .to_owned(),
            )
        }
        b'@' if line.starts_with("@@") => return Ok(None),
        b'/' => {
            if line.len() > 2 && line.ends_with('/') && has_regex_syntax(&line[1..line.len() - 1]) {
                return Err("Adblock regular-expression rule: not a domain".to_owned());
            }
            return Ok(None); // maltrail path-only trail
        }
        _ => {}
    }
    if line.contains("##") || line.contains("#@#") || line.contains("#?#") {
        return Ok(None); // Adblock cosmetic rule
    }
    let line = strip_inline_comment(line);
    let mut tokens = line.split_ascii_whitespace();
    let token = tokens.next().unwrap_or("");
    match tokens.next() {
        None => single(token),
        Some(second) => {
            if ioc::parse_ip_with_port(token).is_some() {
                // hosts file: `IP name...`
                return match hosts_name(second)? {
                    Some(name) => Ok(Some(PlainItem::name(name))),
                    None => Ok(None),
                };
            }
            Err(format!(
                "unexpected text after {token:?}: {:?}",
                &line[token.len()..].trim()
            ))
        }
    }
}

fn hosts_name(token: &str) -> Result<Option<DomainName>, String> {
    if LOCAL_NAMES.iter().any(|l| token.eq_ignore_ascii_case(l)) {
        return Ok(None);
    }
    DomainName::parse(token)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Characters of regular expressions (maltrail has regex trails; Adblock `/.../` rules).
fn has_regex_syntax(s: &str) -> bool {
    s.contains(['(', ')', '{', '}', '|', '\\', '^', '$', '+', '?'])
        || (s.contains('[') && !s.starts_with('['))
}

/// One token: name, zone, address, network or URL.
fn single(token: &str) -> Result<Option<PlainItem>, String> {
    let token = refang(token);
    let token = token.as_ref();
    let host_part = token.split('/').next().unwrap_or(token);
    if has_regex_syntax(host_part) && !token.contains("://") && parse_network(token).is_none() {
        return Err(format!(
            "regular-expression trail {token:?}: not a single name"
        ));
    }
    // Fast path: a plain name.
    let b = token.as_bytes();
    let plain = b
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_');
    let digits_only = b.iter().all(|&c| c.is_ascii_digit() || c == b'.');
    if let Some(hash) = ioc::file_hash(token) {
        return Ok(Some(PlainItem::File(hash)));
    }
    if plain && !digits_only && b.first() != Some(&b'.') {
        return DomainName::parse(token)
            .map(|name| Some(PlainItem::name(name)))
            .map_err(|e| e.to_string());
    }
    if let Some(zone) = token.strip_prefix("*.").or_else(|| token.strip_prefix('.')) {
        return DomainName::parse(zone)
            .map(|name| {
                Some(PlainItem::Name {
                    name,
                    zone: true,
                    via_url: false,
                })
            })
            .map_err(|e| e.to_string());
    }
    if let Some(net) = parse_network(token) {
        return Ok(Some(PlainItem::Net(net)));
    }
    if token
        .split_once(':')
        .is_some_and(|(a, _)| a.parse::<std::net::Ipv4Addr>().is_ok())
    {
        return Err(format!(
            "{token:?} is not an address, address:port or CIDR block"
        ));
    }
    match ioc::parse_target(token)? {
        Target::Name {
            name,
            zone,
            via_url,
        } => Ok(Some(PlainItem::Name {
            name,
            zone,
            via_url,
        })),
        Target::Net(net) => Ok(Some(PlainItem::Net(net))),
        Target::File(hashes) => Ok(Some(PlainItem::File(hashes.strongest().clone()))),
    }
}

/// `||name^` with optional `$options`.
fn adblock(rule: &str) -> Result<Option<PlainItem>, String> {
    let (body, options) = match rule.split_once('$') {
        Some((b, o)) => (b, Some(o)),
        None => (rule, None),
    };
    if let Some(options) = options {
        if let Some(bad) = options
            .split(',')
            .map(str::trim)
            .find(|o| !HARMLESS_OPTIONS.iter().any(|h| o.eq_ignore_ascii_case(h)))
        {
            return Err(format!(
                "Adblock option ${bad} narrows the rule; only whole-domain rules are imported"
            ));
        }
    }
    let name = body
        .strip_suffix('^')
        .or_else(|| body.strip_suffix("^|"))
        .unwrap_or(body);
    if name.contains(['/', '*', '^', '|']) {
        return Err(format!("Adblock rule ||{body} is not a whole-domain rule"));
    }
    if let Some(net) = parse_network(name) {
        return Ok(Some(PlainItem::Net(net)));
    }
    DomainName::parse(name)
        .map(|name| Some(PlainItem::name(name)))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Option<PlainItem> {
        Some(PlainItem::name(DomainName::parse(s).unwrap()))
    }

    fn url_host(s: &str) -> Option<PlainItem> {
        Some(PlainItem::Name {
            name: DomainName::parse(s).unwrap(),
            zone: false,
            via_url: true,
        })
    }

    #[test]
    fn comments() {
        let mut ctx = LineContext::default();
        read_comment(" Aliases: apt32, oceanlotus", &mut ctx);
        read_comment(" Reference: https://a", &mut ctx);
        read_comment(" Reference: https://b", &mut ctx);
        assert_eq!(ctx.reference.as_deref(), Some("https://a"));
        ctx.in_trails = true;
        read_comment(" Refernce: https://c", &mut ctx);
        assert_eq!(ctx.reference.as_deref(), Some("https://c"));
        assert_eq!(ctx.aliases, ["apt32", "oceanlotus"]);
    }

    #[test]
    fn lines() {
        assert_eq!(parse_item("0.0.0.0 evil.com").unwrap(), name("evil.com"));
        assert_eq!(parse_item("127.0.0.1 localhost").unwrap(), None);
        assert_eq!(
            parse_item("||evil.com^$third-party").unwrap(),
            name("evil.com")
        );
        assert!(parse_item("||evil.com^$script").is_err());
        assert_eq!(parse_item("/exploit.swf").unwrap(), None);
        assert_eq!(parse_item("evil.com/x/y").unwrap(), url_host("evil.com"));
        assert_eq!(
            parse_item("https://evil.com").unwrap(),
            url_host("evil.com")
        );
    }
}
