//! Getting evidence in. [`import_file`] reads one file, picks its parser (detected from the
//! content, or named by the caller), streams the records into one store transaction and
//! commits only at the end: a file that fails midway, or a killed process, leaves the store as
//! it was before that file. Bad records are collected as rejects with their line numbers; they
//! never fail the file.

pub mod feeds;
mod format;
mod import;

pub use format::{detect, ContextFormat, InputFormat, UnknownFormat};
pub use import::{import_file, ImportOptions, ImportSummary, NoProgress, Progress, RejectedRecord};

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
