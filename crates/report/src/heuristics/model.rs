//! What the heuristic judge knows before it sees a name, built once from the store: the
//! brands, character n-gram models of legitimate names, shared-infrastructure zones and the
//! listings of whole public suffixes.

use std::collections::{HashMap, HashSet};

use ahash::RandomState;

use aho_corasick::{AhoCorasick, MatchKind};
use threatintel_model::{DomainName, IndicatorRecord, SuffixKind};
use threatintel_store::{ListedShare, NameModelInputs};

use super::config::HeuristicsConfig;

/// Whether a record lists a whole ICANN public suffix (`*.cc`): a prior for the heuristic
/// judge, never a record on the names below it. Private-section zones (`*.duckdns.org`) stay
/// zone listings.
pub fn is_suffix_listing(record: &IndicatorRecord) -> bool {
    record.zone && record.name.suffix_kind() == Some(SuffixKind::Icann)
}

/// The registrable domain's own label (`paypal` of `paypal.co.uk`) and the part of the name
/// left of the registrable domain (`www.login` of `www.login.paypal.co.uk`, may be empty).
pub(crate) fn split_name<'n>(name: &'n str, reg: &'n str) -> (&'n str, &'n str) {
    let label = reg.split('.').next().unwrap_or(reg);
    let sub = name[..name.len() - reg.len()].trim_end_matches('.');
    (label, sub)
}

/// A brand: its label and the public suffixes it is registered under (`paypal` with `com`).
#[derive(Debug)]
pub(crate) struct Brand {
    pub label: Box<str>,
    pub suffixes: Vec<Box<str>>,
}

/// The long brands and their one-character deletions, for finding a label one edit from a
/// brand: the label, or one of its deletions, is a brand or one of the brand's deletions.
///
/// Keys are a polynomial hash of the text's bytes, so a label's every deletion is hashed in
/// constant time from the running hash of its prefix instead of being built and hashed whole
/// (a 15-byte label has 16 variants), and a bit per hash rules most of them out before the
/// table is probed. A hash names candidates only: two texts may share one, so the caller checks
/// each brand against the label itself ([`typo_kind`]).
///
/// [`typo_kind`]: super::signals::typo_kind
#[derive(Default)]
pub(crate) struct Deletions {
    brands: HashMap<u64, Vec<usize>, Fast>,
    /// One bit per value of a hash's top bits: set when some key has them.
    seen: Vec<u64>,
    /// How far a hash is shifted right to leave its top bits, `seen`'s index.
    seen_shift: u32,
    /// `lengths[n]`: some key is `n` bytes long (a label no key can match is not hashed).
    lengths: Vec<bool>,
}

/// The base of the hash `Σ bytes[k]·BASEᵏ` modulo 2⁶⁴ (odd, so it has an inverse).
const DELETION_BASE: u64 = 0x9E37_79B9_7F4A_7C15;
/// BASE⁻¹ modulo 2⁶⁴ (Newton's iteration doubles the correct low bits each step).
const DELETION_BASE_INVERSE: u64 = {
    let mut x = DELETION_BASE;
    let mut step = 0;
    while step < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(DELETION_BASE.wrapping_mul(x)));
        step += 1;
    }
    x
};

impl Deletions {
    /// Adds `label` and each of its one-character deletions as keys of brand `id`.
    fn insert(&mut self, label: &str, id: usize) {
        let whole = std::iter::once(label.as_bytes().to_vec());
        let cuts = label.char_indices().map(|(i, c)| {
            [
                &label.as_bytes()[..i],
                &label.as_bytes()[i + c.len_utf8()..],
            ]
            .concat()
        });
        for variant in whole.chain(cuts) {
            let ids = self.brands.entry(polynomial(&variant)).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
            if self.lengths.len() <= variant.len() {
                self.lengths.resize(variant.len() + 1, false);
            }
            self.lengths[variant.len()] = true;
        }
    }

