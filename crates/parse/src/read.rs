//! The one way to read an input: [`read`] takes a [`Format`], a reader, a [`Context`] and a
//! [`Sink`], and hands the sink the input's sources, records, rejects and skips in input order.
//!
//! Line formats are read a line at a time (a line longer than [`MAX_LINE`] is a reject and is
//! not held); documents are read whole up to [`MAX_DOCUMENT`] (registration records and
//! certificates up to [`MAX_RECORD_DOCUMENT`]) and walked a part at a time. Every record is
//! cut to the [limits](crate::limits) before the sink sees it.

use std::io::{BufRead, Read};
use std::path::Path;

use threatintel_model::{
    DomainName, Evidence, IpNetwork, NetworkRegistration, Reliability, Source, Timestamp,
};

use crate::context::{
    is_rdap_ip_network, parse_certificates, parse_cof_line, parse_eve_line, parse_event_line,
    parse_rdap_domain_for, parse_rdap_ip_network, parse_whois_for, parse_whois_network,
    NetworkError, PdnsRecord,
};
use crate::feed::{
    misp, parse_threatfox, parse_top_list, parse_warninglist, stix, CsvMapping, CsvParser,
    CsvPreset, FeedDefaults, LineContext, ManifestEntry, Parsed, Parts, PlainParser,
    TopListOptions,
};
use crate::limits::{bound, truncate, MAX_DOCUMENT, MAX_LINE, MAX_REASON, MAX_RECORD_DOCUMENT};
use crate::{Format, Reject};

/// What [`read`] hands over. Sources come before the records that name them; a source is not
/// a record of the input (the input did not state it as such).
pub trait Sink {
    /// A source the records that follow name.
    fn source(&mut self, source: Source) -> Result<(), Stopped>;
    /// A record, with the line (or object position) it came from; 0 when unknown.
    fn evidence(&mut self, evidence: Evidence, line: u64) -> Result<(), Stopped>;
    /// A record that could not be used.
    fn reject(&mut self, reject: Reject);
    /// `records` valid records that carry nothing this model holds.
    fn skip(&mut self, records: u64);
    /// Aliases the input states for a family or group label (maltrail `# Aliases:`, STIX
    /// `aliases`, MISP galaxy `synonyms`). The model has no alias table yet.
    fn aliases(&mut self, _label: &str, _aliases: &[String]) {}
}

/// A sink takes no more (its consumer stopped on an error of its own); reading ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// A [`Parsed`] collects everything a read yields.
impl Sink for Parsed {
    fn source(&mut self, source: Source) -> Result<(), Stopped> {
        self.add_source(source);
        Ok(())
    }

    fn evidence(&mut self, evidence: Evidence, _line: u64) -> Result<(), Stopped> {
        self.evidence.push(evidence);
        Ok(())
    }

    fn reject(&mut self, reject: Reject) {
        self.rejects.push(reject);
    }

    fn skip(&mut self, records: u64) {
        self.skipped += records;
    }

    fn aliases(&mut self, label: &str, aliases: &[String]) {
        self.add_aliases(label.to_owned(), aliases.to_vec());
    }
}

/// Why an input could not be read at all (a bad record is a reject, never this).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the sink stopped taking records")]
    Stopped,
    #[error("a {format} is read whole and may be at most {} MiB; this one is larger", limit >> 20)]
    TooLarge { format: Format, limit: u64 },
    #[error("not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("a generic CSV needs a column mapping")]
    NeedsMapping,
    #[error("{0} is not importable on its own")]
    NotStandalone(Format),
}

impl From<Stopped> for ReadError {
    fn from(_: Stopped) -> Self {
        ReadError::Stopped
    }
}

/// What a caller knows about an input that the input may not say.
#[derive(Debug, Clone)]
pub struct Context {
    /// The input's file name or path: names the record of a WHOIS or RDAP answer saved as
    /// `<domain>.whois.txt` / `<domain>.json`, and where certificates were seen.
    pub file_name: String,
    /// Source, threat type, times and the like of records that do not state their own.
    pub defaults: FeedDefaults,
    /// The allowlist name of a MISP warninglist; `None`: the list's own name.
    pub list_name: Option<String>,
    /// Column mapping of a generic CSV (a preset's is used otherwise).
    pub csv_mapping: Option<CsvMapping>,
    /// Victim industry by address, for Suricata EVE alerts.
    pub industries: Vec<(IpNetwork, String)>,
    /// The feed manifest's entry of a MISP event file.
    pub manifest_entry: Option<ManifestEntry>,
}

