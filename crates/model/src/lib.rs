//! The vocabulary of threatintel: validated domain names and file hashes, the evidence records a store holds,
//! the threat vocabulary (threat types, scenarios, stages, industries) and the verdict types a
//! report carries. Nothing here does IO.

mod domain;
mod evidence;
mod file;
mod time;
mod verdict;
mod vocabulary;

pub use domain::{DomainError, DomainName, DomainQuery, SuffixKind};
pub use evidence::*;
pub use file::{FileHash, FileHashError, FileHashes, FileHashesError, HashKind};
pub use time::{parse_time, InvalidTime};
pub use verdict::{RiskLevel, ThreatLevel};
pub use vocabulary::{AttackStage, Industry, Lang, Scenario, ThreatType};
