//! Pure parsers: bytes in, evidence records (plus per-line rejects and warnings) out. No IO,
//! no store, no clock: callers pass the observation time when a format lacks one.

pub mod context;
pub mod feed;
