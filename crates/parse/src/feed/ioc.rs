//! IOC value helpers shared by every feed parser: refanging, host / IP / URL classification.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

use threatintel_model::{DomainName, FileHash, FileHashes, IpNetwork};

/// A host named by an IOC: a DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(DomainName),
    Ip(IpAddr),
}

/// An IOC value reduced to what this model holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A name; `zone` for `*.name` (everything strictly below); `via_url` when the value was
    /// a URL on the host (`scheme://host/...`, `host/path`) rather than the host itself.
    Name {
        name: DomainName,
        zone: bool,
        via_url: bool,
    },
    /// An address or network.
    Net(IpNetwork),
    /// A file, by its hashes.
    File(FileHashes),
}

/// Undoes the usual defanging of IOCs: `hxxp`/`hXXps`/`fxp` schemes, `[.]`, `(.)`, `{.}`,
/// `[dot]`, `(dot)`, `[:]`, `[://]`, `[/]`, `[at]`/`[@]`. The result is a fixpoint (nested
/// defanging such as `[[.]]` is undone completely), so `refang(refang(x)) == refang(x)`.
/// Borrowed when there is nothing to undo.
pub fn refang(s: &str) -> Cow<'_, str> {
    if !needs_refang(s) {
        return Cow::Borrowed(s);
    }
    let mut cur = refang_once(s);
    // Each pass either shortens the text or removes an `xx`/`XX` of a scheme, so this ends.
    loop {
        let next = refang_once(&cur);
        if next == cur {
            return Cow::Owned(cur);
        }
        cur = next;
    }
}

fn needs_refang(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().any(|&c| matches!(c, b'[' | b'(' | b'{'))
        || b.windows(3).any(|w| {
            let (a, m, z) = (w[0] | 0x20, w[1] | 0x20, w[2] | 0x20);
            (a == b'x' || a == b'f') && m == b'x' && z == b'p'
        })
}

const BRACKETED: &[(&str, &str)] = &[
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("{dot}", "."),
    ("[:]", ":"),
    ("[://]", "://"),
    ("[/]", "/"),
    ("[at]", "@"),
    ("[@]", "@"),
];

