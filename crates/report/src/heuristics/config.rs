//! The `[heuristics]` table: every weight and threshold of the heuristic judge
//! (`docs/verdict.md`, §8).

use serde::{Deserialize, Serialize};

/// The `[heuristics]` table of the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeuristicsConfig {
    /// Judge names no feed record decides (a request can still ask for the verdict without).
    pub enabled: bool,
    /// Score at which a name is ThreatLevel 1 (suspicious).
    pub level1_score: f64,
    /// Score at which a name is ThreatLevel 2, given signals of at least two groups.
    pub level2_score: f64,
    /// Score at which Confidence reaches 100 (it is 60 at `level1_score`).
    pub full_confidence_score: f64,
    /// Top-site names up to this rank are brands.
    pub brand_max_rank: u32,
    /// Brands shorter than this are only matched whole (homoglyphs), never inside a label or
    /// as typosquats.
    pub brand_min_length: usize,
    /// The user's own brands, as their domains (`example-bank.com`).
    pub extra_brands: Vec<String>,
    /// Phishing targets that name no brand (PhishTank's `Other`); compared case-insensitively.
    pub generic_targets: Vec<String>,
    /// Words of credential lures, searched in the name left of the public suffix.
    pub lure_words: Vec<String>,
    /// A name with at least this many labels left of its registrable domain is deep
    /// (`login.secure.example.com` has 2).
    pub deep_subdomain_levels: usize,
    /// A registration younger than this many days at the report time is new.
    pub new_registration_days: i64,
    pub weights: SignalWeights,
    pub algorithmic: AlgorithmicConfig,
    pub listed_share: ListedShareConfig,
}

/// Contribution of each signal to the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalWeights {
    pub brand_label: f64,
    pub brand_domain_in_subdomain: f64,
    pub brand_label_in_subdomain: f64,
    pub typosquat: f64,
    pub homoglyph: f64,
    pub mixed_script: f64,
    /// For the first lure word.
    pub lure_words: f64,
    /// For each further distinct lure word.
    pub lure_words_more: f64,
    pub deep_subdomain: f64,
    pub shared_hosting: f64,
    /// Times the algorithmic strength (1-2).
    pub algorithmic: f64,
    pub newly_registered: f64,
    pub malicious_ips: f64,
    pub cert_shared_with_listed: f64,
    pub nameserver_shared_with_listed: f64,
    pub suffix_listed: f64,
    pub tld_listed_share: f64,
    /// Below a zone of listed customers that no top-site list names (a campaign's own domain,
    /// a hosting zone the lists do not know).
    pub zone_listed_share: f64,
    /// Below a zone of listed customers that is a top site (`blogspot.com`, `sharepoint.com`:
    /// their legitimate customers are top sites too).
    pub zone_listed_share_top_site: f64,
}

/// When the store's own listings speak against a TLD or a name server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListedShareConfig {
    /// A TLD with fewer names in the store says nothing.
    pub tld_min_names: u64,
    /// The TLD's share of listed names must be at least this many times the store's.
    pub tld_min_lift: f64,
    /// A name server serving fewer other domains (newest WHOIS/RDAP records) says nothing.
    pub nameserver_min_domains: u64,
    /// Share of listed domains among the other domains of the name server at which it fires.
    pub nameserver_min_share: f64,
    /// A zone with fewer direct children with malicious records of their own says nothing
    /// (the store reports zones from `threatintel_store::LISTED_CHILDREN_MIN` up).
    pub zone_min_listed: u64,
    /// The zone's share of listed direct children must be at least this many times the
    /// store's.
    pub zone_min_lift: f64,
}

/// The generated-name test: a logistic model over the registrable label (its longest
/// hyphen-free part), `z = intercept + Σ coefficient · feature`, the features being the mean
/// surprise (bits) of its characters under the trigram (`ngram_cost`) and 5-gram
/// (`long_ngram_cost`) models of the store's top-site labels, its total trigram surprise
/// (`total_cost`), the mean surprise of its letters by their frequency (`letter_cost`), the
/// share of characters with a trigram surprise of at least `rare_bits` (`rare_share`), its
/// length, whether it is hexadecimal with letters and digits (`hex`), whether it has digits
/// (`has_digits`), longest consonant run, vowel share, share of vowel-consonant alternations,
/// share of letters that are a `y` between two consonants (`y_vowel`), the longest run of
/// characters with a 5-gram surprise of at least `hard_bits` (`hard_run`) and entropy. The
/// defaults were fitted offline (logistic regression) on the `fit` half of the evaluation
/// (`crates/report/tests/report/evaluation.rs`, `EVAL_FIT=1`): maltrail's generated-name
/// families against the top-list names outside the models' training; `threshold` is the lowest
/// that kept the fit half's false positives at 0.1 % or less.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlgorithmicConfig {
    /// Shorter registrable labels are never judged generated.
    pub min_length: usize,
    /// The Kneser-Ney discount of the n-gram models (0 < discount < 1).
    pub discount: f64,
    /// A character whose trigram surprise is at least this many bits is rare.
    pub rare_bits: f64,
    /// A character whose 5-gram surprise is at least this many bits is hard (`hard_run`).
    pub hard_bits: f64,
    pub intercept: f64,
    pub ngram_cost: f64,
    pub long_ngram_cost: f64,
    pub total_cost: f64,
    pub letter_cost: f64,
    pub rare_share: f64,
    pub length: f64,
    pub hex: f64,
    pub has_digits: f64,
    pub consonant_run: f64,
    pub vowel_ratio: f64,
    pub alternation: f64,
    pub y_vowel: f64,
    pub hard_run: f64,
    pub entropy: f64,
    /// `z` (log-odds) at which the signal fires (strength 1).
    pub threshold: f64,
    /// `z` above the threshold at which the strength reaches 2.
    pub span: f64,
}

