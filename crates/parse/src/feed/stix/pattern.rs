//! A parser for STIX 2.x patterning (the `pattern_type: "stix"` language): observation
//! expressions in `[...]` joined by `AND` / `OR` / `FOLLOWEDBY` with `WITHIN`, `REPEATS` and
//! `START ... STOP` qualifiers; comparison expressions joined by `AND` / `OR`, parentheses,
//! `NOT`, every comparison operator (`=`, `!=`, `<`, `<=`, `>`, `>=`, `IN`, `LIKE`,
//! `MATCHES`, `ISSUBSET`, `ISSUPERSET`), and every literal (strings with `\'` / `\\` escapes,
//! numbers, booleans, `t'...'`, `h'...'`, `b'...'`, `(a, b)` sets).
//!
//! [`Pattern::iocs`] extracts what this model can hold: every positive equality (`=`, or
//! `IN` a set) on `domain-name:value`, `url:value`, `ipv4-addr:value`, `ipv6-addr:value`,
//! `network-traffic:{dst,src}_ref.value` and `file:hashes.{MD5,SHA-1,SHA-256}`. Under `OR` each alternative is an indicator by
//! itself; under `AND` the value is a necessary part of every match, so the host is
//! implicated in all of them. Negated comparisons (`NOT`, `!=`) never yield an IOC.

use std::fmt;

/// A parse error with the byte offset where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "STIX pattern: {} at offset {}",
            self.message, self.offset
        )
    }
}

/// An observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    Observation(Comparison),
    And(Vec<Pattern>),
    Or(Vec<Pattern>),
    FollowedBy(Vec<Pattern>),
    /// A pattern with a `WITHIN` / `REPEATS` / `START..STOP` qualifier (not interpreted).
    Qualified(Box<Pattern>, String),
}

/// A comparison expression inside `[...]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    Test(Test),
    And(Vec<Comparison>),
    Or(Vec<Comparison>),
}

/// `object-type:path op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub object_type: String,
    /// Path components, `*` / numbers for list indexes.
    pub path: Vec<String>,
    pub negated: bool,
    pub op: Op,
    pub value: Literal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Timestamp(String),
    Hex(String),
    Binary(String),
    Set(Vec<Literal>),
}

/// What an IOC in a pattern names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IocKind {
    DomainName,
    Url,
    Ipv4,
    Ipv6,
    /// `network-traffic:*_ref.value`: a name or an address.
    HostRef,
    /// `domain-name:value LIKE '%.zone'`: every name below the zone (a zone listing).
    DomainZone,
    /// `file:hashes.'SHA-256'` (or `MD5`, `SHA-1`): a file.
    FileHash,
}

impl Pattern {
    /// Parses a whole pattern.
    pub fn parse(src: &str) -> Result<Self, PatternError> {
        let mut p = Parser {
            src,
            pos: 0,
            depth: 0,
        };
        let pat = p.observation_or()?;
        p.skip_ws();
        if p.pos < src.len() {
            return Err(p.err("unexpected text after the pattern"));
        }
        Ok(pat)
    }

    /// Whether the pattern is one observation of tests joined by `AND` only: then every file
    /// hash it names is of one file.
    pub fn is_one_conjunction(&self) -> bool {
        fn conjunction(c: &Comparison) -> bool {
            match c {
                Comparison::Test(_) => true,
                Comparison::And(v) => v.iter().all(conjunction),
                Comparison::Or(_) => false,
            }
        }
        matches!(self, Pattern::Observation(c) if conjunction(c))
    }

    /// Every positive equality on a supported path, in pattern order.
    pub fn iocs(&self) -> Vec<(IocKind, String)> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<(IocKind, String)>) {
        match self {
            Pattern::Observation(c) => c.collect(out),
            Pattern::And(v) | Pattern::Or(v) | Pattern::FollowedBy(v) => {
                v.iter().for_each(|p| p.collect(out))
            }
            Pattern::Qualified(p, _) => p.collect(out),
        }
    }
}

