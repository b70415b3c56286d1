//! What a reader (of either backend) learns about a zone when a report asks whether the store
//! knows it: every name of the zone with the kind bits of its evidence, and the kinds on the
//! zone's ancestors. A report's later reads about names of that zone consult it first and skip
//! the queries the kind bits show would find nothing (most names have no WHOIS record,
//! certificate or event). Zones with more than [`KnownZone::MAX_NAMES`] names are not kept:
//! their reads all run as queries.
//!
//! Pure: it holds keys and bits read in one snapshot, and answers only about names it covers
//! (the zone, the names below it, its ancestors); for any other name it answers `None`. It
//! also hands out the zone's key, which a report's reads about the zone would otherwise each
//! compute again.

use std::borrow::Cow;
use std::cell::RefCell;

use threatintel_model::{DomainName, DomainQuery};

use crate::keys::{key, key_end, kind, scope_range_of};

pub(crate) struct KnownZone {
    /// The zone, its key and the exclusive end of its key range.
    zone: DomainName,
    key: String,
    end: String,
    /// Every stored name of the zone (itself included), in key order: key, kind bits, id.
    names: Vec<(String, i64, i64)>,
    /// The zone's ancestors' keys, with their kind bits (0 for a name not stored).
    ancestors: Vec<(String, i64)>,
}

impl KnownZone {
    /// The most names a zone may have to be kept.
    pub const MAX_NAMES: usize = 32;

    /// `names` (key order; key, kind bits, id) and `ancestors` as read for `zone`, whose key
    /// is `key`.
    pub fn new(
        zone: &DomainName,
        key: String,
        names: Vec<(String, i64, i64)>,
        ancestors: Vec<(String, i64)>,
    ) -> Self {
        debug_assert!(names.len() <= Self::MAX_NAMES);
        debug_assert!(names.windows(2).all(|w| w[0].0 < w[1].0));
        Self {
            zone: zone.clone(),
            end: key_end(&key),
            key,
            names,
            ancestors,
        }
    }

    /// The key of `name` and the end of its key range, borrowed when `name` is the zone.
    fn range_of(&self, name: &DomainName) -> (Cow<'_, str>, Cow<'_, str>) {
        if *name == self.zone {
            return (self.key.as_str().into(), self.end.as_str().into());
        }
        let k = key(name);
        let end = key_end(&k);
        (k.into(), end.into())
    }

    /// Whether the zone holds a name, or an ancestor carries one of `kinds`.
    pub fn knows(&self, kinds_above: i64) -> bool {
        !self.names.is_empty() || self.ancestors.iter().any(|(_, k)| k & kinds_above != 0)
    }

    fn in_range(&self, key: &str) -> bool {
        self.key.as_str() <= key && key < self.end.as_str()
    }

    /// The kind bits of the name `key`, when it is covered.
    pub fn kinds_at(&self, key: &str) -> Option<i64> {
        if self.in_range(key) {
            let found = self.names.binary_search_by(|(k, ..)| k.as_str().cmp(key));
            return Some(found.map_or(0, |i| self.names[i].1));
        }
        self.ancestors
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, kinds)| *kinds)
    }

    /// The names whose keys are in `lo..hi` with their kind bits and ids, when that range is
    /// inside the zone's.
    fn entries_in<'a>(
        &'a self,
        lo: &'a str,
        hi: &'a str,
    ) -> Option<impl Iterator<Item = &'a (String, i64, i64)> + 'a> {
        (self.in_range(lo) && hi <= self.end.as_str()).then(|| {
            self.names
                .iter()
                .filter(move |(k, ..)| lo <= k.as_str() && k.as_str() < hi)
        })
    }

    /// The names whose keys are in `lo..hi` with their kind bits, when that range is inside
    /// the zone's.
    pub fn names_in<'a>(
        &'a self,
        lo: &'a str,
        hi: &'a str,
    ) -> Option<impl Iterator<Item = (&'a str, i64)> + 'a> {
        Some(
            self.entries_in(lo, hi)?
                .map(|(k, kinds, _)| (k.as_str(), *kinds)),
        )
    }

    /// The ids, in key order, of the names in `lo..hi` that carry one of `kinds`, when that
    /// range is inside the zone's.
    pub fn ids_in(&self, lo: &str, hi: &str, kinds: i64) -> Option<Vec<i64>> {
        Some(
            self.keyed_ids_in(lo, hi, kinds)?
                .map(|(_, id)| id)
                .collect(),
        )
    }

    /// The keys and ids, in key order, of the names in `lo..hi` that carry one of `kinds`,
    /// when that range is inside the zone's.
    fn keyed_ids_in<'a>(
        &'a self,
        lo: &'a str,
        hi: &'a str,
        kinds: i64,
    ) -> Option<impl Iterator<Item = (&'a str, i64)> + 'a> {
        Some(
            self.entries_in(lo, hi)?
                .filter(move |e| e.1 & kinds != 0)
                .map(|(k, _, id)| (k.as_str(), *id)),
        )
    }

    /// The id of the stored name `key` of the zone (not of an ancestor).
    fn id_at(&self, key: &str) -> Option<i64> {
        if !self.in_range(key) {
            return None;
        }
        let found = self.names.binary_search_by(|(k, ..)| k.as_str().cmp(key));
        found.ok().map(|i| self.names[i].2)
    }

    /// Whether the covered range `lo..hi` is known to hold no name with one of `kinds`.
    pub fn none_in(&self, lo: &str, hi: &str, kinds: i64) -> bool {
        self.names_in(lo, hi)
            .is_some_and(|mut names| names.all(|(_, k)| k & kinds == 0))
    }

    /// Whether the covered name `key` is known to carry none of `kinds`.
    pub fn none_at(&self, key: &str, kinds: i64) -> bool {
        self.kinds_at(key).is_some_and(|k| k & kinds == 0)
    }
}

