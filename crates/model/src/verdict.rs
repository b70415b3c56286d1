//! Risk and threat levels, with the integer codes the DescribeDomainReport wire format uses.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How dangerous one record says a name is (a record never says "unknown").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Informational: listed, but not malicious.
    None,
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn code(self) -> i8 {
        match self {
            Self::None => 0,
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Self::None,
            1 => Self::Low,
            2 => Self::Medium,
            3 => Self::High,
            _ => return None,
        })
    }

    /// Medium and high are "malicious" (blockable); low is only suspicious.
    pub fn is_malicious(self) -> bool {
        self >= Self::Medium
    }
}

/// The verdict on a name: `ThreatLevel` in DescribeDomainReport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreatLevel {
    /// No evidence at all (-1).
    Unknown,
    /// Allowlisted (0).
    Safe,
    /// Low, or only decayed records (1).
    Low,
    /// Medium (2).
    Medium,
    /// High (3).
    High,
}

impl ThreatLevel {
    pub fn code(self) -> i8 {
        match self {
            Self::Unknown => -1,
            Self::Safe => 0,
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
        }
    }

    pub fn is_malicious(self) -> bool {
        self >= Self::Medium
    }
}

impl From<RiskLevel> for ThreatLevel {
    fn from(risk: RiskLevel) -> Self {
        match risk {
            RiskLevel::None => Self::Safe,
            RiskLevel::Low => Self::Low,
            RiskLevel::Medium => Self::Medium,
            RiskLevel::High => Self::High,
        }
    }
}

impl fmt::Display for ThreatLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}
