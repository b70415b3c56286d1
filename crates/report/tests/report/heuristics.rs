//! The heuristic judge through the engine, on a store with the corpus's Tranco list (enabled),
//! maltrail's listings of `.xyz` and `.cc`, a disabled dynamic-DNS list, and one fresh
//! registration on a malicious address: the worked examples of `docs/verdict.md` §8.

use std::sync::Arc;

use threatintel_model::*;
use threatintel_report::heuristics::{Signal, TypoKind};
use threatintel_report::{
    CompatReport, FieldSet, HeuristicsConfig, Lang, NativeReport, ReportConfig, ReportEngine,
    ReportRequest, VerdictConfig,
};
use threatintel_store::{SqliteStore, Store};

use super::{allow, at, days_ago, name, resolution, source};

fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let tranco = std::fs::read_to_string(crate::testdata::corpus_path(
        "top_sites/tranco_top10k_2025-06.csv",
    ))
    .expect("the corpus's Tranco list");
    let mut evidence = vec![
        Evidence::Allowlist(Allowlist {
            name: "tranco".into(),
            kind: AllowlistKind::TopSites,
            enabled: true,
        }),
        Evidence::Allowlist(Allowlist {
            name: "dynamic-dns".into(),
            kind: AllowlistKind::Curated,
            enabled: false,
        }),
        allow("duckdns.org", "dynamic-dns", AllowMatch::Hostname, None),
        // Free hosting the PSL does not list, on a disabled top-site list: the zone is never
        // judged, its customers are.
        Evidence::Allowlist(Allowlist {
            name: "lots-project".into(),
            kind: AllowlistKind::Curated,
            enabled: false,
        }),
        allow(
            "freehost.example",
            "lots-project",
            AllowMatch::Hostname,
            None,
        ),
        Evidence::Allowlist(Allowlist {
            name: "majestic".into(),
            kind: AllowlistKind::TopSites,
            enabled: false,
        }),
        allow("freehost.example", "majestic", AllowMatch::Hostname, None),
        // A zone the warninglists do not call shared hosting, on the disabled top-site list
        // (as `sharepoint.com` is on `majestic_million`), whose customers the store lists:
        // six listed, two only resolved, one on Tranco.
        allow("sites.example", "majestic", AllowMatch::Hostname, None),
        resolution("team-a.sites.example", "198.51.100.1", 1),
        resolution("team-b.sites.example", "198.51.100.2", 1),
        allow(
            "paypal-login-help.sites.example",
            "tranco",
            AllowMatch::Hostname,
            Some(50_000),
        ),
        source("maltrail", Reliability::C),
        source("ipfeed", Reliability::B),
        Evidence::IpIntel(IpIntel {
            network: "203.0.113.0/24".parse().unwrap(),
            risk: RiskLevel::High,
            source: "ipfeed".into(),
            threat_type: Some("C&C Server".into()),
        }),
        resolution("paypal-secure-login.com", "203.0.113.7", 1),
        whois("paypal-secure-login.com", Some(days_ago(5)), &[]),
    ];
    evidence.extend(["xyz", "cc"].map(|s| suffix_listing(name(s))));
    // The store's own listings: 150 malicious names under `.top` (a TLD Tranco hardly has),
    // four of them served by one name server, which also serves `secure-quiet-shop.top`.
    for i in 0..150 {
        evidence.push(listed(&format!("c2-{i}.top")));
    }
    for i in 0..6 {
        evidence.push(listed(&format!("tenant-{i}.sites.example")));
    }
    // A zone of listed customers no list names (a campaign's own domain).
    for i in 0..5 {
        evidence.push(listed(&format!("drop-{i}.kit.example")));
    }
    for domain in [
        "c2-0.top",
        "c2-1.top",
        "c2-2.top",
        "c2-3.top",
        "secure-quiet-shop.top",
    ] {
        evidence.push(whois(domain, None, &["NS1.Bulletproof.example."]));
    }
    for (i, line) in tranco.lines().skip(1).enumerate() {
        if let Ok(n) = DomainName::parse(line.trim()) {
            evidence.push(allow(
                n.as_str(),
                "tranco",
                AllowMatch::Hostname,
                Some(i as u32 + 1),
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("heuristics.db")).unwrap();
    let mut writer = store.writer().unwrap();
    writer.put_batch(&evidence).unwrap();
    writer.commit().unwrap();
    (dir, Arc::new(store))
}

/// A WHOIS record of `domain` seen yesterday, created at `created`, with its name servers.
fn whois(domain: &str, created: Option<Timestamp>, nameservers: &[&str]) -> Evidence {
    Evidence::Whois(Box::new(WhoisRecord {
        domain: name(domain),
        registrar: Registrar::default(),
        registrant: Contact::default(),
        admin: Contact::default(),
        tech: Contact::default(),
        whois_server: String::new(),
        dnssec: String::new(),
        nameservers: nameservers.iter().map(|s| s.to_string()).collect(),
        status: Vec::new(),
        created,
        expires: None,
        updated: None,
        observed_at: days_ago(1),
        raw: String::new(),
    }))
}

/// A feed's malicious record on `host`.
fn listed(host: &str) -> Evidence {
    match suffix_listing(name(host)) {
        Evidence::Indicator(mut r) => {
            r.zone = false;
            r.threat_type = "C&C Server".into();
            Evidence::Indicator(r)
        }
        _ => unreachable!(),
    }
}

/// maltrail's listing of a whole public suffix (`suspicious/domain.txt`), as its import stores it.
pub(super) fn suffix_listing(suffix: DomainName) -> Evidence {
    Evidence::Indicator(IndicatorRecord {
        name: suffix,
        zone: true,
        source: "maltrail".into(),
        threat_type: "Suspicious".into(),
        label: Some("domain".into()),
        risk: RiskLevel::Medium,
        scenario: None,
        attack_stage: None,
        first_seen: days_ago(30),
        last_seen: days_ago(1),
        confidence: None,
        reference: None,
        via_url: false,
    })
}

fn judge_engine(config: HeuristicsConfig) -> (tempfile::TempDir, ReportEngine) {
    let (dir, store) = store();
    let engine = ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default())
        .unwrap()
        .with_heuristics(config)
        .unwrap();
    (dir, engine)
}

fn report(engine: &ReportEngine, domain: &str, heuristics: bool) -> NativeReport {
    engine
        .report(&ReportRequest {
            query: DomainQuery::parse(domain).unwrap(),
            fields: FieldSet::ALL,
            at: at(),
            with_lists: false,
            heuristics,
        })
        .unwrap()
}

/// (level, confidence, signal keys strongest first) of `domain`.
fn check(engine: &ReportEngine, domain: &str, expected: (ThreatLevel, u8, &str)) {
    let r = report(engine, domain, true);
    let label = r.heuristics.as_ref().map(|h| h.label()).unwrap_or_default();
    assert_eq!(
        (r.verdict.level, r.verdict.confidence, label.as_str()),
        expected,
        "{domain}: {:#?}",
        r.heuristics
    );
}

#[test]
fn worked_examples() {
    let (_dir, engine) = judge_engine(HeuristicsConfig::default());
    use ThreatLevel::*;
    for (domain, expected) in [
        (
            "paypal-login-secure.xyz",
            (Low, 76, "lure_words+brand_label+suffix_listed"),
        ),
        (
            "paypal.com.verify-account.xyz",
            (
                Medium,
                88,
                "lure_words+brand_domain_in_subdomain+deep_subdomain+suffix_listed",
            ),
        ),
        ("paypall.com", (Unknown, 0, "")),
        ("paypall.xyz", (Low, 60, "typosquat+suffix_listed")),
        ("xn--pypal-4ve.com", (Low, 64, "homoglyph+mixed_script")),
        (
            "paypal-secure-login.com",
            (
                Medium,
                98,
                "lure_words+malicious_ips+newly_registered+brand_label",
            ),
        ),
        (
            "login.paypal-secure.duckdns.org",
            (Low, 77, "lure_words+brand_label+shared_hosting"),
        ),
        (
            "verify-account.freehost.example",
            (Low, 66, "lure_words+shared_hosting"),
        ),
        ("freehost.example", (Unknown, 0, "")),
        ("wkbekxdhwo.com", (Low, 63, "algorithmic")),
        ("wkbekxdhwo-login.com", (Low, 71, "algorithmic+lure_words")),
        ("xjqzkvbwtpl.com", (Low, 64, "algorithmic")),
        ("gacycaz.com", (Low, 60, "algorithmic")),
        ("wordy-hyphenated-label.com", (Unknown, 0, "")),
        ("totally-random-name-4711.cc", (Unknown, 0, "")),
        (
            "secure-quiet-shop.top",
            (
                Low,
                66,
                "nameserver_shared_with_listed+lure_words+tld_listed_share",
            ),
        ),
        ("quiet-shop.top", (Unknown, 0, "")),
        (
            "paypal-login.sites.example",
            (Low, 60, "brand_label+lure_words+zone_listed_share"),
        ),
        ("quiet-team.sites.example", (Unknown, 0, "")),
        (
            "login-page.kit.example",
            (Low, 61, "zone_listed_share+lure_words"),
        ),
        ("quiet-page.kit.example", (Unknown, 0, "")),
        ("sites.example", (Unknown, 0, "")),
        ("paypal-login-help.sites.example", (Safe, 90, "")),
        ("paypal.com", (Safe, 98, "")),
        ("www.paypal.com", (Safe, 98, "")),
    ] {
        check(&engine, domain, expected);
    }
}

#[test]
fn the_store_s_listings_explain_the_tld_and_name_server_signals() {
    let (_dir, engine) = judge_engine(HeuristicsConfig::default());
    let r = report(&engine, "secure-quiet-shop.top", true);
    let signals: Vec<Signal> = r
        .heuristics
        .unwrap()
        .signals
        .into_iter()
        .map(|s| s.signal)
        .collect();
    assert!(
        signals.contains(&Signal::NameserverSharedWithListed {
            nameserver: "ns1.bulletproof.example".into(),
            domains: 4,
            listed: 4,
        }),
        "{signals:#?}"
    );
    let tld = signals.iter().find_map(|s| match s {
        Signal::TldListedShare {
            tld,
            names,
            listed,
            store_share,
        } => Some((tld.as_str(), *names, *listed, *store_share)),
        _ => None,
    });
    let (tld, names, listed, store_share) = tld.expect("tld_listed_share");
    // 150 listed and `secure-quiet-shop.top`, plus the few `.top` names of Tranco.
    assert_eq!((tld, listed), ("top", 150));
    assert!((151..170).contains(&names), "{names}");
    assert!(store_share > 0.01 && store_share < 0.02, "{store_share}");
    // Asking for more domains than the name server's 4 silences it; the lure and the TLD
    // (0.4 + 0.3) stay below level 1.
    let (_dir, strict) = judge_engine(HeuristicsConfig {
        listed_share: threatintel_report::heuristics::ListedShareConfig {
            nameserver_min_domains: 5,
            ..Default::default()
        },
        ..HeuristicsConfig::default()
    });
    let r = report(&strict, "secure-quiet-shop.top", true);
    assert_eq!(r.verdict.level, ThreatLevel::Unknown, "{:#?}", r.heuristics);
}

#[test]
fn a_zone_of_listed_customers_explains_its_counts() {
    let (_dir, engine) = judge_engine(HeuristicsConfig::default());
    let r = report(&engine, "paypal-login.sites.example", true);
    let hits = r.heuristics.expect("judged").signals;
    let zone = hits
        .iter()
        .find_map(|h| match &h.signal {
            Signal::ZoneListedShare {
                zone,
                names,
                listed,
                store_share,
                top_site,
            } => Some((
                zone.as_str(),
                *names,
                *listed,
                *store_share,
                *top_site,
                h.contribution,
            )),
            _ => None,
        })
        .expect("zone_listed_share");
    // Six listed tenants, two resolved ones and the Tranco entry are its direct children.
    // `sites.example` is on a (disabled) top-site list: the top-site zone's weight.
    let (zone, names, listed, store_share, top_site, contribution) = zone;
    assert_eq!(
        (zone, names, listed, top_site, contribution),
        ("sites.example", 9, 6, true, 0.05)
    );
    assert!(store_share > 0.01 && store_share < 0.02, "{store_share}");
    // `kit.example` is on no top-site list: the other weight.
    let r = report(&engine, "login-page.kit.example", true);
    let h = r.heuristics.expect("judged");
    assert!(
        matches!(
            (&h.signals[0].signal, h.signals[0].contribution),
            (
                Signal::ZoneListedShare {
                    names: 5,
                    listed: 5,
                    top_site: false,
                    ..
                },
                0.65
            )
        ),
        "{h:#?}"
    );
    // A listed tenant is decided by its record, not judged.
    let r = report(&engine, "tenant-0.sites.example", true);
    assert!(r.heuristics.is_none() && r.verdict.level == ThreatLevel::Medium);
    // Deeper names below the zone carry the signal too.
    let r = report(&engine, "login.paypal-secure.sites.example", true);
    let keys = r.heuristics.map(|h| h.label()).unwrap_or_default();
    assert!(keys.contains("zone_listed_share"), "{keys}");
    // Asking for more listed children than its six: the zone says nothing, and a name below
    // the top site `sites.example` is not judged at all.
    for strict in [
        threatintel_report::heuristics::ListedShareConfig {
            zone_min_listed: 7,
            ..Default::default()
        },
        // 6 of 9 listed is less than 50 times the store's share.
        threatintel_report::heuristics::ListedShareConfig {
            zone_min_lift: 50.0,
            ..Default::default()
        },
    ] {
        let (_dir, strict) = judge_engine(HeuristicsConfig {
            listed_share: strict,
            ..HeuristicsConfig::default()
        });
        let r = report(&strict, "paypal-login.sites.example", true);
        assert_eq!(
            (r.verdict.level, r.heuristics.is_none()),
            (ThreatLevel::Unknown, true)
        );
    }
}

#[test]
fn typosquats_say_which_edit() {
    let (_dir, engine) = judge_engine(HeuristicsConfig::default());
    for (domain, edit) in [
        ("paypl.xyz", TypoKind::Omission),
        ("paypall.xyz", TypoKind::Doubling),
        ("papyal.xyz", TypoKind::Transposition),
        ("paypak.xyz", TypoKind::AdjacentKey),
        ("paypel.xyz", TypoKind::Substitution),
    ] {
        let r = report(&engine, domain, true);
        let signals = r.heuristics.expect(domain).signals;
        assert!(
            signals
                .iter()
                .any(|s| matches!(&s.signal, Signal::Typosquat { brand, edit: e } if brand == "paypal" && *e == edit)),
            "{domain}: {signals:#?}"
        );
    }
}

#[test]
fn without_heuristics_an_unlisted_name_is_unknown() {
    let (_dir, engine) = judge_engine(HeuristicsConfig::default());
    for domain in ["paypal-login-secure.xyz", "paypal-secure-login.com"] {
        let r = report(&engine, domain, false);
        assert_eq!(
            (r.verdict.level, r.heuristics.is_none()),
            (ThreatLevel::Unknown, true)
        );
    }
    let (_dir, off) = judge_engine(HeuristicsConfig {
        enabled: false,
        ..HeuristicsConfig::default()
    });
    let r = report(&off, "paypal-login-secure.xyz", true);
    assert_eq!(r.verdict.level, ThreatLevel::Unknown);
}

#[test]
fn the_compatibility_report_names_the_judge_and_its_signals() {
    let (_dir, engine) = judge_engine(HeuristicsConfig::default());
    let r = report(&engine, "paypal-login-secure.xyz", true);
    let json = CompatReport::to_json(&r, Lang::En, engine.offset(), "id".into());
    let body: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(body["ThreatLevel"], "1");
    assert_eq!(body["Confidence"], "76");
    let intelligences: serde_json::Value =
        serde_json::from_str(body["Intelligences"].as_str().unwrap()).unwrap();
    assert_eq!(
        intelligences.as_array().unwrap().len(),
        1,
        "{intelligences}"
    );
    let text = intelligences.to_string();
    assert!(text.contains("threatintel-heuristics"), "{text}");
    assert!(
        text.contains("lure_words+brand_label+suffix_listed"),
        "{text}"
    );
}

#[test]
fn the_generated_name_signal_lists_its_features() {
    let (_dir, engine) = judge_engine(HeuristicsConfig::default());
    let r = report(&engine, "gacycaz.com", true);
    let hit = &r.heuristics.expect("judged").signals[0];
    let Signal::Algorithmic {
        label,
        alternation,
        y_vowel,
        hard_run,
        z,
        ..
    } = &hit.signal
    else {
        panic!("{hit:#?}");
    };
    // One `y` between two consonants (`c-y-c`) among 7 letters; the 5-gram model finds at
    // most 2 characters in a row hard.
    assert_eq!(
        (label.as_str(), *alternation, *hard_run),
        ("gacycaz", 1.0, 2)
    );
    assert!((y_vowel - 1.0 / 7.0).abs() < 1e-12, "{y_vowel}");
    assert!((0.2..0.4).contains(z), "{z}");
    assert!(
        (hit.contribution - 1.02).abs() < 0.01,
        "{}",
        hit.contribution
    );
}

/// A store that tells it knows nothing of a zone whenever a reader finds nothing of it: the
/// most [`Store::knows_nothing_of`] may tell.
struct TellsAll(Arc<dyn Store>);

impl Store for TellsAll {
    fn writer(&self) -> threatintel_store::Result<Box<dyn threatintel_store::StoreWriter + '_>> {
        self.0.writer()
    }

    fn reader(&self) -> threatintel_store::Result<Box<dyn threatintel_store::StoreReader + '_>> {
        self.0.reader()
    }

    fn knows_nothing_of(&self, zone: &DomainName) -> bool {
        !self.0.reader().unwrap().knows_zone(zone).unwrap()
    }
}

