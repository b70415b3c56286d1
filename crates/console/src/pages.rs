//! The dashboard, the sources, sign-in, import and message pages.

use chrono::Duration;
use maud::{html, Markup};
use threatintel_ingest::{Format, ImportSummary, RejectedRecord};
use threatintel_model::{Lang, ThreatType, Timestamp};
use threatintel_store::{SourceSummary, StoreOverview, StoreStats};

use crate::chart;
use crate::layout::{layout, layout_refreshing, Page};
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

/// Days of imports the dashboard charts, today included.
pub const IMPORT_DAYS: i64 = 30;
/// Families the dashboard lists.
pub const TOP_FAMILIES: usize = 10;

/// The dashboard: totals by kind of evidence, indicator records by threat type and by source,
/// the top families, imports per day over the last [`IMPORT_DAYS`] and the lookup rate.
pub fn dashboard(
    page: &Page,
    stats: &StoreStats,
    sources: &[SourceSummary],
    overview: &StoreOverview,
    rate: &LookupRate,
    now: Timestamp,
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
    let by_threat_type: Vec<(String, u64)> = overview
        .by_threat_type
        .iter()
        .map(|(code, n)| (ThreatType::describe(code, lang).to_string(), *n))
        .collect();
    let per_day: Vec<(Timestamp, u64)> = overview
        .imports_by_day
        .iter()
        .map(|d| (d.day, d.imports))
        .collect();
    let first_day = import_window_start(now);
    let body = html! {
        section.cards {
            @for (what, n) in totals { div.card { span.number { (n) } span.what { (what) } } }
        }
        section #lookups {
            h2 { (tr(lang, "查询量", "Lookups")) }
            p { (rate.total()) " " (tr(lang, "次查询，每分钟 ", "lookups since start, per minute: ")) (format!("{:.1}", rate.per_minute())) }
            @if !rate.by_route.is_empty() { (chart::bars(&rate.by_route)) }
        }
        section #by-threat-type {
            h2 { (tr(lang, "各威胁类型的记录", "Indicator records by threat type")) }
            @if by_threat_type.is_empty() { p.empty { "—" } } @else { (chart::bars(&by_threat_type)) }
        }
        section #families {
            h2 { (tr(lang, "最常见的家族", "Top families")) }
            @if overview.top_families.is_empty() { p.empty { "—" } } @else { (chart::bars(&overview.top_families)) }
        }
        section #imports-per-day {
            h2 { (tr(lang, "每日导入", "Imports per day")) " (" (IMPORT_DAYS) (tr(lang, " 天", " days")) ")" }
            (chart::days(&per_day, first_day, now))
            p.note { (overview.imports_by_day.iter().map(|d| d.imports).sum::<u64>()) (tr(lang, " 次导入，共写入 ", " imports writing ")) (overview.imports_by_day.iter().map(|d| d.records).sum::<u64>()) (tr(lang, " 条记录（含订阅源刷新与在线查询）。", " records (feed refreshes and live lookups included).")) }
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

/// 00:00 UTC of the first day the dashboard charts imports for, at `now`.
pub fn import_window_start(now: Timestamp) -> Timestamp {
    let today = now.timestamp().div_euclid(86_400) * 86_400;
    Timestamp::from_timestamp(today - (IMPORT_DAYS - 1) * 86_400, 0).unwrap_or(now)
}

/// A feed of the config, as the sources page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    pub name: String,
    /// Its URL or path.
    pub location: String,
    pub enabled: bool,
    /// `refresh` of the config (`6h`): how often `serve` refreshes it.
    pub every: Option<String>,
    /// When its last successful refresh committed (the store's feed state, whoever ran it).
    pub last_success: Option<Timestamp>,
    /// The last refresh in this run of the server (scheduled, or from the console).
    pub last_run: Option<ImportStatus>,
    /// Its job id, when the visitor started it (and may open its page).
    pub last_run_job: Option<String>,
}

