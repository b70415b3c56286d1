//! Pure parsers: bytes in, evidence records (plus per-record rejects and warnings) out. No IO,
//! no store, no clock: callers pass the observation time when a format lacks one.

pub mod context;
pub mod feed;

/// Why one line or object of an input was not turned into evidence. The rest of the input
/// is unaffected: one odd line never fails a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line number (or object index for JSON documents).
    pub line: u64,
    pub reason: String,
}
