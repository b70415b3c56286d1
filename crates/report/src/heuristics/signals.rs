//! The signals the heuristic judge reads on a name, each with the facts that raised it.

use serde::Serialize;
use threatintel_model::{DomainName, Timestamp};
use unicode_security::MixedScript;

use super::config::HeuristicsConfig;
use super::model::{split_name, NameModel};

/// Which kind of evidence a signal is; level 2 needs signals of two groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalGroup {
    /// The name imitates a brand.
    Brand,
    /// The name carries words of credential lures.
    Lure,
    /// The name's shape: many subdomain levels.
    Shape,
    /// The name is a customer of shared hosting or dynamic DNS, or of a zone whose
    /// customers the store lists.
    Hosting,
    /// The name looks generated.
    Algorithmic,
    /// The registration is new.
    Registration,
    /// Addresses, certificates or name servers shared with listed names.
    Infrastructure,
    /// A feed lists the whole public suffix, or the store lists much of the TLD.
    Suffix,
}

/// How a typosquat differs from its brand (one edit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypoKind {
    /// A letter left out (`paypl`).
    Omission,
    /// A letter doubled (`paypall`).
    Doubling,
    /// A letter replaced or added by its neighbour on a QWERTY keyboard (`paypak`).
    AdjacentKey,
    /// Two neighbouring letters swapped (`papyal`).
    Transposition,
    /// Any other letter replaced (`paypel`).
    Substitution,
    /// Any other letter added (`paypasl`).
    Insertion,
}

/// One signal with its facts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    /// A brand inside the registrable domain's label (`paypal-login-secure.com`).
    BrandLabel { brand: String },
    /// A brand's full domain left of an unrelated registrable domain
    /// (`paypal.com.verify-account.xyz`).
    BrandDomainInSubdomain { brand: String, domain: String },
    /// A brand inside a subdomain label of an unrelated domain (`paypal.secure-host.net`).
    BrandLabelInSubdomain { brand: String },
    /// The registrable label is one edit from a brand.
    Typosquat { brand: String, edit: TypoKind },
    /// The label's UTS #39 skeleton is a brand's, but the label is not (`pаypal`, `paypa1`).
    Homoglyph { brand: String, label: String },
    /// The label mixes scripts (Latin with Cyrillic, ...).
    MixedScript { label: String },
    /// Credential-lure words in the name (each counted once).
    LureWords { words: Vec<String> },
    /// At least `deep_subdomain_levels` labels left of the registrable domain.
    DeepSubdomain { levels: usize },
    /// Below a shared-hosting or dynamic-DNS zone.
    SharedHosting { zone: String },
    /// The registrable label looks generated.
    Algorithmic {
        label: String,
        /// Mean surprise of its characters (and its end) under the trigram model, in bits.
        ngram_cost: f64,
        /// Mean surprise under the 5-gram model, in bits.
        long_ngram_cost: f64,
        /// Total surprise under the trigram model, in bits.
        total_cost: f64,
        /// Mean surprise of its letters by their frequency in top-site labels, in bits.
        letter_cost: f64,
        /// Share of its characters (and its end) whose trigram surprise is at least
        /// `rare_bits`.
        rare_share: f64,
        length: usize,
        digit_ratio: f64,
        /// Hexadecimal, with letters and digits (`48b2137f`): a hash written out.
        hex: bool,
        consonant_run: usize,
        /// Share of vowels (`y` included) among its letters.
        vowel_ratio: f64,
        /// Share of neighbouring letters (digits skipped) of which one is a vowel and the
        /// other a consonant: 1 for `gacycaz`, the pronounceable generators' pattern.
        alternation: f64,
        /// Share of its letters that are a `y` between two consonants (`qekytig`): generators
        /// of pronounceable names draw `y` as one vowel among six, names seldom use it so.
        y_vowel: f64,
        /// The longest run of its characters (and its end) each with a 5-gram surprise of at
        /// least `hard_bits`: a name of words has short runs at the joins, a random string
        /// long ones.
        hard_run: usize,
        /// Shannon entropy of its characters, in bits.
        entropy: f64,
        /// The log-odds of the logistic model, compared with the threshold.
        z: f64,
    },
    /// Registered less than `new_registration_days` before the report time.
    NewlyRegistered { created: Timestamp, age_days: i64 },
    /// Resolves to addresses with malicious records.
    MaliciousIps { count: u64 },
    /// Its certificate also covers listed names.
    CertSharedWithListed { names: Vec<DomainName> },
    /// A name server of its newest WHOIS/RDAP record serves mostly domains with malicious
    /// records (`domains` and `listed` count the others it serves).
    NameserverSharedWithListed {
        nameserver: String,
        domains: u64,
        listed: u64,
    },
    /// A feed lists the whole public suffix the name is under.
    SuffixListed { suffix: String, source: String },
    /// The store lists an outsized share of the names under the name's TLD.
    TldListedShare {
        tld: String,
        names: u64,
        listed: u64,
        /// The share of listed names over the whole store.
        store_share: f64,
    },
    /// The name is below a zone whose direct children the store lists in outsized numbers
    /// and share (a zone of listed customers: `names` direct children, `listed` of them with
    /// malicious records of their own).
    ZoneListedShare {
        zone: String,
        names: u64,
        listed: u64,
        /// The share of listed names over the whole store.
        store_share: f64,
        /// Whether the zone is on a top-site list of the store (its weight is then
        /// `zone_listed_share_top_site`).
        top_site: bool,
    },
}