    /// Sets the bit of every key, once all are inserted: sixteen bits or more a key, so most
    /// hashes of other texts find theirs clear.
    fn seal(&mut self) {
        let bits = (self.brands.len() * 16).next_power_of_two().max(1 << 12);
        self.seen_shift = 64 - bits.trailing_zeros();
        let mut seen = vec![0; bits / 64];
        for &hash in self.brands.keys() {
            let bit = self.bit(hash);
            seen[bit / 64] |= 1 << (bit % 64);
        }
        self.seen = seen;
    }

    /// The hash's top bits: multiplying carries every byte into them, where a low bit only
    /// sees the bytes' low bits.
    fn bit(&self, hash: u64) -> usize {
        (hash >> self.seen_shift) as usize
    }

    /// The first `found(brands)` that is `Some`, over the brands keyed by `label` itself, then
    /// by each of its one-character deletions in order.
    pub(crate) fn find_map<R>(
        &self,
        label: &str,
        mut found: impl FnMut(&[usize]) -> Option<R>,
    ) -> Option<R> {
        let n = label.len();
        // A deletion takes one character (at most 4 bytes) off the label.
        let end = self.lengths.len().min(n + 1);
        let reachable = self
            .lengths
            .get(n.saturating_sub(4).min(end)..end)
            .is_some_and(|lengths| lengths.contains(&true));
        if !reachable || self.seen.is_empty() {
            return None;
        }
        let mut lookup = |length: usize, hash: u64| {
            let bit = self.bit(hash);
            let keyed = self.lengths.get(length) == Some(&true);
            if !keyed || self.seen[bit / 64] & (1 << (bit % 64)) == 0 {
                return None;
            }
            self.brands.get(&hash).and_then(|ids| found(ids))
        };
        let whole = polynomial(label.as_bytes());
        if let Some(r) = lookup(n, whole) {
            return Some(r);
        }
        // Deleting bytes i..after: the prefix's hash, plus the rest's shifted down by the
        // deleted width (BASE⁻¹ once a byte).
        let (mut prefix, mut power) = (0u64, 1u64);
        for (i, c) in label.char_indices() {
            let width = c.len_utf8();
            let mut deleted = 0u64;
            let mut shift = 1u64;
            for &b in &label.as_bytes()[i..i + width] {
                deleted =
                    deleted.wrapping_add(u64::from(b).wrapping_mul(power.wrapping_mul(shift)));
                shift = shift.wrapping_mul(DELETION_BASE);
            }
            let mut rest = whole.wrapping_sub(prefix).wrapping_sub(deleted);
            for _ in 0..width {
                rest = rest.wrapping_mul(DELETION_BASE_INVERSE);
            }
            if let Some(r) = lookup(n - width, prefix.wrapping_add(rest)) {
                return Some(r);
            }
            prefix = prefix.wrapping_add(deleted);
            power = power.wrapping_mul(shift);
        }
        None
    }
}

/// `Σ bytes[k]·BASEᵏ` modulo 2⁶⁴.
fn polynomial(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |h, &b| {
        h.wrapping_mul(DELETION_BASE).wrapping_add(u64::from(b))
    })
}

/// Alphabet of the character models: `a-z`, `0-9`, `-` (anything else), and the label boundary.
const SYMBOLS: usize = 38;
const BOUNDARY: usize = 37;

fn symbol(b: u8) -> usize {
    match b {
        b'a'..=b'z' => (b - b'a') as usize,
        b'0'..=b'9' => 26 + (b - b'0') as usize,
        _ => 36,
    }
}

/// Orders of the two character models: the short one sees a character's two predecessors,
/// the long one its four.
pub(crate) const SHORT_ORDER: usize = 3;
pub(crate) const LONG_ORDER: usize = 5;
/// Contexts up to this length are held in a dense table (38³ costs), longer ones hashed.
const DENSE_CONTEXT: usize = 2;

/// The hasher of the model's tables (n-gram keys and names): aHash, several times faster than
/// SipHash on short keys and seeded per process.
type Fast = RandomState;
type NameSet = HashSet<Box<str>, Fast>;
type NameMap<V> = HashMap<Box<str>, V, Fast>;
type KeyMap<V> = HashMap<u32, V, Fast>;

