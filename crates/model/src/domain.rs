//! `DomainName`: a validated, normalised DNS name (placeholder implementation, being replaced).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("domain name is empty")]
    Empty,
    #[error("invalid character {ch:?} at position {position}")]
    InvalidCharacter { ch: char, position: usize },
    #[error("{name:?} is a public suffix, not a registrable domain")]
    PublicSuffix { name: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuffixKind {
    Icann,
    Private,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(Box<str>);

impl DomainName {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let s = input.trim_end_matches('.').to_ascii_lowercase();
        if s.is_empty() {
            return Err(DomainError::Empty);
        }
        if let Some((position, ch)) =
            s.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.' || *c == '_'))
        {
            return Err(DomainError::InvalidCharacter { ch, position });
        }
        Ok(Self(s.into()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn parent(&self) -> Option<DomainName> {
        self.0.split_once('.').map(|(_, p)| Self(p.into()))
    }
    pub fn ancestors(&self) -> impl Iterator<Item = DomainName> {
        std::iter::successors(self.parent(), |n| n.parent())
    }
    pub fn is_subdomain_of(&self, zone: &DomainName) -> bool {
        self.0.len() > zone.0.len() && self.0.ends_with(&*zone.0) && self.0.as_bytes()[self.0.len() - zone.0.len() - 1] == b'.'
    }
    pub fn registrable(&self) -> Option<DomainName> {
        psl::domain(self.0.as_bytes()).map(|d| Self(std::str::from_utf8(d.as_bytes()).unwrap().into()))
    }
    pub fn suffix_kind(&self) -> Option<SuffixKind> {
        let s = psl::suffix(self.0.as_bytes())?;
        if s.as_bytes() != self.0.as_bytes() {
            return None;
        }
        match s.typ() {
            Some(psl::Type::Private) => Some(SuffixKind::Private),
            _ => Some(SuffixKind::Icann),
        }
    }
    pub fn reversed(&self) -> String {
        let mut labels: Vec<&str> = self.0.split('.').collect();
        labels.reverse();
        labels.join(".")
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for DomainName {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<DomainName> for String {
    fn from(d: DomainName) -> String {
        d.0.into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DomainQuery {
    Exact(DomainName),
    Wildcard(DomainName),
}

impl DomainQuery {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        match input.strip_prefix("*.") {
            Some(zone) => Ok(Self::Wildcard(DomainName::parse(zone)?)),
            None => {
                let n = DomainName::parse(input)?;
                if n.suffix_kind() == Some(SuffixKind::Icann) {
                    return Err(DomainError::PublicSuffix { name: n.to_string() });
                }
                Ok(Self::Exact(n))
            }
        }
    }
    pub fn name(&self) -> &DomainName {
        match self {
            Self::Exact(n) | Self::Wildcard(n) => n,
        }
    }
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Self::Wildcard(_))
    }
}

impl fmt::Display for DomainQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(n) => write!(f, "{n}"),
            Self::Wildcard(n) => write!(f, "*.{n}"),
        }
    }
}
impl TryFrom<String> for DomainQuery {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<DomainQuery> for String {
    fn from(q: DomainQuery) -> String {
        q.to_string()
    }
}