impl Signal {
    pub fn group(&self) -> SignalGroup {
        match self {
            Self::BrandLabel { .. }
            | Self::BrandDomainInSubdomain { .. }
            | Self::BrandLabelInSubdomain { .. }
            | Self::Typosquat { .. }
            | Self::Homoglyph { .. }
            | Self::MixedScript { .. } => SignalGroup::Brand,
            Self::LureWords { .. } => SignalGroup::Lure,
            Self::DeepSubdomain { .. } => SignalGroup::Shape,
            Self::SharedHosting { .. } | Self::ZoneListedShare { .. } => SignalGroup::Hosting,
            Self::Algorithmic { .. } => SignalGroup::Algorithmic,
            Self::NewlyRegistered { .. } => SignalGroup::Registration,
            Self::MaliciousIps { .. }
            | Self::CertSharedWithListed { .. }
            | Self::NameserverSharedWithListed { .. } => SignalGroup::Infrastructure,
            Self::SuffixListed { .. } | Self::TldListedShare { .. } => SignalGroup::Suffix,
        }
    }

    /// The signal's key, as the config's weights and the compatibility label name it.
    pub fn key(&self) -> &'static str {
        match self {
            Self::BrandLabel { .. } => "brand_label",
            Self::BrandDomainInSubdomain { .. } => "brand_domain_in_subdomain",
            Self::BrandLabelInSubdomain { .. } => "brand_label_in_subdomain",
            Self::Typosquat { .. } => "typosquat",
            Self::Homoglyph { .. } => "homoglyph",
            Self::MixedScript { .. } => "mixed_script",
            Self::LureWords { .. } => "lure_words",
            Self::DeepSubdomain { .. } => "deep_subdomain",
            Self::SharedHosting { .. } => "shared_hosting",
            Self::Algorithmic { .. } => "algorithmic",
            Self::NewlyRegistered { .. } => "newly_registered",
            Self::MaliciousIps { .. } => "malicious_ips",
            Self::CertSharedWithListed { .. } => "cert_shared_with_listed",
            Self::NameserverSharedWithListed { .. } => "nameserver_shared_with_listed",
            Self::SuffixListed { .. } => "suffix_listed",
            Self::TldListedShare { .. } => "tld_listed_share",
            Self::ZoneListedShare { .. } => "zone_listed_share",
        }
    }

    /// Its contribution to the score.
    pub fn contribution(&self, config: &HeuristicsConfig) -> f64 {
        let w = &config.weights;
        match self {
            Self::BrandLabel { .. } => w.brand_label,
            Self::BrandDomainInSubdomain { .. } => w.brand_domain_in_subdomain,
            Self::BrandLabelInSubdomain { .. } => w.brand_label_in_subdomain,
            Self::Typosquat { .. } => w.typosquat,
            Self::Homoglyph { .. } => w.homoglyph,
            Self::MixedScript { .. } => w.mixed_script,
            Self::LureWords { words } => {
                w.lure_words + w.lure_words_more * words.len().saturating_sub(1) as f64
            }
            Self::DeepSubdomain { .. } => w.deep_subdomain,
            Self::SharedHosting { .. } => w.shared_hosting,
            Self::Algorithmic { z, .. } => {
                let a = &config.algorithmic;
                w.algorithmic * (1.0 + ((z - a.threshold) / a.span).clamp(0.0, 1.0))
            }
            Self::NewlyRegistered { .. } => w.newly_registered,
            Self::MaliciousIps { .. } => w.malicious_ips,
            Self::CertSharedWithListed { .. } => w.cert_shared_with_listed,
            Self::NameserverSharedWithListed { .. } => w.nameserver_shared_with_listed,
            Self::SuffixListed { .. } => w.suffix_listed,
            Self::TldListedShare { .. } => w.tld_listed_share,
            Self::ZoneListedShare { top_site: true, .. } => w.zone_listed_share_top_site,
            Self::ZoneListedShare { .. } => w.zone_listed_share,
        }
    }
}

