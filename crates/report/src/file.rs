//! The report on a file (DescribeFileReport): the records on the file a hash names (by any hash
//! a source linked to it), judged by the same verdict model as names and addresses. No
//! allowlist holds files, so a file's verdict is its records'.

use serde::Serialize;
use threatintel_model::{FileHash, FileHashes, FileRecord, Timestamp};

use crate::engine::{intelligences, threat_types, Intelligence, ReportEngine, ThreatTypeSummary};
use crate::fields::FieldSet;
use crate::verdict::{decide, score, AllowClaim, Relation, Verdict};
use crate::ReportError;

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReportRequest {
    pub hash: FileHash,
    pub fields: FieldSet,
    /// The report time: records are judged as of this instant.
    pub at: Timestamp,
}

/// No allowlist covers a file: the allowlist type of a file's verdict, which has no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NoAllowlist {}

impl AllowClaim for NoAllowlist {
    fn kind(&self) -> threatintel_model::AllowlistKind {
        match *self {}
    }
    fn rank(&self) -> Option<u32> {
        match *self {}
    }
}

/// The verdict on a file.
pub type FileVerdict = Verdict<FileRecord, NoAllowlist>;

/// What the records say of the file itself, merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFacts {
    /// Every hash linked to the file (the asked one when the store knows none).
    pub hashes: FileHashes,
    /// The file type of the most recently seen record that names one.
    pub file_type: Option<String>,
    /// The size of the most recently seen record that gives one.
    pub size: Option<u64>,
    /// Every name the file was seen under, sorted, each once.
    pub file_names: Vec<String>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
}

/// The full, typed report on a file with the explanation of its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NativeFileReport {
    /// The hash asked about.
    pub hash: FileHash,
    pub report_time: Timestamp,
    #[serde(skip)]
    pub fields: FieldSet,
    pub file: FileFacts,
    pub verdict: FileVerdict,
    pub threat_types: Vec<ThreatTypeSummary>,
    pub intelligences: Vec<Intelligence>,
}

impl ReportEngine {
    /// Judges the file `request.hash` names from every record on it.
    pub fn file_report(
        &self,
        request: &FileReportRequest,
    ) -> Result<NativeFileReport, ReportError> {
        let hits = self.store().reader()?.file_records(&request.hash)?;
        let mut file = FileFacts {
            hashes: hits.first().map_or_else(
                || FileHashes::one(request.hash.clone()),
                |h| h.record.hashes.clone(),
            ),
            file_type: None,
            size: None,
            file_names: Vec::new(),
            first_seen: None,
            last_seen: None,
        };
        let mut newest_first: Vec<&FileRecord> = hits
            .iter()
            .map(|h| &h.record)
            .filter(|r| r.first_seen <= request.at)
            .collect();
        newest_first.sort_by_key(|r| std::cmp::Reverse(r.last_seen));
        for r in &newest_first {
            file.file_type = file.file_type.take().or_else(|| r.file_type.clone());
            file.size = file.size.or(r.size);
            file.file_names.extend(r.file_names.iter().cloned());
            file.first_seen = Some(
                file.first_seen
                    .map_or(r.first_seen, |t| t.min(r.first_seen)),
            );
            file.last_seen = Some(file.last_seen.map_or(r.last_seen, |t| t.max(r.last_seen)));
        }
        file.file_names.sort();
        file.file_names.dedup();
        let records = hits
            .iter()
            .filter_map(|hit| score(self.verdict_config(), hit, Relation::Own, request.at))
            .collect();
        let verdict = decide(self.verdict_config(), records, Vec::new());
        Ok(NativeFileReport {
            hash: request.hash.clone(),
            report_time: request.at,
            fields: request.fields,
            file,
            threat_types: threat_types(&verdict.records),
            intelligences: intelligences(&verdict.records),
            verdict,
        })
    }
}