impl Comparison {
    fn collect(&self, out: &mut Vec<(IocKind, String)>) {
        match self {
            Comparison::And(v) | Comparison::Or(v) => v.iter().for_each(|c| c.collect(out)),
            Comparison::Test(t) => {
                if t.negated {
                    return;
                }
                let Some(kind) = t.ioc_kind() else { return };
                match (&t.op, &t.value) {
                    (Op::Eq, Literal::Str(s)) => out.push((kind, s.clone())),
                    // `%.zone` with no other wildcard: the names below the zone.
                    (Op::Like, Literal::Str(s)) if kind == IocKind::DomainName => {
                        if let Some(zone) = s.strip_prefix("%.").filter(|z| !z.contains(['%', '_']))
                        {
                            out.push((IocKind::DomainZone, zone.to_owned()));
                        }
                    }
                    (Op::In, Literal::Set(items)) => {
                        out.extend(items.iter().filter_map(|i| match i {
                            Literal::Str(s) => Some((kind, s.clone())),
                            _ => None,
                        }))
                    }
                    _ => {}
                }
            }
        }
    }
}

impl Test {
    fn ioc_kind(&self) -> Option<IocKind> {
        let path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        match (self.object_type.as_str(), path.as_slice()) {
            ("domain-name", ["value"]) => Some(IocKind::DomainName),
            ("url", ["value"]) => Some(IocKind::Url),
            ("ipv4-addr", ["value"]) => Some(IocKind::Ipv4),
            ("ipv6-addr", ["value"]) => Some(IocKind::Ipv6),
            ("network-traffic", ["dst_ref" | "src_ref", "value"]) => Some(IocKind::HostRef),
            ("file", ["hashes", algorithm]) => matches!(
                algorithm.to_ascii_uppercase().as_str(),
                "MD5" | "SHA-1" | "SHA1" | "SHA-256" | "SHA256"
            )
            .then_some(IocKind::FileHash),
            _ => None,
        }
    }
}

