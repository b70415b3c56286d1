//! XML bodies, as the reference's XML example shapes them: one element per top-level field,
//! JSON documents expanded into child elements (an array repeats its field's element), empty
//! values as `<Field/>`.

use serde_json::Value;

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
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
        Value::Object(fields) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            for (k, v) in fields {
                element(out, k, v);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        Value::Null => empty(out, name),
        Value::String(s) if s.is_empty() => empty(out, name),
        Value::String(s) => text(out, name, s),
        other => text(out, name, &other.to_string()),
    }
}

fn empty(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str("/>");
}

fn text(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

const DECLARATION: &str = "<?xml version='1.0' encoding='UTF-8'?>";

/// A success body: `fields` are the response's top-level string fields; values holding a
/// JSON document are expanded.
pub fn response(root: &str, fields: &[(&str, &str)]) -> String {
    let mut out = String::from(DECLARATION);
    out.push('<');
    out.push_str(root);
    out.push('>');
    for (name, value) in fields {
        let parsed = match value.trim_start().chars().next() {
            Some('{') | Some('[') => serde_json::from_str::<Value>(value).ok(),
            _ => None,
        };
        match parsed {
            Some(doc) => element(&mut out, name, &doc),
            None => element(&mut out, name, &Value::String((*value).to_owned())),
        }
    }
    out.push_str("</");
    out.push_str(root);
    out.push('>');
    out
}

/// An `<Error>` body.
pub fn error(fields: &[(&str, &str)]) -> String {
    let mut out = String::from(DECLARATION);
    out.push_str("<Error>");
    for (name, value) in fields {
        element(&mut out, name, &Value::String((*value).to_owned()));
    }
    out.push_str("</Error>");
    out
}
