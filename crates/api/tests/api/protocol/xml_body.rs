//! XML success bodies against the reference's own example (`DescribeDomainReport.zh.txt`,
//! "XML格式" and "JSON格式"): the JSON example, turned into the wire's all-string form, renders
//! to the same elements and texts as the XML example. Plus exact renderings of the edge cases.

use serde_json::{json, Value};
use threatintel_api::xml::{
    render_fields, render_success, DECLARATION, DESCRIBE_DOMAIN_REPORT_ROOT,
};

use super::fixtures::reference_file;

/// The text between `start` and `end` markers of the reference page.
fn section(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap_or_else(|| panic!("{start:?}")) + start.len();
    let to = from + text[from..].find(end).unwrap_or_else(|| panic!("{end:?}"));
    text[from..to].trim().to_owned()
}

/// (path, text) of every leaf element, and the top-level element names in order.
fn leaves(xml: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut leaves = Vec::new();
    let mut top = Vec::new();
    let mut stack: Vec<(String, bool)> = Vec::new();
    let mut text = String::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let close = rest[open..].find('>').unwrap() + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') {
            continue;
        }
        let path = |stack: &[(String, bool)], name: &str| {
            let mut parts: Vec<&str> = stack.iter().map(|(n, _)| n.as_str()).collect();
            parts.push(name);
            parts.join("/")
        };
        if let Some(name) = tag.strip_prefix('/') {
            let (open_name, has_children) = stack.pop().unwrap();
            assert_eq!(open_name, name);
            if !has_children {
                leaves.push((path(&stack, name), unescape(text.trim())));
            }
        } else {
            if let Some(parent) = stack.last_mut() {
                parent.1 = true;
            }
            let (name, empty) = match tag.strip_suffix('/') {
                Some(name) => (name, true),
                None => (tag, false),
            };
            if stack.len() == usize::from(xml.starts_with(DECLARATION)) {
                top.push(name.to_owned());
            }
            if empty {
                leaves.push((path(&stack, name), String::new()));
            } else {
                stack.push((name.to_owned(), false));
            }
        }
        text.clear();
    }
    leaves.sort();
    (leaves, top)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The example's top-level elements, in its order.
const ORDER: [&str; 13] = [
    "Context",
    "Basic",
    "RequestId",
    "SslCert",
    "ThreatTypes",
    "Intelligences",
    "Scenario",
    "Whois",
    "AttackCntByThreatType",
    "ThreatLevel",
    "Confidence",
    "Domain",
    "AttackPreferenceTop5",
];

#[test]
fn the_reference_json_example_renders_as_the_reference_xml_example() {
    let full = reference_file("DescribeDomainReport.zh.txt");
    let page = section(&full, "正常返回示例", "错误码") + "\n错误码";
    let xml_example = section(&page, "XML格式", "JSON格式");
    let json_example: Value = serde_json::from_str(&section(&page, "JSON格式", "错误码")).unwrap();
    // On the wire every value is a string; structured ones are JSON documents in strings.
    let wire: Vec<(&str, String)> = ORDER
        .iter()
        .map(|k| {
            let v = &json_example[*k];
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (*k, s)
        })
        .collect();
    let fields: Vec<(&str, &str)> = wire.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ours = render_fields(DESCRIBE_DOMAIN_REPORT_ROOT, &fields);
    assert!(
        ours.starts_with("<?xml version='1.0' encoding='UTF-8'?><DescribeDomainReportResponse>"),
        "{ours}"
    );
    assert!(ours.ends_with("</DescribeDomainReportResponse>"), "{ours}");

    let (expected_leaves, expected_top) = leaves(&xml_example);
    let (our_leaves, our_top) = leaves(&ours);
    let our_leaves: Vec<(String, String)> = our_leaves
        .into_iter()
        .map(|(p, t)| {
            (
                p.trim_start_matches("DescribeDomainReportResponse/")
                    .to_owned(),
                t,
            )
        })
        .collect();
    assert_eq!(our_leaves, expected_leaves);
    assert_eq!(our_top, expected_top);
    // The spots the example shows: escaped `C&C`, empty values as `<X/>`, arrays repeated.
    assert!(ours.contains("<threat_type>C&amp;C Server</threat_type>"));
    assert!(ours.contains("<attck_stage/>"));
    assert!(
        ours.contains("<Whois/>") && ours.contains("<SslCert/>") && ours.contains("<Context/>")
    );
    assert_eq!(ours.matches("<ThreatTypes>").count(), 2);
    assert_eq!(ours.matches("<Intelligences>").count(), 2);
}

