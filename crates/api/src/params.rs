//! Request parameters: form decoding of the query string and of an
//! `application/x-www-form-urlencoded` body, and the canonical percent-encoding that both
//! signature schemes sign (protocol reference §5.2).
//!
//! Clients encode the same value differently (`+` or `%20` for a space, raw or escaped `,` `:`
//! `*` `/`), so the server always decodes and re-encodes; it never signs the wire bytes.
//! Decoding is strict where strictness cannot refuse a real SDK: a malformed `%` escape, a value
//! that is not UTF-8 once decoded, an empty name or a parameter given twice is an
//! `InvalidParameter` error naming the parameter. Empty values are kept (`SignatureType=` is
//! signed).
//!
//! Decoding is linear in the input and bounded: at most [`MAX_PARAMS`] parameters (a
//! DescribeDomainReport call signed with V1 carries about a dozen), so a request built to make
//! parsing expensive is refused after a few dozen pairs, before any authentication.

use crate::error::ApiError;

/// The most parameters a request may carry (query and body together).
pub const MAX_PARAMS: usize = 64;

/// Where a parameter came from. V1 signs both; V3 signs only the query (the body is covered by
/// `x-acs-content-sha256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Query,
    Body,
}

/// Decoded parameters in arrival order (query first, then body); names are unique. Every name
/// and value is decoded into one text, back to back, found by `memchr` and checked as UTF-8
/// once: a request's parameters cost one allocation, not two each (`cargo bench --bench params`:
/// an anonymous DescribeDomainReport query 434 -> 247 ns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    text: String,
    entries: Vec<Entry>,
}

/// Where one parameter's name and value lie in [`Params`]'s text: the name is
/// `start..name_end`, the value `name_end..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    start: usize,
    name_end: usize,
    end: usize,
    source: Source,
}

/// Parameters being decoded: their names and values back to back as bytes.
struct Decoding {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    check: Check,
}

/// When [`Decoding`] checks that the decoded texts are UTF-8.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Once, when all are in (a request's parameters, on their way to being answered).
    AtEnd,
    /// Each name and value as it is decoded, so that the first error in the parameters' order
    /// is the one found (a request that failed, decoded again for its error).
    EachPart,
}

impl Decoding {
    fn run(query: &str, body: Option<&[u8]>, check: Check) -> Result<Params, ApiError> {
        let mut decoding = Decoding {
            // Room for a call's parameters, not for a body's worth of refused ones.
            bytes: Vec::with_capacity((query.len() + body.map_or(0, <[u8]>::len)).min(4096)),
            entries: Vec::with_capacity(16),
            check,
        };
        decoding.extend_from(query.as_bytes(), Source::Query)?;
        if let Some(body) = body {
            decoding.extend_from(body, Source::Body)?;
        }
        let text = String::from_utf8(decoding.bytes).map_err(|_| {
            // Not reported: only the checked decoding's errors are (`Params::parse`).
            invalid("", "a parameter is not valid UTF-8 once decoded".into())
        })?;
        Ok(Params {
            text,
            entries: decoding.entries,
        })
    }

    /// Decodes the pairs of `raw` (a query string or a form body), one pass over each.
    fn extend_from(&mut self, raw: &[u8], source: Source) -> Result<(), ApiError> {
        for pair in pairs(raw).filter(|p| !p.is_empty()) {
            let start = self.bytes.len();
            let raw_name =
                || String::from_utf8_lossy(pair.split(|b| *b == b'=').next().unwrap_or_default());
            let name_len = decode_into(&mut self.bytes, pair, Part::Name)
                .and_then(|read| self.checked(start).map(|()| read))
                .map_err(|e| invalid(&raw_name(), e.describe("name")))?;
            let name_end = self.bytes.len();
            let raw_value = pair.get(name_len + 1..).unwrap_or_default();
            decode_into(&mut self.bytes, raw_value, Part::Value)
                .and_then(|_| self.checked(name_end))
                .map_err(|e| {
                    let name = String::from_utf8_lossy(&self.bytes[start..name_end]);
                    invalid(&name, e.describe("value"))
                })?;
            let end = self.bytes.len();
            push_entry(&mut self.entries, start, name_end, end, source)?;
        }
        Ok(())
    }

    /// With [`Check::EachPart`], whether the bytes decoded from `start` are UTF-8; else `Ok`.
    fn checked(&self, start: usize) -> Result<(), DecodeError> {
        match self.check {
            Check::AtEnd => Ok(()),
            Check::EachPart => std::str::from_utf8(&self.bytes[start..])
                .map(|_| ())
                .map_err(|e| DecodeError::NotUtf8 {
                    offset: e.valid_up_to(),
                }),
        }
    }
}

