//! Where an address is and who announces it ([`IpLocation`]), from databases the user supplies:
//! MMDB files (MaxMind GeoLite2/GeoIP2 City, Country, ASN and ISP, DB-IP lite, IPinfo lite),
//! iptoasn TSV ranges and RouteViews pfx2as prefixes. The caller reads the files; this module
//! only decodes bytes. Each field comes from the first database that gives it: the MMDB files
//! in the order added, then the ASN tables for `asn` (ranges before prefixes) and `asn_label`
//! (an iptoasn description of that AS number).

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;
use std::net::IpAddr;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::ip::IpLocation;

/// A database that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("not an MMDB file: {0}")]
    Mmdb(#[from] maxminddb::MaxMindDbError),
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
}

/// The databases, searched in memory. Empty by default: every field then stays `""`.
#[derive(Default)]
pub struct Geolocator {
    mmdb: Vec<maxminddb::Reader<Vec<u8>>>,
    /// iptoasn ranges (addresses as [`key`]), sorted by start, with their AS number.
    ranges: Vec<(u128, u128, u32)>,
    /// pfx2as prefixes, by prefix length (of [`key`]) longest first: masked start → AS number.
    prefixes: Vec<(u8, HashMap<u128, u32>)>,
    /// The iptoasn description of each AS number.
    labels: HashMap<u32, Box<str>>,
}

impl fmt::Debug for Geolocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Geolocator")
            .field("mmdb", &self.mmdb.len())
            .field("ranges", &self.ranges.len())
            .field("prefixes", &self.prefixes.len())
            .finish()
    }
}

impl Geolocator {
    /// Adds an MMDB file's bytes (after the ones added before).
    pub fn add_mmdb(&mut self, bytes: Vec<u8>) -> Result<(), GeoError> {
        self.mmdb.push(maxminddb::Reader::from_source(bytes)?);
        Ok(())
    }

    /// Adds iptoasn ranges (`ip2asn-v4.tsv`, `ip2asn-v6.tsv`, `ip2asn-combined.tsv`: tab-separated
    /// `range_start range_end AS_number country AS_description`; AS 0, "Not routed", is
    /// skipped). Returns the number of ranges added.
    pub fn add_iptoasn(&mut self, reader: impl BufRead) -> Result<usize, GeoError> {
        let mut added = 0;
        each_line(reader, |fields| {
            let [start, end, asn, _country, label] = fields_of(fields)?;
            let (start, end) = (address(start)?, address(end)?);
            if end < start {
                return Err("the range ends before it starts".into());
            }
            let asn = as_number(asn)?;
            if asn != 0 {
                self.ranges.push((start, end, asn));
                if !label.is_empty() {
                    self.labels.entry(asn).or_insert_with(|| label.into());
                }
                added += 1;
            }
            Ok(())
        })?;
        self.ranges.sort_unstable_by_key(|&(start, _, _)| start);
        Ok(added)
    }

    /// Adds RouteViews prefix-to-AS lines (`prefix length asn`, whitespace-separated; a
    /// multi-origin `701_702` or set `{701,702}` counts as its first AS). The most specific
    /// prefix containing an address wins. Returns the number of prefixes added.
    pub fn add_pfx2as(&mut self, reader: impl BufRead) -> Result<usize, GeoError> {
        let mut added = 0;
        each_line(reader, |fields| {
            let [prefix, length, asn] = fields_of(fields)?;
            let addr: IpAddr = prefix
                .parse()
                .map_err(|_| format!("{prefix:?} is not an address"))?;
            let length: u8 = length
                .parse()
                .map_err(|_| format!("{length:?} is not a prefix length"))?;
            let (start, length) = match addr {
                IpAddr::V4(_) if length <= 32 => (key(addr), length + 96),
                IpAddr::V6(_) if length <= 128 => (key(addr), length),
                _ => return Err(format!("/{length} is too long for {addr}")),
            };
            let first = asn
                .trim_matches(|c| c == '{' || c == '}')
                .split(['_', ','])
                .next()
                .unwrap_or_default();
            let asn = as_number(first)?;
            let index = match self.prefixes.iter().position(|(l, _)| *l <= length) {
                Some(i) if self.prefixes[i].0 == length => i,
                Some(i) => {
                    self.prefixes.insert(i, (length, HashMap::new()));
                    i
                }
                None => {
                    self.prefixes.push((length, HashMap::new()));
                    self.prefixes.len() - 1
                }
            };
            self.prefixes[index].1.insert(masked(start, length), asn);
            added += 1;
            Ok(())
        })?;
        Ok(added)
    }

    /// Whether any database was added.
    pub fn is_empty(&self) -> bool {
        self.mmdb.is_empty() && self.ranges.is_empty() && self.prefixes.is_empty()
    }

    /// What the databases say about `ip`.
    pub fn locate(&self, ip: IpAddr) -> IpLocation {
        let mut location = IpLocation::default();
        for reader in &self.mmdb {
            // A database that cannot answer (an IPv6 address in an IPv4 file, a damaged
            // record) says nothing.
            if let Ok(Some(record)) = reader.lookup(ip).and_then(|r| r.decode::<Record>()) {
                record.fill(&mut location);
            }
        }
        if location.asn.is_empty() {
            if let Some(asn) = self.as_number(key(ip)) {
                location.asn = asn.to_string();
            }
        }
        if location.asn_label.is_empty() {
            if let Some(label) = location.asn.parse().ok().and_then(|n| self.labels.get(&n)) {
                location.asn_label = label.to_string();
            }
        }
        location
    }