impl Context {
    /// A context with these defaults and nothing else.
    pub fn new(file_name: impl Into<String>, defaults: FeedDefaults) -> Self {
        Self {
            file_name: file_name.into(),
            defaults,
            list_name: None,
            csv_mapping: None,
            industries: Vec::new(),
            manifest_entry: None,
        }
    }

    /// The context of the file at `path` read as `format`: records are attributed to `source`
    /// (default: the file's stem; `maltrail` for trails, whose label and threat type come from
    /// the trail's path) with `threat_type` when they carry none (default: the format's, or
    /// `Malware`). A named `source` also names a warninglist's allowlist.
    pub fn for_file(
        format: Format,
        path: &str,
        source: Option<String>,
        reliability: Reliability,
        threat_type: Option<String>,
        observed_at: Timestamp,
    ) -> Self {
        let mut defaults = if format == Format::MaltrailTrails {
            let name = source.clone().unwrap_or_else(|| "maltrail".into());
            let mut d = FeedDefaults::maltrail(name, path, observed_at);
            if let Some(t) = &threat_type {
                d.threat_type = t.clone();
            }
            d
        } else {
            let stem = Path::new(path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "import".into());
            let threat_type = match threat_type {
                Some(t) => t,
                None if csv_preset(format).is_some() => String::new(),
                None => "Malware".into(),
            };
            FeedDefaults::new(source.clone().unwrap_or(stem), &threat_type, observed_at)
        };
        defaults.reliability = reliability;
        Self {
            list_name: source,
            ..Self::new(path, defaults)
        }
    }

    /// The domain a WHOIS or RDAP file is named after (`example.com.whois.txt`), if any.
    fn queried(&self) -> Option<DomainName> {
        let name = Path::new(&self.file_name).file_name()?.to_string_lossy();
        let name = name
            .split(".whois")
            .next()
            .unwrap_or(&name)
            .trim_end_matches(".json")
            .trim_end_matches(".txt");
        DomainName::parse(name).ok()
    }
}