/// The report of a name the store knows nothing of, made without a reader, is the report a
/// reader gives; a name the store knows something of is not answered so.
#[test]
fn names_the_store_knows_nothing_of_are_reported_alike_without_a_reader() {
    let (_dir, store) = store();
    let engine = ReportEngine::new(
        Arc::new(TellsAll(store)),
        VerdictConfig::default(),
        ReportConfig::default(),
    )
    .unwrap()
    .with_heuristics(HeuristicsConfig::default())
    .unwrap();
    let request = |domain: &str, heuristics: bool| ReportRequest {
        query: DomainQuery::parse(domain).unwrap(),
        fields: FieldSet::ALL,
        at: at(),
        with_lists: false,
        heuristics,
    };
    assert_eq!(
        engine.report_without_store(&request("paypall.com", true)),
        None,
        "before the judge's model is built"
    );
    engine.prepare_heuristics().unwrap();
    // Each name, and whether the store knows nothing of its zone.
    for (domain, nothing_known) in [
        ("paypall.com", true),
        ("gacycaz.com", true),
        ("xjqzkvbwtpl.com", true),
        ("wkbekxdhwo-login.com", true),
        ("wordy-hyphenated-label.com", true),
        ("xn--pypal-4ve.com", true),
        ("*.unknown-zone.net", true),
        // Below a private suffix: the allowlist entry on `duckdns.org` reaches no name below it.
        ("login.paypal-secure.duckdns.org", true),
        ("paypal-secure-login.com", false),
        ("paypal.com", false),
        ("paypl.xyz", false),
        ("login.paypal-secure.sites.example", false),
        ("quiet-page.kit.example", false),
        ("secure-quiet-shop.top", false),
        ("c2-0.top", false),
    ] {
        for heuristics in [true, false] {
            let request = request(domain, heuristics);
            let told = engine.report_without_store(&request);
            assert_eq!(told.is_some(), nothing_known, "{domain}");
            if let Some(report) = told {
                assert_eq!(report, engine.report(&request).unwrap(), "{domain}");
            }
        }
    }
}
