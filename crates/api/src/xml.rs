//! XML bodies, shaped like the reference's XML example (`DescribeDomainReport.zh.txt`) and the
//! POP gateway's XML errors (protocol reference §9.2, §10).
//!
//! A success body is `<?xml version='1.0' encoding='UTF-8'?><DescribeDomainReportResponse>`
//! with one element per top-level field. A field whose string value holds a JSON document is
//! expanded: an object becomes child elements, an array repeats the field's element once per
//! item, a JSON string literal becomes its text (`"\"失陷指标\""` → `失陷指标`). Empty values
//! (`""`, `[]`, `{}`, `null`) are `<Field/>`. Numbers and plain strings stay as written. Text
//! is escaped (`&amp;` `&lt;` `&gt;` `&quot;` `&apos;`), characters XML 1.0 cannot carry are
//! dropped, and JSON keys that are not XML names have their bad characters replaced by `_`.

use serde_json::Value;

/// The declaration POP gateways write, single quotes included.
pub const DECLARATION: &str = "<?xml version='1.0' encoding='UTF-8'?>";

/// The root element of a DescribeDomainReport success body.
pub const DESCRIBE_DOMAIN_REPORT_ROOT: &str = "DescribeDomainReportResponse";
/// The root element of a DescribeIpReport success body.
pub const DESCRIBE_IP_REPORT_ROOT: &str = "DescribeIpReportResponse";
/// The root element of a DescribeFileReport success body.
pub const DESCRIBE_FILE_REPORT_ROOT: &str = "DescribeFileReportResponse";

/// A success body from a JSON object of top-level fields (string values holding JSON documents
/// are expanded). The elements follow the object's key order. Any other value becomes the
/// root element's content.
pub fn render_success(root: &str, body: &Value) -> String {
    let mut out = String::from(DECLARATION);
    match body {
        Value::Object(fields) => {
            open(&mut out, root);
            for (name, value) in fields {
                field(&mut out, name, value);
            }
            close(&mut out, root);
        }
        other => element(&mut out, root, other),
    }
    out
}

/// A success body from ordered (name, string value) fields, expanded as [`render_success`].
pub fn render_fields(root: &str, fields: &[(&str, &str)]) -> String {
    let mut out = String::from(DECLARATION);
    open(&mut out, root);
    for (name, value) in fields {
        string_field(&mut out, name, value);
    }
    close(&mut out, root);
    out
}

/// An `<Error>` body: `fields` as text elements, in order.
pub(crate) fn error(fields: &[(&str, &str)]) -> String {
    let mut out = String::from(DECLARATION);
    out.push_str("<Error>");
    for (name, value) in fields {
        text(&mut out, name, value);
    }
    out.push_str("</Error>");
    out
}

/// A top-level field: strings may hold a JSON document to expand.
fn field(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::String(s) => string_field(out, name, s),
        other => element(out, name, other),
    }
}

fn string_field(out: &mut String, name: &str, value: &str) {
    match expand(value) {
        Some(doc) => element(out, name, &doc),
        None => text(out, name, value),
    }
}

/// The JSON document a top-level string holds, if it holds an object, an array or a string
/// literal. Numbers, `true`, `null` and plain text are left as they are written.
fn expand(value: &str) -> Option<Value> {
    match value.trim_start().as_bytes().first() {
        Some(b'{' | b'[' | b'"') => serde_json::from_str(value).ok(),
        _ => None,
    }
}

fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) if items.is_empty() => empty(out, name),
        Value::Array(items) => {
            for item in items {
                element(out, name, item);
            }
        }
        Value::Object(fields) if fields.is_empty() => empty(out, name),
        Value::Object(fields) => {
            open(out, name);
            for (k, v) in fields {
                element(out, k, v);
            }
            close(out, name);
        }
        Value::Null => empty(out, name),
        Value::String(s) => text(out, name, s),
        other => text(out, name, &other.to_string()),
    }
}

fn text(out: &mut String, name: &str, value: &str) {
    if value.is_empty() {
        return empty(out, name);
    }
    open(out, name);
    escape_into(out, value);
    close(out, name);
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    name_into(out, name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    name_into(out, name);
    out.push('>');
}

fn empty(out: &mut String, name: &str) {
    out.push('<');
    name_into(out, name);
    out.push_str("/>");
}

/// `name` as an XML name: letters, digits, `_`, `-`, `.`; anything else becomes `_`, and a
/// name that cannot start an element gets a leading `_`.
fn name_into(out: &mut String, name: &str) {
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_');
    if !starts_well {
        out.push('_');
    }
    for c in name.chars() {
        if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') {
            out.push(c);
        } else {
            out.push('_');
        }
    }
}

/// Characters XML 1.0 can carry.
fn xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Escapes text content.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if !xml_char(c) => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_are_made_valid() {
        let mut out = String::new();
        for name in ["ok_name", "1st", "a b<c>", "", "例え"] {
            name_into(&mut out, name);
            out.push('|');
        }
        assert_eq!(out, "ok_name|_1st|a_b_c_|_|例え|");
    }

    #[test]
    fn scalars_stay_as_written() {
        let body = json!({"A": "2", "B": "1e5", "C": "null", "D": "\"x & y\"", "E": "[1, 2.5]"});
        assert_eq!(
            render_success("R", &body),
            format!("{DECLARATION}<R><A>2</A><B>1e5</B><C>null</C><D>x &amp; y</D><E>1</E><E>2.5</E></R>")
        );
    }
}