/// Reads `input` in `format` into `sink`. Bad records are rejects and never stop the read; an
/// error means the input as a whole could not be read (or the sink stopped).
pub fn read(
    format: Format,
    input: &mut dyn BufRead,
    context: &Context,
    sink: &mut dyn Sink,
) -> Result<(), ReadError> {
    let sink = &mut Bounded(sink);
    let defaults = &context.defaults;
    let observed = defaults.observed_at;
    match format {
        Format::Native => each_line(input, sink, |line, no, sink| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return Ok(());
            }
            match serde_json::from_str::<Evidence>(line) {
                Ok(e) => sink.evidence(e, no),
                Err(e) => {
                    sink.reject(Reject::new(no, e.to_string()));
                    Ok(())
                }
            }
        }),
        Format::DomainList | Format::HostsFile | Format::Adblock | Format::MaltrailTrails => {
            sink.source(defaults.source_record())?;
            let parser = PlainParser::new(defaults.clone());
            let mut block = LineContext::default();
            each_line(input, sink, |line, no, sink| {
                let mut result = Ok(());
                parser.parse_line_each(line, no, &mut block, &mut |r| {
                    if result.is_ok() {
                        result = match r {
                            Ok(e) => sink.evidence(e, no),
                            Err(r) => {
                                sink.reject(r);
                                Ok(())
                            }
                        };
                    }
                });
                result
            })?;
            if let (Some(label), false) = (&defaults.label, block.aliases.is_empty()) {
                sink.aliases(label, &block.aliases);
            }
            Ok(())
        }
        Format::UrlhausCsv
        | Format::FeodoCsv
        | Format::PhishTankCsv
        | Format::TweetFeedCsv
        | Format::MalwareBazaarCsv
        | Format::Csv => {
            let preset = csv_preset(format);
            let mut parser = match (preset, &context.csv_mapping) {
                (_, Some(mapping)) => CsvParser::new(mapping.clone(), defaults.clone()),
                (Some(preset), None) => CsvParser::preset(preset, defaults.clone()),
                (None, None) => return Err(ReadError::NeedsMapping),
            };
            let mut source = defaults.source_record();
            if defaults.threat_type.is_empty() {
                source.default_threat_type = preset.map(|p| p.default_threat_type().to_owned());
            }
            sink.source(source)?;
            each_line(input, sink, |line, no, sink| {
                match parser.push_line(line, no) {
                    Ok(Some(e)) => sink.evidence(e, no)?,
                    Ok(None) => {}
                    Err(r) => sink.reject(r),
                }
                Ok(())
            })?;
            if let Some(r) = parser.finish() {
                sink.reject(r);
            }
            sink.skip(parser.skipped());
            Ok(())
        }
        Format::Stix => {
            let text = document(input, format, MAX_DOCUMENT)?;
            Ok(stix::walk(&text, defaults, sink)?)
        }
        Format::MispEvent => {
            let text = document(input, format, MAX_DOCUMENT)?;
            let entry = context.manifest_entry.as_ref();
            Ok(misp::walk(&text, entry, defaults, sink)?)
        }
        Format::ThreatFoxJson | Format::ThreatFoxJsonl => {
            let text = document(input, format, MAX_DOCUMENT)?;
            Ok(sink.part(parse_threatfox(&text, defaults))?)
        }
        Format::RankedTopList | Format::TopList => {
            let text = document(input, format, MAX_DOCUMENT)?;
            let options = TopListOptions::new(defaults.source.clone());
            Ok(sink.part(parse_top_list(&text, &options))?)
        }
        Format::MispWarninglist => {
            let text = document(input, format, MAX_DOCUMENT)?;
            let list = parse_warninglist(&text, context.list_name.as_deref());
            sink.skip(list.skipped + list.patterns.len() as u64);
            let rejects = list.rejects.clone();
            for e in list.into_evidence() {
                sink.evidence(e, 0)?;
            }
            rejects.into_iter().for_each(|r| sink.reject(r));
            Ok(())
        }
        Format::MispManifest => Err(ReadError::NotStandalone(format)),
        Format::Whois => {
            let text = document(input, format, MAX_RECORD_DOCUMENT)?;
            if let Some(network) = parse_whois_network(&text, observed) {
                return registrations(network, sink);
            }
            let parsed = parse_whois_for(&text, context.queried().as_ref(), observed);
            match parsed.record {
                Some(record) => sink.evidence(Evidence::Whois(Box::new(record)), 1)?,
                None if parsed.not_found => sink.reject(Reject::new(
                    1,
                    "the WHOIS answer says the domain is not registered",
                )),
                None => {
                    let why = if parsed.warnings.is_empty() {
                        "no domain found".into()
                    } else {
                        parsed.warnings.join("; ")
                    };
                    sink.reject(Reject::new(1, format!("not a usable WHOIS answer: {why}")));
                }
            }
            Ok(())
        }
        Format::Rdap => {
            let text = document(input, format, MAX_RECORD_DOCUMENT)?;
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                if is_rdap_ip_network(&value) {
                    return registrations(parse_rdap_ip_network(&value, observed), sink);
                }
            }
            match parse_rdap_domain_for(&text, context.queried().as_ref(), observed) {
                Ok(record) => sink.evidence(Evidence::Whois(Box::new(record)), 1)?,
                Err(e) => sink.reject(Reject::new(1, e.to_string())),
            }
            Ok(())
        }
        Format::Certificate => {
            let bytes = bytes(input, format, MAX_RECORD_DOCUMENT)?;
            match parse_certificates(&bytes, observed, &context.file_name) {
                Ok(certificates) => {
                    for (i, cert) in certificates.into_iter().enumerate() {
                        sink.evidence(Evidence::Certificate(Box::new(cert)), i as u64 + 1)?;
                    }
                }
                Err(e) => sink.reject(Reject::new(1, e.to_string())),
            }
            Ok(())
        }
        Format::PassiveDns => each_line(input, sink, |line, no, sink| {
            if line.trim().is_empty() {
                return Ok(());
            }
            match parse_cof_line(line, &context.defaults.source) {
                Ok(records) => {
                    for record in records {
                        let evidence = match record {
                            PdnsRecord::Resolution(r) => Evidence::Resolution(r),
                            PdnsRecord::Relation(r) => Evidence::Relation(r),
                        };
                        sink.evidence(evidence, no)?;
                    }
                }
                Err(e) => sink.reject(Reject::new(no, e.to_string())),
            }
            Ok(())
        }),
        Format::SuricataEve | Format::Events => {
            sink.source(defaults.source_record())?;
            let source = defaults.source.as_str();
            each_line(input, sink, |line, no, sink| {
                let events = match format {
                    Format::SuricataEve => parse_eve_line(line, source, &context.industries)
                        .map(|events| events.into_iter().map(|e| e.event).collect()),
                    _ => parse_event_line(line, source).map(|e| e.into_iter().collect::<Vec<_>>()),
                };
                match events {
                    Ok(events) => {
                        for event in events {
                            sink.evidence(Evidence::Event(event), no)?;
                        }
                    }
                    Err(e) => sink.reject(Reject::new(no, e.to_string())),
                }
                Ok(())
            })
        }
    }
}

