//! From stored evidence to a complete DescribeDomainReport (and DescribeIpReport,
//! DescribeFileReport).
//!
//! [`ReportEngine::report`] judges a name (or a wildcard zone) at a given report time and
//! returns a [`NativeReport`]: typed, with the explanation of the verdict. [`CompatReport`]
//! renders it exactly as Alibaba Cloud's DescribeDomainReport does (every value a string).
//! Reports are pure functions of the store and the report time.

mod compat;
pub mod config;
mod engine;
mod fields;
mod file;
mod geo;
pub mod heuristics;
mod ip;
mod json_text;
pub mod verdict;

pub use compat::{CompatFileReport, CompatIpReport, CompatReport};
pub use config::{ReportConfig, VerdictConfig};
pub use engine::{
    AttackStageCount, Basic, ContributingName, IndustryCount, Intelligence, NativeReport,
    ReportEngine, ReportError, ReportRequest, ThreatTypeSummary, MAX_CHILDREN_JUDGED,
};
pub use fields::{Field, FieldSet, UnknownField};
pub use file::{FileFacts, FileReportRequest, FileVerdict, NativeFileReport, NoAllowlist};
pub use geo::{GeoError, Geolocator};
pub use heuristics::HeuristicsConfig;
pub use ip::{IpLocation, IpReportRequest, IpVerdict, NativeIpReport};
pub use threatintel_model::{Lang, Scenario};
