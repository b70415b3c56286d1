//! Zones that hold no stored name, told without reading the store. A report on a name the
//! store does not know begins by reading its zone's names (`knows_zone`): an index descent in
//! SQLite, a round trip and a statement in PostgreSQL, the largest part of such a report's
//! store work. [`NameFilter`] is a Bloom filter of every stored name's key and its ancestors'
//! keys (`com.`, `com.example.`, `com.example.www.`): a zone whose key it lacks holds no name,
//! and that read is skipped.
//!
//! A filter speaks for the store as of a commit generation (`commit_marker`, which every commit
//! bumps; names are never deleted), and so for every snapshot of that generation or an earlier
//! one. A commit through this store adds its names as it commits ([`SharedFilter::committed`]);
//! after a commit by another process the filter is behind, reports read the store as before,
//! and the filter catches up on a thread of its own ([`SharedFilter::fall_behind`]) from the
//! backend's [`NameSource`]: it reads the names whose ids are above the last it holds (ids grow
//! with every commit: writers take turns and names are never deleted), or, past
//! [`MAX_CATCH_UP`] of them, every name again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::Result;

/// Filter bits per name it is sized for: a name adds its key and, at most, a few ancestors
/// that other names do not share. Fewer than 1% of absent zones are read anyway (1 of 4,241
/// in the serving benchmark's store of 1.1M names).
const BITS_PER_NAME: u64 = 16;

/// A filter holding more than this many times the names it was sized for is built again.
const MAX_FILL: u64 = 2;

/// Stores of more names than this read every zone: the filter would take more than 256 MiB.
const MAX_NAMES: u64 = 128 << 20;

/// The new names' hashes a commit keeps for the filter; past them, the filter is built again.
const MAX_PENDING_HASHES: usize = 8 << 20;

/// The most names a filter catches up on; past them it is built again.
const MAX_CATCH_UP: u64 = 1 << 20;

/// Reports read without a filter before one is built again.
const READS_BEFORE_BUILD: u64 = 256;

/// Builds (and catch-ups) start at most this many times their last one's time apart, and at
/// least a second (at most 5% of a core).
const BUILD_SPACING: u32 = 20;

/// Bits each key sets, one in each word of its block.
const SALTS: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// A split-block Bloom filter of name keys and their ancestors' keys.
pub(crate) struct NameFilter {
    /// The commit generation it speaks for.
    generation: i64,
    /// The largest name id of the snapshot it was built from, caught up with or added by a
    /// commit through this store: every name with an id up to it is held.
    last_id: i64,
    blocks: Vec<[u32; 8]>,
    names: u64,
    sized_for: u64,
}

impl NameFilter {
    /// An empty filter for a store of `names` names at commit `generation`, whose largest
    /// name id is `last_id`; `None` past [`MAX_NAMES`].
    pub fn for_store(names: u64, generation: i64, last_id: i64) -> Option<Self> {
        (names <= MAX_NAMES).then(|| Self {
            last_id,
            ..Self::sized_for(names, generation)
        })
    }

    fn sized_for(names: u64, generation: i64) -> Self {
        let blocks = (names.max(1024) * BITS_PER_NAME).div_ceil(256);
        Self {
            generation,
            last_id: 0,
            blocks: vec![[0; 8]; blocks as usize],
            names: 0,
            sized_for: names.max(1024),
        }
    }

    fn set(&mut self, hash: u64) {
        let block = self.block_of(hash);
        let block = &mut self.blocks[block];
        for (word, salt) in block.iter_mut().zip(SALTS) {
            *word |= 1 << ((hash as u32).wrapping_mul(salt) >> 27);
        }
    }

    fn has(&self, hash: u64) -> bool {
        let block = &self.blocks[self.block_of(hash)];
        block
            .iter()
            .zip(SALTS)
            .all(|(word, salt)| word & (1 << ((hash as u32).wrapping_mul(salt) >> 27)) != 0)
    }

    /// The block of `hash`: its high half scaled to the number of blocks.
    fn block_of(&self, hash: u64) -> usize {
        (((hash >> 32) * self.blocks.len() as u64) >> 32) as usize
    }

    /// Adds a stored name by its key, with its ancestors.
    pub fn insert(&mut self, key: &str) {
        prefix_hashes(key, |hash| self.set(hash));
        self.names += 1;
    }

