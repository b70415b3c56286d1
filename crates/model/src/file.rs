//! File hashes and what sources say about the files they identify.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The digest a [`FileHash`] is, told by its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashKind {
    Md5,
    Sha1,
    Sha256,
}

impl HashKind {
    /// Every kind, weakest first.
    pub const ALL: [HashKind; 3] = [Self::Md5, Self::Sha1, Self::Sha256];

    /// The digest's length in bytes.
    pub fn bytes(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// The kind whose digests are `len` bytes long.
    pub fn of_len(len: usize) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.bytes() == len)
    }

    /// `md5`, `sha1`, `sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for HashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An MD5, SHA-1 or SHA-256 digest of a file: lower-case hex of 32, 40 or 64 digits, checked on
/// construction (surrounding blanks are trimmed, upper case is lowered). In JSON it is that text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileHash(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileHashError {
    #[error("a file hash is 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits; {0:?} has {1}")]
    Length(String, usize),
    #[error("a file hash is hex digits only; {0:?} has {1:?}")]
    NotHex(String, char),
    #[error("stored digest of {0} bytes is not an MD5, SHA-1 or SHA-256")]
    Bytes(usize),
}

impl FileHash {
    pub fn parse(s: &str) -> Result<Self, FileHashError> {
        let t = s.trim();
        if let Some(bad) = t.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(FileHashError::NotHex(t.to_owned(), bad));
        }
        if HashKind::of_len(t.len() / 2).is_none() || t.len() % 2 != 0 {
            return Err(FileHashError::Length(t.to_owned(), t.len()));
        }
        Ok(Self(t.to_ascii_lowercase()))
    }

    /// The hash of a raw digest (16, 20 or 32 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FileHashError> {
        if HashKind::of_len(bytes.len()).is_none() {
            return Err(FileHashError::Bytes(bytes.len()));
        }
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    pub fn kind(&self) -> HashKind {
        HashKind::of_len(self.0.len() / 2).expect("checked on construction")
    }

    /// The lower-case hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The raw digest.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0
            .as_bytes()
            .chunks(2)
            .map(|pair| {
                let digit = |c: u8| (c as char).to_digit(16).expect("checked hex") as u8;
                digit(pair[0]) << 4 | digit(pair[1])
            })
            .collect()
    }
}

impl FromStr for FileHash {
    type Err = FileHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for FileHash {
    type Error = FileHashError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<FileHash> for String {
    fn from(h: FileHash) -> String {
        h.0
    }
}

impl fmt::Display for FileHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The hashes one source gives of one file: at least one, at most one of each kind. A source
/// that gives several links them: a lookup by any of them answers for the same file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "HashesForm", into = "HashesForm")]
pub struct FileHashes {
    md5: Option<FileHash>,
    sha1: Option<FileHash>,
    sha256: Option<FileHash>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileHashesError {
    #[error("a file needs at least one hash")]
    Empty,
    #[error("two different {0} hashes given for one file: {1} and {2}")]
    Conflict(HashKind, FileHash, FileHash),
    #[error("{1} is not an {0} hash")]
    WrongKind(HashKind, FileHash),
}

impl FileHashes {
    /// The hashes of one file; the same hash twice is one.
    pub fn new(hashes: impl IntoIterator<Item = FileHash>) -> Result<Self, FileHashesError> {
        let mut out = Self {
            md5: None,
            sha1: None,
            sha256: None,
        };
        for hash in hashes {
            let slot = out.slot(hash.kind());
            match slot {
                Some(old) if *old != hash => {
                    return Err(FileHashesError::Conflict(hash.kind(), old.clone(), hash))
                }
                _ => *slot = Some(hash),
            }
        }
        if out.iter().next().is_none() {
            return Err(FileHashesError::Empty);
        }
        Ok(out)
    }

    /// A file known by one hash.
    pub fn one(hash: FileHash) -> Self {
        Self::new([hash]).expect("one hash")
    }

    fn slot(&mut self, kind: HashKind) -> &mut Option<FileHash> {
        match kind {
            HashKind::Md5 => &mut self.md5,
            HashKind::Sha1 => &mut self.sha1,
            HashKind::Sha256 => &mut self.sha256,
        }
    }

    pub fn get(&self, kind: HashKind) -> Option<&FileHash> {
        match kind {
            HashKind::Md5 => self.md5.as_ref(),
            HashKind::Sha1 => self.sha1.as_ref(),
            HashKind::Sha256 => self.sha256.as_ref(),
        }
    }

    /// The hashes, MD5 first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &FileHash> {
        HashKind::ALL.into_iter().filter_map(|k| self.get(k))
    }

    /// The strongest hash given (SHA-256, else SHA-1, else MD5).
    pub fn strongest(&self) -> &FileHash {
        self.iter().last().expect("at least one hash")
    }
}

/// [`FileHashes`] as JSON: an object of the hashes given, by kind.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HashesForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    md5: Option<FileHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha1: Option<FileHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<FileHash>,
}

impl TryFrom<HashesForm> for FileHashes {
    type Error = FileHashesError;
    fn try_from(form: HashesForm) -> Result<Self, Self::Error> {
        let given = [
            (HashKind::Md5, form.md5),
            (HashKind::Sha1, form.sha1),
            (HashKind::Sha256, form.sha256),
        ];
        let mut hashes = Vec::new();
        for (kind, hash) in given {
            match hash {
                Some(h) if h.kind() != kind => return Err(FileHashesError::WrongKind(kind, h)),
                Some(h) => hashes.push(h),
                None => {}
            }
        }
        Self::new(hashes)
    }
}

impl From<FileHashes> for HashesForm {
    fn from(h: FileHashes) -> Self {
        Self {
            md5: h.md5,
            sha1: h.sha1,
            sha256: h.sha256,
        }
    }
}