/// Records a parameter whose name is `start..name_end` and value `name_end..end`.
fn push_entry(
    entries: &mut Vec<Entry>,
    start: usize,
    name_end: usize,
    end: usize,
    source: Source,
) -> Result<(), ApiError> {
    if name_end == start {
        return Err(invalid("", "a parameter has an empty name".into()));
    }
    if entries.len() == MAX_PARAMS {
        return Err(ApiError::invalid(
            "",
            format!("a request carries at most {MAX_PARAMS} parameters"),
        ));
    }
    entries.push(Entry {
        start,
        name_end,
        end,
        source,
    });
    Ok(())
}

/// The `Content-Type` whose body holds parameters.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Whether `content_type` (any case, parameters such as `; charset=utf-8` allowed) is a form.
pub fn is_form_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case(FORM_CONTENT_TYPE)
}

impl Params {
    /// Decodes the raw query string (without `?`) and, if given, a form body.
    pub fn parse(query: &str, body: Option<&[u8]>) -> Result<Self, ApiError> {
        // The texts are checked as UTF-8 once, when all are in; a request that fails is decoded
        // again, each text checked as it comes, for its first error in the parameters' order.
        let params = Decoding::run(query, body, Check::AtEnd)
            .or_else(|_| Decoding::run(query, body, Check::EachPart))?;
        params.check_unique()?;
        Ok(params)
    }

    /// Decodes a request's parameters: the query, plus the body when it is non-empty and its
    /// content type is a form. Any other body (e.g. the empty `application/octet-stream` of the
    /// async Tea client) is ignored here; V3 still covers it through its hash.
    pub fn from_request(
        query: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let form = !body.is_empty() && content_type.is_some_and(is_form_content_type);
        Self::parse(query, form.then_some(body))
    }

    /// Parameters from already-decoded query pairs (a client building a request, tests).
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, ApiError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut params = Params::default();
        for (name, value) in pairs {
            let start = params.text.len();
            params.text.push_str(name.as_ref());
            let name_end = params.text.len();
            params.text.push_str(value.as_ref());
            let end = params.text.len();
            push_entry(&mut params.entries, start, name_end, end, Source::Query)?;
        }
        params.check_unique()?;
        Ok(params)
    }

    fn name(&self, entry: &Entry) -> &str {
        &self.text[entry.start..entry.name_end]
    }

    /// Whether `entry` is named `name`, compared as bytes: slicing the text as `str` checks
    /// both ends for a character boundary, and names are compared many times a request.
    fn is_named(&self, entry: &Entry, name: &[u8]) -> bool {
        &self.text.as_bytes()[entry.start..entry.name_end] == name
    }

    fn value(&self, entry: &Entry) -> &str {
        &self.text[entry.name_end..entry.end]
    }

    /// Names are unique: the first name given twice, in arrival order, is refused. Each name is
    /// compared with those before it: at most [`MAX_PARAMS`] names, a dozen in a real call,
    /// cheaper than hashing them.
    fn check_unique(&self) -> Result<(), ApiError> {
        let repeated = self.entries.iter().enumerate().find(|(i, p)| {
            let name = &self.text.as_bytes()[p.start..p.name_end];
            self.entries[..*i].iter().any(|q| self.is_named(q, name))
        });
        match repeated {
            Some((_, repeated)) => Err(invalid(
                self.name(repeated),
                "it is given more than once".into(),
            )),
            None => Ok(()),
        }
    }

    /// The value of `name` (names are case-sensitive, as in the SDKs).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|p| self.is_named(p, name.as_bytes()))
            .map(|p| self.value(p))
    }

    /// (name, value) pairs in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|p| (self.name(p), self.value(p)))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// V1's `CanonicalizedQueryString` (§5.2 steps 1–4): every parameter (query and body) except
    /// those in `skip`, sorted by raw name, `enc(k)=enc(v)` joined by `&`.
    pub fn canonical(&self, skip: &[&str]) -> String {
        let mut out = String::new();
        self.canonical_in(&mut out, skip, Encoding::Once);
        out
    }

    /// `enc(`[`canonical`](Self::canonical)`)`, as V1's string-to-sign holds it, written in one
    /// pass: every escape of the canonical form is escaped again (`%` as `%25`), and so are its
    /// `=` (`%3D`) and `&` (`%26`).
    pub fn canonical_encoded(&self, skip: &[&str]) -> String {
        let mut out = String::new();
        self.push_canonical_encoded(&mut out, skip);
        out
    }

    /// [`canonical_encoded`](Self::canonical_encoded), appended to `out`.
    pub fn push_canonical_encoded(&self, out: &mut String, skip: &[&str]) {
        self.canonical_in(out, skip, Encoding::Twice);
    }

    fn canonical_in(&self, out: &mut String, skip: &[&str], encoding: Encoding) {
        let mut pairs: Vec<(&str, &str)> = self.iter().filter(|(k, _)| !skip.contains(k)).collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let (and, equals) = match encoding {
            Encoding::Once => ("&", "="),
            Encoding::Twice => ("%26", "%3D"),
        };
        // Room for the texts and their separators, and for a few escapes, so that the text
        // is not copied as it grows.
        let texts: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
        out.reserve(texts + texts / 4 + pairs.len() * (and.len() + equals.len()));
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if i > 0 {
                out.push_str(and);
            }
            encoding.encode_into(out, k);
            out.push_str(equals);
            encoding.encode_into(out, v);
        }
    }

    /// V3's `CanonicalQueryString` (§6.2): the query parameters only, encoded, sorted by encoded
    /// name; `""` when there are none.
    pub fn canonical_query(&self) -> String {
        let mut pairs: Vec<(String, String)> = self
            .entries
            .iter()
            .filter(|p| p.source == Source::Query)
            .map(|p| (encode(self.name(p)), encode(self.value(p))))
            .collect();
        pairs.sort_unstable();
        let joined: Vec<String> = pairs.into_iter().map(|(k, v)| k + "=" + &v).collect();
        joined.join("&")
    }
}

