//! The 1M-record synthetic bench store (1,000,000 indicator records, 1,000,000 resolutions,
//! 100,000 allowlist entries), shared by the report and console benches: generated once at
//! `target/bench-store/report-1m.db` (deterministic, seeded; about a minute) and reused.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use threatintel_model::*;
use threatintel_report::{ReportConfig, ReportEngine, VerdictConfig};
use threatintel_store::{SqliteStore, Store};

const INDICATORS: u64 = 1_000_000;
const RESOLUTIONS: u64 = 1_000_000;
const ALLOWLIST: u64 = 100_000;
const SOURCES: [(&str, Reliability); 5] = [
    ("feed-a", Reliability::A),
    ("feed-b", Reliability::B),
    ("feed-c", Reliability::C),
    ("feed-d", Reliability::D),
    ("feed-e", Reliability::B),
];
const THREAT_TYPES: [&str; 5] = [
    "C&C Server",
    "Malicious Source",
    "Phishing",
    "Botnet",
    "Trojan",
];

pub fn report_time() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).expect("synthetic names are valid")
}

/// Half the records are on `bad{n}.com`, half on `c2.bad{n}.com`; two sources per name.
fn generate(path: &PathBuf) {
    let started = Instant::now();
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let store = SqliteStore::open(&tmp).unwrap();
    let mut rng = StdRng::seed_from_u64(20240601);
    let at = report_time();
    let mut w = store.writer().unwrap();
    for (source, reliability) in SOURCES {
        w.put(&Evidence::Source(Source {
            name: source.into(),
            reliability,
            default_threat_type: None,
        }))
        .unwrap();
    }
    w.put(&Evidence::Allowlist(Allowlist {
        name: "top".into(),
        kind: AllowlistKind::TopSites,
        enabled: true,
    }))
    .unwrap();
    for i in 0..INDICATORS {
        let sld = format!("bad{}.com", i / 4);
        let n = if (i / 2) % 2 == 0 {
            sld
        } else {
            format!("c2.{sld}")
        };
        let last = at - chrono::Duration::days(rng.gen_range(0..150));
        w.put(&Evidence::Indicator(IndicatorRecord {
            name: name(&n),
            zone: false,
            source: SOURCES[(i % 2 + (i / 4) % 3) as usize].0.into(),
            threat_type: THREAT_TYPES[(i / 4 % 5) as usize].into(),
            label: Some(format!("family{}", i % 97)),
            risk: if i % 7 == 0 {
                RiskLevel::Medium
            } else {
                RiskLevel::High
            },
            scenario: None,
            attack_stage: Some("command-and-control".into()),
            first_seen: last - chrono::Duration::days(30),
            last_seen: last,
            confidence: Some(rng.gen_range(50..100)),
            reference: Some(format!("https://feed.example/{i}")),
            via_url: false,
        }))
        .unwrap();
    }
    for j in 0..RESOLUTIONS {
        let n = if j % 10 == 0 {
            format!("bad{}.com", j / 10)
        } else {
            format!("www{}.site{}.net", j % 3, j / 3)
        };
        let last = at - chrono::Duration::days(rng.gen_range(0..500));
        w.put(&Evidence::Resolution(Resolution {
            name: name(&n),
            ip: IpAddr::V4(Ipv4Addr::from(rng.gen::<u32>())),
            first_seen: last - chrono::Duration::days(10),
            last_seen: last,
            count: 1,
        }))
        .unwrap();
    }
    for k in 0..ALLOWLIST {
        w.put(&Evidence::AllowlistEntry(AllowlistEntry {
            name: name(&format!("top{k}.org")),
            matching: AllowMatch::Hostname,
            list: "top".into(),
            rank: Some(k as u32 + 1),
        }))
        .unwrap();
    }
    w.commit().unwrap();
    drop(store);
    std::fs::rename(&tmp, path).unwrap();
    let _ = std::fs::remove_file(tmp.with_extension("tmp-wal"));
    let _ = std::fs::remove_file(tmp.with_extension("tmp-shm"));
    eprintln!("generated {} in {:.1?}", path.display(), started.elapsed());
}

pub fn engine() -> ReportEngine {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-store");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report-1m.db");
    if !path.exists() {
        generate(&path);
    }
    let store = SqliteStore::open(&path).unwrap();
    let stats = store.reader().unwrap().stats().unwrap();
    eprintln!(
        "store: {} indicators, {} resolutions, {} allowlist entries",
        stats.indicators, stats.resolutions, stats.allowlist_entries
    );
    let store: Arc<dyn Store> = Arc::new(store);
    ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default()).unwrap()
}
