//! The vocabulary of threatintel: validated domain names, the evidence records a store holds,
//! and the verdict types a report carries. Nothing here does IO.

mod domain;
mod evidence;
mod verdict;

pub use domain::{DomainError, DomainName, DomainQuery, SuffixKind};
pub use evidence::*;
pub use verdict::{RiskLevel, ThreatLevel};
