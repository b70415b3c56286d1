//! RDAP goldens: whoisit's transcribed expectations (google.com, norway.no), openrdap's
//! WHOIS-style rendering of example.cz, and ICANN's labelled conformance fragments (valid
//! ones parse; the structurally broken ones give a precise error; policy-level negatives,
//! which a parser has no business rejecting, are listed as such).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::Value;
use threatintel_model::DomainName;
use threatintel_parse::context::rdap::{
    epp_status, parse_jcard, parse_rdap_domain, parse_rdap_domain_for, parse_rdap_entity, RdapError,
};

use super::{corpus_path, files_with_suffix, observed_at};

fn t(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[test]
fn whoisit_domains() {
    let dir = corpus_path("rdap_samples/visible/whoisit");
    let mut checked = 0;
    let mut matched = 0;
    let mut report = String::new();
    for case in ["domain1", "domain2"] {
        let case_dir = dir.join(case);
        let input = files_with_suffix(&case_dir, ".json")
            .into_iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("input_")
            })
            .unwrap();
        let rec =
            parse_rdap_domain(&std::fs::read_to_string(&input).unwrap(), observed_at()).unwrap();
        let exp: Value = serde_json::from_str(
            &std::fs::read_to_string(case_dir.join("expected_parsed.json")).unwrap(),
        )
        .unwrap();
        let e = &exp["expected"];
        let mut check = |field: &str, ok: bool| {
            checked += 1;
            if ok {
                matched += 1;
            } else {
                let _ = writeln!(report, "MISS {case} {field}");
            }
        };
        check(
            "name",
            e["name"].as_str().unwrap().to_lowercase() == rec.domain.as_str(),
        );
        check(
            "registration",
            e["registration_date"].as_str().and_then(t) == rec.created,
        );
        check(
            "expiration",
            e["expiration_date"].as_str().and_then(t) == rec.expires,
        );
        check(
            "last_changed",
            e["last_changed_date"].as_str().and_then(t) == rec.updated,
        );
        let ns: Vec<String> = e["nameservers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_lowercase())
            .collect();
        check("nameservers", ns == rec.nameservers);
        let status: Vec<String> = e["status"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| epp_status(v.as_str().unwrap()))
            .collect();
        check("status", status == rec.status);
        if let Some(d) = e["dnssec"].as_bool() {
            check(
                "dnssec",
                rec.dnssec == if d { "signed" } else { "unsigned" },
            );
        }
        let registrar = &e["entities"]["registrar"][0];
        check(
            "registrar.name",
            registrar["name"].as_str() == Some(rec.registrar.name.as_str()),
        );
        if let Some(email) = registrar["email"].as_str() {
            check("registrar.email", email == rec.registrar.email);
        }
        if let Some(tech) = e["entities"]["technical"].get(0) {
            check(
                "technical.name",
                tech["name"].as_str() == Some(rec.tech.name.as_str()),
            );
            check(
                "technical.email",
                tech["email"].as_str() == Some(rec.tech.email.as_str()),
            );
            check(
                "technical.country",
                tech["address"]["country"].as_str() == Some(rec.tech.country.as_str()),
            );
        }
    }
    println!("RDAP whoisit goldens: {matched}/{checked} fields match\n{report}");
    assert_eq!(matched, checked, "{report}");
}

#[test]
fn openrdap_example_cz() {
    let dir = corpus_path("rdap_samples/visible/openrdap/example.cz");
    let json = std::fs::read_to_string(dir.join("input_domain-example.cz.json")).unwrap();
    let mut rec = parse_rdap_domain(&json, observed_at()).unwrap();
    let golden = std::fs::read_to_string(dir.join("expected_domain-whois.golden")).unwrap();
    let mut ns = Vec::new();
    for line in golden.lines() {
        let Some((k, v)) = line.split_once(": ") else {
            continue;
        };
        match k {
            "Domain Name" => assert_eq!(v, rec.domain.as_str()),
            "WHOIS Server" => assert_eq!(v, rec.whois_server),
            "Creation Date" => assert_eq!(t(v), rec.created),
            "Expiration Date" => assert_eq!(t(v), rec.expires),
            "Domain Status" => assert!(rec.status.contains(&epp_status(v)), "{v}"),
            "Name Server" => ns.push(v.to_owned()),
            _ => {}
        }
    }
    assert_eq!(ns, rec.nameservers);
    rec.raw = format!("({} bytes)", rec.raw.len());
    insta::assert_json_snapshot!(rec);
}

