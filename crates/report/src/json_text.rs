//! Compact JSON for the compatibility report's documents, written by a small serde serializer
//! in one of two forms: plain JSON text, or that text already escaped as the content of a JSON
//! string (the form a document takes inside a report body). It writes what serde_json's compact
//! form writes, byte for byte; what it saves is the cost: a string that needs no escape (nearly
//! every one) is found eight bytes at a time and copied whole, and a struct's member names
//! are copied without a scan. (serde_json's escaping, byte by byte through its formatter, was
//! about half the CPU of writing a report body.)

use std::fmt;

use serde::ser::{self, Serialize};

/// How a document is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentForm {
    /// As JSON text.
    Plain,
    /// As the content of a JSON string: the plain text with its quotes and backslashes escaped
    /// once more, ready to be placed between quotes in a JSON body.
    Embedded,
}

/// Writes `value` as a document in `form` at the end of `out`. On an error (a value JSON cannot
/// hold, such as a map with a non-string key) `out` is left as it was.
pub(crate) fn write_document(
    out: &mut String,
    form: DocumentForm,
    value: &impl Serialize,
) -> Result<(), Unsupported> {
    let start = out.len();
    let written = value.serialize(Writer::value(out, form));
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// `items` as an array document in `form` at the end of `out` (on an error, as
/// [`write_document`]).
pub(crate) fn write_items<T: Serialize>(
    out: &mut String,
    form: DocumentForm,
    items: impl Iterator<Item = T>,
) -> Result<(), Unsupported> {
    let start = out.len();
    let mut array = Writer::value(out, form).open('[')?;
    let written = items
        .into_iter()
        .try_for_each(|item| ser::SerializeSeq::serialize_element(&mut array, &item));
    if written.is_err() {
        out.truncate(start);
        return written;
    }
    array.close(']')
}

/// `text` as a plain JSON string, quotes included, at the end of `out`.
pub(crate) fn write_string(out: &mut String, text: &str) {
    string(out, DocumentForm::Plain, text);
}

/// The concatenation of `pieces`, as one plain JSON string, at the end of `out` (a text made
/// of parts, written without formatting it first).
pub(crate) fn write_joined<'a>(out: &mut String, pieces: impl IntoIterator<Item = &'a str>) {
    quote(out, DocumentForm::Plain);
    for piece in pieces {
        content(out, DocumentForm::Plain, piece);
    }
    quote(out, DocumentForm::Plain);
}

/// A value JSON cannot hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported(String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported(format!("a document cannot hold {what}")))
}

/// Bytes of a string's content that must be escaped: `"`, `\` and the control characters.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The length of the prefix of `bytes` that needs no escape, found eight bytes at a time.
fn clean_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("eight bytes"));
        // A byte below 0x20 (with its high bit clear), a quote or a backslash.
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let special =
            has_zero(word ^ (ONES * u64::from(b'"'))) | has_zero(word ^ (ONES * u64::from(b'\\')));
        if control | special != 0 {
            break;
        }
        i += 8;
    }
    i + bytes[i..].iter().take_while(|&&b| !needs_escape(b)).count()
}

/// A string's content (no quotes), escaped as serde_json escapes it, and in the embedded form
/// escaped once more. (Every byte that needs an escape is ASCII, so the text splits around it
/// on character boundaries.)
fn content(out: &mut String, form: DocumentForm, text: &str) {
    let mut rest = text;
    loop {
        let clean = clean_prefix(rest.as_bytes());
        out.push_str(&rest[..clean]);
        let Some(&byte) = rest.as_bytes().get(clean) else {
            return;
        };
        let mut unicode = *b"\\u0000";
        let plain: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\x08' => "\\b",
            b'\x0c' => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                unicode[4] = HEX[usize::from(byte >> 4)];
                unicode[5] = HEX[usize::from(byte & 0xf)];
                std::str::from_utf8(&unicode).expect("ASCII")
            }
        };
        match form {
            DocumentForm::Plain => out.push_str(plain),
            DocumentForm::Embedded => {
                for c in plain.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
        }
        rest = &rest[clean + 1..];
    }
}

fn quote(out: &mut String, form: DocumentForm) {
    match form {
        DocumentForm::Plain => out.push('"'),
        DocumentForm::Embedded => out.push_str("\\\""),
    }
}

fn string(out: &mut String, form: DocumentForm, text: &str) {
    quote(out, form);
    content(out, form, text);
    quote(out, form);
}

/// Writes a value, or a map's key (`key`): a string, or an integer or a char written as one (as
/// serde_json does); a key of any other kind is refused.
struct Writer<'a> {
    out: &'a mut String,
    form: DocumentForm,
    key: bool,
}

impl<'a> Writer<'a> {
    fn value(out: &'a mut String, form: DocumentForm) -> Self {
        Self {
            out,
            form,
            key: false,
        }
    }

    /// An integer: a string when it is a key.
    fn integer(self, digits: &str) -> Result<(), Unsupported> {
        if self.key {
            string(self.out, self.form, digits);
        } else {
            self.out.push_str(digits);
        }
        Ok(())
    }