    /// Follows a commit through this store that began at `generation` and added `new`: when
    /// it began at the filter's generation and kept its names, the filter takes them and
    /// speaks for the next generation (and holds every name up to the largest id among them
    /// too); otherwise it stays behind.
    fn follow(&mut self, generation: i64, new: &NewNames) {
        if self.generation != generation || !new.kept {
            return;
        }
        for &hash in &new.hashes {
            self.set(hash);
        }
        self.names += new.names;
        self.last_id = self.last_id.max(new.last_id);
        self.generation = generation + 1;
    }

    /// Whether it holds so many more names than it was sized for that it should be built
    /// again.
    fn overfull(&self) -> bool {
        self.names > MAX_FILL * self.sized_for
    }

    /// Whether a name with the key `zone_key`, or one below it, may be stored. (A key ends with
    /// a dot; the filter knows nothing of a text that does not.)
    pub fn may_hold(&self, zone_key: &str) -> bool {
        !zone_key.ends_with('.') || self.has(mix(zone_key.bytes().fold(FNV_OFFSET, fnv_step)))
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// One byte of FNV-1a.
fn fnv_step(state: u64, byte: u8) -> u64 {
    (state ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
}

/// MurmurHash3's finalizer: FNV's low bits see only the bytes' low bits.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hash of each prefix of `key` that ends a label (the key's ancestors' keys, then the key,
/// which ends with one), in one pass: each is the hash [`NameFilter::may_hold`] takes of it.
fn prefix_hashes(key: &str, mut each: impl FnMut(u64)) {
    let mut state = FNV_OFFSET;
    for byte in key.bytes() {
        state = fnv_step(state, byte);
        if byte == b'.' {
            each(mix(state));
        }
    }
}

/// What the filter shows of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filtered {
    /// No filter is kept (none built yet, or the store is too large).
    NoFilter,
    /// A name of the zone may be stored.
    MayHold,
    /// No name of the zone is stored as of commit generation `as_of` (nor, names never being
    /// deleted, before it).
    Lacks { as_of: i64 },
}

impl Filtered {
    /// Whether the filter speaks for a snapshot of commit `generation` and lacks the zone.
    pub fn lacks_in(self, generation: i64) -> bool {
        matches!(self, Self::Lacks { as_of } if generation <= as_of)
    }
}

/// What the filter shows of a zone's names in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZoneNames {
    /// The zone holds no name.
    None,
    /// The filter does not speak for the snapshot (it has not caught up with later commits,
    /// or none is kept).
    Unsure,
    /// It may hold names.
    MayHold,
}

/// The names a write transaction added, kept for the filter until it commits. Names not kept
/// (no filter wanted them, or too many) leave the filter behind after the commit.
#[derive(Default)]
pub(crate) struct NewNames {
    hashes: Vec<u64>,
    names: u64,
    /// The largest id among them (0 for none).
    last_id: i64,
    kept: bool,
}

impl NewNames {
    pub fn new(kept: bool) -> Self {
        Self {
            kept,
            ..Self::default()
        }
    }

    /// Keeps the name with the key `key` and the id `id`.
    pub fn add(&mut self, key: &str, id: i64) {
        if !self.kept {
            return;
        }
        if self.hashes.len() >= MAX_PENDING_HASHES {
            *self = Self::new(false);
            return;
        }
        prefix_hashes(key, |hash| self.hashes.push(hash));
        self.names += 1;
        self.last_id = self.last_id.max(id);
    }
}

/// Where a backend's filter is built from.
pub(crate) trait NameSource: Send + Sync + 'static {
    /// The filter of every name of one snapshot of the store, at that snapshot's commit
    /// generation ([`NameFilter::for_store`], then [`NameFilter::insert`] for each stored key);
    /// `None` when the store is too large for one.
    fn read_filter(&self) -> Result<Option<NameFilter>>;

    /// The names of one snapshot whose ids are above `after_id`, at most `limit` of them
    /// (`None` past it).
    fn read_since(&self, after_id: i64, limit: u64) -> Result<Option<NamesSince>>;
}

/// What a [`NameSource`] reads first in its snapshot: the commit generation and the largest
/// name id.
pub(crate) const GENERATION_AND_LAST_ID: &str =
    "SELECT generation, (SELECT coalesce(max(id), 0) FROM names) FROM commit_marker";

/// The names above an id ([`NameSource::read_since`]), keys first, at most the limit given
/// plus one (which tells that there were too many).
pub(crate) const NAMES_SINCE: &str = "SELECT rev FROM names WHERE id > $1 LIMIT $2";