/// `context` (its symbols, oldest first, at most four) and `next` packed into one key, 6 bits
/// a symbol.
fn pack(context: &[usize], next: usize) -> u32 {
    context
        .iter()
        .chain([&next])
        .fold(0u32, |key, &s| (key << 6) | s as u32)
}

/// A character n-gram model of legitimate labels with interpolated Kneser-Ney smoothing:
/// the surprise, in bits, of each character given the `order - 1` before it (the label's
/// start padded with boundaries).
pub(crate) struct Ngrams {
    order: usize,
    /// Cost of each character given contexts of `DENSE_CONTEXT` (or `order - 1`, if fewer).
    dense: Vec<f32>,
    /// Per longer context length (index `k - DENSE_CONTEXT - 1`): the cost of each seen
    /// (context, character), and under (context, [`BACKOFF`]) the back-off cost of each seen
    /// context (one table a level, 32-bit keys: fewer cache misses).
    levels: Vec<KeyMap<f32>>,
    /// Per longer context length, one bit per context (in base 38) that was seen: most
    /// contexts of a generated label were not, and the bits (260 KB for four symbols) stay in
    /// cache where a table lookup would not.
    seen_contexts: Vec<Vec<u64>>,
}

/// The symbol that stands for "back off" in the key of a context's back-off cost.
const BACKOFF: usize = 63;