/// The signals the name itself shows; `None` for a top site (never judged).
pub(crate) fn name_signals(
    model: &NameModel,
    config: &HeuristicsConfig,
    name: &DomainName,
) -> Option<Vec<Signal>> {
    let public = name.registrable()?;
    let text = name.as_str();
    // A customer of a shared-hosting zone at or below the registrable domain
    // (`login-verify.000webhostapp.com`, where the PSL does not list the zone) is judged as
    // if the zone were a public suffix: its own label is the customer's. The zone may be a
    // top site; the customer's name is not.
    let hosted = customer_zone(model, name, public.as_str().len());
    let reg = match hosted {
        Some(zone) => {
            let start = text[..text.len() - zone.len() - 1]
                .rfind('.')
                .map_or(0, |i| i + 1);
            &text[start..]
        }
        None => public.as_str(),
    };
    if model.top_sites.contains(reg) || model.top_sites.contains(text) {
        return None;
    }
    let mut signals = Vec::new();
    let (label, sub) = split_name(text, reg);
    // Labels left of the registrable domain (the index of its own label).
    let levels = name.label_count() - (reg.bytes().filter(|&b| b == b'.').count() + 1);
    if !model.brand_by_label.contains_key(label) {
        brand_signals(model, config, name, (label, levels), &mut signals);
    }
    if !sub.is_empty() {
        subdomain_signals(model, sub, &mut signals);
    }
    if let Some(lures) = &model.lures {
        let text = &text[..text.len() - reg.len() + label.len()];
        let mut found = lures.find_iter(text).map(|m| m.pattern().as_usize());
        if let Some(first) = found.next() {
            let mut words: Vec<String> = std::iter::once(first)
                .chain(found)
                .map(|i| model.lure_words[i].clone())
                .collect();
            words.sort();
            words.dedup();
            signals.push(Signal::LureWords { words });
        }
    }
    if levels >= config.deep_subdomain_levels {
        signals.push(Signal::DeepSubdomain { levels });
    }
    let mut listed_zone = None;
    for zone in name.ancestor_texts() {
        if model.shared_zones.contains(zone) {
            signals.push(Signal::SharedHosting { zone: zone.into() });
        }
        if listed_zone.is_none() {
            listed_zone = model.listed_zones.get_key_value(zone);
        }
        if let Some(source) = model.suffix_listings.get(zone) {
            signals.push(Signal::SuffixListed {
                suffix: zone.into(),
                source: source.clone(),
            });
        }
    }
    let tld = name.as_str().rsplit('.').next().unwrap_or_default();
    if let Some(share) = model.listed_tlds.get(tld) {
        signals.push(Signal::TldListedShare {
            tld: tld.into(),
            names: share.names,
            listed: share.listed,
            store_share: model.store_share,
        });
    }
    // The nearest zone of listed customers above the name (never the name itself).
    if let Some((zone, share)) = listed_zone {
        signals.push(Signal::ZoneListedShare {
            zone: zone.to_string(),
            names: share.names,
            listed: share.listed,
            store_share: model.store_share,
            top_site: model.top_sites.contains(&**zone),
        });
    }
    if let Some(signal) = algorithmic(model, config, label) {
        signals.push(signal);
    }
    Some(signals)
}

