//! WHOIS accuracy, per field, against the expected outputs that ship with three independent
//! corpora: likexian (`.json`), weppos (`.expected` assertion DSL) and richardpenman (`.json`).
//!
//! Each convention is mapped onto ours by a small adapter:
//! - registrar: likexian and weppos give a registrar `name` and sometimes an `organization`
//!   (for registries that list both a handle and a company, e.g. `.it`); a match on either
//!   counts. richardpenman gives one string.
//! - dates: compared at the granularity the expected file gives: an instant when it has a
//!   time of day, the calendar date (UTC) when it only has a date. likexian's `*_in_time`
//!   is used when present; otherwise its raw date string is read by the adapter's own small
//!   reader (a handful of explicit formats, independent of the parser under test).
//!   richardpenman lists every date line of some answers; its first one is the domain's.
//! - nameservers: the ordered list, lower-cased, without trailing dots, duplicates dropped.
//!
//! The table counts samples that have an expected value; "spurious" counts samples whose
//! expected file says the field is absent (`nil`) but the parser returned a value.
//! `CONTEXT_VERBOSE=1` prints every mismatch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;
use threatintel_model::{DomainName, Timestamp, WhoisRecord};
use threatintel_parse::context::{parse_whois_for, WhoisParse};

use super::{corpus_path, files_with_suffix, full_corpus_present, observed_at};

#[derive(Debug, Clone, PartialEq)]
enum ExpDate {
    Instant(Timestamp),
    Day(NaiveDate),
}

impl ExpDate {
    fn matches(&self, got: Option<Timestamp>) -> bool {
        match (self, got) {
            // Expected instants without a fraction are given to the second.
            (Self::Instant(t), Some(g)) if t.timestamp_subsec_nanos() == 0 => {
                t.timestamp() == g.timestamp()
            }
            (Self::Instant(t), Some(g)) => *t == g,
            (Self::Day(d), Some(g)) => g.date_naive() == *d,
            _ => false,
        }
    }
}

/// `Some(None)`: the expected file says the field is absent; `None`: it says nothing.
#[derive(Debug, Default)]
struct Expected {
    registrar: Option<Option<Vec<String>>>,
    created: Option<Option<ExpDate>>,
    expires: Option<Option<ExpDate>>,
    nameservers: Option<Option<Vec<String>>>,
    not_found: Option<bool>,
}

struct Sample {
    corpus: &'static str,
    id: String,
    text: String,
    queried: Option<DomainName>,
    expected: Expected,
}

#[derive(Default, Clone, Copy)]
struct Tally {
    expected: u32,
    exact: u32,
    spurious: u32,
    absent: u32,
}

fn zone_offset(z: &str) -> Option<i32> {
    Some(match z {
        "UTC" | "GMT" | "Z" | "" => 0,
        "JST" => 9 * 3600,
        "WAT" => 3600,
        "EAT" => 3 * 3600,
        _ => {
            let fixed =
                DateTime::parse_from_str(&format!("2000-01-01 00:00:00 {z}"), "%F %T %z").ok()?;
            fixed.offset().local_minus_utc()
        }
    })
}

/// The adapter's own date reader for the expected files (explicit formats only).
fn exp_date(raw: &str) -> Option<ExpDate> {
    let s = raw.trim();
    // Python `str(datetime)`: `2008-03-26 16:18:03+00:00`, with optional microseconds.
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(s, fmt) {
            return Some(ExpDate::Instant(t.with_timezone(&Utc)));
        }
    }
    if let Some(rest) = s.strip_suffix('Z') {
        let rest = rest.replace("-T", "T");
        if let Ok(t) = NaiveDateTime::parse_from_str(&rest, "%Y-%m-%dT%H:%M:%S%.f") {
            return Some(ExpDate::Instant(Utc.from_utc_datetime(&t)));
        }
    }
    // Ruby `Time.parse` forms in weppos: `YYYY-MM-DD HH:MM[:SS] [ZONE]`.
    let (dt, zone) = match s.rsplit_once(' ') {
        Some((a, z)) if z.chars().all(|c| c.is_ascii_alphabetic()) || z.starts_with(['+', '-']) => {
            (a, z)
        }
        _ => (s, ""),
    };
    if let Some(off) = zone_offset(zone) {
        for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(dt, fmt) {
                let t = Utc.from_utc_datetime(&t) - chrono::Duration::seconds(off.into());
                return Some(ExpDate::Instant(t));
            }
        }
    }
    // likexian raw strings without `_in_time`.
    let head = s.split([' ', '#', '(']).next().unwrap_or("");
    for fmt in ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(head, fmt) {
            if !s.contains(':') {
                return Some(ExpDate::Day(d));
            }
        }
    }
    if let Some(idx) = s.find(" (GMT") {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s[..idx], "%Y-%m-%d %H:%M:%S") {
            return Some(ExpDate::Instant(Utc.from_utc_datetime(&t)));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%d %B %Y") {
        return Some(ExpDate::Day(d));
    }
    None
}