/// What ICANN's label says about a fragment.
fn negative(name: &str) -> bool {
    [
        "invalid",
        "malformed",
        "notvalid",
        "wrong",
        "_bug",
        "fnmissing",
        "trivialarray",
    ]
    .iter()
    .any(|w| name.to_lowercase().contains(w))
}

#[test]
fn icann_conformance_fragments() {
    let dir = corpus_path("rdap_samples/visible/icann_conformance");
    let files = files_with_suffix(&dir, ".json");
    assert!(files.len() > 50, "corpus not found");
    let mut table = String::new();
    let (mut rows, mut agree) = (0, 0);
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&dir).unwrap().display().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        let value: Result<Value, _> = serde_json::from_str(&text);
        // Which of our parsers applies to the fragment's top level.
        let (parser, result): (&str, Option<Result<(), RdapError>>) = match &value {
            Err(e) => ("json", Some(Err(RdapError::Json(e.to_string())))),
            Ok(v) if v.get("objectClassName").and_then(Value::as_str) == Some("domain") => {
                // A caller knows the name it asked for; one real-world fragment has it redacted.
                let queried = DomainName::parse("queried.example").unwrap();
                (
                    "domain",
                    Some(parse_rdap_domain_for(&text, Some(&queried), observed_at()).map(|_| ())),
                )
            }
            Ok(v) if v.get("objectClassName").and_then(Value::as_str) == Some("entity") => {
                ("entity", Some(parse_rdap_entity(v).map(|_| ())))
            }
            Ok(v) if v.get("vcardArray").is_some() => {
                ("jcard", Some(parse_jcard(&v["vcardArray"]).map(|_| ())))
            }
            Ok(v) if v.get("entities").is_some() => (
                "entities",
                Some(
                    v["entities"]
                        .as_array()
                        .map(|a| a.iter().try_for_each(|e| parse_rdap_entity(e).map(|_| ())))
                        .unwrap_or(Ok(())),
                ),
            ),
            Ok(_) => ("-", None),
        };
        let Some(result) = result else {
            let _ = writeln!(
                table,
                "{rel:<80} {:<9} (no domain/entity/jCard at top level)",
                "-"
            );
            continue;
        };
        let neg = negative(&rel);
        let verdict = match &result {
            Ok(()) => "accepted".to_owned(),
            Err(e) => format!("rejected: {e}"),
        };
        rows += 1;
        let ok = result.is_err() == neg;
        if ok {
            agree += 1;
        } else if !neg {
            wrong.push(format!("{rel}: {verdict}"));
        }
        let note = if !ok && neg {
            "  (profile-level rule, not a parse error)"
        } else {
            ""
        };
        let _ = writeln!(table, "{rel:<80} {parser:<9} {}{note}", verdict);
    }
    println!("ICANN conformance fragments: {agree}/{rows} verdicts agree with the label\n{table}");
    // Every positive fragment must parse.
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Structural negatives must be rejected, with a message naming the problem.
    for (rel, needle) in [
        ("help/invalid.json", "not JSON"),
        ("vcardArray/fnMissing.json", "fn property"),
        ("vcardArray/trivialArray.json", "two elements"),
        (
            "entity/invalid-vcard.json",
            "property list must be an array",
        ),
        (
            "entity/invalid-roles.json",
            "\"invalid-roles\" is not an RDAP entity role",
        ),
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(rel) && l.contains(needle)),
            "{rel}\n{table}"
        );
    }
}

#[test]
fn malformed_domain_objects() {
    let e = |s: &str| parse_rdap_domain(s, observed_at()).unwrap_err().to_string();
    assert_eq!(e("[]"), "$: expected an object");
    assert_eq!(
        e(r#"{"objectClassName":"ip network"}"#),
        "objectClassName is \"ip network\", not \"domain\""
    );
    assert_eq!(
        e(r#"{"objectClassName":"domain"}"#),
        "the domain object has neither ldhName nor unicodeName"
    );
    assert_eq!(
        e(
            r#"{"ldhName":"example.com","events":[{"eventAction":"registration","eventDate":"yesterday"}]}"#
        ),
        "$.events[0].eventDate: \"yesterday\" is not an RFC 3339 date"
    );
    assert_eq!(
        e(r#"{"ldhName":"example.com","nameservers":{}}"#),
        "$.nameservers: expected an array"
    );
    assert_eq!(
        e(
            r#"{"ldhName":"example.com","entities":[{"roles":["registrar"],"vcardArray":["vcard",[["fn",{},"text"]]]}]}"#
        ),
        "$.entities[0].vcardArray[1][0]: a property must be [name, {parameters}, type, value, ...]"
    );
    assert_eq!(
        e(r#"{"ldhName":"exa mple.com"}"#).split(':').next(),
        Some("$.ldhName")
    );
}