/// Names a snapshot holds above an id: its commit generation, its largest name id and their
/// keys.
pub(crate) struct NamesSince {
    pub generation: i64,
    pub last_id: i64,
    pub keys: Vec<String>,
}

impl NamesSince {
    /// The `keys` [`NAMES_SINCE`] read with a limit of `limit + 1`, unless there were more than
    /// `limit`.
    pub fn within(limit: u64, generation: i64, last_id: i64, keys: Vec<String>) -> Option<Self> {
        (keys.len() as u64 <= limit).then_some(Self {
            generation,
            last_id,
            keys,
        })
    }
}

/// The filter the store's readers share, and how it is kept up to date.
pub(crate) struct SharedFilter<S> {
    /// Where the filter is built from.
    source: S,
    current: RwLock<Option<NameFilter>>,
    /// Commits through this store while a build runs, by the generation each began at: the
    /// build's filter takes those after its own generation.
    during_build: Mutex<Vec<(i64, NewNames)>>,
    building: AtomicBool,
    /// Reads made without a filter since the last build.
    reads_without: AtomicU64,
    /// When the last build started and how long it took.
    last_build: Mutex<Option<(Instant, Duration)>>,
    /// When the last catch-up started and how long it took.
    last_catch_up: Mutex<Option<(Instant, Duration)>>,
    /// The most names a catch-up reads; past them the filter is built again
    /// ([`MAX_CATCH_UP`], less in tests).
    catch_up_limit: u64,
}

impl<S: NameSource> SharedFilter<S> {
    /// No filter yet; builds read `source`.
    pub fn new(source: S) -> Self {
        Self {
            source,
            current: RwLock::default(),
            during_build: Mutex::default(),
            building: AtomicBool::default(),
            reads_without: AtomicU64::default(),
            last_build: Mutex::default(),
            last_catch_up: Mutex::default(),
            catch_up_limit: MAX_CATCH_UP,
        }
    }

    /// What the filter shows of the names with the key `zone_key` and below it.
    pub fn filtered(&self, zone_key: &str) -> Filtered {
        match &*self.current.read() {
            None => Filtered::NoFilter,
            Some(filter) if filter.may_hold(zone_key) => Filtered::MayHold,
            Some(filter) => Filtered::Lacks {
                as_of: filter.generation,
            },
        }
    }

    /// What the filter shows of the names with the key `zone_key`, or below it, in a snapshot
    /// whose commit generation `generation` gives (asked only when the filter lacks the zone).
    /// When no filter speaks for the snapshot, the filter catches up (or is built), after
    /// enough such reads, on a thread of its own.
    pub fn zone_names(
        self: &Arc<Self>,
        zone_key: &str,
        generation: impl FnOnce() -> Result<i64>,
    ) -> Result<ZoneNames> {
        let names = match self.filtered(zone_key) {
            Filtered::MayHold => return Ok(ZoneNames::MayHold),
            lacking if lacking.lacks_in(generation()?) => return Ok(ZoneNames::None),
            Filtered::Lacks { .. } | Filtered::NoFilter => ZoneNames::Unsure,
        };
        self.fall_behind();
        Ok(names)
    }

