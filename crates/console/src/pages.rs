//! The dashboard, the sources, sign-in, import and message pages.

use chrono::Duration;
use maud::{html, Markup};
use threatintel_ingest::ImportSummary;
use threatintel_model::Timestamp;
use threatintel_store::{SourceSummary, StoreStats};

use crate::chart;
use crate::layout::{layout, Page};
use crate::text::{time, tr};

/// A source whose last import is older than this is flagged stale.
pub const STALE_AFTER_DAYS: i64 = 7;

/// Requests answered since the server started, from its metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LookupRate {
    /// (route, requests) for the routes that answer lookups.
    pub by_route: Vec<(String, u64)>,
    pub seconds_up: f64,
}

impl LookupRate {
    pub fn total(&self) -> u64 {
        self.by_route.iter().map(|(_, n)| n).sum()
    }

    pub fn per_minute(&self) -> f64 {
        self.total() as f64 * 60.0 / self.seconds_up.max(1.0)
    }
}

/// The dashboard: totals by kind of evidence, indicators per source, imports and lookup rate.
pub fn dashboard(
    page: &Page,
    stats: &StoreStats,
    sources: &[SourceSummary],
    rate: &LookupRate,
) -> Markup {
    let lang = page.lang;
    let totals: [(&str, u64); 9] = [
        (tr(lang, "域名", "names"), stats.names),
        (tr(lang, "威胁记录", "indicator records"), stats.indicators),
        (
            tr(lang, "白名单条目", "allowlist entries"),
            stats.allowlist_entries,
        ),
        (tr(lang, "WHOIS 记录", "WHOIS records"), stats.whois_records),
        (tr(lang, "证书", "certificates"), stats.certificates),
        (tr(lang, "解析记录", "resolutions"), stats.resolutions),
        (tr(lang, "IP 情报", "IP intelligence"), stats.ip_intel),
        (tr(lang, "安全事件", "events"), stats.events),
        (tr(lang, "情报源", "sources"), stats.sources),
    ];
    let mut imports: Vec<&SourceSummary> =
        sources.iter().filter(|s| s.last_import.is_some()).collect();
    imports.sort_by_key(|s| std::cmp::Reverse(s.last_import));
    let body = html! {
        section.cards {
            @for (what, n) in totals { div.card { span.number { (n) } span.what { (what) } } }
        }
        section #lookups {
            h2 { (tr(lang, "查询量", "Lookups")) }
            p { (rate.total()) " " (tr(lang, "次查询，每分钟 ", "lookups since start, per minute: ")) (format!("{:.1}", rate.per_minute())) }
            @if !rate.by_route.is_empty() { (chart::bars(&rate.by_route)) }
        }
        section #by-source {
            h2 { (tr(lang, "各来源的威胁记录", "Indicator records by source")) }
            (chart::bars(&sources.iter().map(|s| (s.source.name.clone(), s.indicators)).collect::<Vec<_>>()))
        }
        section #imports {
            h2 { (tr(lang, "最近导入", "Latest imports")) }
            ul { @for s in imports.iter().take(10) { li { (s.last_import.map(time).unwrap_or_default()) " · " (s.source.name) } } }
        }
    };
    layout(page, tr(lang, "概览", "Dashboard"), body)
}

/// Every source with its record count, reliability, last import and age; stale ones flagged.
pub fn sources(page: &Page, sources: &[SourceSummary], now: Timestamp) -> Markup {
    let lang = page.lang;
    let body = html! {
        div.scroll { table.sortable {
            thead { tr {
                th data-sort="text" { (tr(lang, "来源", "Source")) } th data-sort="number" { (tr(lang, "记录数", "Records")) }
                th data-sort="text" { (tr(lang, "可靠性", "Reliability")) } th data-sort="text" { (tr(lang, "最近导入", "Last import")) }
                th data-sort="number" { (tr(lang, "天数", "Age (days)")) }
            } }
            tbody { @for s in sources {
                @let age = s.last_import.map(|t| (now - t).num_days());
                @let stale = age.is_none_or(|days| days > STALE_AFTER_DAYS);
                tr class=[stale.then_some("stale")] {
                    td { (s.source.name) } td { (s.indicators) } td { (s.source.reliability) }
                    td { (s.last_import.map(time).unwrap_or_default()) }
                    td data-value=(age.unwrap_or(i64::MAX)) { @if let Some(days) = age { (days) } @if stale { " " span.tag.stale { (tr(lang, "陈旧", "stale")) } } }
                }
            } }
        } }
        p.note { (tr(lang, "超过 ", "Sources not imported for more than ")) (Duration::days(STALE_AFTER_DAYS).num_days()) (tr(lang, " 天未导入的来源标为陈旧。", " days are flagged stale.")) }
    };
    layout(page, tr(lang, "情报源", "Sources"), body)
}

