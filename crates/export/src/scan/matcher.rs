//! The in-memory matcher a retro-hunt streams log lines through: every name with indicator
//! records (zone listings included) and the allowlist entries that can bear on them, read
//! from the store once, with their strings interned and the names in one string so that a
//! million indicators stay small. A line's name is looked up with its ancestors, farthest
//! first, until one leads to no record (a miss, most lines, is a few cached hash probes); a
//! name that meets records is judged as the report would judge it, at the line's time.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::mpsc::sync_channel;

use hashbrown::HashTable;
use threatintel_model::{
    AllowMatch, AllowlistEntry, AllowlistKind, DomainName, IndicatorRecord, Reliability, RiskLevel,
    Timestamp,
};
use threatintel_report::verdict::{EvidenceIndex, Verdict};
use threatintel_report::VerdictConfig;
use threatintel_store::{AllowlistHit, IndicatorHit, Store, StoreError};

use crate::select::stream;

/// An indicator record without its name, its strings interned.
#[derive(Debug, Clone)]
struct Indicator {
    zone: bool,
    source: u32,
    threat_type: u32,
    label: Option<u32>,
    risk: RiskLevel,
    scenario: Option<u32>,
    attack_stage: Option<u32>,
    first_seen: Timestamp,
    last_seen: Timestamp,
    confidence: Option<u8>,
    via_url: bool,
    reliability: Reliability,
}

#[derive(Debug, Clone)]
struct Allow {
    list: u32,
    matching: AllowMatch,
    rank: Option<u32>,
    kind: AllowlistKind,
}

/// A name the matcher holds, with its records: runs of [`Matcher::indicators`] and
/// [`Matcher::allowlist`] (the store hands each name's records together).
#[derive(Debug)]
struct Entry {
    /// The name: `text[name_start..name_start + name_len]`.
    name_start: usize,
    name_len: u16,
    indicator_count: u32,
    allow_count: u32,
    first_indicator: usize,
    first_allow: usize,
}

#[derive(Default)]
struct Strings {
    index: HashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
}

impl Strings {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(s.into());
        self.index.insert(s.into(), i);
        i
    }

    fn get(&self, i: u32) -> String {
        self.values[i as usize].to_string()
    }
}

/// A name's hash: FxHash's step over its bytes from the last to the first, then
/// MurmurHash3's finaliser. Read from the right, the hashes of a name and of all its ancestors
/// come from one pass ([`suffixes`]).
fn hash(name: &str) -> u64 {
    let state = name.bytes().rev().fold(0, step);
    finish(state, name.len())
}

fn step(state: u64, byte: u8) -> u64 {
    (state.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x517c_c1b7_2722_0a95)
}