/// What a refresh came to, in a few words.
fn run_result(lang: Lang, status: &ImportStatus) -> Markup {
    html! {
        @match &status.outcome {
            None => { span.tag { (tr(lang, "进行中", "running")) } " " (status.records) (tr(lang, " 条记录", " records")) }
            Some(Outcome::Imported(s)) => { span.tag { (tr(lang, "已导入", "imported")) } " " (s.added) (tr(lang, " 新增，", " added, ")) (s.updated) (tr(lang, " 更新，", " updated, ")) (s.rejected) (tr(lang, " 拒绝", " rejected")) }
            Some(Outcome::NotModified) => { span.tag { (tr(lang, "未更新", "not modified")) } }
            Some(Outcome::Failed(e)) => { span.tag.stale { (tr(lang, "失败", "failed")) } " " (e) }
        }
    }
}

/// Every source with its record count, reliability, last import and age (stale ones flagged),
/// then the configured feeds with their last refresh and, for a visitor who may write, a
/// refresh button.
pub fn sources(
    page: &Page,
    sources: &[SourceSummary],
    feeds: &[FeedRow],
    now: Timestamp,
) -> Markup {
    let lang = page.lang;
    let body = html! {
        div.scroll { table.sortable #sources {
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
        h2 { (tr(lang, "配置的订阅源", "Configured feeds")) }
        @if feeds.is_empty() {
            p.empty { (tr(lang, "配置中没有 [[feeds]]。", "The config declares no [[feeds]].")) }
        } @else {
            div.scroll { table #feeds {
                thead { tr {
                    th { (tr(lang, "订阅源", "Feed")) } th { (tr(lang, "位置", "Location")) } th { (tr(lang, "自动刷新", "Refreshed every")) }
                    th { (tr(lang, "最近成功刷新", "Last successful refresh")) } th { (tr(lang, "本次运行的最近刷新", "Last refresh (this run)")) } th {}
                } }
                tbody { @for f in feeds {
                    tr data-feed=(f.name) {
                        td { (f.name) @if !f.enabled { " " span.tag { (tr(lang, "已停用", "disabled")) } } }
                        td { code { (f.location) } }
                        td { (f.every.as_deref().unwrap_or("—")) }
                        td { (f.last_success.map(time).unwrap_or_else(|| "—".into())) }
                        td.result { @match (&f.last_run, &f.last_run_job) {
                            (Some(status), Some(id)) => { a href={ "/console/import/" (id) } { (run_result(lang, status)) } }
                            (Some(status), None) => { (run_result(lang, status)) }
                            (None, _) => { "—" }
                        } }
                        td { @if page.may_write() {
                            form.refresh method="post" action={ "/console/feeds/" (crate::layout::encode(&f.name)) "/refresh" } {
                                (page.csrf_field())
                                button type="submit" { (tr(lang, "刷新", "Refresh")) }
                            }
                        } }
                    }
                } }
            } }
        }
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

/// How a background import (an upload, or a feed refresh) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Imported(ImportSummary),
    /// A feed's server answered 304: nothing to import.
    NotModified,
    /// The import failed as a whole (nothing of it was kept).
    Failed(String),
}

/// A background import as far as it got: what it reads, the progress the import reports
/// (records read, rejects so far with the first of them) and, once it ended, its outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStatus {
    /// The uploaded file's name, or the feed's.
    pub file: String,
    pub format: Option<Format>,
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub records: u64,
    pub rejected: u64,
    /// The first [`REJECTS_SHOWN`] rejects found so far.
    pub rejects: Vec<RejectedRecord>,
    pub outcome: Option<Outcome>,
}

impl ImportStatus {
    /// The detected format's name, `…` until it is known.
    pub fn format_name(&self) -> &'static str {
        self.format.map_or("…", |f| f.name())
    }

    /// The status as the progress script reads it (`/console/import/{id}.json`).
    pub fn to_json(&self) -> String {
        // Format names are plain identifiers: nothing to escape.
        format!(
            "{{\"done\":{},\"format\":\"{}\",\"records\":{},\"rejected\":{},\"bytes_read\":{},\"bytes_total\":{}}}",
            self.outcome.is_some(),
            self.format_name(),
            self.records,
            self.rejected,
            self.bytes_read,
            self.bytes_total
        )
    }
}