/// A reader's known zone: the one its last `knows_zone` read, if it was small enough to keep.
#[derive(Default)]
pub(crate) struct LastZone(RefCell<Option<KnownZone>>);

impl LastZone {
    /// Keeps `zone` (`None`: a zone too large to keep) and returns whether the store knows it
    /// (a zone with more names than are kept is known).
    pub fn keep(&self, zone: Option<KnownZone>) -> bool {
        let knows = zone.as_ref().is_none_or(|z| z.knows(kind::ABOVE));
        *self.0.borrow_mut() = zone;
        knows
    }

    /// The key of `name`: the known zone's, copied, when `name` is that zone (a report asks
    /// about its zone many times); computed otherwise.
    pub fn key_of(&self, name: &DomainName) -> String {
        match &*self.0.borrow() {
            Some(z) if z.zone == *name => z.key.clone(),
            _ => key(name),
        }
    }

    /// The known zone's name, when its key is `key`.
    pub fn zone_at(&self, key: &str) -> Option<DomainName> {
        match &*self.0.borrow() {
            Some(z) if z.key == key => Some(z.zone.clone()),
            _ => None,
        }
    }

    /// The key range `[lo, hi)` of a query's scope ([`scope_range_of`]), its key from
    /// [`key_of`](Self::key_of).
    pub fn scope_range(&self, scope: &DomainQuery) -> (String, String) {
        scope_range_of(scope, self.key_of(scope.name()))
    }

    /// Whether the known zone shows that no name in `lo..hi` carries one of `kinds`.
    pub fn none_in(&self, lo: &str, hi: &str, kinds: i64) -> bool {
        self.0
            .borrow()
            .as_ref()
            .is_some_and(|z| z.none_in(lo, hi, kinds))
    }

    /// The ids, in key order, of the names in `lo..hi` that carry one of `kinds`, when the
    /// known zone covers that range: a read of the range can probe these names instead.
    pub fn ids_in(&self, lo: &str, hi: &str, kinds: i64) -> Option<Vec<i64>> {
        self.0.borrow().as_ref()?.ids_in(lo, hi, kinds)
    }

    /// The keys and ids, in key order, of the names in `lo..hi` that carry one of `kinds`,
    /// when the known zone covers that range: a read of the range can probe these names by id.
    pub fn keyed_ids_in(&self, lo: &str, hi: &str, kinds: i64) -> Option<Vec<(String, i64)>> {
        let known = self.0.borrow();
        let names = known.as_ref()?.keyed_ids_in(lo, hi, kinds)?;
        Some(names.map(|(k, id)| (k.to_owned(), id)).collect())
    }

    /// The id of the name `key`, when the known zone holds it as one of the zone's names.
    pub fn id_at(&self, key: &str) -> Option<i64> {
        self.0.borrow().as_ref()?.id_at(key)
    }

    /// The ids, in key order, of the known zone's names that carry one of `kinds` (none
    /// without a known zone).
    pub fn all_ids(&self, kinds: i64) -> Vec<i64> {
        self.0.borrow().as_ref().map_or_else(Vec::new, |z| {
            z.names
                .iter()
                .filter(|e| e.1 & kinds != 0)
                .map(|e| e.2)
                .collect()
        })
    }

