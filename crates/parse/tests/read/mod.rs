//! The one interface: [`threatintel_parse::read`] into a collecting sink, on generated hostile
//! inputs. Every record is bounded, whatever the input.

use chrono::{TimeZone, Utc};
use threatintel_model::Evidence;
use threatintel_parse::feed::{FeedDefaults, Parsed};
use threatintel_parse::limits::{MAX_FIELD, MAX_LINE, MAX_RAW, MAX_REASON, MAX_RECORD_DOCUMENT};
use threatintel_parse::{read, Context, Format, ReadError};

fn context(file_name: &str) -> Context {
    let observed = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    Context::new(file_name, FeedDefaults::new("test", "Malware", observed))
}

fn read_text(format: Format, file_name: &str, text: &str) -> Result<Parsed, ReadError> {
    let mut out = Parsed::default();
    read(format, &mut text.as_bytes(), &context(file_name), &mut out)?;
    Ok(out)
}

#[test]
fn a_whois_answer_with_a_huge_field_is_stored_bounded() {
    let registrar = "R".repeat(2 << 20);
    let text = format!(
        "Domain Name: EXAMPLE.COM\nRegistrar: {registrar}\nCreation Date: 2020-01-01T00:00:00Z\nName Server: NS1.EXAMPLE.NET\n"
    );
    let parsed = read_text(Format::Whois, "example.com.whois.txt", &text).unwrap();
    let [Evidence::Whois(record)] = parsed.evidence.as_slice() else {
        panic!("{:?}", parsed.rejects);
    };
    assert_eq!(record.domain.as_str(), "example.com");
    assert!(record.registrar.name.len() <= MAX_FIELD);
    assert!(record.registrar.name.ends_with('…'));
    assert!(record.raw.len() <= MAX_RAW);
}

#[test]
fn a_record_document_over_its_limit_is_refused() {
    let text = format!(
        "Domain Name: EXAMPLE.COM\nRegistrar: {}\n",
        "R".repeat(MAX_RECORD_DOCUMENT as usize)
    );
    let err = read_text(Format::Whois, "example.com.whois.txt", &text).unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::TooLarge {
                format: Format::Whois,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("at most 4 MiB"), "{err}");
}

#[test]
fn native_records_are_bounded_field_by_field() {
    let label = "L".repeat(100_000);
    let line = format!(
        "{{\"record\":\"indicator\",\"name\":\"evil.example\",\"zone\":false,\"source\":\"s\",\"threat_type\":\"Malware\",\"label\":\"{label}\",\"risk\":\"high\",\"scenario\":null,\"attack_stage\":null,\"first_seen\":\"2025-01-01T00:00:00Z\",\"last_seen\":\"2025-01-01T00:00:00Z\",\"confidence\":null,\"reference\":null}}\n"
    );
    let parsed = read_text(Format::Native, "x.jsonl", &line).unwrap();
    let [Evidence::Indicator(record)] = parsed.evidence.as_slice() else {
        panic!("{:?}", parsed.rejects);
    };
    assert!(record.label.as_ref().unwrap().len() <= MAX_FIELD);
}

#[test]
fn lines_and_reasons_are_bounded() {
    let check = |format: Format, text: String, lines: &[u64]| {
        let parsed = read_text(format, "x.txt", &text).unwrap();
        let got: Vec<u64> = parsed.rejects.iter().map(|r| r.line).collect();
        assert_eq!(got, lines, "{format}");
        for r in &parsed.rejects {
            assert!(r.reason.len() <= MAX_REASON, "{format}: {}", r.reason.len());
        }
    };
    let long_line = "x".repeat(MAX_LINE + 1);
    check(
        Format::DomainList,
        format!("evil.example\n{long_line}\nbad.example\n"),
        &[2],
    );
    check(Format::Native, format!("{long_line}\n"), &[1]);
    check(Format::PassiveDns, format!("\n{long_line}"), &[2]);
    // Exactly the limit is a line like any other (and a bad name, quoted in the reason).
    let at_limit = format!("{}!.example", "x".repeat(MAX_LINE - 9));
    check(Format::DomainList, format!("{at_limit}\n"), &[1]);
}

#[test]
fn an_unterminated_csv_quote_is_a_reject_at_the_line_it_opens() {
    let text = "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\"1\",\"2025-06-01 00:00:00\",\"http://evil.example/a\",\"online\",\"\",\"malware_download\",\"elf\",\"x\",\"r\"\n\"2\",\"2025-06-01 00:00:00\",\"http://bad.example/\n";
    let parsed = read_text(Format::UrlhausCsv, "urlhaus.csv", text).unwrap();
    assert_eq!(parsed.evidence.len(), 1);
    let rejects: Vec<(u64, &str)> = parsed
        .rejects
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    assert_eq!(rejects, [(3, "unterminated quoted field at end of input")]);
}

#[test]
fn a_stix_bundle_is_handed_over_in_parts_in_input_order() {
    // More indicators than one part holds, to cross a part boundary.
    let objects: Vec<String> = (0..70_000)
        .map(|i| {
            format!(
                r#"{{"type":"indicator","id":"indicator--{i}","pattern":"[domain-name:value = 'h{i}.evil.example']","pattern_type":"stix","valid_from":"2025-06-01T00:00:00Z"}}"#
            )
        })
        .collect();
    let text = format!(r#"{{"type":"bundle","objects":[{}]}}"#, objects.join(","));
    let parsed = read_text(Format::Stix, "b.json", &text).unwrap();
    let names: Vec<String> = parsed
        .evidence
        .iter()
        .map(|e| match e {
            Evidence::Indicator(r) => r.name.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<String> = (0..70_000).map(|i| format!("h{i}.evil.example")).collect();
    assert_eq!(names, expected);
    assert!(parsed.rejects.is_empty(), "{:?}", parsed.rejects);
}