/// The upload form.
pub fn import(page: &Page, max_bytes: u64) -> Markup {
    let lang = page.lang;
    let body = html! {
        form.import method="post" action="/console/import" enctype="multipart/form-data" {
            (page.csrf_field())
            label for="file" { (tr(lang, "情报文件（格式自动识别，最大 ", "Evidence file (format detected from its content; at most ")) (max_bytes / (1 << 20)) " MiB)" }
            input #file name="file" type="file" required;
            div.actions { button type="submit" { (tr(lang, "导入", "Import")) } }
        }
        p.note { (tr(lang, "文件在后台导入，页面显示进度，结束后显示结果。", "The file is imported in the background; the next page shows its progress, then what it did.")) }
    };
    layout(page, tr(lang, "导入", "Import"), body)
}

/// A background import: its progress while it runs (the page reloads itself every second
/// without JavaScript; with it, `console.js` polls `{here}.json` and updates the counts), then
/// the summary and the rejects with their line numbers, or why it failed.
pub fn import_job(page: &Page, status: &ImportStatus) -> Markup {
    let lang = page.lang;
    let rejects = html! {
        @if !status.rejects.is_empty() {
            h3 { (tr(lang, "被拒绝的行", "Rejected lines")) }
            table #rejects {
                thead { tr { th { (tr(lang, "行", "Line")) } th { (tr(lang, "原因", "Reason")) } } }
                tbody { @for r in &status.rejects { tr { td { (r.line) } td { (r.reason) } } } }
            }
            @if status.rejected > status.rejects.len() as u64 {
                p.note { (tr(lang, "仅列出前 ", "Only the first ")) (status.rejects.len()) (tr(lang, " 条。", " are listed.")) }
            }
        }
    };
    let body = html! {
        @match &status.outcome {
            None => {
                section #progress data-poll=(format!("{}.json", page.here)) {
                    h2 { (tr(lang, "正在导入", "Importing")) ": " code { (status.file) } }
                    progress #bytes max=(status.bytes_total.max(1)) value=(status.bytes_read) {}
                    dl.facts {
                        dt { (tr(lang, "识别的格式", "Detected format")) } dd #format data-field="format" { (status.format_name()) }
                        dt { (tr(lang, "已读取记录", "Records read")) } dd #records data-field="records" { (status.records) }
                        dt { (tr(lang, "已拒绝", "Rejected so far")) } dd #rejected data-field="rejected" { (status.rejected) }
                    }
                    p.note { (tr(lang, "导入在后台进行，可以离开此页面；本页自动刷新。", "The import runs in the background: you may leave this page; it refreshes itself.")) }
                }
                (rejects)
            }
            Some(Outcome::Imported(summary)) => {
                section #summary {
                    h2 { (tr(lang, "导入结果", "Imported")) ": " code { (status.file) } }
                    dl.facts {
                        dt { (tr(lang, "识别的格式", "Detected format")) } dd #format { (summary.format.name()) }
                        dt { (tr(lang, "读取", "Read")) } dd #read { (summary.read) }
                        dt { (tr(lang, "新增", "Added")) } dd #added { (summary.added) }
                        dt { (tr(lang, "更新", "Updated")) } dd { (summary.updated) }
                        dt { (tr(lang, "跳过", "Skipped")) } dd { (summary.skipped) }
                        dt { (tr(lang, "拒绝", "Rejected")) } dd #rejected { (summary.rejected) }
                    }
                }
                (rejects)
            }
            Some(Outcome::NotModified) => {
                p #summary { code { (status.file) } ": " (tr(lang, "未更新（服务器返回 304），无需导入。", "not modified (the server answered 304): nothing to import.")) }
            }
            Some(Outcome::Failed(error)) => {
                p.error role="alert" { code { (status.file) } ": " (error) }
                p.note { (tr(lang, "本次导入的内容均未保存。", "Nothing of this import was kept.")) }
            }
        }
        p { a href="/console/import" { (tr(lang, "导入另一个文件", "Import another file")) } }
    };
    let title = tr(lang, "导入", "Import");
    if status.outcome.is_none() {
        layout_refreshing(page, title, body)
    } else {
        layout(page, title, body)
    }
}