fn finish(state: u64, len: usize) -> u64 {
    let mut h = state ^ len as u64;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A table slot: an entry number and the upper half of its name's hash, compared before the
/// name (a slot whose tag matches by chance costs no visit to the entry), and from which the
/// table re-derives its hash when it grows (no name is hashed again).
#[derive(Debug, Clone, Copy)]
struct Slot {
    entry: u32,
    tag: u32,
}

impl Slot {
    fn tag_of(hash: u64) -> u32 {
        (hash >> 32) as u32
    }

    /// The table's hash of a tag (spread over 64 bits: the table indexes by the low bits and
    /// tells slots apart by the top ones).
    fn table_hash(tag: u32) -> u64 {
        u64::from(tag).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

/// The store's indicators and the allowlist entries near them, ready for lookups: the names'
/// text in one string, a table of entry numbers by name hash, the records in two arrays (no
/// allocation per name: a million names take about 150 bytes each).
pub struct Matcher {
    text: String,
    entries: Vec<Entry>,
    index: HashTable<Slot>,
    /// The ancestors of the names with indicator records.
    ancestors: Ancestors,
    indicators: Vec<Indicator>,
    allowlist: Vec<Allow>,
    strings: Strings,
    config: VerdictConfig,
}

impl Matcher {
    /// Reads every indicator record, then the allowlist entries in the registrable domains
    /// (or below the zone listings) of those records; other entries cannot change a verdict
    /// on a name that has records.
    pub fn build(store: &dyn Store, config: VerdictConfig) -> Result<Self, StoreError> {
        let mut matcher = Self {
            text: String::new(),
            entries: Vec::new(),
            index: HashTable::new(),
            ancestors: Ancestors::default(),
            indicators: Vec::new(),
            allowlist: Vec::new(),
            strings: Strings::default(),
            config,
        };
        // The registrable domains of the records, by hash (sorted): a collision only keeps an
        // allowlist entry that cannot matter.
        let mut domains: Vec<u64> = Vec::new();
        // The records are read on a thread while the matcher takes them in.
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel(4);
            let read =
                scope.spawn(move || stream(tx, |visit| store.reader()?.each_indicator(visit)));
            for hit in rx.into_iter().flatten() {
                matcher.add_indicator(&hit);
                let name = &hit.record.name;
                let domain = hash(name.registrable().as_ref().unwrap_or(name).as_str());
                if domains.last() != Some(&domain) {
                    domains.push(domain);
                }
            }
            read.join().expect("the indicator reader does not panic")
        })?;
        domains.sort_unstable();
        domains.dedup();
        let reader = store.reader()?;
        reader.each_allowlist_entry(&mut |hit| {
            let name = hit.entry.name.as_str();
            let near = hit
                .entry
                .name
                .registrable()
                .is_some_and(|d| domains.binary_search(&hash(d.as_str())).is_ok())
                || suffixes(name).any(|(a, h)| {
                    a.len() < name.len()
                        && matcher
                            .find(a, h)
                            .is_some_and(|e| matcher.indicators_of(e).iter().any(|i| i.zone))
                });
            if near {
                let allow = Allow {
                    list: matcher.strings.intern(&hit.entry.list),
                    matching: hit.entry.matching,
                    rank: hit.entry.rank,
                    kind: hit.kind,
                };
                let entry = matcher.entry_for(name);
                let entry = &mut matcher.entries[entry];
                push_to_run(
                    &mut matcher.allowlist,
                    &mut entry.first_allow,
                    &mut entry.allow_count,
                    allow,
                );
            }
            ControlFlow::Continue(())
        })?;
        matcher.ancestors = Ancestors::of(
            matcher
                .entries
                .iter()
                .filter(|e| e.indicator_count > 0)
                .map(|e| name_of(&matcher.text, e)),
        );
        // The arrays are not shrunk: their unused capacity is never touched, so it takes no
        // memory, and a shrink would copy each one.
        Ok(matcher)
    }

    /// Adds an indicator record. The store hands every record of a name together, so a name
    /// other than the last one's is new.
    fn add_indicator(&mut self, hit: &IndicatorHit) {
        let name = hit.record.name.as_str();
        let last = self.entries.len().checked_sub(1);
        let entry = match last {
            Some(e) if name_of(&self.text, &self.entries[e]) == name => e,
            _ => self.add_entry(name),
        };
        let indicator = self.indicator(hit);
        let entry = &mut self.entries[entry];
        push_to_run(
            &mut self.indicators,
            &mut entry.first_indicator,
            &mut entry.indicator_count,
            indicator,
        );
    }

    fn indicator(&mut self, hit: &IndicatorHit) -> Indicator {
        let r = &hit.record;
        Indicator {
            zone: r.zone,
            source: self.strings.intern(&r.source),
            threat_type: self.strings.intern(&r.threat_type),
            label: r.label.as_deref().map(|s| self.strings.intern(s)),
            risk: r.risk,
            scenario: r.scenario.as_deref().map(|s| self.strings.intern(s)),
            attack_stage: r.attack_stage.as_deref().map(|s| self.strings.intern(s)),
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            confidence: r.confidence,
            via_url: r.via_url,
            reliability: hit.reliability,
        }
    }

    /// The entry of `name`, added (with no records) when it has none. The records of an
    /// entry are pushed while it is the last one touched: the store hands a name's records
    /// together, indicators first, then allowlist entries.
    fn entry_for(&mut self, name: &str) -> usize {
        match self.find_index(name, hash(name)) {
            Some(e) => e,
            None => self.add_entry(name),
        }
    }

    /// A new entry for `name`, with no records.
    fn add_entry(&mut self, name: &str) -> usize {
        let e = self.entries.len();
        self.entries.push(Entry {
            name_start: self.text.len(),
            name_len: name.len() as u16,
            indicator_count: 0,
            allow_count: 0,
            first_indicator: 0,
            first_allow: 0,
        });
        self.text.push_str(name);
        let tag = Slot::tag_of(hash(name));
        // Entry numbers fit in 32 bits: 4 billion names would not fit in memory.
        let slot = Slot {
            entry: e as u32,
            tag,
        };
        self.index
            .insert_unique(Slot::table_hash(tag), slot, |s| Slot::table_hash(s.tag));
        e
    }

    /// The entry of `name`, whose [`hash`] is `hash`.
    fn find_index(&self, name: &str, hash: u64) -> Option<usize> {
        let tag = Slot::tag_of(hash);
        self.index
            .find(Slot::table_hash(tag), |s| {
                s.tag == tag && name_of(&self.text, &self.entries[s.entry as usize]) == name
            })
            .map(|s| s.entry as usize)
    }

    fn find(&self, name: &str, hash: u64) -> Option<&Entry> {
        self.find_index(name, hash).map(|e| &self.entries[e])
    }

    fn indicators_of(&self, entry: &Entry) -> &[Indicator] {
        &self.indicators[entry.first_indicator..][..entry.indicator_count as usize]
    }

    fn allowlist_of(&self, entry: &Entry) -> &[Allow] {
        &self.allowlist[entry.first_allow..][..entry.allow_count as usize]
    }

    pub fn config(&self) -> &VerdictConfig {
        &self.config
    }

    /// Names held (with indicator records or allowlist entries).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `name` (normalised: lower case, no trailing dot) or one of its ancestors has
    /// indicator records: the only names worth judging.
    ///
    /// The name's suffixes are looked up from the farthest (`com`, `example.com`, ...) until
    /// one is neither a name with records nor an ancestor of one: no longer suffix can be
    /// either. Most queried names are below a few popular domains, whose lookups stay in the
    /// cache, so a line seldom costs a lookup of its own name.
    pub fn may_match(&self, name: &str) -> bool {
        for (suffix, hash) in suffixes(name) {
            if self
                .find(suffix, hash)
                .is_some_and(|e| e.indicator_count > 0)
            {
                return true;
            }
            if !self.ancestors.may_contain(hash) {
                return false;
            }
        }
        false
    }

    /// The verdict on `name` at `at`, from its records and its ancestors'.
    pub fn judge(&self, name: &DomainName, at: Timestamp) -> Verdict {
        let mut indicators = Vec::new();
        let mut allowlist = Vec::new();
        for (n, h) in suffixes(name.as_str()) {
            let Some(entry) = self.find(n, h) else {
                continue;
            };
            let Ok(owner) = DomainName::parse(n) else {
                continue;
            };
            indicators.extend(
                self.indicators_of(entry)
                    .iter()
                    .map(|i| self.indicator_hit(&owner, i)),
            );
            allowlist.extend(
                self.allowlist_of(entry)
                    .iter()
                    .map(|a| self.allowlist_hit(&owner, a)),
            );
        }
        let index = EvidenceIndex::new(&indicators, &allowlist);
        index.judge(&self.config, name, name.registrable().as_ref(), at)
    }

    fn indicator_hit(&self, name: &DomainName, i: &Indicator) -> IndicatorHit {
        let s = |i: u32| self.strings.get(i);
        IndicatorHit {
            record: IndicatorRecord {
                name: name.clone(),
                zone: i.zone,
                source: s(i.source),
                threat_type: s(i.threat_type),
                label: i.label.map(s),
                risk: i.risk,
                scenario: i.scenario.map(s),
                attack_stage: i.attack_stage.map(s),
                first_seen: i.first_seen,
                last_seen: i.last_seen,
                confidence: i.confidence,
                reference: None,
                via_url: i.via_url,
            },
            reliability: i.reliability,
            sightings: 1,
        }
    }

    fn allowlist_hit(&self, name: &DomainName, a: &Allow) -> AllowlistHit {
        AllowlistHit {
            entry: AllowlistEntry {
                name: name.clone(),
                matching: a.matching,
                list: self.strings.get(a.list),
                rank: a.rank,
            },
            kind: a.kind,
        }
    }
}

fn name_of<'t>(text: &'t str, entry: &Entry) -> &'t str {
    &text[entry.name_start..][..usize::from(entry.name_len)]
}

