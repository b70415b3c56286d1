//! From stored evidence to a complete DescribeDomainReport.
//!
//! [`ReportEngine::report`] judges a name (or a wildcard zone) at a given report time and
//! returns a [`NativeReport`]: typed, with the explanation of the verdict. [`CompatReport`]
//! renders it exactly as Alibaba Cloud's DescribeDomainReport does (every value a string).
//! Reports are pure functions of the store and the report time.

mod compat;
pub mod config;
mod engine;
mod fields;
pub mod heuristics;
pub mod taxonomy;
pub mod verdict;

pub use compat::CompatReport;
pub use config::{ReportConfig, VerdictConfig};
pub use engine::{
    AttackStageCount, Basic, ContributingName, IndustryCount, Intelligence, NativeReport,
    ReportEngine, ReportError, ReportRequest, ThreatTypeSummary,
};
pub use fields::{Field, FieldSet, UnknownField};
pub use heuristics::HeuristicsConfig;
pub use taxonomy::Lang;
