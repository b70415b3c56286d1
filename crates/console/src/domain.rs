//! The domain page: the verdict and its explanation (every record with its score, decay state
//! and relation; per-source support; allowlist hits and their outcome), the charts, WHOIS with
//! what changed between records, certificates, resolutions (malicious addresses marked),
//! subdomains and events, with links to the same report as JSON.

use std::net::IpAddr;

use maud::{html, Markup};
use threatintel_model::{
    AttackStage, Certificate, Industry, IpIntel, Lang, ThreatType, WhoisRecord,
};
use threatintel_report::verdict::{AllowlistOutcome, DecayState, Relation};
use threatintel_report::{NativeReport, VerdictConfig};

use crate::chart;
use crate::layout::{encode, layout, Page};
use crate::text::{day, level_class, level_name, time, tr};

/// Everything the domain page shows beyond the report itself.
pub struct DomainView<'a> {
    pub report: &'a NativeReport,
    /// The registrable domain's WHOIS/RDAP records, newest first.
    pub whois_history: &'a [WhoisRecord],
    /// Every certificate seen for the name, newest first.
    pub certificates: &'a [Certificate],
    /// The resolved addresses that IP intelligence lists.
    pub malicious_ips: &'a [(IpAddr, IpIntel)],
    pub verdict_config: &'a VerdictConfig,
}

fn relation(lang: Lang, relation: &Relation) -> Markup {
    match relation {
        Relation::Own => html! { (tr(lang, "自身", "own")) },
        Relation::Inherited { from } => {
            html! { (tr(lang, "继承自 ", "inherited from ")) code { (from) } }
        }
        Relation::ZoneListing { zone } => {
            html! { (tr(lang, "区域列入 ", "zone listing ")) code { "*." (zone) } }
        }
        Relation::WithinNetwork { network } => {
            html! { (tr(lang, "所在网段 ", "within network ")) code { (network) } }
        }
    }
}

fn decay(lang: Lang, state: DecayState) -> &'static str {
    match state {
        DecayState::Active => tr(lang, "有效", "active"),
        DecayState::Decayed => tr(lang, "已衰减", "decayed"),
        DecayState::Expired => tr(lang, "已过期", "expired"),
    }
}

