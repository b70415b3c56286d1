//! Passive DNS COF: every corpus sample line, snapshotted; rdata string and array forms;
//! precise errors for broken lines.

use threatintel_model::RelationKind;
use threatintel_parse::context::pdns::{parse_cof_line, PdnsError, PdnsRecord};

use super::{corpus_path, files_with_suffix};

#[test]
fn cof_corpus_samples_snapshot() {
    let dir = corpus_path("passive_dns_cof/samples");
    let files = files_with_suffix(&dir, ".jsonl");
    assert_eq!(files.len(), 5, "corpus not found");
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            let records =
                parse_cof_line(line, "pdns").unwrap_or_else(|e| panic!("{name}:{}: {e}", i + 1));
            out.push(serde_json::json!({ "file": name, "line": i + 1, "records": records }));
        }
    }
    insta::assert_json_snapshot!(out);
}

#[test]
fn rdata_forms_and_kinds() {
    let arr = r#"{"rrname":"www.circl.lu.","rrtype":"CNAME","rdata":["cpa.circl.lu.","cpb.circl.lu"],"time_first":1315586409,"time_last":1449566799}"#;
    let recs = parse_cof_line(arr, "pdns").unwrap();
    assert_eq!(recs.len(), 2);
    assert!(
        matches!(&recs[0], PdnsRecord::Relation(r) if r.target.as_str() == "cpa.circl.lu" && r.count == 1)
    );
    let a = r#"{"rrname":"ietf.org","rrtype":"A","rdata":"64.170.98.32","time_first":1298495035,"time_last":1298495035,"count":4}"#;
    assert!(
        matches!(&parse_cof_line(a, "pdns").unwrap()[0], PdnsRecord::Resolution(r) if r.count == 4)
    );
    let mx = r#"{"rrname":"ietf.org","rrtype":"MX","rdata":"10 mail.ietf.org","time_first":1,"time_last":2}"#;
    assert!(
        matches!(&parse_cof_line(mx, "pdns").unwrap()[..], [PdnsRecord::Relation(r)] if r.kind == RelationKind::Mx && r.target.as_str() == "mail.ietf.org" && r.source == "pdns")
    );
    let txt = r#"{"rrname":"ietf.org","rrtype":"TXT","rdata":"v=spf1 -all","time_first":1,"time_last":2}"#;
    assert!(parse_cof_line(txt, "pdns").unwrap().is_empty());
    let ms = r#"{"rrname":"x.example","rrtype":"A","rdata":"192.0.2.1","time_first_ms":1000,"time_last_ms":2000}"#;
    assert_eq!(parse_cof_line(ms, "pdns").unwrap().len(), 1);
}

#[test]
fn cof_errors_are_precise() {
    let e = |l: &str| parse_cof_line(l, "pdns").unwrap_err();
    assert!(matches!(e("{"), PdnsError::Json(_)));
    assert_eq!(e("[1]"), PdnsError::NotAnObject);
    assert_eq!(
        e(r#"{"rrtype":"A","rdata":"1.2.3.4","time_first":1,"time_last":2}"#),
        PdnsError::Missing("rrname")
    );
    assert_eq!(
        e(r#"{"rrname":"a.example","rrtype":"A","rdata":"::1","time_first":1,"time_last":2}"#),
        PdnsError::BadAddress("::1".to_owned())
    );
    assert!(matches!(
        e(r#"{"rrname":"a.example","rrtype":"A","rdata":"1.2.3.4","time_first":5,"time_last":2}"#),
        PdnsError::TimeOrder { .. }
    ));
    assert!(matches!(
        e(r#"{"rrname":"a b","rrtype":"A","rdata":"1.2.3.4","time_first":1,"time_last":2}"#),
        PdnsError::BadName {
            field: "rrname",
            ..
        }
    ));
    assert_eq!(
        e(r#"{"rrname":"a.example","rrtype":"A","rdata":7,"time_first":1,"time_last":2}"#),
        PdnsError::Type {
            field: "rdata",
            expected: "a string or an array of strings"
        }
    );
    assert!(parse_cof_line("  ", "pdns").unwrap().is_empty());
}
