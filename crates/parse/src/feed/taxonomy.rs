//! Feed vocabularies mapped onto the model's threat types: the one table that maps every feed
//! vocabulary (STIX `indicator_types` / `malware_types` / `infrastructure_types`, ThreatFox
//! `threat_type`, URLhaus `threat`, MISP tags and galaxy types, TweetFeed hashtags, maltrail
//! categories and family names) onto [`ThreatType`] codes (`C&C Server`, `Phishing`,
//! `Botnet`, ...). The risk of each type and the specificity order that decides between several
//! terms are the model's ([`ThreatType::risk`], [`ThreatType::ALL`]); so are the stage and
//! industry keys ([`AttackStage::key_of`], [`Industry::of_sector`]).

use std::cell::RefCell;
use std::collections::HashMap;

use threatintel_model::{AttackStage, Industry, RiskLevel, ThreatType};

pub const APT: &str = ThreatType::Apt.code();
pub const C2: &str = ThreatType::CommandAndControl.code();
pub const RAT: &str = ThreatType::Rat.code();
pub const RANSOMWARE: &str = ThreatType::Ransomware.code();
pub const BOTNET: &str = ThreatType::Botnet.code();
pub const TROJAN: &str = ThreatType::Trojan.code();
pub const WORM: &str = ThreatType::Worm.code();
pub const MINER_POOL: &str = ThreatType::MinerPool.code();
pub const PHISHING: &str = ThreatType::Phishing.code();
pub const EXPLOIT: &str = ThreatType::Exploit.code();
pub const MALICIOUS_SOURCE: &str = ThreatType::MaliciousSource.code();
pub const SPAM: &str = ThreatType::Spam.code();
pub const BRUTE_FORCE: &str = ThreatType::BruteForce.code();
pub const ATTACK_SOURCE: &str = ThreatType::AttackSource.code();
pub const SCANNER: &str = ThreatType::Scanner.code();
pub const MALWARE: &str = ThreatType::Malware.code();
pub const SUSPICIOUS: &str = ThreatType::Suspicious.code();
const SCHEDULED_TASK: &str = ThreatType::ScheduledTask.code();
const BITS_JOBS: &str = ThreatType::BitsJobs.code();
const COMMAND_LINE: &str = ThreatType::CommandLineInterface.code();
const MSHTA: &str = ThreatType::Mshta.code();
const REGSVR32: &str = ThreatType::Regsvr32.code();
const SIGNED_BINARY_PROXY: &str = ThreatType::SignedBinaryProxyExecution.code();
const LOCAL_JOB_SCHEDULING: &str = ThreatType::LocalJobScheduling.code();
const RUNDLL32: &str = ThreatType::Rundll32.code();

/// How a [`TERMS`] row matches a normalised term (lower case, words joined by `-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The whole term.
    Exact,
    /// The term starts with the pattern.
    Prefix,
    /// The term, with `-` removed, ends with the pattern (`asyncrat`, `dcrat`, `remcos-rat`).
    Suffix,
    /// The term, with `-` removed, contains the pattern.
    Contains,
}

/// Whether a [`TERMS`] row is a vocabulary word (`phishing`, `botnet_cc`) or names a family
/// (`mirai`, `*rat`): family rows may also serve as a record's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Term,
    Family,
}

/// `None` as a threat type: the term says "not malicious" (STIX `benign`).
pub const BENIGN: &str = "";

