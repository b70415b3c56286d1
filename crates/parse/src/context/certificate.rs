//! X.509 certificates (DER, PEM, PEM bundles with leading text) → [`Certificate`].
//!
//! Names are rendered the way `openssl x509 -nameopt RFC2253` prints them, which is also what
//! RFC 4514 asks for: RDNs most-specific first, `,` between RDNs and `+` inside one, OpenSSL's
//! short attribute names (`CN`, `O`, `serialNumber`, `jurisdictionC`, ...), the characters
//! `,+"\<>;` escaped with `\`, bytes of non-ASCII characters and controls as `\XX`, and values
//! of unknown attribute types or non-string encodings as `#` and the hex of their DER.
//!
//! `sans` holds the DNS names followed by the IP addresses of the subjectAltName extension;
//! `covers` holds the DNS names (or the subject CN when there are none) that parse as a
//! [`DomainQuery`], `*.zone` as a wildcard. IP SANs never cover a name.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use threatintel_model::{Certificate, DomainQuery, Timestamp};
use x509_parser::der_parser::asn1_rs::{Any, Class, Tag};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// Why an input holds no usable certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("no certificate found (neither PEM nor DER)")]
    Empty,
    #[error("PEM block {index} has no END line")]
    UnterminatedPem { index: usize },
    #[error("PEM block {index} is not valid base64: {reason}")]
    Base64 { index: usize, reason: String },
    #[error("certificate {index} is not valid DER X.509: {reason}")]
    Der { index: usize, reason: String },
    #[error("certificate {index}: validity time out of range")]
    Time { index: usize },
}

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
/// Also accepted: `BEGIN X509 CERTIFICATE`, `BEGIN TRUSTED CERTIFICATE`.
const BEGIN_ALT: [&str; 2] = [
    "-----BEGIN X509 CERTIFICATE-----",
    "-----BEGIN TRUSTED CERTIFICATE-----",
];

/// Parses DER, one PEM certificate or a PEM bundle (text before, between and after the
/// blocks is skipped). One bad block fails the input, with the block's index.
pub fn parse_certificates(
    input: &[u8],
    seen_at: Timestamp,
    seen_where: &str,
) -> Result<Vec<Certificate>, CertError> {
    let ders = certificate_ders(input)?;
    ders.iter()
        .enumerate()
        .map(|(index, der)| parse_der_indexed(der, index, seen_at, seen_where))
        .collect()
}

/// The DER encodings in `input`: the PEM blocks, or the input itself when it has none.
pub fn certificate_ders(input: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    let text = String::from_utf8_lossy(input);
    let has_pem = text.contains(BEGIN) || BEGIN_ALT.iter().any(|b| text.contains(b));
    if !has_pem {
        if input.first() == Some(&0x30) {
            return Ok(vec![input.to_vec()]);
        }
        return Err(CertError::Empty);
    }
    let mut out = Vec::new();
    let mut rest: &str = &text;
    let mut index = 0;
    loop {
        let found = std::iter::once(BEGIN)
            .chain(BEGIN_ALT)
            .filter_map(|b| rest.find(b).map(|p| (p, b)))
            .min_by_key(|(p, _)| *p);
        let Some((start, begin)) = found else {
            break;
        };
        let body_start = start + begin.len();
        let end_marker = begin.replace("BEGIN", "END");
        let Some(len) = rest[body_start..].find(&end_marker) else {
            return Err(CertError::UnterminatedPem { index });
        };
        let body: String = rest[body_start..body_start + len]
            .lines()
            // RFC 1421 headers (`Proc-Type: ...`) are not base64.
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| CertError::Base64 {
                index,
                reason: e.to_string(),
            })?;
        out.push(der);
        index += 1;
        rest = &rest[body_start + len + end_marker.len()..];
    }
    if out.is_empty() {
        return Err(CertError::Empty);
    }
    Ok(out)
}

/// Parses one DER certificate.
pub fn parse_der(
    der: &[u8],
    seen_at: Timestamp,
    seen_where: &str,
) -> Result<Certificate, CertError> {
    parse_der_indexed(der, 0, seen_at, seen_where)
}

fn time(t: &x509_parser::time::ASN1Time, index: usize) -> Result<Timestamp, CertError> {
    let dt = t.to_datetime();
    DateTime::<Utc>::from_timestamp(dt.unix_timestamp(), dt.nanosecond())
        .ok_or(CertError::Time { index })
}

