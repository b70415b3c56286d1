//! DescribeFileReport: golden reports of a file listed by its MD5 and asked by its SHA-256 (a
//! second source linked the hashes), and of an unknown hash.

use super::*;
use threatintel_report::{CompatFileReport, FileReportRequest, NativeFileReport};

const MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
const SHA1: &str = "3395856ce81f2b7382dee72602f798b642f14140";
const SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

fn hashes(values: &[&str]) -> FileHashes {
    FileHashes::new(values.iter().map(|h| h.parse().unwrap())).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn file_record(
    of: &[&str],
    source: &str,
    threat_type: &str,
    label: Option<&str>,
    file_names: &[&str],
    file_type: Option<&str>,
    size: Option<u64>,
    last: i64,
) -> Evidence {
    Evidence::FileRecord(Box::new(FileRecord {
        hashes: hashes(of),
        source: source.into(),
        threat_type: threat_type.into(),
        label: label.map(str::to_owned),
        risk: RiskLevel::High,
        scenario: None,
        file_type: file_type.map(str::to_owned),
        size,
        file_names: file_names.iter().map(|n| (*n).to_owned()).collect(),
        first_seen: days_ago(last + 20),
        last_seen: days_ago(last),
        confidence: None,
        reference: Some(format!("https://{source}.example/{}", of[0])),
    }))
}

fn file_fixture() -> Vec<Evidence> {
    vec![
        source("hash-feed", Reliability::B),
        source("bazaar", Reliability::A),
        // Known by its MD5 first ...
        file_record(
            &[MD5],
            "hash-feed",
            "Malware",
            Some("Emotet"),
            &["invoice.doc"],
            None,
            None,
            5,
        ),
        // ... then linked to its SHA-1 and SHA-256 by a source that gives all three.
        file_record(
            &[MD5, SHA1, SHA256],
            "bazaar",
            "Malware",
            Some("Emotet"),
            &["invoice.doc", "payload.exe"],
            Some("exe"),
            Some(68),
            1,
        ),
    ]
}

fn file_engine() -> (tempfile::TempDir, ReportEngine) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("file.db")).unwrap();
    let mut writer = store.writer().unwrap();
    writer.put_batch(&file_fixture()).unwrap();
    writer.commit().unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let engine =
        ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default()).unwrap();
    (dir, engine)
}

fn file_native(engine: &ReportEngine, hash: &str, fields: FieldSet) -> NativeFileReport {
    engine
        .file_report(&FileReportRequest {
            hash: hash.parse().unwrap(),
            fields,
            at: at(),
        })
        .unwrap()
}

const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000000";

fn file_golden(engine: &ReportEngine, hash: &str, lang: Lang) -> String {
    let report = file_native(engine, hash, FieldSet::ALL);
    let compat = CompatFileReport::render(&report, lang, engine.offset(), REQUEST_ID.into());
    expanded(serde_json::to_value(compat).unwrap())
}

/// Any of the linked hashes, in any case, answers for the same file with both sources.
#[test]
fn file_any_linked_hash_answers_for_the_file() {
    let (_dir, engine) = file_engine();
    let by_md5 = file_native(&engine, MD5, FieldSet::ALL);
    assert_eq!(by_md5.verdict.records.len(), 2);
    assert_eq!(by_md5.verdict.level, ThreatLevel::High);
    assert_eq!(by_md5.verdict.support.len(), 2, "corroborated by both");
    for asked in [SHA1, SHA256, &SHA256.to_ascii_uppercase()] {
        let other = file_native(&engine, asked, FieldSet::ALL);
        assert_eq!(other.verdict, by_md5.verdict, "{asked}");
        assert_eq!(other.file, by_md5.file);
    }
    assert_eq!(by_md5.file.file_names, ["invoice.doc", "payload.exe"]);
    assert_eq!(by_md5.file.file_type.as_deref(), Some("exe"));
    assert_eq!(by_md5.file.size, Some(68));
    let unknown = file_native(&engine, &"0".repeat(64), FieldSet::ALL);
    assert_eq!(unknown.verdict.level, ThreatLevel::Unknown);
    assert!(unknown.verdict.records.is_empty());
}

/// Decay: a file last seen long ago is no longer high risk.
#[test]
fn file_records_decay_as_any_claim() {
    let (_dir, engine) = file_engine();
    let later = engine
        .file_report(&FileReportRequest {
            hash: MD5.parse().unwrap(),
            fields: FieldSet::NONE,
            at: at() + Duration::days(3650),
        })
        .unwrap();
    assert!(
        later.verdict.level < ThreatLevel::High,
        "{:?}",
        later.verdict.level
    );
}

/// The one-pass JSON body is the serialized fields, byte for byte.
#[test]
fn file_json_body_is_the_serialized_report() {
    let (_dir, engine) = file_engine();
    for hash in [MD5, SHA256, &"0".repeat(32)] {
        for fields in every_field_set() {
            let report = file_native(&engine, hash, fields);
            for lang in [Lang::Zh, Lang::En] {
                let rendered =
                    CompatFileReport::render(&report, lang, engine.offset(), REQUEST_ID.into());
                assert_eq!(
                    CompatFileReport::to_json(&report, lang, engine.offset(), REQUEST_ID.into()),
                    serde_json::to_string(&rendered).unwrap(),
                    "{hash} {fields} {lang:?}"
                );
            }
        }
    }
}

#[test]
fn golden_file_listed_by_md5_asked_by_sha256() {
    let (_dir, engine) = file_engine();
    insta::assert_snapshot!(file_golden(&engine, SHA256, Lang::Zh));
}

#[test]
fn golden_file_unknown() {
    let (_dir, engine) = file_engine();
    insta::assert_snapshot!(file_golden(&engine, &"ab".repeat(20), Lang::En));
}

#[test]
fn golden_file_native_explanation() {
    let (_dir, engine) = file_engine();
    let report = file_native(&engine, MD5, FieldSet::ALL);
    insta::assert_snapshot!(serde_json::to_string_pretty(&report).unwrap());
}