/// The sign-in form; `error` is the reason the last attempt failed.
pub fn login(page: &Page, error: Option<&str>) -> Markup {
    let lang = page.lang;
    let body = html! {
        form.login method="post" action="/console/login" {
            (page.csrf_field())
            @if let Some(error) = error { p.error role="alert" { (error) } }
            label for="id" { "AccessKey ID" }
            input #id name="id" autocomplete="username" required;
            label for="secret" { "AccessKey Secret" }
            input #secret name="secret" type="password" autocomplete="current-password" required;
            button type="submit" { (tr(lang, "登录", "Sign in")) }
        }
    };
    layout(page, tr(lang, "登录", "Sign in"), body)
}

/// A page that only says something (not found, refused).
pub fn message(page: &Page, title: &str, text: &str) -> Markup {
    layout(page, title, html! { p.error role="alert" { (text) } })
}

/// Rejects listed on the import page (the summary counts them all).
pub const REJECTS_SHOWN: usize = 200;

/// What an upload came to: the import's summary, or why it failed as a whole.
pub enum Imported<'a> {
    Done {
        file: &'a str,
        summary: &'a ImportSummary,
    },
    Failed {
        file: &'a str,
        error: &'a str,
    },
}

/// The import page: the upload form and, after an upload, what it did.
pub fn import(page: &Page, max_bytes: u64, imported: Option<Imported>) -> Markup {
    let lang = page.lang;
    let body = html! {
        form.import method="post" action="/console/import" enctype="multipart/form-data" {
            (page.csrf_field())
            label for="file" { (tr(lang, "情报文件（格式自动识别，最大 ", "Evidence file (format detected from its content; at most ")) (max_bytes / (1 << 20)) " MiB)" }
            input #file name="file" type="file" required;
            div.actions { button type="submit" { (tr(lang, "导入", "Import")) } }
        }
        @match imported {
            Some(Imported::Done { file, summary }) => {
                section #summary {
                    h2 { (tr(lang, "导入结果", "Imported")) ": " code { (file) } }
                    dl.facts {
                        dt { (tr(lang, "识别的格式", "Detected format")) } dd #format { (summary.format.name()) }
                        dt { (tr(lang, "读取", "Read")) } dd { (summary.read) }
                        dt { (tr(lang, "新增", "Added")) } dd #added { (summary.added) }
                        dt { (tr(lang, "更新", "Updated")) } dd { (summary.updated) }
                        dt { (tr(lang, "跳过", "Skipped")) } dd { (summary.skipped) }
                        dt { (tr(lang, "拒绝", "Rejected")) } dd #rejected { (summary.rejected) }
                    }
                    @if !summary.rejects.is_empty() {
                        h3 { (tr(lang, "被拒绝的行", "Rejected lines")) }
                        table #rejects {
                            thead { tr { th { (tr(lang, "行", "Line")) } th { (tr(lang, "原因", "Reason")) } } }
                            tbody { @for r in summary.rejects.iter().take(REJECTS_SHOWN) { tr { td { (r.line) } td { (r.reason) } } } }
                        }
                    }
                }
            }
            Some(Imported::Failed { file, error }) => {
                p.error role="alert" { code { (file) } ": " (error) }
            }
            None => {}
        }
    };
    layout(page, tr(lang, "导入", "Import"), body)
}
