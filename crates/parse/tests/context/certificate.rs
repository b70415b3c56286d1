//! Certificate goldens: every visible corpus certificate against its `.expected.json`
//! (OpenSSL RFC 2253 names, serial, validity, SHA-256, SAN lists), with a match rate per
//! field; plus an insta snapshot of our own output for a real chain.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::Value;
use threatintel_parse::context::certificate::{parse_certificates, CertError};

use super::{corpus_path, files_with_suffix, full_corpus_present, observed_at};

/// `serial_hex` → decimal, for serials of any length.
fn hex_to_decimal(hex: &str) -> Option<String> {
    let mut digits: Vec<u8> = vec![0]; // little-endian base 10
    for c in hex.chars() {
        let v = c.to_digit(16)?;
        let mut carry = v;
        for d in digits.iter_mut() {
            let x = u32::from(*d) * 16 + carry;
            *d = (x % 10) as u8;
            carry = x / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    Some(digits.iter().rev().map(|d| char::from(b'0' + d)).collect())
}

fn exp_time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[test]
fn certificates_match_corpus_expectations() {
    if !full_corpus_present("certificates_match_corpus_expectations") {
        return;
    }
    let dir = corpus_path("certificates/visible");
    let expected_files = files_with_suffix(&dir, ".expected.json");
    assert!(expected_files.len() > 500, "corpus not found");
    const FIELDS: [&str; 9] = [
        "file parses",
        "count",
        "subject",
        "issuer",
        "serial",
        "not_before",
        "not_after",
        "sha256",
        "sans",
    ];
    let mut tally: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut misses = String::new();
    let mut hit =
        |field: &'static str, ok: bool, what: &dyn Fn() -> String, misses: &mut String| {
            let t = tally.entry(field).or_default();
            t.0 += 1;
            if ok {
                t.1 += 1;
            } else {
                let _ = writeln!(misses, "MISS {field}: {}", what());
            }
        };
    for exp_path in &expected_files {
        let cert_path = exp_path.with_file_name(
            exp_path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".expected.json"),
        );
        let name = cert_path.strip_prefix(&dir).unwrap().display().to_string();
        let exp: Value = serde_json::from_str(&std::fs::read_to_string(exp_path).unwrap()).unwrap();
        let bytes = std::fs::read(&cert_path).unwrap();
        let parsed = parse_certificates(&bytes, observed_at(), &name);
        if exp.get("parse_error").is_some() || exp["certificates"].is_null() {
            // Expected failure (truncated PEM): a precise error, not a panic.
            hit(
                "file parses",
                parsed.is_err(),
                &|| format!("{name}: expected an error, got {parsed:?}"),
                &mut misses,
            );
            continue;
        }
        let certs = match parsed {
            Ok(c) => {
                hit("file parses", true, &|| String::new(), &mut misses);
                c
            }
            Err(e) => {
                hit(
                    "file parses",
                    false,
                    &|| format!("{name}: {e}"),
                    &mut misses,
                );
                continue;
            }
        };
        let expected = exp["certificates"].as_array().cloned().unwrap_or_default();
        hit(
            "count",
            certs.len() == expected.len(),
            &|| format!("{name}: {} vs {}", certs.len(), expected.len()),
            &mut misses,
        );
        for (got, want) in certs.iter().zip(&expected) {
            let s = |k: &str| want[k].as_str().unwrap_or("").to_owned();
            hit(
                "subject",
                got.subject == s("subject"),
                &|| format!("{name}: {:?} vs {:?}", got.subject, s("subject")),
                &mut misses,
            );
            hit(
                "issuer",
                got.issuer == s("issuer"),
                &|| format!("{name}: {:?} vs {:?}", got.issuer, s("issuer")),
                &mut misses,
            );
            let serial = hex_to_decimal(&s("serial_hex"));
            hit(
                "serial",
                serial.as_deref() == Some(got.serial.as_str()),
                &|| format!("{name}: {} vs {serial:?}", got.serial),
                &mut misses,
            );
            let nb = exp_time(&want["not_before"]);
            hit(
                "not_before",
                nb == Some(got.not_before),
                &|| format!("{name}: {} vs {:?}", got.not_before, want["not_before"]),
                &mut misses,
            );
            let na = exp_time(&want["not_after"]);
            hit(
                "not_after",
                na == Some(got.not_after),
                &|| format!("{name}: {} vs {:?}", got.not_after, want["not_after"]),
                &mut misses,
            );
            hit(
                "sha256",
                got.sha256 == s("sha256_fingerprint"),
                &|| name.clone(),
                &mut misses,
            );
            let mut sans: Vec<String> = Vec::new();
            for key in ["san_dns", "san_ip"] {
                for v in want[key].as_array().into_iter().flatten() {
                    sans.push(v.as_str().unwrap_or("").to_owned());
                }
            }
            hit(
                "sans",
                got.sans == sans,
                &|| format!("{name}: {:?} vs {sans:?}", got.sans),
                &mut misses,
            );
        }
    }
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<12} {:>8} {:>6} {:>7}",
        "field", "expected", "exact", "%"
    );
    for f in FIELDS {
        let (n, ok) = tally.get(f).copied().unwrap_or_default();
        let _ = writeln!(
            table,
            "{f:<12} {n:>8} {ok:>6} {:>6.1}%",
            100.0 * f64::from(ok) / f64::from(n.max(1))
        );
    }
    if std::env::var("CONTEXT_VERBOSE").is_ok_and(|v| v == "1") {
        eprintln!("{misses}");
    }
    println!(
        "Certificate goldens ({} files)\n{table}",
        expected_files.len()
    );
    for f in FIELDS {
        let (n, ok) = tally[f];
        let pct = 100.0 * f64::from(ok) / f64::from(n);
        assert!(pct >= 95.0, "{f}: {pct:.1}%\n{table}");
    }
}

#[test]
fn truncated_pem_is_a_precise_error() {
    let pem = b"junk\n-----BEGIN CERTIFICATE-----\nMIIB\n";
    assert_eq!(
        parse_certificates(pem, observed_at(), "t"),
        Err(CertError::UnterminatedPem { index: 0 })
    );
    assert_eq!(
        parse_certificates(b"", observed_at(), "t"),
        Err(CertError::Empty)
    );
    assert!(matches!(
        parse_certificates(&[0x30, 0x03, 0x02, 0x01], observed_at(), "t"),
        Err(CertError::Der { index: 0, .. })
    ));
}

#[test]
fn netflix_chain_snapshot() {
    let dir = corpus_path("certificates/visible/webpki/netflix");
    let mut all = Vec::new();
    for f in ["ee.der", "inter.der", "ca.der"] {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        all.extend(parse_certificates(&bytes, observed_at(), f).unwrap());
    }
    insta::assert_json_snapshot!(all);
}