impl Default for HeuristicsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            level1_score: 1.0,
            level2_score: 2.0,
            full_confidence_score: 3.0,
            brand_max_rank: 1_000,
            brand_min_length: 5,
            extra_brands: Vec::new(),
            generic_targets: vec!["other".into(), "generic".into(), "unknown".into()],
            lure_words: [
                "account",
                "accounts",
                "alerts",
                "appleid",
                "assure",
                "authenticate",
                "billing",
                "byethost",
                "cancel",
                "confirm",
                "confirmation",
                "device",
                "help",
                "helpdesk",
                "itau",
                "lloyds",
                "login",
                "logon",
                "onedrive",
                "onlinebanking",
                "package",
                "password",
                "paxful",
                "payment",
                "recover",
                "recovery",
                "remove",
                "request",
                "reset",
                "royal",
                "secure",
                "secured",
                "securelogin",
                "signin",
                "support",
                "suspended",
                "unlock",
                "update",
                "validation",
                "verification",
                "verify",
                "wallet",
                "webmail",
                "webscr",
            ]
            .map(str::to_owned)
            .to_vec(),
            deep_subdomain_levels: 2,
            new_registration_days: 30,
            weights: SignalWeights::default(),
            algorithmic: AlgorithmicConfig::default(),
            listed_share: ListedShareConfig::default(),
        }
    }
}

impl Default for SignalWeights {
    fn default() -> Self {
        Self {
            brand_label: 0.55,
            brand_domain_in_subdomain: 0.8,
            brand_label_in_subdomain: 0.6,
            typosquat: 0.7,
            homoglyph: 1.2,
            mixed_script: 0.6,
            lure_words: 0.4,
            lure_words_more: 0.55,
            deep_subdomain: 0.35,
            shared_hosting: 0.35,
            algorithmic: 0.6,
            newly_registered: 0.6,
            malicious_ips: 0.8,
            cert_shared_with_listed: 0.8,
            nameserver_shared_with_listed: 0.6,
            suffix_listed: 0.3,
            tld_listed_share: 0.3,
            zone_listed_share: 0.65,
            zone_listed_share_top_site: 0.05,
        }
    }
}

impl Default for ListedShareConfig {
    fn default() -> Self {
        Self {
            tld_min_names: 100,
            tld_min_lift: 3.0,
            nameserver_min_domains: 3,
            nameserver_min_share: 0.5,
            zone_min_listed: 5,
            zone_min_lift: 3.0,
        }
    }
}

impl Default for AlgorithmicConfig {
    fn default() -> Self {
        Self {
            min_length: 7,
            discount: 0.75,
            rare_bits: 7.0,
            hard_bits: 5.0,
            intercept: -5.967,
            ngram_cost: -1.065,
            long_ngram_cost: 0.401,
            total_cost: 0.193,
            letter_cost: 0.595,
            rare_share: 3.095,
            length: -0.860,
            hex: 7.203,
            has_digits: -3.750,
            consonant_run: 0.169,
            vowel_ratio: -1.587,
            alternation: 2.452,
            y_vowel: 12.985,
            hard_run: 0.197,
            entropy: 0.190,
            threshold: -1.8,
            span: 3.0,
        }
    }
}

impl HeuristicsConfig {
    /// Checks what serde cannot: ranges and the order of the thresholds.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.level1_score > 0.0
            && self.level1_score <= self.level2_score
            && self.level2_score < self.full_confidence_score)
        {
            return Err(
                "heuristics: need 0 < level1_score <= level2_score < full_confidence_score".into(),
            );
        }
        if self.new_registration_days <= 0 {
            return Err("heuristics.new_registration_days must be positive".into());
        }
        if self.deep_subdomain_levels == 0 {
            return Err("heuristics.deep_subdomain_levels must be positive".into());
        }
        let a = &self.algorithmic;
        if !(a.discount > 0.0 && a.discount < 1.0 && a.span > 0.0) {
            return Err("heuristics.algorithmic: need 0 < discount < 1 and a positive span".into());
        }
        let l = &self.listed_share;
        if !(l.tld_min_lift > 0.0
            && l.zone_min_lift > 0.0
            && l.nameserver_min_share > 0.0
            && l.nameserver_min_share <= 1.0)
        {
            return Err(
                "heuristics.listed_share: need tld_min_lift > 0, zone_min_lift > 0 \
                 and 0 < nameserver_min_share <= 1"
                    .into(),
            );
        }
        if l.zone_min_listed < threatintel_store::LISTED_CHILDREN_MIN {
            return Err(format!(
                "heuristics.listed_share.zone_min_listed must be at least {} (the store reports \
                 no zone with fewer listed children)",
                threatintel_store::LISTED_CHILDREN_MIN
            ));
        }
        Ok(())
    }
}