/// An expected date at the granularity of its raw string.
fn exp_date_with_granularity(raw: &str, normalised: Option<&str>) -> Option<ExpDate> {
    let has_time = raw.contains(':');
    let parsed = normalised.and_then(exp_date).or_else(|| exp_date(raw))?;
    Some(match parsed {
        ExpDate::Instant(t) if !has_time => ExpDate::Day(t.date_naive()),
        other => other,
    })
}

fn norm_ns(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in list {
        let n = n.trim().trim_end_matches('.').to_lowercase();
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

fn likexian() -> Vec<Sample> {
    let dir = corpus_path("whois_likexian/visible");
    let mut out = Vec::new();
    for raw in files_with_suffix(&dir.join("noterror"), ".whois.txt") {
        let id = raw
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".whois.txt", "");
        let json_path = raw.with_file_name(format!("{id}.json"));
        let Ok(json) = std::fs::read_to_string(&json_path) else {
            continue;
        };
        let v: Value = serde_json::from_str(&json).expect("likexian json");
        let d = &v["domain"];
        let s = |v: &Value| v.as_str().map(str::to_owned).filter(|s| !s.is_empty());
        let names: Vec<String> = [&v["registrar"]["name"], &v["registrar"]["organization"]]
            .into_iter()
            .filter_map(s)
            .collect();
        let date = |key: &str| {
            let raw = s(&d[key])?;
            exp_date_with_granularity(&raw, s(&d[format!("{key}_in_time")]).as_deref())
        };
        let ns: Vec<String> = d["name_servers"]
            .as_array()
            .map(|a| a.iter().filter_map(s).collect())
            .unwrap_or_default();
        let queried = id
            .split_once('_')
            .and_then(|(_, dom)| DomainName::parse(dom).ok());
        out.push(Sample {
            corpus: "likexian",
            id: id.clone(),
            text: read_text(&raw),
            queried,
            expected: Expected {
                registrar: Some((!names.is_empty()).then_some(names)),
                created: Some(date("created_date")),
                expires: Some(date("expiration_date")),
                nameservers: Some((!ns.is_empty()).then(|| norm_ns(&ns))),
                not_found: Some(false),
            },
        });
    }
    for raw in files_with_suffix(&dir.join("notfound"), ".whois.txt") {
        let id = raw
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".whois.txt", "");
        out.push(Sample {
            corpus: "likexian",
            id,
            text: read_text(&raw),
            queried: None,
            expected: Expected {
                not_found: Some(true),
                ..Expected::default()
            },
        });
    }
    out
}

fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read sample");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Parses a weppos `.expected` file into `#property` → assertion lines.
fn weppos_blocks(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut blocks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('#') {
            current = Some(name.trim().to_owned());
            blocks.entry(name.trim().to_owned()).or_default();
        } else if let Some(c) = &current {
            let l = line.trim();
            if !l.is_empty() {
                blocks.get_mut(c).unwrap().push(l.to_owned());
            }
        }
    }
    blocks
}