    /// `true`, `false`, `null` or a float: no key.
    fn literal(self, text: &str) -> Result<(), Unsupported> {
        if self.key {
            return unsupported("a map key that is not a string");
        }
        self.out.push_str(text);
        Ok(())
    }

    fn open(self, bracket: char) -> Result<Compound<'a>, Unsupported> {
        if self.key {
            return unsupported("a map key that is not a string");
        }
        self.out.push(bracket);
        Ok(Compound {
            out: self.out,
            form: self.form,
            first: true,
        })
    }
}

/// An array or object being written; `first` until its first element is.
struct Compound<'a> {
    out: &'a mut String,
    form: DocumentForm,
    first: bool,
}

impl Compound<'_> {
    fn separate(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }

    fn value(&mut self, value: &(impl Serialize + ?Sized)) -> Result<(), Unsupported> {
        value.serialize(Writer::value(self.out, self.form))
    }

    /// A struct's member name: written as it is, for this crate's documents name their members
    /// with identifiers, which need no escape.
    fn member_name(&mut self, name: &'static str) {
        debug_assert_eq!(clean_prefix(name.as_bytes()), name.len(), "{name:?}");
        self.separate();
        quote(self.out, self.form);
        self.out.push_str(name);
        quote(self.out, self.form);
        self.out.push(':');
    }

    fn close(self, bracket: char) -> Result<(), Unsupported> {
        self.out.push(bracket);
        Ok(())
    }
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.literal(if v { "true" } else { "false" })
    }

    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.integer(itoa::Buffer::new().format(v))
    }

    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.integer(itoa::Buffer::new().format(v))
    }

    fn serialize_f32(self, v: f32) -> Result<(), Unsupported> {
        self.serialize_f64(v.into())
    }

    /// As serde_json writes it (`null` when not finite).
    fn serialize_f64(self, v: f64) -> Result<(), Unsupported> {
        let text = serde_json::to_string(&v).map_err(|e| Unsupported(e.to_string()))?;
        self.literal(&text)
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        string(self.out, self.form, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Unsupported> {
        let mut seq = self.open('[')?;
        for byte in v {
            ser::SerializeSeq::serialize_element(&mut seq, byte)?;
        }
        seq.close(']')
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.literal("null")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        let mut object = self.open('{')?;
        ser::SerializeStruct::serialize_field(&mut object, variant, value)?;
        object.close('}')
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Unsupported> {
        self.open('[')
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Unsupported> {
        unsupported("a tuple")
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        unsupported("a tuple struct")
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported("a tuple variant")
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Unsupported> {
        self.open('{')
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Unsupported> {
        self.open('{')
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported("a struct variant")
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.separate();
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close(']')
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    /// A key must be a string, as in JSON.
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.separate();
        key.serialize(Writer {
            key: true,
            ..Writer::value(self.out, self.form)
        })?;
        self.out.push(':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close('}')
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.member_name(name);
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close('}')
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::{write_document, write_joined, write_string, DocumentForm};

    fn document(form: DocumentForm, value: &Value) -> String {
        let mut out = String::new();
        write_document(&mut out, form, value).unwrap();
        out
    }

    /// Any JSON value: strings of any characters (quotes, backslashes, controls, any Unicode).
    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é中]{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    proptest! {
        /// The plain form is serde_json's compact text, and the embedded form that text as a
        /// JSON string's content.
        #[test]
        fn documents_are_serde_json_text(value in values()) {
            let plain = document(DocumentForm::Plain, &value);
            prop_assert_eq!(&plain, &serde_json::to_string(&value).unwrap());
            let embedded = document(DocumentForm::Embedded, &value);
            prop_assert_eq!(serde_json::to_string(&plain).unwrap(), format!("\"{embedded}\""));
        }

        #[test]
        fn strings_are_serde_json_strings(text in any::<String>(), tricky in "[a\"\\\\\u{0}-\u{1f}]{0,20}") {
            for text in [&text, &tricky] {
                let mut out = String::new();
                write_string(&mut out, text);
                prop_assert_eq!(out, serde_json::to_string(text).unwrap());
                let mut out = String::new();
                write_joined(&mut out, ["<", text, "", ">"]);
                prop_assert_eq!(
                    out,
                    serde_json::to_string(&format!("<{text}>")).unwrap()
                );
            }
        }
    }

    #[test]
    fn structs_write_their_members_in_order() {
        #[derive(serde::Serialize)]
        struct Document<'a> {
            b_name: &'a str,
            a_count: u64,
            list: Vec<Option<i8>>,
        }
        let value = Document {
            b_name: "say \"hi\"\n",
            a_count: 7,
            list: vec![Some(-1), None],
        };
        let mut out = String::new();
        write_document(&mut out, DocumentForm::Plain, &value).unwrap();
        assert_eq!(out, serde_json::to_string(&value).unwrap());
    }

    #[test]
    fn a_map_with_keys_json_cannot_hold_leaves_nothing() {
        let map: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let mut out = String::from("kept");
        assert!(write_document(&mut out, DocumentForm::Embedded, &map).is_err());
        assert_eq!(out, "kept");
    }
}