/// The CSV preset of a built-in CSV format.
fn csv_preset(format: Format) -> Option<CsvPreset> {
    Some(match format {
        Format::UrlhausCsv => CsvPreset::Urlhaus,
        Format::FeodoCsv => CsvPreset::Feodo,
        Format::PhishTankCsv => CsvPreset::PhishTank,
        Format::TweetFeedCsv => CsvPreset::TweetFeed,
        Format::MalwareBazaarCsv => CsvPreset::MalwareBazaar,
        _ => return None,
    })
}

/// The sink [`read`] hands everything through: records and reasons cut to their bounds.
struct Bounded<'s>(&'s mut dyn Sink);

impl Bounded<'_> {
    fn source(&mut self, source: Source) -> Result<(), Stopped> {
        let mut e = Evidence::Source(source);
        bound(&mut e);
        let Evidence::Source(source) = e else {
            unreachable!("bound keeps the kind of a record")
        };
        self.0.source(source)
    }

    fn evidence(&mut self, mut evidence: Evidence, line: u64) -> Result<(), Stopped> {
        bound(&mut evidence);
        self.0.evidence(evidence, line)
    }

    fn reject(&mut self, mut reject: Reject) {
        truncate(&mut reject.reason, MAX_REASON);
        self.0.reject(reject);
    }

    fn skip(&mut self, records: u64) {
        self.0.skip(records);
    }

    fn aliases(&mut self, label: &str, aliases: &[String]) {
        self.0.aliases(label, aliases);
    }
}

/// A document walk's parts go to the sink: skips, sources, records, then rejects.
impl Parts for Bounded<'_> {
    fn part(&mut self, part: Parsed) -> Result<(), Stopped> {
        self.skip(part.skipped);
        for source in part.sources {
            self.source(source)?;
        }
        for e in part.evidence {
            self.evidence(e, 0)?;
        }
        part.rejects.into_iter().for_each(|r| self.reject(r));
        for (label, aliases) in &part.aliases {
            self.aliases(label, aliases);
        }
        Ok(())
    }
}

/// Calls `f` with every line (without its line ending) and its 1-based number, holding one
/// line at a time. A line longer than [`MAX_LINE`] or not UTF-8 is a reject.
fn each_line(
    input: &mut dyn BufRead,
    sink: &mut Bounded<'_>,
    mut f: impl FnMut(&str, u64, &mut Bounded<'_>) -> Result<(), Stopped>,
) -> Result<(), ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut no = 0u64;
    loop {
        buf.clear();
        let n = (&mut *input)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        no += 1;
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            skip_line(input)?;
            sink.reject(Reject::new(
                no,
                format!("the line is longer than {MAX_LINE} bytes"),
            ));
            continue;
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        match std::str::from_utf8(&buf) {
            Ok(line) => f(line, no, sink)?,
            Err(e) => sink.reject(Reject::new(
                no,
                format!("not UTF-8 (invalid byte at column {})", e.valid_up_to() + 1),
            )),
        }
    }
}

/// Consumes the rest of a line without keeping it.
fn skip_line(input: &mut dyn BufRead) -> std::io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

/// The whole input, at most `limit` bytes.
fn bytes(input: &mut dyn BufRead, format: Format, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    input.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(ReadError::TooLarge { format, limit });
    }
    Ok(out)
}

/// The whole input as text, at most `limit` bytes.
/// Hands the sink a network's registrations (one per CIDR block of its range), or the reason
/// there are none.
fn registrations(
    parsed: Result<Vec<NetworkRegistration>, NetworkError>,
    sink: &mut Bounded<'_>,
) -> Result<(), ReadError> {
    match parsed {
        Ok(registrations) => {
            for registration in registrations {
                sink.evidence(Evidence::NetworkRegistration(registration), 1)?;
            }
        }
        Err(e) => sink.reject(Reject::new(1, e.to_string())),
    }
    Ok(())
}

fn document(input: &mut dyn BufRead, format: Format, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(bytes(input, format, limit)?).map_err(|e| ReadError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}