    /// The key of the known zone's name with the id `id`.
    pub fn key_with_id(&self, id: i64) -> Option<String> {
        let known = self.0.borrow();
        let names = &known.as_ref()?.names;
        names.iter().find(|e| e.2 == id).map(|e| e.0.clone())
    }

    /// Whether the last `knows_zone` kept its zone.
    pub fn holds_zone(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// Whether the known zone covers the name `key` (a name of the zone or an ancestor).
    pub fn covers(&self, key: &str) -> bool {
        self.0
            .borrow()
            .as_ref()
            .is_some_and(|z| z.kinds_at(key).is_some())
    }

    /// Whether the known zone covers the range `lo..hi` (inside the zone's).
    pub fn covers_range(&self, lo: &str, hi: &str) -> bool {
        self.0
            .borrow()
            .as_ref()
            .is_some_and(|z| z.entries_in(lo, hi).is_some())
    }

    /// Whether the known zone shows that the name `key` carries none of `kinds`.
    pub fn none_at(&self, key: &str, kinds: i64) -> bool {
        self.0
            .borrow()
            .as_ref()
            .is_some_and(|z| z.none_at(key, kinds))
    }

    /// `use_children` applied to the keys, in order, of the names strictly below `zone` that
    /// count as its children, when the known zone covers `zone`.
    pub fn children<T>(
        &self,
        zone: &DomainName,
        use_children: impl FnOnce(&mut dyn Iterator<Item = &str>) -> T,
    ) -> Option<T> {
        let known = self.0.borrow();
        let known = known.as_ref()?;
        let (k, end) = known.range_of(zone);
        let mut children = known
            .names_in(&k, &end)?
            .filter(|(name, kinds)| *name != k && kinds & kind::COUNTED != 0)
            .map(|(name, _)| name);
        Some(use_children(&mut children))
    }

    /// Whether `certificates(name)` would find nothing: no certificate on the name, and no
    /// wildcard certificate on its parent (`parent` its key).
    pub fn no_certificates(&self, exact: &str, parent: Option<&str>) -> bool {
        parent.is_none_or(|p| self.none_at(p, kind::CERTIFICATE_WILDCARD))
            && self.none_at(exact, kind::CERTIFICATE)
    }
}

#[cfg(test)]
mod tests {
    use threatintel_model::DomainName;

    use super::KnownZone;

    fn zone() -> KnownZone {
        KnownZone::new(
            &DomainName::parse("example.com").unwrap(),
            "com.example.".into(),
            vec![
                ("com.example.".into(), 1, 10),
                ("com.example.a.".into(), 4, 11),
                ("com.example.a.b.".into(), 8, 12),
            ],
            vec![("com.".into(), 0)],
        )
    }

    #[test]
    fn answers_only_about_covered_names() {
        let z = zone();
        let check =
            |key: &str, expected: Option<i64>| assert_eq!(z.kinds_at(key), expected, "{key}");
        check("com.example.", Some(1));
        check("com.example.a.b.", Some(8));
        check("com.example.zz.", Some(0)); // below the zone, not stored
        check("com.", Some(0)); // an ancestor, not stored
        check("com.example-foo.", None);
        check("com.exampl.", None);
        check("org.example.", None);
        assert!(z.none_at("com.example.zz.", !0));
        assert!(!z.none_at("com.example.a.", 4));
        assert!(
            !z.none_at("org.example.", 4),
            "unknown names are never skipped"
        );
    }

    #[test]
    fn ranges_inside_the_zone_only() {
        let z = zone();
        assert!(z.none_in("com.example.a.", "com.example.a/", 1));
        assert!(!z.none_in("com.example.a.", "com.example.a/", 8));
        assert!(!z.none_in("com.example.", "com.example/", 1));
        // The exact range of a name, as resolutions and events read it.
        assert!(z.none_in("com.example.a.", "com.example.a.\u{1}", 8));
        assert!(!z.none_in("com.", "com/", 0), "wider than the zone");
        assert_eq!(
            z.names_in("com.example.a.", "com.example.a/")
                .unwrap()
                .count(),
            2
        );
        assert_eq!(
            z.ids_in("com.example.", "com.example/", 4 | 8),
            Some(vec![11, 12])
        );
        assert_eq!(
            z.ids_in("com.example.a.", "com.example.a.\u{1}", 8),
            Some(vec![])
        );
        assert_eq!(z.ids_in("com.", "com/", !0), None, "wider than the zone");
        assert!(z.knows(0));
        let x = DomainName::parse("x.org").unwrap();
        let bare =
            |kinds| KnownZone::new(&x, "org.x.".into(), vec![], vec![("org.".into(), kinds)]);
        assert!(!bare(64).knows(2));
        assert!(bare(64).knows(64));
    }
}