/// A Ruby string literal's content (`"Google, Inc."`).
fn ruby_str(lit: &str) -> Option<String> {
    let lit = lit.trim();
    let inner = lit.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

fn weppos_time(lines: &[String]) -> Option<Option<ExpDate>> {
    for l in lines {
        if l == "%s == nil" {
            return Some(None);
        }
        if let Some(rest) = l.strip_prefix("%s %TIME{") {
            let raw = rest.trim_end_matches('}');
            return Some(exp_date_with_granularity(raw, None));
        }
    }
    None
}

fn weppos() -> Vec<Sample> {
    let dir = corpus_path("whois_weppos/visible/responses");
    let mut out = Vec::new();
    for exp in files_with_suffix(&dir, ".expected") {
        let txt = exp.with_extension("txt");
        if !txt.exists() {
            continue;
        }
        let blocks = weppos_blocks(&std::fs::read_to_string(&exp).unwrap());
        let mut e = Expected::default();
        if let Some(lines) = blocks.get("registrar") {
            let mut names = Vec::new();
            let mut nil = false;
            for l in lines {
                if l == "%s == nil" {
                    nil = true;
                }
                for field in ["%s.name", "%s.organization"] {
                    if let Some(rest) = l.strip_prefix(field) {
                        if let Some(v) = rest.trim().strip_prefix("==").and_then(ruby_str) {
                            if !v.is_empty() {
                                names.push(v);
                            }
                        }
                    }
                }
            }
            if !names.is_empty() {
                e.registrar = Some(Some(names));
            } else if nil {
                e.registrar = Some(None);
            }
        }
        e.created = blocks.get("created_on").and_then(|l| weppos_time(l));
        e.expires = blocks.get("expires_on").and_then(|l| weppos_time(l));
        if let Some(lines) = blocks.get("nameservers") {
            let mut ns: BTreeMap<usize, String> = BTreeMap::new();
            let mut empty = false;
            for l in lines {
                if l == "%s == []" {
                    empty = true;
                }
                if let Some(rest) = l.strip_prefix("%s[") {
                    if let Some((idx, tail)) = rest.split_once("].name") {
                        if let (Ok(i), Some(v)) = (
                            idx.parse::<usize>(),
                            tail.trim().strip_prefix("==").and_then(ruby_str),
                        ) {
                            ns.insert(i, v);
                        }
                    }
                }
            }
            if !ns.is_empty() {
                e.nameservers = Some(Some(norm_ns(&ns.into_values().collect::<Vec<_>>())));
            } else if empty {
                e.nameservers = Some(None);
            }
        }
        if let Some(lines) = blocks.get("available?") {
            if lines.iter().any(|l| l == "%s == true") {
                e.not_found = Some(true);
            } else if lines.iter().any(|l| l == "%s == false") {
                e.not_found = Some(false);
            }
        }
        let queried = blocks
            .get("domain")
            .and_then(|l| {
                l.iter()
                    .find_map(|l| l.strip_prefix("%s ==").and_then(ruby_str))
            })
            .and_then(|d| DomainName::parse(&d).ok())
            // A caller always knows what it asked for; some fixtures do not record it, and
            // the record's name is not scored here.
            .or_else(|| DomainName::parse("queried.example").ok());
        let id = exp
            .strip_prefix(&dir)
            .unwrap()
            .with_extension("")
            .to_string_lossy()
            .into_owned();
        out.push(Sample {
            corpus: "weppos",
            id,
            text: read_text(&txt),
            queried,
            expected: e,
        });
    }
    out
}

fn richardpenman() -> Vec<Sample> {
    let dir = corpus_path("whois_richardpenman/visible");
    let mut out = Vec::new();
    for exp in files_with_suffix(&dir.join("expected"), ".json") {
        let name = exp.file_stem().unwrap().to_string_lossy().into_owned();
        let raw = dir.join("whois").join(format!("{name}.txt"));
        if !raw.exists() {
            continue;
        }
        // Two expected-only files are Python reprs, not JSON; they have no raw sample anyway.
        let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(&exp).unwrap()) else {
            continue;
        };
        let first = |v: &Value| -> Option<String> {
            match v {
                Value::String(s) => Some(s.clone()),
                Value::Array(a) => a.first().and_then(|x| x.as_str().map(str::to_owned)),
                _ => None,
            }
        };
        let date = |key: &str| -> Option<Option<ExpDate>> {
            let v = v.get(key)?;
            Some(first(v).and_then(|s| exp_date_with_granularity(&s, None)))
        };
        let registrar = v
            .get("registrar")
            .map(|r| first(r).filter(|s| !s.is_empty()).map(|s| vec![s]));
        out.push(Sample {
            corpus: "richardpenman",
            id: name.clone(),
            text: read_text(&raw),
            queried: DomainName::parse(&name).ok(),
            expected: Expected {
                registrar,
                created: date("creation_date"),
                expires: date("expiration_date"),
                nameservers: None,
                not_found: None,
            },
        });
    }
    out
}

fn fmt_date(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into())
}

