//! WHOIS snapshots of our own full output (contacts, status, DNSSEC, warnings) for a few
//! registry layouts, with a fixed observation time.

use threatintel_parse::context::parse_whois;

use super::{corpus_path, observed_at};

fn snapshot_of(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(corpus_path(rel)).unwrap();
    let parsed = parse_whois(&text, observed_at());
    let record = parsed.record.map(|mut r| {
        r.raw = format!("({} bytes)", r.raw.len());
        r
    });
    serde_json::json!({
        "file": rel,
        "not_found": parsed.not_found,
        "warnings": parsed.warnings,
        "record": record,
    })
}

#[test]
fn whois_layouts() {
    let files = [
        // ICANN thick answer
        "whois_likexian/visible/noterror/ac_git.ac.whois.txt",
        // CNNIC
        "whois_likexian/visible/noterror/cn_google.cn.whois.txt",
        // JPRS brackets
        "whois_likexian/visible/noterror/jp_google.jp.whois.txt",
        // Nominet indented sections
        "whois_likexian/visible/noterror/uk_google.uk.whois.txt",
        // DENIC
        "whois_likexian/visible/noterror/de_google.de.whois.txt",
        // AFNIC RIPE-style objects with handles
        "whois_likexian/visible/noterror/fr_google.fr.whois.txt",
        // .ru
        "whois_likexian/visible/noterror/ru_yandex.ru.whois.txt",
        // .br
        "whois_likexian/visible/noterror/br_unip.br.whois.txt",
        // KISA (Korean and English)
        "whois_likexian/visible/noterror/kr_google.kr.whois.txt",
        // SWITCH tab columns
        "whois_likexian/visible/noterror/ch_google.ch.whois.txt",
        // .it sections
        "whois_weppos/visible/responses/whois.nic.it/it/status_registered.txt",
        // EURid
        "whois_likexian/visible/noterror/eu_google.eu.whois.txt",
        // SIDN
        "whois_likexian/visible/noterror/nl_google.nl.whois.txt",
        // auDA
        "whois_likexian/visible/noterror/au_google.com.au.whois.txt",
        // a "no match" answer
        "whois_likexian/visible/notfound/com_likexian-have-no-money-to-register.com.whois.txt",
    ];
    let out: Vec<serde_json::Value> = files.iter().map(|f| snapshot_of(f)).collect();
    insta::assert_json_snapshot!(out);
}