/// A Bloom filter of name hashes (two bits of one 64-bit word per name, about 16 bits per
/// name): "no" is certain, "yes" is wrong for about 2% of the names not in it.
#[derive(Default)]
struct Ancestors {
    words: Vec<u64>,
}

impl Ancestors {
    /// The proper ancestors of `names`.
    fn of<'n>(names: impl Iterator<Item = &'n str> + Clone) -> Self {
        let proper = |name: &'n str| suffixes(name).filter(move |(a, _)| a.len() < name.len());
        let count = names.clone().flat_map(proper).count();
        let mut filter = Self {
            words: vec![0; (count / 4).max(1).next_power_of_two()],
        };
        for (_, hash) in names.flat_map(proper) {
            let (word, bits) = filter.position(hash);
            filter.words[word] |= bits;
        }
        filter
    }

    fn position(&self, hash: u64) -> (usize, u64) {
        // The word from the low bits, the two bits from bits the word and the table's tag
        // (the upper half) do not use.
        let word = (hash as usize) & (self.words.len() - 1);
        let bits = 1 << ((hash >> 20) & 63) | 1 << ((hash >> 26) & 63);
        (word, bits)
    }

    fn may_contain(&self, hash: u64) -> bool {
        if self.words.is_empty() {
            return false;
        }
        let (word, bits) = self.position(hash);
        self.words[word] & bits == bits
    }
}

