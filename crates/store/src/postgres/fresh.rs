//! What a write transaction knows of what it wrote itself: it holds the schema's writer lock,
//! so nobody else writes meanwhile.
//!
//! [`KnownNames`]: the names it found or added, with their ids and kind bits. A later batch
//! naming one again needs no lookup, unless it widens the name's kinds (a passive-DNS file
//! names the same names again and again).
//!
//! [`Fresh`]: the rows it wrote. A name whose kind bit was clear
//! when the transaction first staged rows of that kind for it had no such row before: while
//! the transaction lasts, its rows of the kind are exactly those the transaction copied in. So
//! a later batch's row for that name is new unless the transaction wrote it, and can go
//! straight into the table by `COPY` instead of through the merge's `INSERT ... ON CONFLICT`
//! (a passive-DNS file names the same names again in later batches: 40% of its rows).
//!
//! Rows are remembered by a 64-bit fingerprint of their identity, keyed at random per
//! transaction: two identities that share one only send a new row to the merge, which is
//! always correct. A name's first rows are only
//! noted in a list, moved into the lookup tables when a later row needs them: an import whose
//! names never come back (a plain list) pays for no table. What is remembered is bounded
//! ([`MAX_ROWS`]); past it, names stop being tracked and their rows are merged.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};

/// Most row fingerprints remembered: a million of them (with their names) raised a passive-DNS
/// import's peak memory by 28 MB.
const MAX_ROWS: usize = 2_000_000;

/// Most names remembered with their ids: 32 bytes each, and the table's slack (a million took
/// about 70 MB).
const MAX_NAMES: usize = 1_000_000;

/// The names the transaction found or added: the id of each and the kind bits it has at least
/// (a name written one by one may have gained more, which only sends it to the statement
/// again), by a 128-bit fingerprint of its key. Two names sharing one (one chance in 10^26
/// with a million names) would be taken for one; the fingerprints are keyed at random in each
/// transaction, so a feed cannot choose names that collide. A key of its own per name (a
/// string each) raised a plain list's client time by half.
///
/// Past a trial of [`TRIAL`] lookups, names are remembered only while at least one lookup in a
/// hundred finds one: an import whose names do not come back (a plain list) forgets them and
/// stops, instead of holding a table it never uses. Unless they are complete: a transaction
/// that found no name stored, and remembers every name it added (none added one by one, no more
/// than [`MAX_NAMES`]), knows that a name it does not remember is not stored, and so needs no
/// lookup for it (a first import into a new store).
pub(super) struct KnownNames {
    keys: RandomState,
    names: HashMap<u128, (i64, i32), BuildHasherDefault<Prehashed>>,
    looked_up: u64,
    found: u64,
    stopped: bool,
    /// Whether every stored name is remembered; `None` until the store is asked.
    complete: Option<bool>,
}

/// What [`KnownNames::recall`] remembers of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Recalled {
    /// Its id, and kind bits holding every kind asked for.
    Covering(i64, i32),
    /// The name, without every kind asked for.
    Lacking,
    /// Nothing.
    Unknown,
}

/// Lookups before [`KnownNames`] judges whether remembering pays.
const TRIAL: u64 = 200_000;

impl Default for KnownNames {
    fn default() -> Self {
        Self {
            keys: RandomState::new(),
            names: HashMap::default(),
            looked_up: 0,
            found: 0,
            stopped: false,
            complete: None,
        }
    }
}

impl KnownNames {
    /// Whether names are looked up and remembered.
    pub fn remembering(&self) -> bool {
        !self.stopped
    }

    /// Whether the store has not been asked yet if it holds any name.
    pub fn completeness_unknown(&self) -> bool {
        self.complete.is_none()
    }

    /// Sets whether the names remembered are every stored name: whether the store held none
    /// when asked (the writer lock keeps others from adding any meanwhile).
    pub fn set_complete(&mut self, store_empty: bool) {
        self.complete = Some(store_empty);
    }

    /// Whether the names remembered are every stored name.
    pub fn is_complete(&self) -> bool {
        self.complete == Some(true)
    }

    /// Notes that a name was added without being remembered (one by one).
    pub fn added_unremembered(&mut self) {
        self.complete = Some(false);
    }

    /// Ends a batch: past the trial, unless complete, forgets every name and stops remembering
    /// if fewer than one lookup in a hundred found a name.
    pub fn batch_done(&mut self) {
        if !self.stopped
            && !self.is_complete()
            && self.looked_up >= TRIAL
            && self.found * 100 < self.looked_up
        {
            self.stopped = true;
            self.names = HashMap::default();
        }
    }

    /// The fingerprint of the name keyed `rev`.
    pub fn fingerprint(&self, rev: &str) -> u128 {
        let high = self.keys.hash_one((0u8, rev));
        let low = self.keys.hash_one((1u8, rev));
        (u128::from(high) << 64) | u128::from(low)
    }

    /// What is remembered of the name fingerprinted `print`, asked for `kinds`.
    pub fn recall(&mut self, print: u128, kinds: i32) -> Recalled {
        self.looked_up += 1;
        match self.names.get(&print) {
            None => Recalled::Unknown,
            Some(&(id, known)) => {
                self.found += 1;
                if known & kinds == kinds {
                    Recalled::Covering(id, known)
                } else {
                    Recalled::Lacking
                }
            }
        }
    }