/// The longest shared-hosting zone or zone of listed customers `name` is strictly below that
/// is the registrable domain (`registrable` bytes long) or below it.
fn customer_zone<'n>(
    model: &NameModel,
    name: &'n DomainName,
    registrable: usize,
) -> Option<&'n str> {
    if model.shared_zones.is_empty() && model.listed_zones.is_empty() {
        return None;
    }
    name.ancestor_texts()
        .take_while(|zone| zone.len() >= registrable)
        .find(|zone| model.shared_zones.contains(*zone) || model.listed_zones.contains_key(*zone))
}

/// Brand signals on the registrable domain's label, which is no brand's own.
fn brand_signals(
    model: &NameModel,
    config: &HeuristicsConfig,
    name: &DomainName,
    (label, label_index): (&str, usize),
    signals: &mut Vec<Signal>,
) {
    let brand = |id: usize| model.brands[id].label.to_string();
    // One edit first: `paypall` is a doubled letter, not a label that contains `paypal`.
    if label.len() >= config.brand_min_length.saturating_sub(1) {
        let typo = model.deletions.find_map(label, |ids| {
            ids.iter()
                .find_map(|&id| typo_kind(label, &model.brands[id].label).map(|k| (id, k)))
        });
        if let Some((id, edit)) = typo {
            signals.push(Signal::Typosquat {
                brand: brand(id),
                edit,
            });
            return;
        }
    }
    if let Some((finder, ids)) = &model.brand_finder {
        if let Some(m) = finder.find(label) {
            signals.push(Signal::BrandLabel {
                brand: brand(ids[m.pattern().as_usize()]),
            });
            return;
        }
    }
    let unicode = if label.starts_with("xn--") {
        name.to_unicode()
            .split('.')
            .nth(label_index)
            .map(str::to_owned)
    } else {
        None
    };
    let shown = unicode.as_deref().unwrap_or(label);
    if !model.is_own_skeleton(shown) {
        let skeleton = model.skeleton(shown);
        if skeleton != shown {
            if let Some(&id) = model.skeletons.get(&skeleton) {
                signals.push(Signal::Homoglyph {
                    brand: brand(id),
                    label: shown.to_owned(),
                });
            }
        }
    }
    if unicode.is_some() && !shown.is_single_script() {
        signals.push(Signal::MixedScript {
            label: shown.to_owned(),
        });
    }
}

/// A brand's domain, or a brand, left of an unrelated registrable domain.
fn subdomain_signals(model: &NameModel, sub: &str, signals: &mut Vec<Signal>) {
    let mut offset = 0;
    for part in sub.split('.') {
        let rest = &sub[(offset + part.len() + 1).min(sub.len())..];
        offset += part.len() + 1;
        let Some(&id) = model.brand_by_label.get(part) else {
            continue;
        };
        let brand = &model.brands[id];
        let suffix = brand.suffixes.iter().find(|s| {
            rest.strip_prefix(&***s)
                .is_some_and(|r| r.is_empty() || r.starts_with('.'))
        });
        if let Some(suffix) = suffix {
            signals.push(Signal::BrandDomainInSubdomain {
                brand: brand.label.to_string(),
                domain: format!("{}.{suffix}", brand.label),
            });
            return;
        }
    }
    if let Some((finder, ids)) = &model.brand_finder {
        if let Some(m) = finder.find(sub) {
            signals.push(Signal::BrandLabelInSubdomain {
                brand: model.brands[ids[m.pattern().as_usize()]].label.to_string(),
            });
        }
    }
}