/// The one vocabulary table: (term, how it matches, threat type, role). Exact rows are looked up
/// first, then the pattern rows in table order. Terms are normalised by [`normalize_term`].
pub const TERMS: &[(&str, Match, &str, Role)] = &[
    // Reference taxonomy names themselves.
    ("c-c-server", Match::Exact, C2, Role::Term),
    ("apt", Match::Exact, APT, Role::Term),
    ("rat", Match::Exact, RAT, Role::Term),
    ("ransomware", Match::Exact, RANSOMWARE, Role::Term),
    ("botnet", Match::Exact, BOTNET, Role::Term),
    ("trojan", Match::Exact, TROJAN, Role::Term),
    ("worm", Match::Exact, WORM, Role::Term),
    ("miner-pool", Match::Exact, MINER_POOL, Role::Term),
    ("phishing", Match::Exact, PHISHING, Role::Term),
    ("exploit", Match::Exact, EXPLOIT, Role::Term),
    (
        "malicious-source",
        Match::Exact,
        MALICIOUS_SOURCE,
        Role::Term,
    ),
    ("spam", Match::Exact, SPAM, Role::Term),
    ("brute-force", Match::Exact, BRUTE_FORCE, Role::Term),
    ("attack-source", Match::Exact, ATTACK_SOURCE, Role::Term),
    ("scanner", Match::Exact, SCANNER, Role::Term),
    ("malware", Match::Exact, MALWARE, Role::Term),
    ("suspicious", Match::Exact, SUSPICIOUS, Role::Term),
    ("scheduled-task", Match::Exact, SCHEDULED_TASK, Role::Term),
    ("bits-jobs", Match::Exact, BITS_JOBS, Role::Term),
    (
        "command-line-interface",
        Match::Exact,
        COMMAND_LINE,
        Role::Term,
    ),
    ("mshta", Match::Exact, MSHTA, Role::Term),
    ("mshta执行", Match::Exact, MSHTA, Role::Term),
    ("regsvr32", Match::Exact, REGSVR32, Role::Term),
    (
        "signed-binary-proxy-execution",
        Match::Exact,
        SIGNED_BINARY_PROXY,
        Role::Term,
    ),
    (
        "local-job-scheduling",
        Match::Exact,
        LOCAL_JOB_SCHEDULING,
        Role::Term,
    ),
    ("rundll32", Match::Exact, RUNDLL32, Role::Term),
    // STIX 2.x indicator_types (labels in 2.0).
    ("malicious-activity", Match::Exact, MALWARE, Role::Term),
    ("anomalous-activity", Match::Exact, SUSPICIOUS, Role::Term),
    ("compromised", Match::Exact, SUSPICIOUS, Role::Term),
    ("attribution", Match::Exact, APT, Role::Term),
    ("benign", Match::Exact, BENIGN, Role::Term),
    // STIX malware_types.
    ("adware", Match::Exact, SUSPICIOUS, Role::Term),
    ("backdoor", Match::Exact, RAT, Role::Term),
    ("bot", Match::Exact, BOTNET, Role::Term),
    ("bootkit", Match::Exact, TROJAN, Role::Term),
    ("rootkit", Match::Exact, TROJAN, Role::Term),
    ("ddos", Match::Exact, BOTNET, Role::Term),
    ("downloader", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("dropper", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("exploit-kit", Match::Exact, EXPLOIT, Role::Term),
    ("keylogger", Match::Exact, TROJAN, Role::Term),
    ("remote-access-trojan", Match::Exact, RAT, Role::Term),
    (
        "resource-exploitation",
        Match::Exact,
        MINER_POOL,
        Role::Term,
    ),
    (
        "rogue-security-software",
        Match::Exact,
        SUSPICIOUS,
        Role::Term,
    ),
    ("screen-capture", Match::Exact, TROJAN, Role::Term),
    ("spyware", Match::Exact, TROJAN, Role::Term),
    ("virus", Match::Exact, MALWARE, Role::Term),
    ("webshell", Match::Exact, MALWARE, Role::Term),
    ("wiper", Match::Exact, MALWARE, Role::Term),
    // STIX infrastructure_types.
    ("command-and-control", Match::Exact, C2, Role::Term),
    (
        "hosting-malware",
        Match::Exact,
        MALICIOUS_SOURCE,
        Role::Term,
    ),
    ("staging", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("anonymization", Match::Exact, SUSPICIOUS, Role::Term),
    ("amplification", Match::Exact, ATTACK_SOURCE, Role::Term),
    ("reconnaissance", Match::Exact, SCANNER, Role::Term),
    ("exfiltration", Match::Exact, C2, Role::Term),
    // STIX / MISP actor-ish object and galaxy types.
    ("threat-actor", Match::Exact, APT, Role::Term),
    ("intrusion-set", Match::Exact, APT, Role::Term),
    ("mitre-intrusion-set", Match::Exact, APT, Role::Term),
    ("nation-state", Match::Exact, APT, Role::Term),
    ("espionage", Match::Exact, APT, Role::Term),
    ("banker", Match::Exact, TROJAN, Role::Term),
    ("stealer", Match::Exact, TROJAN, Role::Term),
    ("infostealer", Match::Exact, TROJAN, Role::Term),
    ("cryptominers", Match::Exact, MINER_POOL, Role::Term),
    ("malpedia", Match::Exact, MALWARE, Role::Term),
    ("mitre-malware", Match::Exact, MALWARE, Role::Term),
    ("android", Match::Exact, MALWARE, Role::Term),
    ("tool", Match::Exact, MALWARE, Role::Term),
    ("mitre-tool", Match::Exact, MALWARE, Role::Term),
    // abuse.ch.
    ("botnet-cc", Match::Exact, C2, Role::Term),
    (
        "payload-delivery",
        Match::Exact,
        MALICIOUS_SOURCE,
        Role::Term,
    ),
    ("payload", Match::Exact, MALWARE, Role::Term),
    (
        "malware-download",
        Match::Exact,
        MALICIOUS_SOURCE,
        Role::Term,
    ),
    ("cc-skimming", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    // MISP taxonomies and community hashtags.
    ("c2", Match::Exact, C2, Role::Term),
    ("cc", Match::Exact, C2, Role::Term),
    ("c-c", Match::Exact, C2, Role::Term),
    ("cnc", Match::Exact, C2, Role::Term),
    ("c2-server", Match::Exact, C2, Role::Term),
    ("phish", Match::Exact, PHISHING, Role::Term),
    ("phishing-kit", Match::Exact, PHISHING, Role::Term),
    ("scam", Match::Exact, PHISHING, Role::Term),
    ("cryptoscam", Match::Exact, PHISHING, Role::Term),
    ("fraud", Match::Exact, PHISHING, Role::Term),
    ("ransom", Match::Exact, RANSOMWARE, Role::Term),
    ("malicious-code", Match::Exact, MALWARE, Role::Term),
    ("opendir", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("malvertising", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    (
        "malicious-download",
        Match::Exact,
        MALICIOUS_SOURCE,
        Role::Term,
    ),
    ("fakeupdate", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("fakeupdates", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("clickfix", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("iclickfix", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("clearfake", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("socgholish", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("kongtuke", Match::Exact, MALICIOUS_SOURCE, Role::Term),
    ("malspam", Match::Exact, SPAM, Role::Term),
    ("scan", Match::Exact, SCANNER, Role::Term),
    ("scanning", Match::Exact, SCANNER, Role::Term),
    ("mass-scanner", Match::Exact, SCANNER, Role::Term),
    ("bruteforce", Match::Exact, BRUTE_FORCE, Role::Term),
    ("attack", Match::Exact, ATTACK_SOURCE, Role::Term),
    ("attacker", Match::Exact, ATTACK_SOURCE, Role::Term),
    ("pua", Match::Exact, SUSPICIOUS, Role::Term),
    ("pup", Match::Exact, SUSPICIOUS, Role::Term),
    ("potentially-unwanted", Match::Exact, SUSPICIOUS, Role::Term),
    ("parking", Match::Exact, SUSPICIOUS, Role::Term),
    ("dynamic-dns", Match::Exact, SUSPICIOUS, Role::Term),
    ("tor", Match::Exact, SUSPICIOUS, Role::Term),
    ("onion", Match::Exact, SUSPICIOUS, Role::Term),
    ("proxy", Match::Exact, SUSPICIOUS, Role::Term),
    ("miner", Match::Exact, MINER_POOL, Role::Term),
    ("coinminer", Match::Exact, MINER_POOL, Role::Term),
    ("cryptojacking", Match::Exact, MINER_POOL, Role::Term),
    // Well-known families whose role the name alone tells.
    ("cobalt-strike", Match::Exact, C2, Role::Family),
    ("cobaltstrike", Match::Exact, C2, Role::Family),
    ("sliver", Match::Exact, C2, Role::Family),
    ("havoc", Match::Exact, C2, Role::Family),
    ("mythic", Match::Exact, C2, Role::Family),
    ("brute-ratel", Match::Exact, C2, Role::Family),
    ("bruteratel", Match::Exact, C2, Role::Family),
    ("metasploit", Match::Exact, C2, Role::Family),
    ("vshell", Match::Exact, C2, Role::Family),
    ("mirai", Match::Exact, BOTNET, Role::Family),
    ("mozi", Match::Exact, BOTNET, Role::Family),
    ("gafgyt", Match::Exact, BOTNET, Role::Family),
    ("aisuru", Match::Exact, BOTNET, Role::Family),
    ("emotet", Match::Exact, BOTNET, Role::Family),
    ("qakbot", Match::Exact, BOTNET, Role::Family),
    ("qbot", Match::Exact, BOTNET, Role::Family),
    ("trickbot", Match::Exact, BOTNET, Role::Family),
    ("icedid", Match::Exact, BOTNET, Role::Family),
    ("dridex", Match::Exact, BOTNET, Role::Family),
    ("pikabot", Match::Exact, BOTNET, Role::Family),
    ("agenttesla", Match::Exact, TROJAN, Role::Family),
    ("formbook", Match::Exact, TROJAN, Role::Family),
    ("vidar", Match::Exact, TROJAN, Role::Family),
    ("lumma", Match::Exact, TROJAN, Role::Family),
    ("redline", Match::Exact, TROJAN, Role::Family),
    ("raccoon", Match::Exact, TROJAN, Role::Family),
    ("gozi", Match::Exact, TROJAN, Role::Family),
    ("ursnif", Match::Exact, TROJAN, Role::Family),
    ("xworm", Match::Exact, RAT, Role::Family),
    ("remcos", Match::Exact, RAT, Role::Family),
    ("poison-ivy", Match::Exact, RAT, Role::Family),
    ("xmrig", Match::Exact, MINER_POOL, Role::Family),
    // Name patterns (families and maltrail file stems).
    ("apt-", Match::Prefix, APT, Role::Family),
    ("apt0", Match::Prefix, APT, Role::Family),
    ("apt1", Match::Prefix, APT, Role::Family),
    ("apt2", Match::Prefix, APT, Role::Family),
    ("apt3", Match::Prefix, APT, Role::Family),
    ("apt4", Match::Prefix, APT, Role::Family),
    ("apt5", Match::Prefix, APT, Role::Family),
    ("apt6", Match::Prefix, APT, Role::Family),
    ("apt7", Match::Prefix, APT, Role::Family),
    ("apt8", Match::Prefix, APT, Role::Family),
    ("apt9", Match::Prefix, APT, Role::Family),
    ("ek-", Match::Prefix, EXPLOIT, Role::Family),
    ("ransom", Match::Contains, RANSOMWARE, Role::Family),
    ("c2", Match::Suffix, C2, Role::Family),
    ("rat", Match::Suffix, RAT, Role::Family),
    ("stealer", Match::Contains, TROJAN, Role::Family),
    ("banker", Match::Contains, TROJAN, Role::Family),
    ("miner", Match::Contains, MINER_POOL, Role::Family),
    ("mining", Match::Contains, MINER_POOL, Role::Family),
    ("phish", Match::Contains, PHISHING, Role::Family),
    ("botnet", Match::Contains, BOTNET, Role::Family),
    ("tds", Match::Suffix, MALICIOUS_SOURCE, Role::Family),
    ("loader", Match::Suffix, MALICIOUS_SOURCE, Role::Family),
    ("dropper", Match::Suffix, MALICIOUS_SOURCE, Role::Family),
    ("exploitkit", Match::Contains, EXPLOIT, Role::Family),
    ("webshell", Match::Contains, MALWARE, Role::Family),
    ("scanner", Match::Suffix, SCANNER, Role::Family),
];

/// Lower case; `#`, quotes and surrounding space removed; runs of space, `_`, `&`, `/`, `.` and
/// `-` joined into one `-` (`botnet_cc` → `botnet-cc`, `Command and Control` →
/// `command-and-control`, `C&C Server` → `c-c-server`).
pub fn normalize_term(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    let mut pending_sep = false;
    for c in term.trim().trim_start_matches('#').chars() {
        if c == '"' || c == '\'' {
            continue;
        }
        if c.is_whitespace() || matches!(c, '_' | '&' | '/' | '.' | '-' | ':' | ',') {
            pending_sep = !out.is_empty();
            continue;
        }
        if pending_sep {
            out.push('-');
            pending_sep = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The taxonomy threat type a feed term stands for. `None` for terms the table does not know.
/// `Some("")` ([`BENIGN`]) for terms that say "not malicious".
pub fn classify(term: &str) -> Option<&'static str> {
    remembered(term).class
}

/// Whether `term` is only a vocabulary word (a threat type, role or category such as
/// `phishing`, `malware`, `c2`, `botnet_cc`), which can never be a family label.
pub fn is_vocabulary(term: &str) -> bool {
    remembered(term).vocabulary
}

/// What the table says of one term.
#[derive(Clone, Copy)]
struct Classified {
    class: Option<&'static str>,
    vocabulary: bool,
}

/// Terms met on this thread: a feed repeats a handful of terms over millions of records, and
/// the table is searched term by term. Bounded; a pure cache of pure functions.
const REMEMBERED_TERMS: usize = 4096;

thread_local! {
    static REMEMBERED: RefCell<HashMap<String, Classified>> = RefCell::new(HashMap::new());
}

fn remembered(term: &str) -> Classified {
    REMEMBERED.with(|known| {
        if let Some(hit) = known.borrow().get(term) {
            return *hit;
        }
        let classified = Classified {
            class: classify_uncached(term),
            vocabulary: is_vocabulary_uncached(term),
        };
        let mut known = known.borrow_mut();
        if known.len() >= REMEMBERED_TERMS {
            known.clear();
        }
        known.insert(term.to_owned(), classified);
        classified
    })
}

fn classify_uncached(term: &str) -> Option<&'static str> {
    let norm = normalize_term(term);
    if norm.is_empty() {
        return None;
    }
    if let Some((_, _, t, _)) = TERMS
        .iter()
        .find(|(p, m, ..)| *m == Match::Exact && *p == norm)
    {
        return Some(t);
    }
    let compact: String = norm.chars().filter(|c| *c != '-').collect();
    TERMS
        .iter()
        .find(|(p, m, ..)| match m {
            Match::Exact => false,
            Match::Prefix => norm.starts_with(p),
            Match::Suffix => compact.ends_with(p) && compact.len() > p.len(),
            Match::Contains => compact.contains(p),
        })
        .map(|(_, _, t, _)| *t)
}

fn is_vocabulary_uncached(term: &str) -> bool {
    let norm = normalize_term(term);
    TERMS
        .iter()
        .any(|(p, m, _, r)| *r == Role::Term && *m == Match::Exact && *p == norm)
}

/// [`classify`] without the "benign" answer.
pub fn normalize(term: &str) -> Option<&'static str> {
    classify(term).filter(|t| !t.is_empty())
}

/// The risk a record of `threat_type` carries ([`ThreatType::risk_of`]).
pub fn risk(threat_type: &str) -> RiskLevel {
    ThreatType::risk_of(threat_type)
}

/// Position in the specificity order, [`ThreatType::ALL`] (unknown types rank with generic
/// Malware).
fn rank(threat_type: &str) -> usize {
    let of = |t: ThreatType| ThreatType::ALL.iter().position(|a| *a == t);
    ThreatType::ALL
        .iter()
        .position(|t| t.code() == threat_type)
        .or_else(|| of(ThreatType::Malware))
        .unwrap_or(0)
}

/// The most specific of several threat types.
pub fn most_specific<'a>(types: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    types
        .into_iter()
        .filter(|t| !t.is_empty())
        .min_by_key(|t| rank(t))
}

/// The threat type of a maltrail trail file from its category directory (`malware`,
/// `malicious`, `suspicious`) and its stem: the stem through [`classify`] first (so
/// `apt_oceanlotus` is APT and `cobaltstrike` a C&C server); otherwise `malware` → Malware,
/// `malicious` → Attack Source, anything else → Suspicious. Under `suspicious` the stem may
/// only make it a Miner Pool: that directory holds PUA, parking, anonymisers and the like.
pub fn maltrail_threat_type(category: &str, stem: &str) -> &'static str {
    let by_stem = normalize(stem);
    match category {
        "malware" => by_stem.unwrap_or(MALWARE),
        "malicious" => by_stem.unwrap_or(ATTACK_SOURCE),
        _ => match by_stem {
            Some(MINER_POOL) => MINER_POOL,
            _ => SUSPICIOUS,
        },
    }
}

/// The key of an ATT&CK tactic or kill-chain phase ([`AttackStage::key_of`]).
pub fn stage_key(stage: &str) -> Option<String> {
    AttackStage::key_of(stage)
}

/// Victim-industry key of a STIX `sectors` value or similar: the [`Industry`] code, else the
/// sector's normalised term.
pub fn industry_key(sector: &str) -> String {
    let sector = normalize_term(sector);
    match Industry::of_sector(&sector) {
        Some(industry) => industry.code().to_owned(),
        None => sector,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies() {
        let cases = [
            ("malicious-activity", Some(MALWARE)),
            ("anomalous-activity", Some(SUSPICIOUS)),
            ("compromised", Some(SUSPICIOUS)),
            ("attribution", Some(APT)),
            ("botnet_cc", Some(C2)),
            ("payload_delivery", Some(MALICIOUS_SOURCE)),
            ("malware_download", Some(MALICIOUS_SOURCE)),
            ("C&C Server", Some(C2)),
            ("#phishing", Some(PHISHING)),
            ("AsyncRAT", Some(RAT)),
            ("Cobalt Strike", Some(C2)),
            ("apt_oceanlotus", Some(APT)),
            ("APT32", Some(APT)),
            ("ek_angler", Some(EXPLOIT)),
            ("mykings_miner", Some(MINER_POOL)),
            ("benign", Some(BENIGN)),
            ("Karate", None),
            ("", None),
        ];
        for (term, want) in cases {
            assert_eq!(classify(term), want, "{term}");
        }
    }

    #[test]
    fn remembered_answers_are_the_table_s_even_past_the_bound() {
        for round in 0..3 {
            for i in 0..REMEMBERED_TERMS + 10 {
                let term = ["asyncrat", "C&C Server", "Karate", "phishing"][i % 4];
                let term = format!(
                    "{term}{}",
                    if i % 8 < 4 {
                        String::new()
                    } else {
                        i.to_string()
                    }
                );
                assert_eq!(
                    classify(&term),
                    classify_uncached(&term),
                    "{term} (round {round})"
                );
                assert_eq!(
                    is_vocabulary(&term),
                    is_vocabulary_uncached(&term),
                    "{term}"
                );
            }
        }
    }

    #[test]
    fn risks_and_order() {
        assert_eq!(risk(C2), RiskLevel::High);
        assert_eq!(risk(SCANNER), RiskLevel::Low);
        assert_eq!(risk(SPAM), RiskLevel::Medium);
        assert_eq!(most_specific([MALWARE, RANSOMWARE]), Some(RANSOMWARE));
        assert_eq!(
            stage_key("Command and Control").as_deref(),
            Some("command-and-control")
        );
        assert_eq!(
            stage_key("mitre-attack:defense-evasion").as_deref(),
            Some("defense-evasion")
        );
    }

    #[test]
    fn maltrail_categories() {
        assert_eq!(maltrail_threat_type("malware", "apt_oceanlotus"), APT);
        assert_eq!(maltrail_threat_type("malware", "zloader"), MALICIOUS_SOURCE);
        assert_eq!(maltrail_threat_type("malware", "kinsing"), MALWARE);
        assert_eq!(maltrail_threat_type("malicious", "sliver"), C2);
        assert_eq!(
            maltrail_threat_type("suspicious", "crypto_mining"),
            MINER_POOL
        );
        assert_eq!(
            maltrail_threat_type("suspicious", "parking_site"),
            SUSPICIOUS
        );
    }
}