fn invalid(name: &str, reason: String) -> ApiError {
    ApiError::invalid(shown(name), reason)
}

/// At most 64 characters of `s`, for messages that echo client input.
pub(crate) fn shown(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// Why a component could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// `%` not followed by two hex digits; `escape` is what followed it (up to 2 bytes).
    BadEscape { offset: usize, escape: String },
    /// The decoded bytes are not UTF-8; `offset` is the first bad byte in the decoded bytes.
    NotUtf8 { offset: usize },
}

impl DecodeError {
    fn describe(&self, what: &str) -> String {
        match self {
            Self::BadEscape { offset, escape } => {
                format!("its {what} has an invalid percent-escape \"%{escape}\" at byte {offset}")
            }
            Self::NotUtf8 { offset } => {
                format!("its {what} is not valid UTF-8 once decoded (byte {offset})")
            }
        }
    }
}

/// Form decoding of one component: `+` is a space, `%XX` a byte (either hex case); the result
/// must be UTF-8.
pub fn decode_component(raw: &[u8]) -> Result<String, DecodeError> {
    let mut bytes = Vec::with_capacity(raw.len());
    decode_into(&mut bytes, raw, Part::Value)?;
    String::from_utf8(bytes).map_err(|e| DecodeError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// The `&`-separated pairs of `raw` (a query string or a form body), found by `memchr`.
fn pairs(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let ends = memchr::memchr_iter(b'&', raw).chain([raw.len()]);
    ends.scan(0, |start, end| {
        let pair = &raw[*start..end];
        *start = end + 1;
        Some(pair)
    })
}

/// Which part of a pair [`decode_into`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The name: up to the first `=`.
    Name,
    /// The value: everything.
    Value,
}

/// Decodes `part` of `raw` at the end of `out`, runs of literal bytes found by `memchr` and
/// copied whole, and returns how many bytes of `raw` it read (a name's `=` is not read). The
/// bytes are not checked as UTF-8 here. On an error `out` may hold part of the component.
fn decode_into(out: &mut Vec<u8>, raw: &[u8], part: Part) -> Result<usize, DecodeError> {
    let special = |rest: &[u8]| match part {
        Part::Name => memchr::memchr3(b'=', b'+', b'%', rest),
        Part::Value => memchr::memchr2(b'+', b'%', rest),
    };
    let mut i = 0;
    while let Some(run) = special(&raw[i..]) {
        out.extend_from_slice(&raw[i..i + run]);
        i += run;
        match raw[i] {
            b'=' => return Ok(i),
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    let end = raw.len().min(i + 3);
                    return Err(DecodeError::BadEscape {
                        offset: i,
                        escape: String::from_utf8_lossy(&raw[i + 1..end]).into_owned(),
                    });
                };
                out.push(hi << 4 | lo);
                i += 3;
            }
        }
    }
    out.extend_from_slice(&raw[i..]);
    Ok(raw.len())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `b` stays literal in the canonical encoding: `A-Z a-z 0-9 - _ . ~`.
