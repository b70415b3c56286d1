//! The console's words in Chinese and English; the threat vocabulary's names come from the
//! model (`ThreatType::describe` and friends), never from here.

use threatintel_model::{Lang, ThreatLevel};

/// Picks the text in `lang` from a (中文, English) pair.
pub fn tr(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// The name of a threat level.
pub fn level_name(lang: Lang, level: ThreatLevel) -> &'static str {
    match level {
        ThreatLevel::Unknown => tr(lang, "未知", "unknown"),
        ThreatLevel::Safe => tr(lang, "安全", "safe"),
        ThreatLevel::Low => tr(lang, "低危", "low"),
        ThreatLevel::Medium => tr(lang, "中危", "medium"),
        ThreatLevel::High => tr(lang, "高危", "high"),
    }
}

/// The CSS class of a threat level's badge.
pub fn level_class(level: ThreatLevel) -> &'static str {
    match level {
        ThreatLevel::Unknown => "level unknown",
        ThreatLevel::Safe => "level safe",
        ThreatLevel::Low => "level low",
        ThreatLevel::Medium => "level medium",
        ThreatLevel::High => "level high",
    }
}

/// A time as `YYYY-MM-DD HH:MM` UTC.
pub fn time(t: threatintel_model::Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A date as `YYYY-MM-DD`.
pub fn day(t: threatintel_model::Timestamp) -> String {
    t.format("%Y-%m-%d").to_string()
}
