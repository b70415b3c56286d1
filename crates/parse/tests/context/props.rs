//! Property tests: no context parser panics on arbitrary input, and WHOIS output keeps its
//! invariants (nameservers lower case, no trailing dot, no duplicates).

use proptest::prelude::*;
use threatintel_model::IpNetwork;
use threatintel_parse::context::{
    parse_certificates, parse_cof_line, parse_eve_line, parse_event_line, parse_rdap_domain,
    parse_whois, parse_whois_date,
};

use super::observed_at;

/// WHOIS-looking text: lines of known keys, odd separators and arbitrary values.
fn whoisish() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "Domain Name",
        "Registrar",
        "Creation Date",
        "Registry Expiry Date",
        "Name Server",
        "nserver",
        "Status",
        "created",
        "[Name Server]",
        "Registrant",
        "Registrar:",
        "Name servers",
        "DNSSEC",
        "paid-till",
        "Record expires on",
        "a. [Domain Name]",
        "% comment",
        "",
    ]);
    let sep = prop::sample::select(vec![": ", ":", "\t", "   ", "....: ", " ", "\n    "]);
    let value = "[ -~\u{80}-\u{3000}]{0,40}";
    prop::collection::vec((key, sep, value), 0..30).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(k, s, v)| format!("{k}{s}{v}\n"))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn whois_never_panics(text in "\\PC{0,400}") {
        let _ = parse_whois(&text, observed_at());
    }

    #[test]
    fn whois_structured_never_panics_and_keeps_invariants(text in whoisish()) {
        let parsed = parse_whois(&text, observed_at());
        if let Some(r) = parsed.record {
            let mut seen = std::collections::HashSet::new();
            for ns in &r.nameservers {
                prop_assert!(!ns.ends_with('.'));
                prop_assert_eq!(ns.to_lowercase(), ns.clone());
                prop_assert!(seen.insert(ns.clone()));
            }
        }
    }

    #[test]
    fn dates_never_panic(text in "[0-9A-Za-z :./+#()-]{0,60}") {
        let _ = parse_whois_date(&text);
    }

    #[test]
    fn rdap_never_panics(text in "\\PC{0,300}") {
        let _ = parse_rdap_domain(&text, observed_at());
    }

    #[test]
    fn rdap_json_never_panics(v in arb_json()) {
        let mut obj = serde_json::Map::new();
        obj.insert("ldhName".into(), "example.com".into());
        obj.insert("objectClassName".into(), "domain".into());
        for k in ["entities", "events", "nameservers", "status", "secureDNS", "vcardArray"] {
            obj.insert(k.into(), v.clone());
        }
        let _ = parse_rdap_domain(&serde_json::Value::Object(obj).to_string(), observed_at());
    }

    #[test]
    fn certificates_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_certificates(&bytes, observed_at(), "fuzz");
        let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        pem.extend(&bytes);
        let _ = parse_certificates(&pem, observed_at(), "fuzz");
    }

    #[test]
    fn pdns_never_panics(text in "\\PC{0,200}", v in arb_json()) {
        let _ = parse_cof_line(&text, "pdns");
        let line = serde_json::json!({"rrname": v.clone(), "rrtype": "A", "rdata": v.clone(),
            "time_first": v.clone(), "time_last": v, "count": 1}).to_string();
        let _ = parse_cof_line(&line, "pdns");
    }

    #[test]
    fn events_never_panic(text in "\\PC{0,200}", v in arb_json()) {
        let map: Vec<(IpNetwork, String)> = vec![("10.0.0.0/8".parse().unwrap(), "x".into())];
        let _ = parse_eve_line(&text, "s", &map);
        let _ = parse_event_line(&text, "s");
        let line = serde_json::json!({"event_type": "alert", "timestamp": "2024-01-01T00:00:00Z",
            "alert": v.clone(), "dns": v.clone(), "http": v.clone(), "tls": v.clone(),
            "src_ip": v.clone(), "flow": v}).to_string();
        let _ = parse_eve_line(&line, "s", &map);
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[ -~]{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("vcard")),
        Just(serde_json::Value::from("2024-01-01T00:00:00Z")),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "roles",
                    "vcardArray",
                    "entities",
                    "eventAction",
                    "eventDate",
                    "ldhName",
                    "rrname",
                    "hostname",
                    "sni",
                    "query",
                    "ip",
                    "target",
                    "signature",
                    "delegationSigned",
                    "type"
                ])
                .prop_map(str::to_owned),
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