#[test]
fn a_value_object_renders_exactly() {
    let body = json!({
        "RequestId": "718747A4-9A75-4130-88F9-C9B47350B7F5",
        "Domain": "example.com",
        "ThreatLevel": "2",
        "Basic": "{\"domain\":\"example.com\",\"ip_cnt\":\"36\"}",
        "ThreatTypes": "[{\"risk_type\":3,\"threat_type\":\"C&C Server\"},{\"risk_type\":2,\"threat_type\":\"<Botnet>\"}]",
        "Intelligences": "[]",
        "Whois": "",
        "Scenario": "\"失陷指标\"",
        "Context": "\"\"",
        "AttackCntByThreatType": " {\"event_cnt\": 27, \"threat_type\": \"网络层入侵\"}",
        "SslCert": "{}",
    });
    // serde_json objects iterate in key order.
    assert_eq!(
        render_success("DescribeDomainReportResponse", &body),
        "<?xml version='1.0' encoding='UTF-8'?><DescribeDomainReportResponse>\
<AttackCntByThreatType><event_cnt>27</event_cnt><threat_type>网络层入侵</threat_type></AttackCntByThreatType>\
<Basic><domain>example.com</domain><ip_cnt>36</ip_cnt></Basic>\
<Context/>\
<Domain>example.com</Domain>\
<Intelligences/>\
<RequestId>718747A4-9A75-4130-88F9-C9B47350B7F5</RequestId>\
<Scenario>失陷指标</Scenario>\
<SslCert/>\
<ThreatLevel>2</ThreatLevel>\
<ThreatTypes><risk_type>3</risk_type><threat_type>C&amp;C Server</threat_type></ThreatTypes>\
<ThreatTypes><risk_type>2</risk_type><threat_type>&lt;Botnet&gt;</threat_type></ThreatTypes>\
<Whois/>\
</DescribeDomainReportResponse>"
    );
}

#[test]
fn nesting_and_odd_values() {
    let body = json!({
        "A": "{\"list\":[\"x\",\"y\"],\"inner\":{\"deep\":null,\"n\":1.5,\"t\":true},\"empty\":[]}",
        "B": "[[1,2],[3]]",
        "C": "not json { [",
        "D": "{broken",
        "E": "it's \"quoted\" & <tagged>",
        "F": "control\u{1}chars\u{b}gone",
    });
    assert_eq!(
        render_success("R", &body),
        format!(
            "{DECLARATION}<R>\
<A><empty/><inner><deep/><n>1.5</n><t>true</t></inner><list>x</list><list>y</list></A>\
<B>1</B><B>2</B><B>3</B>\
<C>not json {{ [</C>\
<D>{{broken</D>\
<E>it&apos;s &quot;quoted&quot; &amp; &lt;tagged&gt;</E>\
<F>controlcharsgone</F>\
</R>"
        )
    );
    // Non-string top-level values and non-objects.
    assert_eq!(
        render_success("R", &json!({"n": 5, "o": {"k": "v"}, "z": null})),
        format!("{DECLARATION}<R><n>5</n><o><k>v</k></o><z/></R>")
    );
    assert_eq!(
        render_success("R", &json!("text")),
        format!("{DECLARATION}<R>text</R>")
    );
    assert_eq!(
        render_success("R", &json!({})),
        format!("{DECLARATION}<R></R>")
    );
    // Keys that are not XML names.
    assert_eq!(
        render_success("R", &json!({"A": "{\"1st\":\"a\",\"a b\":\"c\"}"})),
        format!("{DECLARATION}<R><A><_1st>a</_1st><a_b>c</a_b></A></R>")
    );
}