#[test]
fn whois_accuracy_against_corpus_expectations() {
    if !full_corpus_present("whois_accuracy_against_corpus_expectations") {
        return;
    }
    let verbose = std::env::var("CONTEXT_VERBOSE").is_ok_and(|v| v == "1");
    let mut samples = likexian();
    samples.extend(weppos());
    samples.extend(richardpenman());
    assert!(
        samples.len() > 600,
        "corpus not found: {} samples",
        samples.len()
    );

    const FIELDS: [&str; 5] = [
        "registrar",
        "created",
        "expires",
        "nameservers",
        "not_found",
    ];
    let mut total: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_corpus: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    let mut misses = String::new();

    for s in &samples {
        let parsed: WhoisParse = parse_whois_for(&s.text, s.queried.as_ref(), observed_at());
        let rec: Option<&WhoisRecord> = parsed.record.as_ref();
        let mut score = |field: &'static str,
                         expected: Option<bool>,
                         got_some: bool,
                         ok: bool,
                         detail: String| {
            let Some(has_expected) = expected else { return };
            for t in [
                total.entry(field).or_default(),
                by_corpus.entry((field, s.corpus)).or_default(),
            ] {
                if has_expected {
                    t.expected += 1;
                    if ok {
                        t.exact += 1;
                    }
                } else {
                    t.absent += 1;
                    if got_some {
                        t.spurious += 1;
                    }
                }
            }
            if verbose && has_expected && !ok {
                let _ = writeln!(
                    misses,
                    "MISS {field:<11} {:<13} {}: {detail}",
                    s.corpus, s.id
                );
            }
        };
        let e = &s.expected;
        if let Some(exp) = &e.registrar {
            let got = rec.map(|r| r.registrar.name.clone()).unwrap_or_default();
            let ok = exp
                .as_ref()
                .is_some_and(|alts| alts.iter().any(|a| a.trim() == got));
            score(
                "registrar",
                Some(exp.is_some()),
                !got.is_empty(),
                ok,
                format!("expected {exp:?}, got {got:?}"),
            );
        }
        for (field, exp, got) in [
            ("created", &e.created, rec.and_then(|r| r.created)),
            ("expires", &e.expires, rec.and_then(|r| r.expires)),
        ] {
            if let Some(exp) = exp {
                let ok = exp.as_ref().is_some_and(|d| d.matches(got));
                score(
                    field,
                    Some(exp.is_some()),
                    got.is_some(),
                    ok,
                    format!("expected {exp:?}, got {}", fmt_date(got)),
                );
            }
        }
        if let Some(exp) = &e.nameservers {
            let got = rec.map(|r| r.nameservers.clone()).unwrap_or_default();
            let ok = exp.as_ref().is_some_and(|ns| *ns == got);
            score(
                "nameservers",
                Some(exp.is_some()),
                !got.is_empty(),
                ok,
                format!("expected {exp:?}, got {got:?}"),
            );
        }
        if let Some(nf) = e.not_found {
            // Scored as a field whose "value" is the not-found verdict.
            let ok = parsed.not_found == nf;
            score(
                "not_found",
                Some(true),
                false,
                ok,
                format!(
                    "expected {nf}, got {} ({:?})",
                    parsed.not_found, parsed.warnings
                ),
            );
        }
    }

    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<12} {:<14} {:>8} {:>6} {:>7} {:>9}",
        "field", "corpus", "expected", "exact", "%", "spurious"
    );
    for field in FIELDS {
        for corpus in ["likexian", "weppos", "richardpenman"] {
            if let Some(t) = by_corpus.get(&(field, corpus)) {
                let pct = 100.0 * f64::from(t.exact) / f64::from(t.expected.max(1));
                let _ = writeln!(
                    table,
                    "{field:<12} {corpus:<14} {:>8} {:>6} {:>6.1}% {:>4}/{:<4}",
                    t.expected, t.exact, pct, t.spurious, t.absent
                );
            }
        }
        let t = total.get(field).copied().unwrap_or_default();
        let pct = 100.0 * f64::from(t.exact) / f64::from(t.expected.max(1));
        let _ = writeln!(
            table,
            "{field:<12} {:<14} {:>8} {:>6} {:>6.1}% {:>4}/{:<4}",
            "ALL", t.expected, t.exact, pct, t.spurious, t.absent
        );
    }
    if verbose {
        eprintln!("{misses}");
    }
    println!("WHOIS accuracy ({} samples)\n{table}", samples.len());
    for field in ["registrar", "created", "expires", "nameservers"] {
        let t = total[field];
        let pct = 100.0 * f64::from(t.exact) / f64::from(t.expected);
        assert!(
            pct >= 95.0,
            "{field}: {pct:.1}% exact is below 95%\n{table}"
        );
    }
}