/// `name` and each of its ancestors with their [`hash`]es, farthest first (`c`, `b.c`,
/// `a.b.c`): one pass over the name, from its end.
fn suffixes(name: &str) -> impl Iterator<Item = (&str, u64)> {
    let bytes = name.as_bytes();
    let mut state = 0;
    let mut at = bytes.len();
    let mut done = false;
    std::iter::from_fn(move || {
        while !done {
            if at == 0 {
                done = true;
                return Some((name, finish(state, name.len())));
            }
            at -= 1;
            if bytes[at] == b'.' {
                let suffix = &name[at + 1..];
                let suffix_hash = finish(state, suffix.len());
                state = step(state, b'.');
                return Some((suffix, suffix_hash));
            }
            state = step(state, bytes[at]);
        }
        None
    })
}

/// Appends `record` to an entry's run of `records` (`count` of them from `first`); the run
/// starts with the entry's first record.
fn push_to_run<T>(records: &mut Vec<T>, first: &mut usize, count: &mut u32, record: T) {
    if *count == 0 {
        *first = records.len();
    }
    *count += 1;
    records.push(record);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_each_ancestor_with_its_own_hash() {
        for name in ["www.example.co.uk", "com", "a..b", "x.", ".y", ""] {
            let mut expected: Vec<&str> = std::iter::once(name)
                .chain(name.match_indices('.').map(|(i, _)| &name[i + 1..]))
                .collect();
            expected.reverse();
            let got: Vec<(&str, u64)> = suffixes(name).collect();
            assert_eq!(got.iter().map(|(s, _)| *s).collect::<Vec<_>>(), expected);
            for (suffix, h) in got {
                assert_eq!(h, hash(suffix), "{suffix:?} of {name:?}");
            }
        }
    }

    #[test]
    fn the_ancestor_filter_holds_every_ancestor_and_few_others() {
        let names: Vec<String> = (0..10_000)
            .map(|i| format!("h{}.bad{i}x.example.org", i % 7))
            .collect();
        let filter = Ancestors::of(names.iter().map(String::as_str));
        for name in &names {
            for (ancestor, h) in suffixes(name) {
                if ancestor.len() < name.len() {
                    assert!(filter.may_contain(h), "{ancestor} of {name}");
                }
            }
        }
        let others = (0..10_000)
            .filter(|i| filter.may_contain(hash(&format!("good{i}.example.org"))))
            .count();
        assert!(others < 500, "{others} of 10,000 names wrongly held");
        assert!(!Ancestors::default().may_contain(hash("org")));
    }
}