/// Nesting limit for parentheses and brackets, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, message: impl Into<String>) -> PatternError {
        PatternError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A keyword (case-sensitive, as the grammar has it) not followed by a word character.
    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let r = self.rest();
        if r.starts_with(kw)
            && !r[kw.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    fn observation_or(&mut self) -> Result<Pattern, PatternError> {
        let mut items = vec![self.observation_and()?];
        while self.keyword("OR") {
            items.push(self.observation_and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Pattern::Or(items)
        })
    }

    fn observation_and(&mut self) -> Result<Pattern, PatternError> {
        let mut items = vec![self.observation_followed()?];
        while self.keyword("AND") {
            items.push(self.observation_followed()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Pattern::And(items)
        })
    }

    fn observation_followed(&mut self) -> Result<Pattern, PatternError> {
        let mut items = vec![self.observation_unit()?];
        while self.keyword("FOLLOWEDBY") {
            items.push(self.observation_unit()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Pattern::FollowedBy(items)
        })
    }

    fn observation_unit(&mut self) -> Result<Pattern, PatternError> {
        self.enter()?;
        let mut pat = if self.eat('[') {
            let c = self.comparison_or()?;
            if !self.eat(']') {
                return Err(self.err("expected ']'"));
            }
            Pattern::Observation(c)
        } else if self.eat('(') {
            let p = self.observation_or()?;
            if !self.eat(')') {
                return Err(self.err("expected ')'"));
            }
            p
        } else {
            return Err(self.err("expected '[' or '('"));
        };
        self.depth -= 1;
        loop {
            let start = self.pos;
            if self.keyword("WITHIN") {
                self.number()?;
                if !self.keyword("SECONDS") {
                    return Err(self.err("expected SECONDS"));
                }
            } else if self.keyword("REPEATS") {
                self.number()?;
                if !self.keyword("TIMES") {
                    return Err(self.err("expected TIMES"));
                }
            } else if self.keyword("START") {
                self.expect_timestamp()?;
                if !self.keyword("STOP") {
                    return Err(self.err("expected STOP"));
                }
                self.expect_timestamp()?;
            } else {
                break;
            }
            let q = self.src[start..self.pos].trim().to_owned();
            pat = Pattern::Qualified(Box::new(pat), q);
        }
        Ok(pat)
    }

    fn expect_timestamp(&mut self) -> Result<(), PatternError> {
        match self.literal()? {
            Literal::Timestamp(_) => Ok(()),
            _ => Err(self.err("expected t'...' timestamp")),
        }
    }

    fn number(&mut self) -> Result<(), PatternError> {
        match self.literal()? {
            Literal::Int(_) | Literal::Float(_) => Ok(()),
            _ => Err(self.err("expected a number")),
        }
    }

    fn comparison_or(&mut self) -> Result<Comparison, PatternError> {
        let mut items = vec![self.comparison_and()?];
        while self.keyword("OR") {
            items.push(self.comparison_and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Comparison::Or(items)
        })
    }

    fn comparison_and(&mut self) -> Result<Comparison, PatternError> {
        let mut items = vec![self.comparison_unit()?];
        while self.keyword("AND") {
            items.push(self.comparison_unit()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Comparison::And(items)
        })
    }

    fn comparison_unit(&mut self) -> Result<Comparison, PatternError> {
        if self.eat('(') {
            self.enter()?;
            let c = self.comparison_or()?;
            if !self.eat(')') {
                return Err(self.err("expected ')'"));
            }
            self.depth -= 1;
            return Ok(c);
        }
        let (object_type, path) = self.object_path()?;
        let negated = self.keyword("NOT");
        let op = self.op()?;
        let value = self.literal()?;
        if matches!(op, Op::In) != matches!(value, Literal::Set(_)) {
            return Err(self.err("IN takes a (...) set, and only IN does"));
        }
        Ok(Comparison::Test(Test {
            object_type,
            path,
            negated,
            op,
            value,
        }))
    }

    fn object_path(&mut self) -> Result<(String, Vec<String>), PatternError> {
        self.skip_ws();
        let r = self.rest();
        let n = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(r.len());
        if n == 0 {
            return Err(self.err("expected an object type"));
        }
        let object_type = r[..n].to_owned();
        self.pos += n;
        if !self.rest().starts_with(':') {
            return Err(self.err("expected ':' after the object type"));
        }
        self.pos += 1;
        let mut path = vec![self.path_component()?];
        loop {
            let r = self.rest();
            if r.starts_with('.') {
                self.pos += 1;
                path.push(self.path_component()?);
            } else if r.starts_with('[') {
                self.pos += 1;
                let r = self.rest();
                let n = r
                    .find(']')
                    .ok_or_else(|| self.err("expected ']' in a path"))?;
                let idx = r[..n].trim();
                if !(idx == "*" || (!idx.is_empty() && idx.bytes().all(|b| b.is_ascii_digit()))) {
                    return Err(self.err("list index must be a number or *"));
                }
                path.push(idx.to_owned());
                self.pos += n + 1;
            } else {
                break;
            }
        }
        Ok((object_type, path))
    }

    fn path_component(&mut self) -> Result<String, PatternError> {
        let r = self.rest();
        if r.starts_with('\'') {
            match self.literal()? {
                Literal::Str(s) => return Ok(s),
                _ => return Err(self.err("expected a quoted path component")),
            }
        }
        let n = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(r.len());
        if n == 0 {
            return Err(self.err("expected a path component"));
        }
        self.pos += n;
        Ok(r[..n].to_owned())
    }

    fn op(&mut self) -> Result<Op, PatternError> {
        self.skip_ws();
        for (tok, op) in [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.rest().starts_with(tok) {
                self.pos += tok.len();
                return Ok(op);
            }
        }
        for (kw, op) in [
            ("IN", Op::In),
            ("LIKE", Op::Like),
            ("MATCHES", Op::Matches),
            ("ISSUBSET", Op::IsSubset),
            ("ISSUPERSET", Op::IsSuperset),
        ] {
            if self.keyword(kw) {
                return Ok(op);
            }
        }
        Err(self.err("expected a comparison operator"))
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        self.skip_ws();
        let r = self.rest();
        let first = r
            .chars()
            .next()
            .ok_or_else(|| self.err("expected a value, found the end"))?;
        match first {
            '\'' => Ok(Literal::Str(self.quoted()?)),
            't' | 'h' | 'b' if r[1..].starts_with('\'') => {
                self.pos += 1;
                let s = self.quoted()?;
                Ok(match first {
                    't' => Literal::Timestamp(s),
                    'h' => Literal::Hex(s),
                    _ => Literal::Binary(s),
                })
            }
            '(' => {
                self.enter()?;
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    items.push(self.literal()?);
                    if self.eat(',') {
                        continue;
                    }
                    if self.eat(')') {
                        break;
                    }
                    return Err(self.err("expected ',' or ')' in a set"));
                }
                self.depth -= 1;
                Ok(Literal::Set(items))
            }
            _ if self.keyword("true") => Ok(Literal::Bool(true)),
            _ if self.keyword("false") => Ok(Literal::Bool(false)),
            c if c == '-' || c == '+' || c.is_ascii_digit() => {
                let n = r[1..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E'))
                    .map_or(r.len(), |i| i + 1);
                let text = &r[..n];
                self.pos += n;
                if let Ok(i) = text.parse::<i64>() {
                    Ok(Literal::Int(i))
                } else {
                    text.parse::<f64>()
                        .map(Literal::Float)
                        .map_err(|_| self.err(format!("bad number {text:?}")))
                }
            }
            _ => Err(self.err("expected a value")),
        }
    }

    /// A `'...'` string; `\'` and `\\` are escapes.
    fn quoted(&mut self) -> Result<String, PatternError> {
        let start = self.pos;
        let r = &self.src[self.pos + 1..];
        let mut out = String::new();
        let mut chars = r.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '\\'))) => out.push(e),
                    Some((_, e)) => {
                        // Not an escape the grammar knows; keep it as written.
                        out.push('\\');
                        out.push(e);
                    }
                    None => break,
                },
                '\'' => {
                    self.pos += 1 + i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        self.pos = start;
        Err(self.err("unterminated string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iocs(p: &str) -> Vec<(IocKind, String)> {
        Pattern::parse(p).unwrap().iocs()
    }

    #[test]
    fn domain_or_ips() {
        let got = iocs("[domain-name:value = 'a.example' OR ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '5.6.7.8']");
        assert_eq!(
            got,
            [
                (IocKind::DomainName, "a.example".to_owned()),
                (IocKind::Ipv4, "1.2.3.4".to_owned()),
                (IocKind::Ipv4, "5.6.7.8".to_owned())
            ]
        );
    }

    #[test]
    fn a_like_below_a_zone_is_a_zone_listing_and_other_likes_are_nothing() {
        assert_eq!(
            iocs("[domain-name:value LIKE '%.bad.example']"),
            [(IocKind::DomainZone, "bad.example".to_owned())]
        );
        for other in [
            "[domain-name:value LIKE 'bad%.example']",
            "[domain-name:value LIKE '%bad.example']",
            "[domain-name:value LIKE '%.b_d.example']",
            "[domain-name:value NOT LIKE '%.bad.example']",
            "[url:value LIKE '%.bad.example']",
        ] {
            assert!(iocs(other).is_empty(), "{other}");
        }
    }

    #[test]
    fn and_not_in_and_escapes() {
        let got = iocs(
            "[network-traffic:dst_ref.value = 'c2.example' AND network-traffic:dst_port = 6666]",
        );
        assert_eq!(got, [(IocKind::HostRef, "c2.example".to_owned())]);
        assert!(iocs("[domain-name:value NOT = 'x.example']").is_empty());
        assert!(iocs("[domain-name:value != 'x.example']").is_empty());
        assert_eq!(
            iocs("[domain-name:value IN ('a.example', 'b.example')]").len(),
            2
        );
        assert_eq!(
            iocs(r"[url:value = 'http://x.example/it\'s']")[0].1,
            "http://x.example/it's"
        );
        assert_eq!(
            iocs("([domain-name:value = 'a.example'] AND [url:value = 'http://b.example/']) WITHIN 300 SECONDS").len(),
            2
        );
        assert_eq!(
            iocs("[file:hashes.'SHA-256' = 'abc' AND file:hashes.MD5 = 'def']"),
            [
                (IocKind::FileHash, "abc".to_owned()),
                (IocKind::FileHash, "def".to_owned())
            ]
        );
        assert!(iocs("[file:hashes.'SSDEEP' = 'abc']").is_empty());
        assert!(
            Pattern::parse("[file:hashes.MD5 = 'a' AND file:name = 'x']")
                .unwrap()
                .is_one_conjunction()
        );
        assert!(
            !Pattern::parse("[file:hashes.MD5 = 'a' OR file:hashes.MD5 = 'b']")
                .unwrap()
                .is_one_conjunction()
        );
        assert!(
            !Pattern::parse("[file:hashes.MD5 = 'a'] AND [file:hashes.MD5 = 'b']")
                .unwrap()
                .is_one_conjunction()
        );
        assert!(
            iocs("[email-message:body_multipart[*].body_raw_ref.name MATCHES '^x$']").is_empty()
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "[",
            "[domain-name:value = 'x'",
            "[domain-name:value == 'x']",
            "[a:b = 'x'] junk",
            "[a = 'x']",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
        let deep = "(".repeat(500);
        assert!(Pattern::parse(&deep).is_err());
    }
}