pub fn is_unreserved(b: u8) -> bool {
    UNRESERVED[usize::from(b)]
}

/// [`is_unreserved`] for each byte: a table, as it is asked of every byte a signature covers.
static UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

/// The canonical percent-encoding of §5.2: unreserved bytes stay, every other byte of the UTF-8
/// text becomes `%XX` in upper-case hex (space `%20`, `*` `%2A`, `/` `%2F`, `+` `%2B`).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s);
    out
}

/// [`encode`], appending to `out`.
pub fn encode_into(out: &mut String, s: &str) {
    Encoding::Once.encode_into(out, s);
}

/// How many times a text is percent-encoded.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Once,
    /// Encoded, then encoded again: what was escaped as `%XX` becomes `%25XX` (the `XX` are
    /// unreserved); the rest is unreserved already.
    Twice,
}

impl Encoding {
    fn encode_into(self, out: &mut String, s: &str) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let escape = match self {
            Self::Once => "%",
            Self::Twice => "%25",
        };
        // Runs of unreserved (ASCII) bytes are copied whole; they start and end on char
        // boundaries.
        let mut run = 0;
        for (i, b) in s.bytes().enumerate() {
            if is_unreserved(b) {
                continue;
            }
            if run < i {
                out.push_str(&s[run..i]);
            }
            out.push_str(escape);
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xF)] as char);
            run = i + 1;
        }
        if run < s.len() {
            out.push_str(&s[run..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_semantics() {
        let p = Params::parse("a=x+y%20z&b=&c&d=%E4%BE%8B&e=a=b", None).unwrap();
        assert_eq!(p.get("a"), Some("x y z"));
        assert_eq!(p.get("b"), Some(""));
        assert_eq!(p.get("c"), Some(""));
        assert_eq!(p.get("d"), Some("例"));
        assert_eq!(p.get("e"), Some("a=b"));
        assert_eq!(p.len(), 5);
        assert_eq!(p.canonical(&[]), "a=x%20y%20z&b=&c=&d=%E4%BE%8B&e=a%3Db");
    }

    #[test]
    fn body_params_are_v1_only() {
        let p = Params::from_request(
            "b=2",
            Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            b"a=1",
        )
        .unwrap();
        assert_eq!(p.canonical(&[]), "a=1&b=2");
        assert_eq!(p.canonical_query(), "b=2");
        let ignored =
            Params::from_request("b=2", Some("application/octet-stream"), b"a=1").unwrap();
        assert_eq!(ignored.get("a"), None);
    }

    #[test]
    fn errors_name_the_parameter() {
        let err = Params::parse("Domain=a%zz", None).unwrap_err();
        assert_eq!(err.code(), "InvalidParameter");
        let text = err.to_string();
        assert!(
            text.starts_with("Specified parameter Domain is not valid."),
            "{text}"
        );
        assert!(text.contains("\"%zz\""), "{text}");
        let err = Params::parse("Domain=%ff", None).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
        let err = Params::parse("A=1&A=1", None).unwrap_err();
        assert!(
            err.to_string().contains("parameter A is not valid"),
            "{err}"
        );
        let err = Params::parse("A=1", Some(b"A=2")).unwrap_err();
        assert!(err.to_string().contains("more than once"), "{err}");
        // Errors come in the parameters' order, whatever their kind; offsets are within the
        // name or value.
        let err = Params::parse("a=%ff&b=%zz", None).unwrap_err().to_string();
        assert!(
            err.contains("parameter a is not valid") && err.contains("UTF-8 once decoded (byte 0)"),
            "{err}"
        );
        let err = Params::parse("a=1&b=x%E4%BE", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("parameter b is not valid")
                && err.contains("its value")
                && err.contains("(byte 1)"),
            "{err}"
        );
        let err = Params::parse("a=1&x%ff=2", None).unwrap_err().to_string();
        assert!(
            err.contains("its name is not valid UTF-8 once decoded (byte 1)"),
            "{err}"
        );
        let err = Params::parse("a=1&b=%2", Some(b"c=3"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("parameter b is not valid") && err.contains("\"%2\" at byte 0"),
            "{err}"
        );
        for bad in ["a=%", "a=%4", "a=%g0", "%=1", "=1"] {
            assert!(Params::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn encoding_is_rfc3986_upper_case() {
        assert_eq!(encode("a b*c~d/e+f,:="), "a%20b%2Ac~d%2Fe%2Bf%2C%3A%3D");
        assert_eq!(encode("例"), "%E4%BE%8B");
    }
}
