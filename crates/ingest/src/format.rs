//! The formats an import can read, and detection from a file's first kilobytes.

use std::fmt;
use std::str::FromStr;

use threatintel_parse::feed::{detect_format, FeedFormat};

/// Every input format `threatintel import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// threatintel's own JSON lines (`docs/native-format.md`).
    Native,
    Feed(FeedFormat),
}

impl InputFormat {
    /// The names `--format` accepts, for messages.
    pub fn names() -> String {
        let mut names = vec!["native".to_owned()];
        names.extend(FeedFormat::ALL.iter().map(|f| feed_format_name(*f)));
        names.join(", ")
    }
}

fn feed_format_name(format: FeedFormat) -> String {
    serde_json::to_value(format)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Native => f.write_str("threatintel native JSON lines"),
            Self::Feed(format) => write!(f, "{format}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {given:?}; known formats: auto, {known}")]
pub struct UnknownFormat {
    pub given: String,
    pub known: String,
}

impl FromStr for InputFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        if s == "native" {
            return Ok(Self::Native);
        }
        FeedFormat::ALL
            .into_iter()
            .find(|f| feed_format_name(*f) == s)
            .map(Self::Feed)
            .ok_or_else(|| UnknownFormat {
                given: s,
                known: Self::names(),
            })
    }
}

/// Whether the first non-blank, non-comment line is a native record (`{"record": ...}`).
fn is_native(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let Some(line) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
    else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .is_some_and(|v| v.get("record").is_some_and(serde_json::Value::is_string))
}

/// The format of a file from its name and first bytes; `None` when nothing matches.
pub fn detect(file_name: &str, head: &[u8]) -> Option<InputFormat> {
    if is_native(head) {
        return Some(InputFormat::Native);
    }
    detect_format(file_name, head).map(InputFormat::Feed)
}