impl Ngrams {
    pub(crate) fn train<'a>(
        labels: impl Iterator<Item = &'a str>,
        order: usize,
        discount: f64,
    ) -> Option<Self> {
        // counts[k]: (context of length k, character) → count; raw at the top order,
        // continuation counts (distinct predecessors) below.
        let mut counts: Vec<KeyMap<u32>> = (0..order).map(|_| KeyMap::default()).collect();
        let mut trained = false;
        let mut symbols = Vec::new();
        for label in labels {
            trained = true;
            symbols.clear();
            symbols.resize(order - 1, BOUNDARY);
            symbols.extend(label.bytes().map(symbol));
            symbols.push(BOUNDARY);
            for window in symbols.windows(order) {
                *counts[order - 1]
                    .entry(pack(&window[..order - 1], window[order - 1]))
                    .or_default() += 1;
            }
        }
        if !trained {
            return None;
        }
        for k in (0..order - 1).rev() {
            // Dropping the oldest symbol of a key of context length k + 1.
            let mask = (1u32 << (6 * (k + 1))) - 1;
            let lower: Vec<u32> = counts[k + 1].keys().map(|key| key & mask).collect();
            for key in lower {
                *counts[k].entry(key).or_default() += 1;
            }
        }
        // (total, types) of each context, per context length.
        let totals: Vec<KeyMap<(u32, u32)>> = counts
            .iter()
            .map(|level| {
                let mut t: KeyMap<(u32, u32)> = KeyMap::default();
                for (&key, &n) in level {
                    let e = t.entry(key >> 6).or_default();
                    e.0 += n;
                    e.1 += 1;
                }
                t
            })
            .collect();
        let interpolate = |k: usize, key: u32, lower: f64| -> f64 {
            match totals[k].get(&(key >> 6)) {
                None => lower,
                Some(&(total, types)) => {
                    let n = f64::from(counts[k].get(&key).copied().unwrap_or(0));
                    let total = f64::from(total);
                    (n - discount).max(0.0) / total + discount * f64::from(types) / total * lower
                }
            }
        };
        // Dense levels: every context of length up to DENSE_CONTEXT.
        let top_dense = DENSE_CONTEXT.min(order - 1);
        let mut p: Vec<f64> = vec![1.0 / SYMBOLS as f64; SYMBOLS];
        p = (0..SYMBOLS)
            .map(|c| interpolate(0, c as u32, p[c]))
            .collect();
        for k in 1..=top_dense {
            let size = SYMBOLS.pow(k as u32 + 1);
            let lower = SYMBOLS.pow(k as u32);
            p = (0..size)
                .map(|i| {
                    // The index's base-38 digits (context, then the character) as a key.
                    let (mut rest, mut key, mut shift) = (i, 0u32, 0);
                    for _ in 0..=k {
                        key |= ((rest % SYMBOLS) as u32) << shift;
                        rest /= SYMBOLS;
                        shift += 6;
                    }
                    interpolate(k, key, p[i % lower])
                })
                .collect();
        }
        let dense = p.iter().map(|&q| (-q.log2()) as f32).collect();
        let mut model = Self {
            order,
            dense,
            levels: Vec::new(),
            seen_contexts: Vec::new(),
        };
        for k in top_dense + 1..order {
            let mut level = KeyMap::default();
            for &key in counts[k].keys() {
                let context: Vec<usize> = (1..=k)
                    .rev()
                    .map(|j| ((key >> (6 * j)) & 63) as usize)
                    .collect();
                let next = (key & 63) as usize;
                let lower = 2f64.powf(-f64::from(model.cost_at(&context[1..], next)));
                level.insert(key, (-interpolate(k, key, lower).log2()) as f32);
            }
            let mut seen_contexts = vec![0u64; SYMBOLS.pow(k as u32).div_ceil(64)];
            for (&context, &(total, types)) in &totals[k] {
                let weight = discount * f64::from(types) / f64::from(total);
                level.insert((context << 6) | BACKOFF as u32, (-weight.log2()) as f32);
                let index = (0..k)
                    .rev()
                    .fold(0, |i, j| i * SYMBOLS + ((context >> (6 * j)) & 63) as usize);
                seen_contexts[index / 64] |= 1 << (index % 64);
            }
            model.levels.push(level);
            model.seen_contexts.push(seen_contexts);
        }
        Some(model)
    }

    /// Cost of `next` after `context` (at most `order - 1` symbols, oldest first).
    fn cost_at(&self, context: &[usize], next: usize) -> f32 {
        let mut window = Window::default();
        for &s in context {
            window.push(s);
        }
        self.cost_in(context.len(), &window, next)
    }

    /// Cost of `next` after the last `k` symbols of `window`.
    fn cost_in(&self, k: usize, window: &Window, next: usize) -> f32 {
        let index = window.indices[k];
        if k <= DENSE_CONTEXT {
            return self.dense[index * SYMBOLS + next];
        }
        let level = k - DENSE_CONTEXT - 1;
        if self.seen_contexts[level][index / 64] & (1 << (index % 64)) == 0 {
            return self.cost_in(k - 1, window, next);
        }
        let level = &self.levels[level];
        let key = ((window.packed & ((1 << (6 * k)) - 1)) << 6) | next as u32;
        // A seen context holds its seen characters and its back-off cost (every seen
        // (context, character) has its context's).
        match level.get(&key) {
            Some(&cost) => cost,
            None => {
                let backoff = level
                    .get(&(key | BACKOFF as u32))
                    .copied()
                    .unwrap_or_default();
                backoff + self.cost_in(k - 1, window, next)
            }
        }
    }

    /// The surprise of each character of `label` and of its end, in order.
    pub fn each_cost(&self, label: &str, mut cost: impl FnMut(f32)) {
        let n = self.order - 1;
        // The label's start is padded with boundaries.
        let mut window = Window::default();
        for _ in 0..n {
            window.push(BOUNDARY);
        }
        for c in label.bytes().map(symbol).chain([BOUNDARY]) {
            cost(self.cost_in(n, &window, c));
            window.push(c);
        }
    }
}

/// The last symbols read, as the models look them up: packed 6 bits a symbol (newest lowest),
/// and for each length `k` up to `LONG_ORDER - 1` the last `k` symbols' base-38 index
/// (`indices[k]`), kept up to date symbol by symbol.
#[derive(Default)]
struct Window {
    packed: u32,
    indices: [usize; LONG_ORDER],
}

impl Window {
    fn push(&mut self, symbol: usize) {
        self.packed = (self.packed << 6) | symbol as u32;
        // The last k symbols are the last k - 1 before, and this one.
        for k in (1..LONG_ORDER).rev() {
            self.indices[k] = self.indices[k - 1] * SYMBOLS + symbol;
        }
    }
}