    /// Those of `keys` a snapshot of commit `generation` may hold (or names below them): all
    /// of them unless the filter speaks for the snapshot.
    pub fn may_hold<'k, K: AsRef<str>>(&self, keys: &'k [K], generation: i64) -> Vec<&'k K> {
        let current = self.current.read();
        let speaking = current.as_ref().filter(|f| f.generation >= generation);
        keys.iter()
            .filter(|key| speaking.is_none_or(|f| f.may_hold(key.as_ref())))
            .collect()
    }

    /// Whether a write transaction should keep the names it adds: a filter is kept up to date
    /// or being built.
    pub fn wanted(&self) -> bool {
        self.building.load(Ordering::Acquire) || self.current.read().is_some()
    }

    /// Tells the filter of a commit through this store that began at `generation` (and ended
    /// at the next) and added `new`.
    pub fn committed(&self, generation: i64, new: NewNames) {
        // Under the filter's lock, which a build takes to replay `during_build` and install
        // its filter: a commit is either replayed or added to the installed filter.
        let mut current = self.current.write();
        if let Some(filter) = current.as_mut() {
            filter.follow(generation, &new);
            if filter.overfull() {
                *current = None;
            }
        }
        if self.building.load(Ordering::Acquire) {
            self.during_build.lock().push((generation, new));
        }
    }

    /// Notes a read made because no filter speaks for its snapshot; after enough of them, and
    /// far enough from the last build, starts catching the filter up (or building one) on a
    /// thread of its own.
    pub fn fall_behind(self: &Arc<Self>) {
        if self.reads_without.fetch_add(1, Ordering::Relaxed) < READS_BEFORE_BUILD {
            return;
        }
        // A catch-up when a filter is kept (cheap: spaced by its own cost), else a build.
        let last = if self.current.read().is_some() {
            *self.last_catch_up.lock()
        } else {
            *self.last_build.lock()
        };
        if let Some((started, took)) = last {
            if started.elapsed() < (took * BUILD_SPACING).max(Duration::from_secs(1)) {
                return;
            }
        }
        if self.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("name-filter".into())
            .spawn(move || {
                // A failed build leaves the filter behind: reads go on without it.
                let _ = shared.catch_up();
                shared.building.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.building.store(false, Ordering::Release);
        }
    }

    /// Builds the filter now, on this thread.
    pub fn build(&self) -> Result<()> {
        self.building.store(true, Ordering::Release);
        let built = self.build_now();
        self.building.store(false, Ordering::Release);
        built
    }

    /// Catches the kept filter up with the store's names added since it was built, or builds
    /// it again (none kept, or too many names added).
    fn catch_up(&self) -> Result<()> {
        let Some(after_id) = self.current.read().as_ref().map(|f| f.last_id) else {
            return self.build_now();
        };
        let started = Instant::now();
        self.during_build.lock().clear();
        let since = self.source.read_since(after_id, self.catch_up_limit);
        *self.last_catch_up.lock() = Some((started, started.elapsed()));
        self.reads_without.store(0, Ordering::Relaxed);
        let Some(since) = since? else {
            return self.build_now();
        };
        let mut current = self.current.write();
        let Some(filter) = current.as_mut() else {
            return Ok(());
        };
        // The filter held every name of its generation and now every name of the snapshot's:
        // it speaks for the later of the two.
        for key in &since.keys {
            filter.insert(key);
        }
        filter.last_id = filter.last_id.max(since.last_id);
        filter.generation = filter.generation.max(since.generation);
        self.replay(filter);
        if filter.overfull() {
            *current = None;
        }
        Ok(())
    }

    /// Adds to `filter` the commits through this store since its snapshot, in their order.
    fn replay(&self, filter: &mut NameFilter) {
        for (generation, new) in self.during_build.lock().drain(..) {
            filter.follow(generation, &new);
        }
    }

    fn build_now(&self) -> Result<()> {
        let started = Instant::now();
        self.during_build.lock().clear();
        let filter = self.source.read_filter();
        *self.last_build.lock() = Some((started, started.elapsed()));
        self.reads_without.store(0, Ordering::Relaxed);
        let Some(mut filter) = filter? else {
            return Ok(());
        };
        let mut current = self.current.write();
        self.replay(&mut filter);
        if current
            .as_ref()
            .is_none_or(|f| f.generation < filter.generation)
        {
            *current = Some(filter);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use std::path::Path;

    use rusqlite::Connection;

    use super::*;
    use crate::sqlite::StoredNames;

    fn open(path: &Path) -> Result<Connection> {
        Ok(Connection::open(path)?)
    }

    /// A source no test builds from.
    struct Unread;

    impl NameSource for Unread {
        fn read_filter(&self) -> Result<Option<NameFilter>> {
            unreachable!("built in a test that never builds")
        }

        fn read_since(&self, _: i64, _: u64) -> Result<Option<NamesSince>> {
            unreachable!("caught up in a test that never builds")
        }
    }

    fn filter_of(keys: &[&str]) -> NameFilter {
        let mut filter = NameFilter::sized_for(keys.len() as u64, 0);
        for key in keys {
            filter.insert(key);
        }
        filter
    }

    #[test]
    fn a_filter_holds_its_names_and_their_ancestors() {
        let filter = filter_of(&["com.example.www.", "org.other."]);
        for held in [
            "com.",
            "com.example.",
            "com.example.www.",
            "org.",
            "org.other.",
        ] {
            assert!(filter.may_hold(held), "{held}");
        }
    }

    #[test]
    fn a_filter_lacks_most_names_it_was_not_given() {
        let keys: Vec<String> = (0..10_000).map(|i| format!("com.held{i}.")).collect();
        let filter = filter_of(&keys.iter().map(String::as_str).collect::<Vec<_>>());
        let held_anyway = (0..10_000)
            .filter(|i| filter.may_hold(&format!("com.absent{i}.")))
            .count();
        assert!(held_anyway < 300, "{held_anyway} of 10,000 absent zones");
    }

    #[test]
    fn names_a_commit_added_join_the_filter_of_the_generation_it_began_at() {
        let shared = SharedFilter::new(Unread);
        *shared.current.write() = Some(filter_of(&["com.example."]));
        let mut new = NewNames::new(true);
        new.add("net.added.", 2);
        shared.committed(0, new);
        assert_eq!(shared.filtered("net.added."), Filtered::MayHold);
        assert_eq!(shared.filtered("net.absent."), Filtered::Lacks { as_of: 1 });
        // It holds every name up to the commit's largest id: a catch-up reads from there.
        let last_id = || shared.current.read().as_ref().map(|f| f.last_id);
        assert_eq!(last_id(), Some(2));
        // A commit that began at another generation (another process committed between): the
        // filter stays behind and speaks for no later snapshot.
        let mut new = NewNames::new(true);
        new.add("org.late.", 3);
        shared.committed(5, new);
        assert_eq!(shared.filtered("org.late."), Filtered::Lacks { as_of: 1 });
        assert_eq!(last_id(), Some(2));
        assert_eq!(shared.filtered("com.example."), Filtered::MayHold);
    }

    /// A filter built from a new SQLite store that catches up on at most `catch_up_limit`
    /// names, after another process added `names` (with ids from 1) in one commit and enough
    /// reads went without the filter; returned once it holds the last of them.
    fn behind_another_process(
        catch_up_limit: u64,
        names: &[&str],
    ) -> Arc<SharedFilter<StoredNames>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(crate::SqliteStore::open(&path).unwrap());
        let mut shared = SharedFilter::new(StoredNames {
            path: path.clone(),
            open,
        });
        shared.catch_up_limit = catch_up_limit;
        let shared = Arc::new(shared);
        shared.build().unwrap();
        for name in names {
            assert_eq!(shared.filtered(name), Filtered::Lacks { as_of: 0 });
        }

        let mut conn = open(&path).unwrap();
        let commit = conn.transaction().unwrap();
        for (id, name) in names.iter().enumerate() {
            commit
                .execute(
                    "INSERT INTO names (rev, id, kinds) VALUES (?1, ?2, 1)",
                    rusqlite::params![name, id as i64 + 1],
                )
                .unwrap();
        }
        commit
            .execute("UPDATE commit_marker SET generation = generation + 1", [])
            .unwrap();
        commit.commit().unwrap();
        for _ in 0..=READS_BEFORE_BUILD {
            shared.fall_behind();
        }
        let last = names.last().expect("a name");
        let started = Instant::now();
        while shared.filtered(last) != Filtered::MayHold {
            assert!(started.elapsed() < Duration::from_secs(10), "not caught up");
            std::thread::sleep(Duration::from_millis(10));
        }
        shared
    }

    /// After another process's commit, enough reads without a filter catch it up, without
    /// waiting out the spacing of full builds after the one just made.
    #[test]
    fn a_filter_behind_the_store_catches_up_after_reads_without_it() {
        let shared = behind_another_process(MAX_CATCH_UP, &["net.new."]);
        assert_eq!(shared.filtered("net.other."), Filtered::Lacks { as_of: 1 });
    }

    /// More names added by another process than a catch-up reads: the filter is built again
    /// and holds them all.
    #[test]
    fn a_filter_too_far_behind_the_store_is_built_again() {
        let names = ["net.first.", "net.second.", "org.third."];
        let shared = behind_another_process(2, &names);
        for held in names {
            assert_eq!(shared.filtered(held), Filtered::MayHold, "{held}");
        }
        assert_eq!(shared.filtered("net.other."), Filtered::Lacks { as_of: 1 });
        let last_id = shared.current.read().as_ref().map(|f| f.last_id);
        assert_eq!(last_id, Some(3));
    }

    proptest! {
        #[test]
        fn every_inserted_key_and_ancestor_is_held(
            labels in proptest::collection::vec("[a-z0-9-]{1,12}", 1..5),
            others in proptest::collection::vec("[a-z]{1,8}\\.[a-z]{1,8}\\.", 0..50),
        ) {
            let key: String = labels.iter().map(|l| format!("{l}.")).collect();
            let mut keys: Vec<&str> = others.iter().map(String::as_str).collect();
            keys.push(&key);
            let filter = filter_of(&keys);
            for end in key.match_indices('.').map(|(i, _)| i + 1) {
                prop_assert!(filter.may_hold(&key[..end]));
            }
        }
    }
}
