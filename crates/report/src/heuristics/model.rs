//! What the heuristic judge knows before it sees a name, built once from the store: the
//! brands, a character trigram model of legitimate names, shared-infrastructure zones and the
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
pub(crate) fn split_name<'n>(
    name: &'n DomainName,
    registrable: &'n DomainName,
) -> (&'n str, &'n str) {
    let reg = registrable.as_str();
    let label = reg.split('.').next().unwrap_or(reg);
    let name = name.as_str();
    let sub = name[..name.len() - reg.len()].trim_end_matches('.');
    (label, sub)
}

/// A brand: its label and the public suffixes it is registered under (`paypal` with `com`).
#[derive(Debug)]
pub(crate) struct Brand {
    pub label: Box<str>,
    pub suffixes: Vec<Box<str>>,
}

/// Alphabet of the trigram model: `a-z`, `0-9`, `-` (anything else), and the label boundary.
const SYMBOLS: usize = 38;
const BOUNDARY: usize = 37;

fn symbol(b: u8) -> usize {
    match b {
        b'a'..=b'z' => (b - b'a') as usize,
        b'0'..=b'9' => 26 + (b - b'0') as usize,
        _ => 36,
    }
}

/// Surprise, in bits, of each character given the two before it.
pub(crate) struct Trigrams {
    cost: Vec<f32>,
}

impl Trigrams {
    fn train<'a>(labels: impl Iterator<Item = &'a str>, smoothing: f64) -> Option<Self> {
        let mut tri = vec![0u32; SYMBOLS * SYMBOLS * SYMBOLS];
        let mut bi = vec![0u32; SYMBOLS * SYMBOLS];
        let mut trained = false;
        for label in labels {
            trained = true;
            let (mut a, mut b) = (BOUNDARY, BOUNDARY);
            for c in label.bytes().map(symbol).chain([BOUNDARY]) {
                tri[(a * SYMBOLS + b) * SYMBOLS + c] += 1;
                bi[a * SYMBOLS + b] += 1;
                (a, b) = (b, c);
            }
        }
        if !trained {
            return None;
        }
        let k = smoothing;
        let cost = tri
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let context = f64::from(bi[i / SYMBOLS]);
                (-((f64::from(n) + k) / (context + k * SYMBOLS as f64)).log2()) as f32
            })
            .collect();
        Some(Self { cost })
    }

    /// Mean surprise per character of `label` (its end included).
    pub fn mean_cost(&self, label: &str) -> f64 {
        let (mut a, mut b) = (BOUNDARY, BOUNDARY);
        let mut total = 0.0f64;
        let mut n = 0u32;
        for c in label.bytes().map(symbol).chain([BOUNDARY]) {
            total += f64::from(self.cost[(a * SYMBOLS + b) * SYMBOLS + c]);
            n += 1;
            (a, b) = (b, c);
        }
        total / f64::from(n)
    }
}

/// Everything the judge consults, built from the store's [`NameModelInputs`].
pub struct NameModel {
    /// Registrable domains (and exact names) of every top-site list entry: never judged.
    pub(crate) top_sites: HashSet<Box<str>, RandomState>,
    pub(crate) brands: Vec<Brand>,
    pub(crate) brand_by_label: HashMap<Box<str>, usize, RandomState>,
    /// Brands of at least `brand_min_length`, to find inside labels (pattern i is brand `long[i]`).
    pub(crate) brand_finder: Option<(AhoCorasick, Vec<usize>)>,
    /// Each long brand and each of its one-letter deletions → the brands.
    pub(crate) deletions: HashMap<Box<str>, Vec<usize>, RandomState>,
    /// UTS #39 skeleton of each brand label → the brand.
    pub(crate) skeletons: HashMap<String, usize, RandomState>,
    /// Each ASCII character's UTS #39 prototype, when it is ASCII (see [`Self::skeleton`]).
    ascii_prototypes: Vec<Option<Box<str>>>,
    pub(crate) lures: Option<AhoCorasick>,
    pub(crate) lure_words: Vec<String>,
    pub(crate) shared_zones: HashSet<Box<str>, RandomState>,
    /// Public suffix → the source that lists it.
    pub(crate) suffix_listings: HashMap<Box<str>, String, RandomState>,
    pub(crate) trigrams: Option<Trigrams>,
    /// TLDs whose share of listed names is outsized (`listed_share`), and the store's share.
    pub(crate) listed_tlds: HashMap<Box<str>, ListedShare, RandomState>,
    pub(crate) store_share: f64,
    /// Name servers of domains with malicious records, with how many domains they serve.
    pub(crate) nameservers: HashMap<Box<str>, ListedShare>,
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

impl NameModel {
    pub fn build(inputs: &NameModelInputs, config: &HeuristicsConfig) -> Self {
        let mut top_sites = HashSet::default();
        let mut labels: Vec<&str> = Vec::new();
        let mut brand_domains: Vec<DomainName> = Vec::new();
        for (name, rank) in &inputs.top_sites {
            let Some(reg) = name.registrable() else {
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
            brand_by_label: HashMap::default(),
            brand_finder: None,
            deletions: HashMap::default(),
            skeletons: HashMap::default(),
            ascii_prototypes: ascii_prototypes(),
            lures: None,
            lure_words: config.lure_words.clone(),
            shared_zones: inputs
                .shared_zones
                .iter()
                .map(|z| z.as_str().into())
                .collect(),
            suffix_listings: HashMap::default(),
            trigrams: Trigrams::train(labels.into_iter(), config.algorithmic.smoothing),
            listed_tlds: HashMap::default(),
            store_share: 0.0,
            nameservers: inputs
                .nameserver_listings
                .iter()
                .map(|s| (s.key.as_str().into(), s.clone()))
                .collect(),
        };
        model.find_listed_tlds(&inputs.tld_listings, config);
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
            let label = &*brand.label;
            let variants = std::iter::once(label.to_owned()).chain(
                label
                    .char_indices()
                    .map(|(i, c)| format!("{}{}", &label[..i], &label[i + c.len_utf8()..])),
            );
            for variant in variants {
                let ids = model.deletions.entry(variant.into()).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
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
        self.listed_tlds = tlds
            .iter()
            .filter(|s| {
                s.names >= c.tld_min_names
                    && s.listed as f64 >= c.tld_min_lift * self.store_share * s.names as f64
                    && s.listed > 0
            })
            .map(|s| (s.key.as_str().into(), s.clone()))
            .collect();
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
    use super::brand_key;

    proptest::proptest! {
        #[test]
        fn ascii_skeletons_are_the_unicode_ones(label in "[ -~]{0,24}") {
            let model = super::NameModel::build(&Default::default(), &Default::default());
            let expected: String = unicode_security::skeleton(&label).collect();
            proptest::prop_assert_eq!(model.skeleton(&label), expected);
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