    fn as_number(&self, key: u128) -> Option<u32> {
        let after = self.ranges.partition_point(|&(start, _, _)| start <= key);
        if let Some(&(_, end, asn)) = after.checked_sub(1).map(|i| &self.ranges[i]) {
            if key <= end {
                return Some(asn);
            }
        }
        self.prefixes
            .iter()
            .find_map(|(length, table)| table.get(&masked(key, *length)).copied())
    }
}

/// An address as one number: IPv4 as its IPv4-mapped IPv6 address.
fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn masked(key: u128, length: u8) -> u128 {
    key & u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0)
}

fn address(text: &str) -> Result<u128, String> {
    text.parse()
        .map(key)
        .map_err(|_| format!("{text:?} is not an address"))
}

fn as_number(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("AS").unwrap_or(text);
    digits
        .parse()
        .map_err(|_| format!("{text:?} is not an AS number"))
}

/// The `N` fields of a line: tab-separated (the last one takes the rest of the line), else
/// separated by whitespace. Only the last may be empty.
fn fields_of<const N: usize>(line: &str) -> Result<[&str; N], String> {
    let mut parts: Box<dyn Iterator<Item = &str>> = if line.contains('\t') {
        Box::new(line.splitn(N, '\t'))
    } else {
        Box::new(line.split_whitespace())
    };
    let mut fields = [""; N];
    for field in &mut fields {
        *field = parts.next().map(str::trim).unwrap_or_default();
    }
    if parts.next().is_some() {
        return Err(format!("more than {N} fields"));
    }
    if fields[..N - 1].iter().any(|f| f.is_empty()) {
        return Err(format!("fewer than {N} fields"));
    }
    Ok(fields)
}

/// Calls `parse` on every line that is neither blank nor a `#` comment.
fn each_line(
    mut reader: impl BufRead,
    mut parse: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), GeoError> {
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() || text.starts_with('#') {
            continue;
        }
        parse(text).map_err(|reason| GeoError::Line {
            line: number,
            reason,
        })?;
    }
}

/// The members of an MMDB record this module reads, whichever schema wrote it: GeoIP2 and
/// DB-IP (`country`, `subdivisions`, `city` as objects with `names`; `isp`;
/// `autonomous_system_number` and `_organization`) or IPinfo (`country`, `region`, `city` as
/// text; `asn` as `AS15169`, `as_name`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Record<'a> {
    #[serde(borrow)]
    country: Place<'a>,
    #[serde(borrow)]
    country_name: Option<&'a str>,
    #[serde(borrow)]
    subdivisions: FirstPlace<'a>,
    #[serde(borrow)]
    region: Option<&'a str>,
    #[serde(borrow)]
    city: Place<'a>,
    #[serde(borrow)]
    isp: Option<&'a str>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow)]
    asn: Option<&'a str>,
    #[serde(borrow)]
    as_name: Option<&'a str>,
}

impl Record<'_> {
    fn fill(&self, location: &mut IpLocation) {
        let asn = self
            .autonomous_system_number
            .map(|n| n.to_string())
            .or_else(|| {
                self.asn
                    .and_then(|a| as_number(a).ok())
                    .map(|n| n.to_string())
            });
        let fields = [
            (&mut location.country, self.country_name.or(self.country.0)),
            (
                &mut location.province,
                self.subdivisions.0 .0.or(self.region),
            ),
            (&mut location.city, self.city.0),
            (&mut location.isp, self.isp),
            (
                &mut location.asn_label,
                self.autonomous_system_organization.or(self.as_name),
            ),
            (&mut location.asn, asn.as_deref()),
        ];
        for (field, value) in fields {
            match value {
                Some(value) if field.is_empty() && !value.is_empty() => *field = value.to_owned(),
                _ => {}
            }
        }
    }
}

/// A place's name: its English name (else its first name) when it is an object with `names`,
/// the text itself when it is text.
#[derive(Default)]
struct Place<'a>(Option<&'a str>);

impl<'de: 'a, 'a> Deserialize<'de> for Place<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Place(name) = deserializer.deserialize_any(PlaceVisitor)?;
        Ok(Place(name))
    }
}

struct PlaceVisitor;

impl<'de> Visitor<'de> for PlaceVisitor {
    type Value = Place<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a place name or an object with names")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Place<'de>, E> {
        Ok(Place(Some(text)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Place<'de>, A::Error> {
        let mut name = None;
        while let Some(key) = map.next_key::<&str>()? {
            if key == "names" {
                name = map.next_value::<Names>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Place(name))
    }
}

/// `names`: the English one, else the first.
struct Names<'a>(Option<&'a str>);

impl<'de: 'a, 'a> Deserialize<'de> for Names<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;
        impl<'de> Visitor<'de> for NamesVisitor {
            type Value = Names<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("names by language")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Names<'de>, A::Error> {
                let (mut english, mut first) = (None, None);
                while let Some((lang, name)) = map.next_entry::<&str, &str>()? {
                    if lang == "en" {
                        english = Some(name);
                    } else if first.is_none() {
                        first = Some(name);
                    }
                }
                Ok(Names(english.or(first)))
            }
        }
        let Names(name) = deserializer.deserialize_map(NamesVisitor)?;
        Ok(Names(name))
    }
}

/// `subdivisions`: the first (the largest) one's name.
#[derive(Default)]
struct FirstPlace<'a>(Place<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstPlace<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FirstVisitor;
        impl<'de> Visitor<'de> for FirstVisitor {
            type Value = FirstPlace<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of places")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstPlace<'de>, A::Error> {
                let first = seq.next_element::<Place>()?.unwrap_or_default();
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstPlace(first))
            }
        }
        let FirstPlace(first) = deserializer.deserialize_seq(FirstVisitor)?;
        Ok(FirstPlace(first))
    }
}