/// The generated-name test on the registrable label.
fn algorithmic(model: &NameModel, config: &HeuristicsConfig, label: &str) -> Option<Signal> {
    let a = &config.algorithmic;
    let models = model.labels.as_ref()?;
    if label.starts_with("xn--") {
        return None;
    }
    // Hyphens join words (`in2-prod-east-us2`, cloud and CDN names): the longest part is
    // judged (`kqjgcscejwazmsuvzeehgqitdg` of `kqjgcscejwazmsuvzeehgqitdg-dot-gle39404049`).
    let label = label.split('-').fold("", |longest, part| {
        if part.len() > longest.len() {
            part
        } else {
            longest
        }
    });
    if label.len() < a.min_length {
        return None;
    }
    let (mut total_cost, mut rare, mut long_total) = (0.0, 0usize, 0.0);
    models.short.each_cost(label, |c| {
        total_cost += f64::from(c);
        rare += usize::from(f64::from(c) >= a.rare_bits);
    });
    let (mut hard_run, mut run) = (0, 0);
    models.long.each_cost(label, |c| {
        long_total += f64::from(c);
        run = if f64::from(c) >= a.hard_bits {
            run + 1
        } else {
            0
        };
        hard_run = hard_run.max(run);
    });
    // The label's characters and its end.
    let ends = (label.len() + 1) as f64;
    let ngram_cost = total_cost / ends;
    let rare_share = rare as f64 / ends;
    let long_ngram_cost = long_total / ends;
    let length = label.len();
    let digits = label.bytes().filter(u8::is_ascii_digit).count();
    let digit_ratio = digits as f64 / length as f64;
    let hex = digits > 0
        && digits < length
        && label
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let is_vowel = |b: &u8| b"aeiouy".contains(b);
    let mut consonant_run = 0;
    let mut run = 0;
    for b in label.bytes() {
        run = if b.is_ascii_lowercase() && !is_vowel(&b) {
            run + 1
        } else {
            0
        };
        consonant_run = consonant_run.max(run);
    }
    let letters = label.bytes().filter(u8::is_ascii_lowercase).count();
    let letter_cost = label
        .bytes()
        .filter(u8::is_ascii_lowercase)
        .map(|b| f64::from(models.letters[(b - b'a') as usize]))
        .sum::<f64>()
        / letters.max(1) as f64;
    let vowel_ratio = label.bytes().filter(is_vowel).count() as f64 / letters.max(1) as f64;
    let mut previous = None;
    let mut alternations = 0;
    for vowel in label
        .bytes()
        .filter(u8::is_ascii_lowercase)
        .map(|b| is_vowel(&b))
    {
        alternations += usize::from(previous.is_some_and(|p| p != vowel));
        previous = Some(vowel);
    }
    let alternation = alternations as f64 / letters.saturating_sub(1).max(1) as f64;
    let consonant = |b: u8| b.is_ascii_lowercase() && !is_vowel(&b);
    let y_vowels = label
        .as_bytes()
        .windows(3)
        .filter(|w| w[1] == b'y' && consonant(w[0]) && consonant(w[2]))
        .count();
    let y_vowel = y_vowels as f64 / letters.max(1) as f64;
    // The distinct bytes are visited in ascending order (a bit each), as a scan of all 256
    // counts would, at the cost of the label's bytes.
    let mut counts = [0u32; 256];
    let mut present = [0u64; 4];
    for b in label.bytes() {
        counts[usize::from(b)] += 1;
        present[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    let mut sum = 0.0;
    for (word, mut bits) in present.into_iter().enumerate() {
        while bits != 0 {
            let p = f64::from(counts[word * 64 + bits.trailing_zeros() as usize]) / length as f64;
            sum += p * p.log2();
            bits &= bits - 1;
        }
    }
    let entropy = -sum;
    let z = a.intercept
        + a.ngram_cost * ngram_cost
        + a.long_ngram_cost * long_ngram_cost
        + a.total_cost * total_cost
        + a.letter_cost * letter_cost
        + a.rare_share * rare_share
        + a.length * length as f64
        + if hex { a.hex } else { 0.0 }
        + if digits > 0 { a.has_digits } else { 0.0 }
        + a.consonant_run * consonant_run as f64
        + a.vowel_ratio * vowel_ratio
        + a.alternation * alternation
        + a.y_vowel * y_vowel
        + a.hard_run * hard_run as f64
        + a.entropy * entropy;
    (z >= a.threshold).then(|| Signal::Algorithmic {
        label: label.to_owned(),
        ngram_cost,
        long_ngram_cost,
        total_cost,
        letter_cost,
        rare_share,
        length,
        digit_ratio,
        hex,
        consonant_run,
        vowel_ratio,
        alternation,
        y_vowel,
        hard_run,
        entropy,
        z,
    })
}

/// QWERTY row and column of a key (rows are staggered by about half a key).
fn key_position(b: u8) -> Option<(i32, i32)> {
    const ROWS: [&[u8]; 4] = [b"1234567890", b"qwertyuiop", b"asdfghjkl", b"zxcvbnm"];
    ROWS.iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|&k| k == b)
            .map(|c| (r as i32, c as i32))
    })
}

