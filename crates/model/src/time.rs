//! Times as a user writes them (the CLI's `--at` and `--since`, the HTTP API's `at`), read by
//! one parser so that the command line and the API accept the same forms.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time {0:?}; use RFC 3339 (2024-05-01T12:00:00Z), \"2024-05-01 12:00:00\" (UTC), a date (2024-05-01) or Unix seconds (1714564800)")]
pub struct InvalidTime(pub String);

/// Reads a time: RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC), a date (midnight UTC) or Unix seconds
/// (digits only, optionally negative).
pub fn parse_time(text: &str) -> Result<Timestamp, InvalidTime> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Ok(t.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(t) = text
            .parse()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
        {
            return Ok(t);
        }
    }
    Err(InvalidTime(text.to_owned()))
}