/// The surprise, in bits, of each letter by its frequency in the top-site labels (add-one).
pub(crate) fn letter_costs<'a>(labels: impl Iterator<Item = &'a str>) -> [f32; 26] {
    let mut counts = [1u64; 26];
    for b in labels.flat_map(str::bytes) {
        if b.is_ascii_lowercase() {
            counts[(b - b'a') as usize] += 1;
        }
    }
    let total = counts.iter().sum::<u64>() as f64;
    counts.map(|n| (-(n as f64 / total).log2()) as f32)
}

/// What the generated-name test knows of legitimate labels.
pub(crate) struct LabelModels {
    pub short: Ngrams,
    pub long: Ngrams,
    pub letters: [f32; 26],
}

/// Everything the judge consults, built from the store's [`NameModelInputs`].
pub struct NameModel {
    /// Registrable domains (and exact names) of every top-site list entry: never judged.
    pub(crate) top_sites: NameSet,
    pub(crate) brands: Vec<Brand>,
    pub(crate) brand_by_label: NameMap<usize>,
    /// Brands of at least `brand_min_length`, to find inside labels (pattern i is brand `long[i]`).
    pub(crate) brand_finder: Option<(AhoCorasick, Vec<usize>)>,
    /// Each long brand and each of its one-letter deletions → the brands.
    pub(crate) deletions: Deletions,
    /// UTS #39 skeleton of each brand label → the brand.
    pub(crate) skeletons: HashMap<String, usize, Fast>,
    /// Each ASCII character's UTS #39 prototype, when it is ASCII (see [`Self::skeleton`]).
    ascii_prototypes: Vec<Option<Box<str>>>,
    pub(crate) lures: Option<AhoCorasick>,
    pub(crate) lure_words: Vec<String>,
    pub(crate) shared_zones: NameSet,
    /// Public suffix → the source that lists it.
    pub(crate) suffix_listings: NameMap<String>,
    /// Character models of the top-site labels (none without top-site lists).
    pub(crate) labels: Option<LabelModels>,
    /// TLDs whose share of listed names is outsized (`listed_share`), and the store's share.
    pub(crate) listed_tlds: NameMap<ListedShare>,
    pub(crate) store_share: f64,
    /// Zones of listed customers: zones (no ICANN public suffix) with at least
    /// `zone_min_listed` listed direct children, a share at least `zone_min_lift` times the
    /// store's.
    pub(crate) listed_zones: NameMap<ListedShare>,
    /// Name servers of domains with malicious records, with how many domains they serve.
    pub(crate) nameservers: NameMap<ListedShare>,
}

/// Each ASCII character's UTS #39 prototype, when it is ASCII (`%` has none: `°/₀`).
fn ascii_prototypes() -> Vec<Option<Box<str>>> {
    (0..128u8)
        .map(|b| {
            let prototype: String =
                unicode_security::skeleton(&char::from(b).to_string()).collect();
            prototype.is_ascii().then(|| prototype.into())
        })
        .collect()
}

/// Words that end a company's name without naming its brand (`eBay, Inc.`, `Amazon.com`).
const COMPANY_SUFFIXES: [&str; 10] = [
    "inc", "ltd", "llc", "corp", "co", "plc", "group", "com", "and", "the",
];

/// `PayPal Inc.` → `paypal`, `Lloyds Bank` → `lloydsbank`: how a feed's target label is
/// compared with brand labels (words lower-cased and joined, trailing company words dropped).
fn brand_key(label: &str) -> String {
    let lower = label.to_ascii_lowercase();
    let mut words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    while words.len() > 1 && words.last().is_some_and(|w| COMPANY_SUFFIXES.contains(w)) {
        words.pop();
    }
    words.concat()
}