fn parse_der_indexed(
    der: &[u8],
    index: usize,
    seen_at: Timestamp,
    seen_where: &str,
) -> Result<Certificate, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError::Der {
        index,
        reason: e.to_string(),
    })?;
    let mut dns: Vec<String> = Vec::new();
    let mut ips: Vec<String> = Vec::new();
    // The first subjectAltName extension (a duplicate one is ignored, as TLS stacks do).
    let first_san = cert.extensions().iter().find(|ext| {
        matches!(
            ext.parsed_extension(),
            ParsedExtension::SubjectAlternativeName(_)
        )
    });
    if let Some(ext) = first_san {
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for name in &san.general_names {
                match name {
                    GeneralName::DNSName(n) => dns.push((*n).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            ips.push(ip.to_string());
                        }
                    }
                    GeneralName::Invalid(Tag(2), bytes) => {
                        dns.push(String::from_utf8_lossy(bytes).into_owned());
                    }
                    _ => {}
                }
            }
        }
    }
    let covers = covers(&dns, cert.subject());
    let mut sans = dns;
    sans.extend(ips);
    let validity = cert.validity();
    Ok(Certificate {
        serial: cert.tbs_certificate.serial.to_string(),
        issuer: rfc2253(cert.issuer()),
        subject: rfc2253(cert.subject()),
        sans,
        covers,
        not_before: time(&validity.not_before, index)?,
        not_after: time(&validity.not_after, index)?,
        sha256: hex(&Sha256::digest(der)),
        seen_at,
        seen_where: seen_where.to_owned(),
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// DNS SANs, or the subject CN without any, as queries; names that do not parse are skipped.
fn covers(dns: &[String], subject: &X509Name<'_>) -> Vec<DomainQuery> {
    let names: Vec<String> = if dns.is_empty() {
        subject
            .iter_common_name()
            .filter_map(|cn| attr_text(cn.attr_value()))
            .collect()
    } else {
        dns.to_vec()
    };
    let mut out: Vec<DomainQuery> = Vec::new();
    for n in names {
        if let Ok(q) = DomainQuery::parse(&n) {
            if !out.contains(&q) {
                out.push(q);
            }
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// OpenSSL's short names for the attribute types it knows.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.13" => "description",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.18" => "postOfficeBox",
        "2.5.4.41" => "name",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.45" => "x500UniqueIdentifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.97" => "organizationIdentifier",
        "2.5.4.16" => "postalAddress",
        "2.5.4.20" => "telephoneNumber",
        "2.5.4.72" => "role",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.2.840.113549.1.9.2" => "unstructuredName",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    })
}

/// A string-typed attribute value as text (T61 read as Latin-1, BMP as UTF-16, Universal as
/// UTF-32); `None` for other types.
fn attr_text(value: &Any<'_>) -> Option<String> {
    let data: &[u8] = value.data;
    if value.class() != Class::Universal {
        return None;
    }
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => Some(String::from_utf8_lossy(data).into_owned()),
        Tag::T61String | Tag::VideotexString | Tag::GeneralString | Tag::GraphicString => {
            Some(data.iter().map(|&b| char::from(b)).collect())
        }
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        Tag::UniversalString => Some(
            data.chunks(4)
                .map(|c| {
                    let mut b = [0u8; 4];
                    b[..c.len()].copy_from_slice(c);
                    char::from_u32(u32::from_be_bytes(b)).unwrap_or('\u{fffd}')
                })
                .collect(),
        ),
        _ => None,
    }
}

/// The DER encoding of `value` (identifier, length, content) for `#hex` dumps.
fn der_of(value: &Any<'_>) -> Vec<u8> {
    let data: &[u8] = value.data;
    let class_bits: u8 = match value.class() {
        Class::Universal => 0x00,
        Class::Application => 0x40,
        Class::ContextSpecific => 0x80,
        Class::Private => 0xc0,
    };
    let constructed = if value.header.is_constructed() {
        0x20
    } else {
        0
    };
    let mut out = Vec::with_capacity(data.len() + 6);
    let tag = value.tag().0;
    if tag < 31 {
        out.push(class_bits | constructed | tag as u8);
    } else {
        out.push(class_bits | constructed | 0x1f);
        let mut groups = Vec::new();
        let mut t = tag;
        loop {
            groups.push((t & 0x7f) as u8);
            t >>= 7;
            if t == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().enumerate().rev() {
            out.push(if i == 0 { *g } else { g | 0x80 });
        }
    }
    let len = data.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(data);
    out
}

/// RFC 2253 escaping as OpenSSL applies it (`ESC_2253 | ESC_CTRL | ESC_MSB`).
fn escape(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    for (i, &b) in bytes.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == bytes.len();
        match b {
            b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b'#' if first => out.push_str("\\#"),
            b' ' if first || last => out.push_str("\\ "),
            0x00..=0x1f | 0x7f..=0xff => out.push_str(&format!("\\{b:02X}")),
            _ => out.push(char::from(b)),
        }
    }
    out
}

/// A name as `openssl -nameopt RFC2253` prints it.
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            // OpenSSL reverses the whole attribute list, inside multi-valued RDNs too.
            let atvs: Vec<_> = rdn.iter().collect();
            atvs.into_iter()
                .rev()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let value = atv.attr_value();
                    match (short_name(&oid), attr_text(value)) {
                        (Some(sn), Some(text)) => format!("{sn}={}", escape(&text)),
                        (Some(sn), None) => format!("{sn}=#{}", hex(&der_of(value))),
                        (None, _) => format!("{oid}=#{}", hex(&der_of(value))),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}