/// What changed from `older` to `newer` (registrar, registrant, name servers, status, dates).
pub fn whois_changes(lang: Lang, newer: &WhoisRecord, older: &WhoisRecord) -> Vec<String> {
    let dates = |t: Option<threatintel_model::Timestamp>| t.map(day).unwrap_or_default();
    let fields: [(&str, String, String); 7] = [
        (
            tr(lang, "注册商", "registrar"),
            older.registrar.name.clone(),
            newer.registrar.name.clone(),
        ),
        (
            tr(lang, "注册人组织", "registrant organisation"),
            older.registrant.organization.clone(),
            newer.registrant.organization.clone(),
        ),
        (
            tr(lang, "注册人邮箱", "registrant email"),
            older.registrant.email.clone(),
            newer.registrant.email.clone(),
        ),
        (
            tr(lang, "域名服务器", "name servers"),
            older.nameservers.join(" "),
            newer.nameservers.join(" "),
        ),
        (
            tr(lang, "状态", "status"),
            older.status.join(" "),
            newer.status.join(" "),
        ),
        (
            tr(lang, "到期", "expires"),
            dates(older.expires),
            dates(newer.expires),
        ),
        (
            tr(lang, "注册", "created"),
            dates(older.created),
            dates(newer.created),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(what, before, after)| format!("{what}: {before} → {after}"))
        .collect()
}

fn whois_table(lang: Lang, w: &WhoisRecord) -> Markup {
    let date = |t: Option<threatintel_model::Timestamp>| t.map(day).unwrap_or_default();
    html! {
        dl.facts {
            dt { (tr(lang, "注册商", "Registrar")) } dd { (w.registrar.name) }
            dt { (tr(lang, "注册人", "Registrant")) } dd { (w.registrant.name) " " (w.registrant.organization) " " (w.registrant.email) " " (w.registrant.country) }
            dt { (tr(lang, "注册", "Created")) } dd { (date(w.created)) }
            dt { (tr(lang, "到期", "Expires")) } dd { (date(w.expires)) }
            dt { (tr(lang, "更新", "Updated")) } dd { (date(w.updated)) }
            dt { (tr(lang, "域名服务器", "Name servers")) } dd { (w.nameservers.join(", ")) }
            dt { (tr(lang, "状态", "Status")) } dd { (w.status.join(", ")) }
            dt { (tr(lang, "观察于", "Observed")) } dd { (time(w.observed_at)) }
        }
    }
}

/// The verdict and its explanation.
fn verdict(page: &Page, view: &DomainView) -> Markup {
    let lang = page.lang;
    let report = view.report;
    let v = &report.verdict;
    html! {
        section.verdict #verdict {
            p.headline {
                span class=(level_class(v.level)) { (level_name(lang, v.level)) }
                " " (tr(lang, "置信度", "confidence")) " " strong { (v.confidence) }
                @for s in &v.scenarios { " " span.tag { (s.name(lang)) } }
            }
            @match v.allowlist_outcome {
                Some(AllowlistOutcome::Upheld) => p { (tr(lang, "白名单成立：该域名判定为安全，恶意记录被压制。", "Allowlist upheld: the name is judged safe and its malicious records are suppressed.")) },
                Some(AllowlistOutcome::Overridden) => p { (tr(lang, "白名单被推翻：可靠来源或多个来源的自身记录胜过白名单。", "Allowlist overridden: the name's own records from a reliable source, or from two sources, outweigh it.")) },
                None => {},
            }
            @if let Some(h) = &report.heuristics {
                p { (tr(lang, "启发式判定：", "Heuristic verdict: ")) (level_name(lang, h.level)) ", " (tr(lang, "得分 ", "score ")) (format!("{:.2}", h.score)) " (" (h.label()) ")" }
            }
            @if v.records.is_empty() && v.allowlist_hits.is_empty() && report.heuristics.is_none() {
                p.empty { (tr(lang, "没有关于该域名的情报。", "There is no evidence about this name.")) }
            }
        }
        @if !v.records.is_empty() {
            section #records {
                h2 { (tr(lang, "记录", "Records")) }
                div.scroll { table {
                    thead { tr {
                        th { (tr(lang, "来源", "Source")) } th { (tr(lang, "威胁类型", "Threat type")) } th { (tr(lang, "家族", "Family")) }
                        th { (tr(lang, "关系", "Relation")) } th { (tr(lang, "首次", "First seen")) } th { (tr(lang, "最近", "Last seen")) }
                        th { (tr(lang, "可靠性", "Reliability")) } th { (tr(lang, "基础分", "Base")) } th { (tr(lang, "得分", "Score")) } th { (tr(lang, "状态", "State")) }
                    } }
                    tbody { @for r in &v.records {
                        tr class=[r.suppressed.then_some("suppressed")] {
                            td { (r.record.source) } td { (ThreatType::describe(&r.record.threat_type, lang)) }
                            td { (r.record.label.as_deref().unwrap_or("")) }
                            td { (relation(lang, &r.relation)) } td { (day(r.record.first_seen)) } td { (day(r.record.last_seen)) }
                            td { (r.reliability) } td { (format!("{:.1}", r.base)) } td { (format!("{:.1}", r.score)) }
                            td { (decay(lang, r.state)) @if r.suppressed { " · " (tr(lang, "被白名单压制", "suppressed by the allowlist")) } }
                        }
                    } }
                } }
                h3 { (tr(lang, "得分随时间变化", "Score over time")) }
                (chart::score_over_time(view.verdict_config, &v.records, report.report_time))
                h3 { (tr(lang, "各来源的发现时间线", "Sightings per source")) }
                (chart::sightings(&v.records, report.report_time))
            }
        }
        @if !v.support.is_empty() {
            section #support {
                h2 { (tr(lang, "来源支持", "Support by source")) }
                table { tbody { @for s in &v.support { tr { td { (s.source) } td { (s.reliability) } td { (format!("{:.1}", s.score)) } } } } }
            }
        }
        @if !v.allowlist_hits.is_empty() {
            section #allowlist {
                h2 { (tr(lang, "白名单命中", "Allowlist hits")) }
                table { tbody { @for h in &v.allowlist_hits { tr {
                    td { (h.entry.list) } td { code { (h.entry.name) } } td { (format!("{:?}", h.kind)) }
                    td { (format!("{:?}", h.entry.matching)) } td { @if let Some(rank) = h.entry.rank { "#" (rank) } }
                } } } }
            }
        }
    }
}

fn registration(page: &Page, view: &DomainView) -> Markup {
    let lang = page.lang;
    let history = view.whois_history;
    html! {
        section #whois {
            h2 { "WHOIS" }
            @match view.report.whois.as_deref().or(history.first()) {
                Some(current) => (whois_table(lang, current)),
                None => p.empty { (tr(lang, "没有 WHOIS 记录。", "No WHOIS record.")) },
            }
            @if history.len() > 1 {
                h3 { (tr(lang, "历史与变化", "History and changes")) }
                ul.history { @for pair in history.windows(2) {
                    li { (time(pair[0].observed_at)) ": "
                        @let changes = whois_changes(lang, &pair[0], &pair[1]);
                        @if changes.is_empty() { (tr(lang, "无变化", "no change")) }
                        @else { ul { @for c in changes { li { (c) } } } }
                    }
                } }
            }
        }
        section #certificates {
            h2 { (tr(lang, "证书", "Certificates")) }
            @if view.certificates.is_empty() { p.empty { (tr(lang, "没有证书。", "No certificate.")) } }
            @else { div.scroll { table {
                thead { tr { th { (tr(lang, "主题", "Subject")) } th { (tr(lang, "颁发者", "Issuer")) } th { (tr(lang, "有效期", "Valid")) } th { "SAN" } th { (tr(lang, "发现于", "Seen")) } } }
                tbody { @for c in view.certificates { tr {
                    td { (c.subject) } td { (c.issuer) } td { (day(c.not_before)) " – " (day(c.not_after)) }
                    td { (c.sans.join(", ")) } td { (day(c.seen_at)) " " (c.seen_where) }
                } } }
            } } }
        }
    }
}