    /// Remembers that the name fingerprinted `print` is `id` and has `kinds` (and any bits
    /// known before).
    pub fn note(&mut self, print: u128, id: i64, kinds: i32) {
        let room = !self.stopped && self.names.len() < MAX_NAMES;
        match self.names.entry(print) {
            Entry::Occupied(mut known) => known.get_mut().1 |= kinds,
            Entry::Vacant(new) if room => {
                new.insert((id, kinds));
            }
            Entry::Vacant(_) => {
                if self.complete == Some(true) {
                    self.complete = Some(false);
                }
            }
        }
    }
}

/// Hashes a fingerprint by its low half: it is a keyed hash already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// Hashes a name id by one multiplication, which spreads consecutive ids over the high bits the
/// table's tags take. The store gives out the ids in sequence: a feed cannot choose them.
#[derive(Default)]
struct NameIdHasher(u64);

impl Hasher for NameIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

#[derive(Default)]
pub(super) struct Fresh {
    /// Per name id, the kind bits of the rows the transaction was the first to write.
    names: HashMap<i64, i64, BuildHasherDefault<NameIdHasher>>,
    /// Fingerprints of the rows written for those names.
    rows: HashSet<u64, BuildHasherDefault<Prehashed>>,
    /// First rows (name id, kind bit, fingerprint) not yet in `names` and `rows`.
    noted: Vec<(i64, i64, u64)>,
    /// The fingerprints' keys.
    keys: RandomState,
}

impl Fresh {
    /// The fingerprint of a row of kind `bit` and identity `identity`, for [`Fresh::admits`].
    pub fn print(&self, bit: i64, identity: impl Hash) -> u64 {
        self.keys.hash_one((bit, identity))
    }

    /// Whether a staged row of kind `bit`, fingerprint `print` ([`Fresh::print`]), on the name
    /// `id` whose stored kind bits (before its batch) were `stored`, can be copied straight in;
    /// remembers it when it can.
    pub fn admits(&mut self, id: i64, stored: i64, bit: i64, print: u64) -> bool {
        if stored & bit == 0 {
            // The name's first rows of the kind: new whatever is remembered.
            if self.remembered() < MAX_ROWS {
                self.noted.push((id, bit, print));
            }
            return true;
        }
        self.settle();
        let Some(kinds) = self.names.get_mut(&id).filter(|k| **k & bit != 0) else {
            return false;
        };
        if self.rows.contains(&print) {
            return false;
        }
        if self.rows.len() < MAX_ROWS {
            self.rows.insert(print);
            return true;
        }
        // No room to remember this row: it is merged, and so are the name's later ones.
        *kinds &= !bit;
        false
    }

    /// Forgets that the transaction wrote every row of `kinds` on the name `id`: a row written
    /// one by one is not remembered.
    pub fn forget(&mut self, id: i64, kinds: i64) {
        self.settle();
        if let Some(k) = self.names.get_mut(&id) {
            *k &= !kinds;
        }
    }

    fn remembered(&self) -> usize {
        self.rows.len() + self.noted.len()
    }

    /// Moves the noted first rows into the lookup tables.
    fn settle(&mut self) {
        for (id, bit, print) in self.noted.drain(..) {
            *self.names.entry(id).or_default() |= bit;
            self.rows.insert(print);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Fresh, KnownNames, Recalled};

    #[test]
    fn a_known_name_is_covered_only_for_the_kinds_it_has() {
        let mut known = KnownNames::default();
        let (a, b) = (known.fingerprint("com.a."), known.fingerprint("com.b."));
        assert_ne!(a, b);
        assert_eq!(known.recall(a, 4), Recalled::Unknown);
        known.note(a, 7, 4);
        assert_eq!(known.recall(a, 4), Recalled::Covering(7, 4));
        assert_eq!(known.recall(a, 4 | 1), Recalled::Lacking);
        assert_eq!(known.recall(b, 4), Recalled::Unknown);
        // Kinds add up; the id stays.
        known.note(a, 7, 1);
        assert_eq!(known.recall(a, 4 | 1), Recalled::Covering(7, 5));
        assert_eq!(known.recall(a, 1), Recalled::Covering(7, 5));
    }

    #[test]
    fn names_stop_being_remembered_when_too_few_come_back() {
        let trial = |found_every: u64| {
            let mut known = KnownNames::default();
            let again = known.fingerprint("com.again.");
            known.note(again, 1, 4);
            for i in 0..super::TRIAL {
                let print = if i % found_every == 0 {
                    again
                } else {
                    known.fingerprint(&format!("com.n{i}."))
                };
                known.recall(print, 4);
                known.note(print, i as i64, 4);
            }
            known.batch_done();
            (known.remembering(), known.recall(again, 4))
        };
        assert_eq!(trial(50), (true, Recalled::Covering(1, 4)));
        assert_eq!(trial(200), (false, Recalled::Unknown));
    }

    #[test]
    fn only_rows_of_names_first_written_here_go_straight_in() {
        let mut fresh = Fresh::default();
        let (resolution, event) = (4, 16);
        let mut admits = |id, stored, bit, identity| {
            let print = fresh.print(bit, identity);
            fresh.admits(id, stored, bit, print)
        };
        // Name 1 had no resolution: its first rows go in, a repeat is merged.
        assert!(admits(1, 0, resolution, "a"));
        assert!(admits(1, resolution, resolution, "b"));
        assert!(!admits(1, resolution, resolution, "a"));
        // Another kind of the same name was stored before: merged.
        assert!(!admits(1, event, event, "a"));
        // Name 2 had resolutions before the transaction: merged.
        assert!(!admits(2, resolution, resolution, "c"));
        // A row written one by one makes the name's later rows merge.
        fresh.forget(1, resolution);
        let print = fresh.print(resolution, "z");
        assert!(!fresh.admits(1, resolution, resolution, print));
    }
}
