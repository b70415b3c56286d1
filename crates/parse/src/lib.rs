//! Parsers from input formats into evidence records. [`read`](fn@read) is the one way in: a
//! [`Format`] (named, or found by [`detect`]), a reader, a [`Context`] for what the input does
//! not say, and a [`Sink`] that receives sources, records, rejects and skips as the input is
//! read. No file, network or clock access: the caller opens the input and passes the
//! observation time.

pub mod context;
pub mod feed;
mod format;
pub mod limits;
mod read;

pub use format::{detect, Format, UnknownFormat};
pub use read::{read, Context, ReadError, Sink, Stopped};

/// Why one line or object of an input was not turned into evidence. The rest of the input
/// is unaffected: one odd line never fails a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line number (or object index for JSON documents).
    pub line: u64,
    pub reason: String,
}

impl Reject {
    pub fn new(line: u64, reason: impl Into<String>) -> Self {
        Self {
            line,
            reason: reason.into(),
        }
    }
}
