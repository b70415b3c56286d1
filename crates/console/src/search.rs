//! Search: a pasted list of names, URLs or `*.zone` wildcards (defanged forms accepted) read
//! into queries, and the results table with its CSV.

use std::collections::BTreeSet;

use maud::{html, Markup};
use threatintel_model::{DomainQuery, ThreatLevel, ThreatType};
use threatintel_parse::feed::{host_of_url, refang, Host};
use threatintel_report::NativeReport;

use crate::layout::{encode, layout, Page};
use crate::text::{level_class, level_name, tr};

/// Most entries one search takes.
pub const MAX_NAMES: usize = 1000;

/// What a pasted list held: the queries (each once, in the order pasted) and the entries that
/// are not names, with the reason.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pasted {
    pub queries: Vec<DomainQuery>,
    pub rejected: Vec<(String, String)>,
}

/// Why a pasted list was refused as a whole.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a search takes at most {MAX_NAMES} entries; this one has {0}")]
pub struct TooMany(pub usize);

/// Reads a pasted list: entries are separated by white space, commas or semicolons; each is
/// refanged (`hxxp`, `[.]`), a URL or `host/path` gives its host, `*.zone` stays a wildcard.
pub fn parse_pasted(text: &str) -> Result<Pasted, TooMany> {
    let entries: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';'))
        .filter(|e| !e.is_empty())
        .collect();
    if entries.len() > MAX_NAMES {
        return Err(TooMany(entries.len()));
    }
    let mut pasted = Pasted::default();
    let mut seen = BTreeSet::new();
    for entry in entries {
        match query_of(entry) {
            Ok(query) => {
                if seen.insert(query.to_string()) {
                    pasted.queries.push(query);
                }
            }
            Err(reason) => pasted.rejected.push((entry.to_owned(), reason)),
        }
    }
    Ok(pasted)
}

fn query_of(entry: &str) -> Result<DomainQuery, String> {
    let entry = refang(entry);
    if entry.starts_with("*.") {
        return DomainQuery::parse(&entry).map_err(|e| e.to_string());
    }
    match host_of_url(&entry)? {
        Host::Name(name) => DomainQuery::parse(name.as_str()).map_err(|e| e.to_string()),
        Host::Ip(ip) => Err(format!("{ip} is an IP address, not a domain name")),
    }
}

/// One row of the results table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub query: String,
    pub level: ThreatLevel,
    pub confidence: u8,
    pub threat_types: Vec<String>,
    pub families: Vec<String>,
    pub sources: Vec<String>,
}

impl Row {
    pub fn of(report: &NativeReport) -> Self {
        let verdict = &report.verdict;
        let counted = || verdict.records.iter().filter(|r| !r.suppressed);
        let threat_types = report
            .threat_types
            .iter()
            .map(|t| t.threat_type.clone())
            .collect::<BTreeSet<_>>();
        let families = counted()
            .filter_map(|r| r.record.label.clone())
            .collect::<BTreeSet<_>>();
        let sources = counted()
            .map(|r| r.record.source.clone())
            .chain(verdict.allowlist_hits.iter().map(|h| h.entry.list.clone()))
            .collect::<BTreeSet<_>>();
        Self {
            query: report.query.to_string(),
            level: verdict.level,
            confidence: verdict.confidence,
            threat_types: threat_types.into_iter().collect(),
            families: families.into_iter().collect(),
            sources: sources.into_iter().collect(),
        }
    }
}

/// Rows worst first (level, then confidence), then by name.
pub fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        (b.level, b.confidence)
            .cmp(&(a.level, a.confidence))
            .then_with(|| a.query.cmp(&b.query))
    });
}

/// The search form, with `pasted` in the text area.
fn form(page: &Page, pasted: &str) -> Markup {
    let lang = page.lang;
    html! {
        form.search method="post" action="/console/search" {
            (page.csrf_field())
            label for="names" { (tr(lang, "域名、URL 或 *.域（每行一个，最多 1000 个，可去除防护符号）", "Names, URLs or *.zones (one per line, up to 1,000; defanged forms accepted)")) }
            textarea #names name="names" rows="5" required { (pasted) }
            div.actions {
                button type="submit" { (tr(lang, "查询", "Look up")) }
                button type="submit" formaction="/console/search.csv" { (tr(lang, "下载 CSV", "Download CSV")) }
            }
        }
    }
}

/// The search page: the form, and the results of `pasted` when there are any.
pub fn page(
    page: &Page,
    pasted: &str,
    rows: &[Row],
    rejected: &[(String, String)],
    error: Option<&str>,
) -> Markup {
    let lang = page.lang;
    let body = html! {
        (form(page, pasted))
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        @if !rejected.is_empty() {
            section.rejects {
                h2 { (tr(lang, "无法识别的条目", "Entries that are not names")) }
                ul { @for (entry, reason) in rejected { li { code { (entry) } ": " (reason) } } }
            }
        }
        @if !rows.is_empty() {
            p.count { (rows.len()) " " (tr(lang, "个结果", "results")) }
            div.scroll {
                table.sortable #results {
                    thead { tr {
                        th data-sort="text" { (tr(lang, "域名", "Name")) }
                        th data-sort="number" { (tr(lang, "威胁等级", "Level")) }
                        th data-sort="number" { (tr(lang, "置信度", "Confidence")) }
                        th data-sort="text" { (tr(lang, "威胁类型", "Threat types")) }
                        th data-sort="text" { (tr(lang, "家族", "Families")) }
                        th data-sort="text" { (tr(lang, "来源", "Sources")) }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { a href={ "/console/domain/" (encode(&row.query)) } { (row.query) } }
                                td data-value=(row.level.code()) { span class=(level_class(row.level)) { (level_name(lang, row.level)) } }
                                td { (row.confidence) }
                                td { (row.threat_types.iter().map(|t| ThreatType::describe(t, lang)).collect::<Vec<_>>().join(", ")) }
                                td { (row.families.join(", ")) }
                                td { (row.sources.join(", ")) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(page, tr(lang, "查询", "Search"), body)
}

/// The rows as CSV (RFC 4180): name, level code, confidence, threat types, families, sources;
/// lists joined by `|`. A cell a spreadsheet would read as a formula is prefixed with `'`.
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from("name,threat_level,confidence,threat_types,families,sources\r\n");
    for row in rows {
        let cells = [
            row.query.clone(),
            row.level.code().to_string(),
            row.confidence.to_string(),
            row.threat_types.join("|"),
            row.families.join("|"),
            row.sources.join("|"),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) && value.parse::<i64>().is_err() {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}