fn infrastructure(page: &Page, view: &DomainView) -> Markup {
    let lang = page.lang;
    let report = view.report;
    let basic = &report.basic;
    html! {
        section #resolutions {
            h2 { (tr(lang, "解析记录", "Resolutions")) }
            p { (basic.ip_cnt) " " (tr(lang, "个 IP，其中恶意 ", "addresses, malicious: ")) (basic.malicious_ip_cnt) }
            @if !report.resolutions.is_empty() { div.scroll { table {
                thead { tr { th { "IP" } th { (tr(lang, "首次", "First seen")) } th { (tr(lang, "最近", "Last seen")) } th { (tr(lang, "次数", "Count")) } th {} } }
                tbody { @for r in &report.resolutions {
                    @let intel = view.malicious_ips.iter().find(|(ip, _)| *ip == r.ip);
                    tr class=[intel.map(|_| "malicious")] {
                        td { code { (r.ip) } } td { (day(r.first_seen)) } td { (day(r.last_seen)) } td { (r.count) }
                        td { @if let Some((_, i)) = intel { span.level.high { (tr(lang, "恶意", "malicious")) } " " (i.source) " " (i.network) } }
                    }
                } }
            } } }
        }
        section #subdomains {
            h2 { (tr(lang, "子域名", "Subdomains")) }
            p { (basic.child_domain_cnt) " " (tr(lang, "个子域名，其中恶意 ", "names below, malicious: ")) (basic.malicious_child_domain_cnt) }
            @if !report.subdomains.is_empty() {
                ul.names { @for s in &report.subdomains { li { a href={ "/console/domain/" (encode(s.as_str())) } { (s) } } } }
            }
            @if !report.contributing_names.is_empty() {
                h3 { (tr(lang, "判定依据的域名", "Names judged")) }
                table { tbody { @for c in &report.contributing_names { tr {
                    td { a href={ "/console/domain/" (encode(c.name.as_str())) } { (c.name) } }
                    td { span class=(level_class(c.level)) { (level_name(lang, c.level)) } } td { (c.confidence) }
                } } } }
            }
        }
        @if !report.attack_preference_top5.is_empty() || !report.attack_count_by_stage.is_empty() {
            section #events {
                h2 { (tr(lang, "安全事件", "Events")) }
                @if !report.attack_preference_top5.is_empty() {
                    h3 { (tr(lang, "被攻击行业", "Industries attacked")) }
                    (chart::bars(&report.attack_preference_top5.iter().map(|i| (Industry::describe(&i.industry, lang).to_owned(), i.event_cnt)).collect::<Vec<_>>()))
                }
                @if !report.attack_count_by_stage.is_empty() {
                    h3 { (tr(lang, "按攻击阶段计数", "Counts by attack stage")) }
                    (chart::bars(&report.attack_count_by_stage.iter().map(|s| (AttackStage::describe(&s.stage, lang).to_owned(), s.event_cnt)).collect::<Vec<_>>()))
                }
            }
        }
    }
}

/// The domain page.
pub fn page(page: &Page, view: &DomainView) -> Markup {
    let lang = page.lang;
    let report = view.report;
    let query = encode(&report.query.to_string());
    let service_lang = match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    };
    let body = html! {
        p.meta {
            (tr(lang, "报告时间 ", "Report time ")) (time(report.report_time)) " UTC · "
            (tr(lang, "可注册域名 ", "registrable domain ")) code { (report.sld_domain) } " · "
            a href={ "/console/domain/" (query) "/native.json" } { (tr(lang, "原生 JSON", "native JSON")) } " · "
            a href={ "/console/domain/" (query) "/compat.json?lang=" (service_lang) } { (tr(lang, "兼容 JSON", "compatibility JSON")) }
        }
        @if !report.threat_types.is_empty() {
            p { @for t in &report.threat_types { span.tag { (ThreatType::describe(&t.threat_type, lang)) " · " (t.scenario.name(lang)) } " " } }
        }
        (verdict(page, view))
        (registration(page, view))
        (infrastructure(page, view))
    };
    layout(page, &report.query.to_string(), body)
}