fn label_models(labels: &[&str], config: &HeuristicsConfig) -> Option<LabelModels> {
    let d = config.algorithmic.discount;
    Some(LabelModels {
        short: Ngrams::train(labels.iter().copied(), SHORT_ORDER, d)?,
        long: Ngrams::train(labels.iter().copied(), LONG_ORDER, d)?,
        letters: letter_costs(labels.iter().copied()),
    })
}

impl NameModel {
    pub fn build(inputs: &NameModelInputs, config: &HeuristicsConfig) -> Self {
        let mut top_sites = NameSet::default();
        let mut labels: Vec<&str> = Vec::new();
        let mut brand_domains: Vec<DomainName> = Vec::new();
        for (name, rank) in &inputs.top_sites {
            // A public suffix of the PSL's private section a list names (`blogspot.com`) is
            // a top site too: a zone of listed customers there weighs as one.
            let Some(reg) = name.registrable() else {
                top_sites.insert(name.as_str().into());
                continue;
            };
            if rank.is_some_and(|r| r <= config.brand_max_rank) {
                brand_domains.push(reg.clone());
            }
            let fresh = top_sites.insert(reg.as_str().into());
            top_sites.insert(name.as_str().into());
            if fresh {
                // The registrable domain is the name's tail: its label borrows from the input.
                let tail = &name.as_str()[name.as_str().len() - reg.as_str().len()..];
                labels.push(tail.split('.').next().unwrap_or(tail));
            }
        }
        brand_domains.extend(
            config
                .extra_brands
                .iter()
                .filter_map(|d| DomainName::parse(d).ok()?.registrable()),
        );
        let mut model = Self {
            top_sites,
            brands: Vec::new(),
            brand_by_label: NameMap::default(),
            brand_finder: None,
            deletions: Deletions::default(),
            skeletons: HashMap::default(),
            ascii_prototypes: ascii_prototypes(),
            lures: None,
            lure_words: config.lure_words.clone(),
            shared_zones: inputs
                .shared_zones
                .iter()
                .map(|z| z.as_str().into())
                .collect(),
            suffix_listings: NameMap::default(),
            labels: label_models(&labels, config),
            listed_tlds: NameMap::default(),
            store_share: 0.0,
            listed_zones: NameMap::default(),
            nameservers: inputs
                .nameserver_listings
                .iter()
                .map(|s| (s.key.as_str().into(), s.clone()))
                .collect(),
        };
        model.find_listed_tlds(&inputs.tld_listings, config);
        model.find_listed_zones(&inputs.listed_children, config);
        for domain in &brand_domains {
            let (label, suffix) = domain
                .as_str()
                .split_once('.')
                .unwrap_or((domain.as_str(), ""));
            let id = model.brand(label);
            if !model.brands[id].suffixes.iter().any(|s| &**s == suffix) {
                model.brands[id].suffixes.push(suffix.into());
            }
        }
        let generic: Vec<String> = config
            .generic_targets
            .iter()
            .map(|g| brand_key(g))
            .collect();
        for target in &inputs.phishing_labels {
            let key = brand_key(target);
            if !key.is_empty() && !generic.contains(&key) {
                model.brand(&key);
            }
        }
        let mut long = Vec::new();
        for (id, brand) in model.brands.iter().enumerate() {
            model
                .skeletons
                .entry(unicode_security::skeleton(&brand.label).collect())
                .or_insert(id);
            if brand.label.len() < config.brand_min_length {
                continue;
            }
            long.push(id);
            model.deletions.insert(&brand.label, id);
        }
        model.deletions.seal();
        if !long.is_empty() {
            let patterns: Vec<&str> = long.iter().map(|&i| &*model.brands[i].label).collect();
            model.brand_finder = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(patterns)
                .ok()
                .map(|ac| (ac, long));
        }
        if !config.lure_words.is_empty() {
            model.lures = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&config.lure_words)
                .ok();
        }
        for hit in &inputs.zone_listings {
            if is_suffix_listing(&hit.record) && hit.record.risk.is_malicious() {
                model
                    .suffix_listings
                    .entry(hit.record.name.as_str().into())
                    .or_insert_with(|| hit.record.source.clone());
            }
        }
        model
    }

    /// Keeps the TLDs with at least `tld_min_names` names whose share of listed names is at
    /// least `tld_min_lift` times the store's.
    fn find_listed_tlds(&mut self, tlds: &[ListedShare], config: &HeuristicsConfig) {
        let (names, listed) = tlds
            .iter()
            .fold((0, 0), |(n, l), s| (n + s.names, l + s.listed));
        self.store_share = listed as f64 / names.max(1) as f64;
        let c = &config.listed_share;
        self.listed_tlds = self.outsized(tlds, c.tld_min_lift, |s| s.names >= c.tld_min_names);
    }

    /// Keeps the zones of listed customers: at least `zone_min_listed` listed direct
    /// children whose share is at least `zone_min_lift` times the store's (after
    /// [`Self::find_listed_tlds`], which sets it). An ICANN public suffix (`co.uk`) is no
    /// customer zone: the TLD's share and listings of public suffixes speak for it.
    fn find_listed_zones(&mut self, zones: &[ListedShare], config: &HeuristicsConfig) {
        let c = &config.listed_share;
        self.listed_zones = self.outsized(zones, c.zone_min_lift, |s| {
            s.listed >= c.zone_min_listed
                && DomainName::parse(&s.key)
                    .is_ok_and(|zone| zone.suffix_kind() != Some(SuffixKind::Icann))
        });
    }

    /// The shares that `keep` accepts and whose listed share is at least `lift` times the
    /// store's (and not nil), by key.
    fn outsized(
        &self,
        shares: &[ListedShare],
        lift: f64,
        keep: impl Fn(&ListedShare) -> bool,
    ) -> NameMap<ListedShare> {
        shares
            .iter()
            .filter(|s| {
                s.listed > 0
                    && s.listed as f64 >= lift * self.store_share * s.names as f64
                    && keep(s)
            })
            .map(|s| (s.key.as_str().into(), s.clone()))
            .collect()
    }

    /// The id of the brand with this label, added when new.
    fn brand(&mut self, label: &str) -> usize {
        if let Some(&id) = self.brand_by_label.get(label) {
            return id;
        }
        let id = self.brands.len();
        self.brands.push(Brand {
            label: label.into(),
            suffixes: Vec::new(),
        });
        self.brand_by_label.insert(label.into(), id);
        id
    }

    /// Whether `label` is its own UTS #39 skeleton for certain: ASCII whose every character is
    /// its own prototype (`paypal`, not `paypa1` or `rnicrosoft`). The skeleton of such a label
    /// is never a brand's other than its own, so it is not built.
    pub(crate) fn is_own_skeleton(&self, label: &str) -> bool {
        label.bytes().all(|b| {
            self.ascii_prototypes
                .get(usize::from(b))
                .and_then(Option::as_deref)
                .is_some_and(|p| p.len() == 1 && p.as_bytes()[0] == b)
        })
    }

    /// The UTS #39 skeleton of `label`. An ASCII label's is its characters' prototypes joined
    /// (normalisation leaves ASCII as it is), read from a table instead of the Unicode ones.
    pub(crate) fn skeleton(&self, label: &str) -> String {
        let mut skeleton = String::with_capacity(label.len());
        for b in label.bytes() {
            match self.ascii_prototypes.get(usize::from(b)) {
                Some(Some(prototype)) => skeleton.push_str(prototype),
                _ => return unicode_security::skeleton(label).collect(),
            }
        }
        skeleton
    }

    /// How many brands the model knows (for the explanation and the tests).
    pub fn brand_count(&self) -> usize {
        self.brands.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{brand_key, Deletions, Ngrams, BOUNDARY, LONG_ORDER, SHORT_ORDER, SYMBOLS};

    /// `text` and each of its one-character deletions, in order.
    fn variants(text: &str) -> Vec<String> {
        std::iter::once(text.to_owned())
            .chain(
                text.char_indices()
                    .map(|(i, c)| format!("{}{}", &text[..i], &text[i + c.len_utf8()..])),
            )
            .collect()
    }

    proptest! {
        /// The hashed index finds what comparing the texts themselves finds: the brands one of
        /// whose variants is the first of the label's variants that is some brand's.
        #[test]
        fn deletions_find_what_the_texts_match(
            brands in proptest::collection::vec("[a-dü]{1,8}", 1..6),
            label in "[a-dü]{0,9}",
        ) {
            let mut index = Deletions::default();
            for (id, brand) in brands.iter().enumerate() {
                index.insert(brand, id);
            }
            index.seal();
            let expected = variants(&label).into_iter().find_map(|variant| {
                let ids: Vec<usize> = (0..brands.len())
                    .filter(|&id| variants(&brands[id]).contains(&variant))
                    .collect();
                (!ids.is_empty()).then_some(ids)
            });
            let found = index.find_map(&label, |ids| Some(ids.to_vec()));
            prop_assert_eq!(found, expected);
        }
    }

    const LABELS: [&str; 8] = [
        "google",
        "example",
        "wikipedia",
        "goodreads",
        "amazon",
        "github",
        "shop-online",
        "news24",
    ];

    #[test]
    fn ngram_probabilities_sum_to_one_in_every_context() {
        for order in [SHORT_ORDER, LONG_ORDER] {
            let model = Ngrams::train(LABELS.into_iter(), order, 0.75).unwrap();
            // Seen contexts (hashed and dense levels), a partly seen one and an unseen one.
            for context in ["goo", "^^go", "ama", "^^^^", "wik", "q7x", "xq", "zzzz"] {
                let symbols: Vec<usize> = context
                    .bytes()
                    .map(|b| {
                        if b == b'^' {
                            BOUNDARY
                        } else {
                            super::symbol(b)
                        }
                    })
                    .collect();
                let symbols = &symbols[symbols.len().saturating_sub(order - 1)..];
                let total: f64 = (0..SYMBOLS)
                    .map(|c| 2f64.powf(-f64::from(model.cost_at(symbols, c))))
                    .sum();
                assert!(
                    (total - 1.0).abs() < 1e-4,
                    "order {order}, {context}: {total}"
                );
            }
        }
    }

    #[test]
    fn a_seen_label_costs_less_than_noise() {
        let long = Ngrams::train(LABELS.into_iter(), LONG_ORDER, 0.75).unwrap();
        let mut costs = Vec::new();
        long.each_cost("goodreads", |c| costs.push(c));
        assert_eq!(costs.len(), 10);
        let seen: f32 = costs.iter().sum();
        let mut noise = 0.0;
        long.each_cost("qzxkvjwpt", |c| noise += c);
        assert!(seen * 3.0 < noise, "{seen} against {noise}");
        assert!(Ngrams::train(std::iter::empty(), LONG_ORDER, 0.75).is_none());
    }

    proptest::proptest! {
        #[test]
        fn ascii_skeletons_are_the_unicode_ones(label in "[ -~]{0,24}") {
            let model = super::NameModel::build(&Default::default(), &Default::default());
            let expected: String = unicode_security::skeleton(&label).collect();
            proptest::prop_assert_eq!(model.skeleton(&label), expected);
        }

        #[test]
        fn a_label_taken_for_its_own_skeleton_is(label in "[ -~]{0,24}") {
            let model = super::NameModel::build(&Default::default(), &Default::default());
            if model.is_own_skeleton(&label) {
                let expected: String = unicode_security::skeleton(&label).collect();
                proptest::prop_assert_eq!(expected, label);
            }
        }
    }

    #[test]
    fn brand_keys_drop_trailing_company_words() {
        assert_eq!(brand_key("PayPal Inc."), "paypal");
        assert_eq!(brand_key("eBay, Inc."), "ebay");
        assert_eq!(brand_key("Amazon.com"), "amazon");
        assert_eq!(brand_key("JPMorgan Chase and Co."), "jpmorganchase");
        assert_eq!(brand_key("Lloyds Bank"), "lloydsbank");
        // One word stays, even a company word.
        assert_eq!(brand_key("Group"), "group");
        assert_eq!(brand_key("Other"), "other");
    }
}
