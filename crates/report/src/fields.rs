//! `Field`: the heavy parts of a report a caller asks for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    ThreatTypes,
    Intelligences,
    AttackPreferenceTop5,
    AttackCntByThreatType,
}

impl Field {
    pub const ALL: [Field; 4] = [
        Self::ThreatTypes,
        Self::Intelligences,
        Self::AttackPreferenceTop5,
        Self::AttackCntByThreatType,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::ThreatTypes => "ThreatTypes",
            Self::Intelligences => "Intelligences",
            Self::AttackPreferenceTop5 => "AttackPreferenceTop5",
            Self::AttackCntByThreatType => "AttackCntByThreatType",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The field whose name is exactly `name`.
    fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Field {0:?}; valid values are ThreatTypes, Intelligences, AttackPreferenceTop5, AttackCntByThreatType")]
pub struct UnknownField(pub String);

impl FromStr for Field {
    type Err = UnknownField;
    fn from_str(s: &str) -> Result<Self, UnknownField> {
        Self::named(s.trim()).ok_or_else(|| UnknownField(s.to_owned()))
    }
}

/// A set of [`Field`]s; the empty set asks for the always-present parts only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FieldSet(u8);

impl FieldSet {
    pub const NONE: FieldSet = FieldSet(0);
    pub const ALL: FieldSet = FieldSet(0b1111);

    pub fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }

    pub fn insert(&mut self, field: Field) {
        self.0 |= field.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// Parses the comma-separated `Field` parameter; empty means none. Names are trimmed of
    /// white space, which is looked for only in a part that is no name as it stands (callers
    /// send the bare names: trimming each cost a request about 400 instructions). The commas
    /// are found by a plain byte loop: `str::split`'s searcher set up a `memchr` for each of
    /// the short parts, about 700 instructions a request.
    pub fn parse(list: &str) -> Result<Self, UnknownField> {
        let mut set = Self::NONE;
        let mut rest = Some(list);
        let parts = std::iter::from_fn(|| {
            let text = rest?;
            let comma = text.bytes().position(|b| b == b',');
            rest = comma.map(|i| &text[i + 1..]);
            Some(comma.map_or(text, |i| &text[..i]))
        });
        for part in parts {
            if let Some(field) = Field::named(part) {
                set.insert(field);
                continue;
            }
            let part = part.trim();
            if !part.is_empty() {
                set.insert(part.parse()?);
            }
        }
        Ok(set)
    }
}

impl FromIterator<Field> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Field>>(iter: I) -> Self {
        let mut set = Self::NONE;
        for f in iter {
            set.insert(f);
        }
        set
    }
}

impl fmt::Display for FieldSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Field::name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The byte loop splits as `str::split(',')` does: every part, the empty ones and
        /// the last included.
        #[test]
        fn parse_reads_the_parts_split_reads(
            parts in proptest::collection::vec(
                "ThreatTypes|Intelligences|AttackPreferenceTop5|AttackCntByThreatType| ?Intelligences |[ a-zé]{0,6}",
                0..6,
            ),
        ) {
            let list = parts.join(",");
            let expected = list.split(',').try_fold(FieldSet::NONE, |mut set, part| {
                let part = part.trim();
                if !part.is_empty() {
                    set.insert(part.parse()?);
                }
                Ok::<_, UnknownField>(set)
            });
            prop_assert_eq!(FieldSet::parse(&list), expected);
        }
    }

    #[test]
    fn each_field_parses_from_its_name_and_nothing_else_does() {
        for field in Field::ALL {
            assert_eq!(field.name().parse(), Ok(field));
            assert_eq!(format!(" {} ", field.name()).parse(), Ok(field));
            assert!(field.name().to_lowercase().parse::<Field>().is_err());
        }
        assert_eq!(
            FieldSet::parse("ThreatTypes, ,Intelligences,"),
            Ok([Field::ThreatTypes, Field::Intelligences]
                .into_iter()
                .collect())
        );
        assert_eq!(
            FieldSet::parse("ThreatTypes, Whois "),
            Err(UnknownField("Whois".into()))
        );
        assert_eq!(FieldSet::ALL.to_string().parse::<Field>().ok(), None);
        assert_eq!(
            FieldSet::parse(&FieldSet::ALL.to_string()),
            Ok(FieldSet::ALL)
        );
    }
}
