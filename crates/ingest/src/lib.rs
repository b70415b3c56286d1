//! Getting evidence in. [`import_file`] reads one file (gzip expanded), detects its format
//! ([`threatintel_parse::detect`]) unless the caller names it, reads it with
//! [`threatintel_parse::read`] on a thread of its own, writes the records into one store
//! transaction in batches and commits only at the end: a file that fails midway, or a killed
//! process, leaves the store as it was before that file. Bad records are rejects with their
//! line numbers; they never fail the file.

pub mod feeds;
mod import;

pub use import::{
    default_expanded_limit, import_file, ImportOptions, ImportSummary, NoProgress, Progress,
    RejectedRecord, KEPT_REJECTS,
};
pub use threatintel_parse::{detect, Format, UnknownFormat};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot tell the format from its content; name it with --format ({known})")]
    UnknownFormat { path: PathBuf, known: String },
    #[error("{path}: a generic CSV needs a column mapping (a feed with `format = \"csv\"` and `[feeds.csv]` in the config)")]
    NeedsMapping { path: PathBuf },
    #[error("{path}: gzip input expands beyond {limit} bytes; refused as a possible gzip bomb")]
    GzipBomb { path: PathBuf, limit: u64 },
    #[error("{path}: {reason}")]
    Unusable { path: PathBuf, reason: String },
    #[error("{path}, line {line}: {source}")]
    Store {
        path: PathBuf,
        line: u64,
        #[source]
        source: threatintel_store::StoreError,
    },
}