fn adjacent_keys(a: u8, b: u8) -> bool {
    match (key_position(a), key_position(b)) {
        (Some((ra, ca)), Some((rb, cb))) => match ra - rb {
            0 => (ca - cb).abs() == 1,
            // The row below starts half a key to the right.
            1 => ca == cb || ca == cb - 1,
            -1 => cb == ca || cb == ca - 1,
            _ => false,
        },
        _ => false,
    }
}

/// How `label` is one edit away from `brand`, if it is.
pub(crate) fn typo_kind(label: &str, brand: &str) -> Option<TypoKind> {
    let (l, b) = (label.as_bytes(), brand.as_bytes());
    let i = l.iter().zip(b).take_while(|(x, y)| x == y).count();
    match l.len() as isize - b.len() as isize {
        -1 => (l[i..] == b[i + 1..]).then_some(TypoKind::Omission),
        1 => {
            if l[i + 1..] != b[i..] {
                return None;
            }
            let extra = l[i];
            let neighbours = [i.checked_sub(1).map(|j| l[j]), l.get(i + 1).copied()];
            Some(if neighbours.contains(&Some(extra)) {
                TypoKind::Doubling
            } else if neighbours
                .iter()
                .flatten()
                .any(|&n| adjacent_keys(extra, n))
            {
                TypoKind::AdjacentKey
            } else {
                TypoKind::Insertion
            })
        }
        0 if i < l.len() => {
            if l[i + 1..] == b[i + 1..] {
                Some(if adjacent_keys(l[i], b[i]) {
                    TypoKind::AdjacentKey
                } else {
                    TypoKind::Substitution
                })
            } else if i + 1 < l.len()
                && l[i] == b[i + 1]
                && l[i + 1] == b[i]
                && l[i + 2..] == b[i + 2..]
            {
                Some(TypoKind::Transposition)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The name server of the domain's WHOIS/RDAP record that serves the largest share of listed
/// domains, when that share and the number of domains are high enough. The counts are the
/// store's, less the domain itself.
pub(crate) fn listed_nameserver(
    model: &NameModel,
    config: &HeuristicsConfig,
    nameservers: &[String],
) -> Option<Signal> {
    let c = &config.listed_share;
    nameservers
        .iter()
        .filter_map(|ns| {
            let ns = ns.trim().trim_end_matches('.').to_ascii_lowercase();
            let share = model.nameservers.get(ns.as_str())?;
            let domains = share.names.saturating_sub(1);
            let listed = share.listed.min(domains);
            (domains >= c.nameserver_min_domains
                && listed as f64 >= c.nameserver_min_share * domains as f64)
                .then_some((listed as f64 / domains as f64, ns, domains, listed))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(
            |(_, nameserver, domains, listed)| Signal::NameserverSharedWithListed {
                nameserver,
                domains,
                listed,
            },
        )
}