fn refang_once(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if matches!(c, '[' | '(' | '{') {
            if let Some((pat, rep)) = BRACKETED.iter().find(|(pat, _)| {
                rest.len() >= pat.len()
                    && rest.as_bytes()[..pat.len()].eq_ignore_ascii_case(pat.as_bytes())
            }) {
                out.push_str(rep);
                rest = &rest[pat.len()..];
                continue;
            }
        }
        if matches!(c, 'h' | 'H' | 'f' | 'F') {
            // hxxp(s) / fxp as the scheme of a defanged URL: at a word start and followed by
            // `:` or `[:]` (after an optional `s`).
            let word_start = out
                .chars()
                .next_back()
                .is_none_or(|p| !p.is_ascii_alphanumeric());
            let b = rest.as_bytes();
            let scheme_end = |at: usize| {
                let at = if b.get(at).is_some_and(|&s| s | 0x20 == b's') {
                    at + 1
                } else {
                    at
                };
                b.get(at).is_some_and(|&n| n == b':' || n == b'[')
            };
            if word_start
                && (c == 'h' || c == 'H')
                && b.len() >= 5
                && b[1..3].eq_ignore_ascii_case(b"xx")
                && (b[3] | 0x20) == b'p'
                && scheme_end(4)
            {
                out.push_str(if c == 'H' { "HTTP" } else { "http" });
                rest = &rest[4..];
                continue;
            }
            if word_start
                && (c == 'f' || c == 'F')
                && b.len() >= 4
                && (b[1] | 0x20) == b'x'
                && (b[2] | 0x20) == b'p'
                && scheme_end(3)
            {
                out.push_str("ftp");
                rest = &rest[3..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Reads a host: an IPv4 address, an IPv6 address (bare or `[...]`), or a DNS name (through
/// [`DomainName::parse`]). A trailing `:port` on an IPv4 address or a bracketed IPv6 address
/// is dropped. The error is the `DomainError` message for names.
pub fn parse_host(s: &str) -> Result<Host, String> {
    let s = s.trim();
    if let Some(ip) = parse_ip_with_port(s) {
        return Ok(Host::Ip(ip));
    }
    DomainName::parse(s)
        .map(Host::Name)
        .map_err(|e| e.to_string())
}

/// An IP address, optionally `[v6]`, `[v6]:port` or `v4:port`.
pub(crate) fn parse_ip_with_port(s: &str) -> Option<IpAddr> {
    let first = *s.as_bytes().first()?;
    if !(first.is_ascii_hexdigit() || first == b'[' || first == b':') {
        return None;
    }
    if let Some(inner) = s.strip_prefix('[') {
        let (addr, after) = inner.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    let (addr, port) = s.rsplit_once(':')?;
    if !is_port(port) || addr.contains(':') {
        return None;
    }
    addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// The host of a URL (`scheme://[userinfo@]host[:port]/...`). A value without `://` is read
/// as `host[:port][/path]`. Defanged URLs must be [`refang`]ed first.
pub fn host_of_url(url: &str) -> Result<Host, String> {
    let url = url.trim();
    let after_scheme = match url.find("://") {
        Some(i)
            if url[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            &url[i + 3..]
        }
        Some(_) => return Err(format!("{url:?} is not a URL: bad scheme")),
        None => url.strip_prefix("//").unwrap_or(url),
    };
    let authority = after_scheme
        .split(['/', '?', '#', '\\'])
        .next()
        .unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return Err(format!("URL {url:?} has no host"));
    }
    if let Some(ip) = parse_ip_with_port(host_port) {
        return Ok(Host::Ip(ip));
    }
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if is_port(port) || port.is_empty() => h,
        _ => host_port,
    };
    DomainName::parse(host)
        .map(Host::Name)
        .map_err(|e| format!("URL host {host:?}: {e}"))
}

/// Whether a host was read from `value` as a URL rather than named by it: `value` (refanged)
/// has a `scheme://`, starts with `//`, or has a path, query or fragment after the host
/// (`host/path`, `host/`, `host?q`). A bare `host` or `host:port` is the host itself.
pub(crate) fn is_url_form(value: &str) -> bool {
    // `scheme://` and `//host` contain a `/` too.
    value.contains(['/', '?', '#', '\\'])
}

/// A URL's host as a [`Target`]; a name is marked `via_url` when `url` [is written as a
/// URL](is_url_form).
pub(crate) fn url_target(url: &str) -> Result<Target, String> {
    Ok(match host_of_url(url)? {
        Host::Name(name) => Target::Name {
            name,
            zone: false,
            via_url: is_url_form(url.trim()),
        },
        Host::Ip(ip) => Target::Net(IpNetwork::host(ip)),
    })
}

/// Reads an IOC as found in a list: `name`, `*.name` (zone), `IP`, `IP:port`, `CIDR`, a URL
/// (its host, marked `via_url`), or an MD5, SHA-1 or SHA-256 file hash (hex of 32, 40 or 64
/// digits). Defanged values are refanged first.
pub(crate) fn parse_target(value: &str) -> Result<Target, String> {
    let value = refang(value.trim());
    let value = value.as_ref();
    if value.is_empty() {
        return Err("empty value".to_owned());
    }
    if value.contains("://") {
        return url_target(value);
    }
    if let Some(zone) = value.strip_prefix("*.") {
        return DomainName::parse(zone)
            .map(|name| Target::Name {
                name,
                zone: true,
                via_url: false,
            })
            .map_err(|e| e.to_string());
    }
    if let Some(net) = parse_network(value) {
        return Ok(Target::Net(net));
    }
    if let Some(hash) = file_hash(value) {
        return Ok(Target::File(FileHashes::one(hash)));
    }
    if value.contains('/') {
        if looks_like_cidr(value) {
            return value
                .parse::<IpNetwork>()
                .map(Target::Net)
                .map_err(|e| e.to_string());
        }
        return url_target(value);
    }
    parse_host(value).map(Target::from)
}

/// The file hash `s` is, when it is hex of an MD5, SHA-1 or SHA-256's length (a name of that
/// many hex digits would have no dot, so no registrable domain is read as a hash).
pub(crate) fn file_hash(s: &str) -> Option<FileHash> {
    FileHash::parse(s).ok()
}

/// A file hash of an IOC whose type says it is one: the hash, or why `s` is none.
pub(crate) fn stated_file_hash(s: &str) -> Result<Target, String> {
    FileHash::parse(&refang(s))
        .map(|h| Target::File(FileHashes::one(h)))
        .map_err(|e| e.to_string())
}

/// An IP address, `IP:port`, `[v6]:port` or a CIDR block, when `s` is one.
pub(crate) fn parse_network(s: &str) -> Option<IpNetwork> {
    if let Some(ip) = parse_ip_with_port(s) {
        return Some(IpNetwork::host(ip));
    }
    if looks_like_cidr(s) {
        return s.parse().ok();
    }
    None
}

fn looks_like_cidr(s: &str) -> bool {
    match s.split_once('/') {
        Some((a, p)) => is_port(p) && a.parse::<IpAddr>().is_ok(),
        None => false,
    }
}

impl From<Host> for Target {
    fn from(h: Host) -> Self {
        match h {
            Host::Name(name) => Target::Name {
                name,
                zone: false,
                via_url: false,
            },
            Host::Ip(ip) => Target::Net(IpNetwork::host(ip)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refangs() {
        assert_eq!(refang("hxxps://mindtribe[.]io/"), "https://mindtribe.io/");
        assert_eq!(refang("45.140.213[.]6:443"), "45.140.213.6:443");
        assert_eq!(refang("evil(.)com"), "evil.com");
        assert_eq!(refang("hXXp://a[dot]b"), "http://a.b");
        assert_eq!(refang("[[.]]"), ".");
        assert_eq!(refang("example.com"), "example.com");
        assert_eq!(refang("xxx.example"), "xxx.example");
        assert_eq!(refang("shxxp.com"), "shxxp.com");
    }

    #[test]
    fn hosts() {
        assert_eq!(
            host_of_url("http://1.2.3.4:80/x").unwrap(),
            Host::Ip("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            host_of_url("https://[::1]:8443/").unwrap(),
            Host::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            host_of_url("https://user@Example.COM:8080/p?q").unwrap(),
            Host::Name(DomainName::parse("example.com").unwrap())
        );
        assert!(host_of_url("http:///path").is_err());
        assert_eq!(
            parse_host("1.2.3.4:443").unwrap(),
            Host::Ip("1.2.3.4".parse().unwrap())
        );
    }
}
