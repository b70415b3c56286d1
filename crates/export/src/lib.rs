//! Putting verdicts to work: exports that DNS firewalls and IDSs load ([`export`]), and
//! retro-hunting DNS logs against the store ([`scan`]).
//!
//! An export lists the verdict on every name (the report engine's model, see [`select`]),
//! never raw records, in a stable order (name key order), so the same store and time give the
//! same bytes. [`export_to_file`] writes atomically: a temporary file in the target's
//! directory, renamed over it once complete.

pub mod format;
mod misp;
pub mod scan;
pub mod select;
mod stix;

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use threatintel_report::VerdictConfig;
use threatintel_store::{Store, StoreError};

pub use format::{suricata_rule, Format, FormatCounts, FormatOptions, RpzAction, SURICATA_SID};
pub use misp::{event_uuid as misp_event_uuid, manifest as misp_manifest};
pub use select::{Listing, Rule, Selection, SelectionSummary, Skip};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the export: {0}")]
    Output(#[source] io::Error),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What an export did: the selection's counts and the format's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub format: Format,
    #[serde(flatten)]
    pub selection: SelectionSummary,
    #[serde(flatten)]
    pub written: FormatCounts,
}

/// Writes the export of `store` in `format` to `out`.
pub fn export(
    store: &dyn Store,
    config: &VerdictConfig,
    selection: &Selection,
    format: Format,
    options: &FormatOptions,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    let mut writer = format::writer(format, options);
    let mut counts = FormatCounts::default();
    writer.header(out).map_err(ExportError::Output)?;
    let selected = select::select(store, config, selection, &mut |rule| {
        writer
            .rule(out, &rule, &mut counts)
            .map_err(ExportError::Output)
    })?;
    writer.footer(out).map_err(ExportError::Output)?;
    Ok(ExportSummary {
        format,
        selection: selected,
        written: counts,
    })
}

/// Writes `path` through `write`: into a temporary file next to it, flushed, synced and renamed
/// over `path` only when `write` succeeded. A failed export leaves the old file in place.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, ExportError>,
) -> Result<T, ExportError> {
    let io_error = |source| ExportError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".threatintel-export-")
        .tempfile_in(dir)
        .map_err(io_error)?;
    let mut out = BufWriter::with_capacity(1 << 20, temp);
    let value = write(&mut out)?;
    let temp = out.into_inner().map_err(|e| io_error(e.into_error()))?;
    temp.as_file().sync_all().map_err(io_error)?;
    temp.persist(path).map_err(|e| io_error(e.error))?;
    Ok(value)
}

/// Exports into `path` atomically (see [`write_atomically`]).
pub fn export_to_file(
    store: &dyn Store,
    config: &VerdictConfig,
    selection: &Selection,
    format: Format,
    options: &FormatOptions,
    path: &Path,
) -> Result<ExportSummary, ExportError> {
    write_atomically(path, |out| {
        export(store, config, selection, format, options, out)
    })
}

/// A UUID derived from `parts`: the first 16 bytes of their SHA-256 with the version 4 and
/// variant bits set (STIX 2.1 validators require version 4), so the same parts always give the
/// same identifier.
pub(crate) fn stable_uuid(parts: &[&[u8]]) -> uuid::Uuid {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
        hash.update([0]);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Appends `uuid` in its hyphenated lower-case form.
pub(crate) fn write_uuid(out: &mut Vec<u8>, uuid: uuid::Uuid) {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.extend_from_slice(uuid.hyphenated().encode_lower(&mut text).as_bytes());
}
