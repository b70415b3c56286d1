//! The console's routes (`/console/...`): who is looking (session cookie, language), what they
//! may do (anonymous visitors read when `server.anonymous` is on, signed-in keys with
//! `console = true` may also write), the CSRF check of every form that posts, and the reads a
//! page needs; the HTML itself comes from `threatintel-console`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{
    ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::Markup;
use serde_json::json;
use threatintel_console::domain::DomainView;
use threatintel_console::pages::LookupRate;
use threatintel_console::search::{parse_pasted, sort_rows, Row};
use threatintel_console::text::tr;
use threatintel_console::{domain, pages, search, Page};
use threatintel_model::{DomainQuery, Lang};
use threatintel_report::{
    CompatReport, FieldSet, NativeReport, ReportRequest, MAX_CHILDREN_JUDGED,
};

use crate::admission::{blocking, read_body};
use crate::error::ApiError;
use crate::params::Params;
use crate::session::Visitor;
use crate::AppState;

const SESSION_COOKIE: &str = "ti_session";
const LANG_COOKIE: &str = "ti_lang";
/// Scripts, styles, forms and the progress script's polls only to and from this server; no
/// framing.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One request's view of the console: who, in which language, at which path.
struct Visit {
    visitor: Visitor,
    lang: Lang,
    here: String,
    /// Cookies get `Secure` (the server terminates TLS, or a proxy says it did).
    secure: bool,
    started: Instant,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn lang_of(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANG_COOKIE) {
        Some("zh") => Lang::Zh,
        Some("en") => Lang::En,
        _ => {
            let accepted = headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if accepted.trim_start().to_ascii_lowercase().starts_with("zh") {
                Lang::Zh
            } else {
                Lang::En
            }
        }
    }
}

/// The visit of a page that reads: refused (sent to sign in) unless the visitor may read.
fn reader_visit(
    state: &AppState,
    parts: &Parts,
    route: &'static str,
) -> Result<Visit, Box<Response>> {
    let visit = visit(state, parts);
    match visit.refuse_reader(state, route) {
        Some(refused) => Err(Box::new(refused)),
        None => Ok(visit),
    }
}

fn visit(state: &AppState, parts: &Parts) -> Visit {
    let visitor = state
        .sessions
        .visitor(cookie(&parts.headers, SESSION_COOKIE), Instant::now());
    let forwarded_https = parts
        .headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    Visit {
        visitor,
        lang: lang_of(&parts.headers),
        here: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/console/".to_owned(), |p| p.as_str().to_owned()),
        secure: state.config.tls.is_some() || forwarded_https,
        started: Instant::now(),
    }
}

impl Visit {
    fn page<'a>(&'a self, state: &AppState) -> Page<'a> {
        Page {
            lang: self.lang,
            csrf: &self.visitor.csrf,
            user: self.visitor.user.as_deref(),
            anonymous: state.config.anonymous,
            here: &self.here,
        }
    }

    fn session_cookie(&self, state: &AppState) -> String {
        format!(
            "{SESSION_COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.visitor.token,
            state.sessions.ttl().as_secs(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// Adds the session cookie (when new) and the headers every console answer carries, and
    /// records the request.
    fn finish(&self, state: &AppState, route: &'static str, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if self.visitor.fresh {
            if let Ok(value) = HeaderValue::from_str(&self.session_cookie(state)) {
                headers.append(SET_COOKIE, value);
            }
        }
        headers.insert("content-security-policy", HeaderValue::from_static(CSP));
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        let code = if response.status().is_success() || response.status().is_redirection() {
            "OK"
        } else {
            "Console.Refused"
        };
        state.metrics.record(route, code, self.started.elapsed());
        response
    }

    fn html(
        &self,
        state: &AppState,
        route: &'static str,
        status: StatusCode,
        page: Markup,
    ) -> Response {
        let response = (
            status,
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            page.into_string(),
        )
            .into_response();
        self.finish(state, route, response)
    }

    fn redirect(&self, state: &AppState, route: &'static str, to: &str) -> Response {
        let response = (StatusCode::SEE_OTHER, [(LOCATION, to.to_owned())]).into_response();
        self.finish(state, route, response)
    }

    fn message(
        &self,
        state: &AppState,
        route: &'static str,
        status: StatusCode,
        title: &str,
        text: &str,
    ) -> Response {
        self.html(
            state,
            route,
            status,
            pages::message(&self.page(state), title, text),
        )
    }

    /// `None` when the visitor may read (signed in, or anonymous access is on); otherwise the
    /// answer: the way to the sign-in page.
    fn refuse_reader(&self, state: &AppState, route: &'static str) -> Option<Response> {
        (self.visitor.user.is_none() && !state.config.anonymous)
            .then(|| self.redirect(state, route, "/console/login"))
    }

    /// Runs a page's store work (on the blocking pool where the store needs it); a failure is
    /// logged and answered as an internal error.
    async fn read<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
        &self,
        state: &Arc<AppState>,
        route: &'static str,
        work: impl FnOnce(&AppState) -> Result<T, E> + Send + 'static,
    ) -> Result<T, Box<Response>> {
        let worker = state.clone();
        match blocking(state, move || work(&worker)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                tracing::error!(error = %e, route, "console read failed");
                Err(Box::new(self.internal(state, route)))
            }
            Err(_) => Err(Box::new(self.internal(state, route))),
        }
    }

    fn internal(&self, state: &AppState, route: &'static str) -> Response {
        let lang = self.lang;
        self.message(
            state,
            route,
            StatusCode::INTERNAL_SERVER_ERROR,
            tr(lang, "内部错误", "Internal error"),
            tr(
                lang,
                "服务器内部错误，详情见日志。",
                "The server failed to answer; the log has the details.",
            ),
        )
    }
}

/// A form posted to the console: its fields, after the CSRF check.
async fn form(
    state: &AppState,
    visit: &Visit,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<Params, ApiError> {
    let body: Bytes = read_body(state, &parts.headers, body, state.config.max_body_bytes).await?;
    let params = Params::parse("", Some(&body))?;
    if !state
        .sessions
        .csrf_matches(&visit.visitor, params.get("csrf"))
    {
        return Err(ApiError::invalid(
            "csrf",
            "the form's CSRF token is missing or does not match the session",
        ));
    }
    Ok(params)
}

fn refused(state: &AppState, visit: &Visit, route: &'static str, error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    visit.message(
        state,
        route,
        status,
        tr(visit.lang, "请求被拒绝", "Request refused"),
        &error.to_string(),
    )
}

fn report_request(query: DomainQuery) -> ReportRequest {
    ReportRequest {
        query,
        fields: FieldSet::ALL,
        at: Utc::now(),
        with_lists: true,
        heuristics: true,
    }
}

/// `GET /console/`: the dashboard.
pub async fn dashboard(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let visit = match reader_visit(&state, &parts, "console") {
        Ok(visit) => visit,
        Err(refused) => return *refused,
    };
    let now = Utc::now();
    let read = visit.read(&state, "console", move |state| {
        let reader = state.engine.store().reader()?;
        let since = pages::import_window_start(now);
        Ok::<_, threatintel_store::StoreError>((
            reader.stats()?,
            reader.sources()?,
            reader.overview(pages::TOP_FAMILIES, since)?,
        ))
    });
    let (stats, sources, overview) = match read.await {
        Ok(read) => read,
        Err(failed) => return *failed,
    };
    let (by_route, seconds_up) = state.metrics.requests_by_route();
    let rate = LookupRate {
        by_route: by_route
            .into_iter()
            .filter(|(route, _)| LOOKUP_ROUTES.contains(route))
            .map(|(route, n)| (route.to_owned(), n))
            .collect(),
        seconds_up,
    };
    visit.html(
        &state,
        "console",
        StatusCode::OK,
        pages::dashboard(&visit.page(&state), &stats, &sources, &overview, &rate, now),
    )
}

/// The routes that answer lookups, counted in the dashboard's lookup rate.
const LOOKUP_ROUTES: [&str; 5] = [
    "rpc",
    "native_report",
    "native_batch",
    "console_domain",
    "console_search",
];

/// `GET /console/sources`.
pub async fn sources(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let visit = match reader_visit(&state, &parts, "console") {
        Ok(visit) => visit,
        Err(refused) => return *refused,
    };
    let read = visit.read(&state, "console", |state| {
        let reader = state.engine.store().reader()?;
        let last_success = state
            .feeds
            .feeds
            .iter()
            .map(|f| Ok(reader.feed_state(&f.name)?.map(|s| s.refreshed_at)))
            .collect::<Result<Vec<_>, threatintel_store::StoreError>>()?;
        Ok::<_, threatintel_store::StoreError>((reader.sources()?, last_success))
    });
    let (sources, last_success) = match read.await {
        Ok(read) => read,
        Err(failed) => return *failed,
    };
    let owner = visit.visitor.user.as_deref();
    let feeds: Vec<pages::FeedRow> = state
        .feeds
        .feeds
        .iter()
        .zip(last_success)
        .map(|(f, last_success)| {
            let job = state.jobs.last_of_feed(&f.name);
            pages::FeedRow {
                name: f.name.clone(),
                location: f
                    .url
                    .clone()
                    .or_else(|| f.path.as_ref().map(|p| p.display().to_string()))
                    .unwrap_or_default(),
                enabled: f.enabled,
                every: f.refresh.clone(),
                last_success,
                last_run: job.as_ref().map(|job| job.status()),
                // A refresh's page is its starter's; others see its result without a link.
                last_run_job: job
                    .filter(|job| Some(job.owner.as_str()) == owner)
                    .map(|job| job.id.clone()),
            }
        })
        .collect();
    visit.html(
        &state,
        "console",
        StatusCode::OK,
        pages::sources(&visit.page(&state), &sources, &feeds, Utc::now()),
    )
}

/// Reports on each query, worst first; the whole search judges at most as many child names
/// as one report may (as a native batch).
async fn rows_of(state: &Arc<AppState>, queries: Vec<DomainQuery>) -> Result<Vec<Row>, ApiError> {
    let worker = state.clone();
    let reports = tokio::task::spawn_blocking(move || {
        let mut budget = MAX_CHILDREN_JUDGED;
        queries
            .into_iter()
            .map(|q| {
                worker
                    .engine
                    .report_within(&report_request(q), &mut budget)
                    .map(|r| Row::of(&r))
            })
            .collect::<Result<Vec<Row>, _>>()
    })
    .await
    .map_err(|_| ApiError::Internal)?;
    let mut rows = reports.map_err(|e| {
        tracing::error!(error = %e, "console search failed");
        ApiError::Internal
    })?;
    sort_rows(&mut rows);
    Ok(rows)
}

/// The names of a search: `q` of a GET, `names` of a posted form.
async fn pasted_of(
    state: &AppState,
    visit: &Visit,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<String, ApiError> {
    if parts.method == axum::http::Method::POST {
        let params = form(state, visit, parts, body).await?;
        Ok(params.get("names").unwrap_or("").to_owned())
    } else {
        let params = Params::parse(crate::admission::bounded_query(state, parts)?, None)?;
        Ok(params.get("q").unwrap_or("").to_owned())
    }
}

/// The visit, the request's parts and the pasted text of a search (`search`, `search_csv`), or
/// the answer that refuses it.
async fn search_request(
    state: &AppState,
    request: Request,
) -> Result<(Visit, Parts, String), Response> {
    let (parts, body) = request.into_parts();
    let visit = reader_visit(state, &parts, "console_search").map_err(|refusal| *refusal)?;
    let pasted = pasted_of(state, &visit, &parts, body)
        .await
        .map_err(|e| refused(state, &visit, "console_search", &e))?;
    Ok((visit, parts, pasted))
}

/// `GET /console/search?q=...` and `POST /console/search` (a pasted list).
pub async fn search(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (visit, parts, pasted) = match search_request(&state, request).await {
        Ok(searched) => searched,
        Err(refusal) => return refusal,
    };
    let page = visit.page(&state);
    let parsed = match parse_pasted(&pasted) {
        Ok(parsed) => parsed,
        Err(too_many) => {
            return visit.html(
                &state,
                "console_search",
                StatusCode::BAD_REQUEST,
                search::page(&page, &pasted, &[], &[], Some(&too_many.to_string())),
            )
        }
    };
    // One name: its page.
    if parsed.queries.len() == 1
        && parsed.rejected.is_empty()
        && parts.method == axum::http::Method::GET
    {
        let to = format!(
            "/console/domain/{}",
            threatintel_console::layout::encode(&parsed.queries[0].to_string())
        );
        return visit.redirect(&state, "console_search", &to);
    }
    match rows_of(&state, parsed.queries).await {
        Ok(rows) => visit.html(
            &state,
            "console_search",
            StatusCode::OK,
            search::page(&page, &pasted, &rows, &parsed.rejected, None),
        ),
        Err(_) => visit.internal(&state, "console_search"),
    }
}

/// `GET /console/search.csv?q=...` and `POST /console/search.csv`: the results as CSV.
pub async fn search_csv(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (visit, _, pasted) = match search_request(&state, request).await {
        Ok(searched) => searched,
        Err(refusal) => return refusal,
    };
    let parsed = match parse_pasted(&pasted) {
        Ok(parsed) => parsed,
        Err(too_many) => {
            return refused(
                &state,
                &visit,
                "console_search",
                &ApiError::invalid("names", too_many.to_string()),
            )
        }
    };
    match rows_of(&state, parsed.queries).await {
        Ok(rows) => {
            let response = (
                [
                    (CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        CONTENT_DISPOSITION,
                        "attachment; filename=\"threatintel-search.csv\"",
                    ),
                ],
                search::csv(&rows),
            )
                .into_response();
            visit.finish(&state, "console_search", response)
        }
        Err(_) => visit.internal(&state, "console_search"),
    }
}

/// What the domain page reads besides the report.
struct DomainRead {
    report: NativeReport,
    whois_history: Vec<threatintel_model::WhoisRecord>,
    certificates: Vec<threatintel_model::Certificate>,
    malicious_ips: Vec<(IpAddr, threatintel_model::IpIntel)>,
}

fn read_domain(
    state: &AppState,
    query: DomainQuery,
) -> Result<DomainRead, threatintel_report::ReportError> {
    let report = state.engine.report(&report_request(query))?;
    let reader = state.engine.store().reader()?;
    let ips: Vec<IpAddr> = report.resolutions.iter().map(|r| r.ip).collect();
    Ok(DomainRead {
        whois_history: reader.whois_history(&report.sld_domain)?,
        certificates: reader.certificates(&report.domain)?,
        malicious_ips: reader.ip_intel(&ips)?,
        report,
    })
}

/// The visit of a domain page and the domain of its path, as a query.
fn domain_visit(
    state: &AppState,
    parts: &Parts,
    domain: &str,
) -> Result<(Visit, DomainQuery), Box<Response>> {
    let visit = reader_visit(state, parts, "console_domain")?;
    match DomainQuery::parse(domain) {
        Ok(query) => Ok((visit, query)),
        Err(e) => Err(Box::new(visit.message(
            state,
            "console_domain",
            StatusCode::BAD_REQUEST,
            tr(visit.lang, "无效的域名", "Not a domain name"),
            &format!("{domain:?}: {e}"),
        ))),
    }
}

/// `GET /console/domain/{domain}`: the report page.
pub async fn domain_page(
    State(state): State<Arc<AppState>>,
    Path(domain): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let (visit, query) = match domain_visit(&state, &parts, &domain) {
        Ok(visit) => visit,
        Err(refused) => return *refused,
    };
    crate::enrichment::before_report(&state, &query).await;
    match visit
        .read(&state, "console_domain", |state| read_domain(state, query))
        .await
    {
        Ok(read) => {
            let view = DomainView {
                report: &read.report,
                whois_history: &read.whois_history,
                certificates: &read.certificates,
                malicious_ips: &read.malicious_ips,
                verdict_config: state.engine.verdict_config(),
            };
            visit.html(
                &state,
                "console_domain",
                StatusCode::OK,
                domain::page(&visit.page(&state), &view),
            )
        }
        Err(failed) => *failed,
    }
}

/// `GET /console/domain/{domain}/native.json` and `.../compat.json?lang=zh|en`: the same
/// report as the native API and DescribeDomainReport answer it.
pub async fn domain_json(
    State(state): State<Arc<AppState>>,
    Path((domain, shape)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let (visit, query) = match domain_visit(&state, &parts, &domain) {
        Ok(visit) => visit,
        Err(refused) => return *refused,
    };
    let lang = Params::parse(parts.uri.query().unwrap_or(""), None)
        .ok()
        .and_then(|p| p.get("lang").and_then(|l| l.parse::<Lang>().ok()))
        .unwrap_or(visit.lang);
    let read = visit.read(&state, "console_domain", |state| {
        state.engine.report(&report_request(query))
    });
    let report = match read.await {
        Ok(report) => report,
        Err(failed) => return *failed,
    };
    let id = crate::error::new_request_id();
    let body = match shape.as_str() {
        "native.json" => serde_json::to_string(&json!({ "request_id": id, "report": report }))
            .unwrap_or_default(),
        "compat.json" => CompatReport::to_json(&report, lang, state.engine.offset(), id),
        _ => {
            return visit.message(
                &state,
                "console_domain",
                StatusCode::NOT_FOUND,
                tr(visit.lang, "未找到", "Not found"),
                &visit.here,
            )
        }
    };
    visit.finish(
        &state,
        "console_domain",
        ([(CONTENT_TYPE, crate::error::JSON_CONTENT_TYPE)], body).into_response(),
    )
}

/// `GET /console/login`.
pub async fn login_page(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let visit = visit(&state, &parts);
    visit.html(
        &state,
        "console",
        StatusCode::OK,
        pages::login(&visit.page(&state), None),
    )
}

fn client_of(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// `POST /console/login` with `id`, `secret` and `csrf`: a new session on success.
pub async fn login(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut visit = visit(&state, &parts);
    let lang = visit.lang;
    if let Err(wait) = state
        .sessions
        .admit_attempt(client_of(&parts), Instant::now())
    {
        let text = format!(
            "{} {}s",
            tr(
                lang,
                "登录尝试过多，请稍后再试：",
                "Too many sign-in attempts; try again in"
            ),
            wait.as_secs().max(1)
        );
        return visit.html(
            &state,
            "console",
            StatusCode::TOO_MANY_REQUESTS,
            pages::login(&visit.page(&state), Some(&text)),
        );
    }
    let params = match form(&state, &visit, &parts, body).await {
        Ok(params) => params,
        Err(e) => return refused(&state, &visit, "console", &e),
    };
    let (id, secret) = (
        params.get("id").unwrap_or(""),
        params.get("secret").unwrap_or(""),
    );
    match state.auth.console_sign_in(id, secret) {
        Some(user) => {
            visit.visitor = state.sessions.sign_in(&visit.visitor, user, Instant::now());
            visit.redirect(&state, "console", "/console/")
        }
        None => {
            let text = tr(
                lang,
                "AccessKey 无效，或该密钥未开放控制台。",
                "Wrong access key id or secret, or the key may not use the console.",
            );
            visit.html(
                &state,
                "console",
                StatusCode::UNAUTHORIZED,
                pages::login(&visit.page(&state), Some(text)),
            )
        }
    }
}

/// `POST /console/logout` with `csrf`.
pub async fn logout(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut visit = visit(&state, &parts);
    if let Err(e) = form(&state, &visit, &parts, body).await {
        return refused(&state, &visit, "console", &e);
    }
    visit.visitor = state.sessions.sign_out(&visit.visitor);
    visit.redirect(&state, "console", "/console/login")
}

/// `GET /console/lang/{zh|en}?back=/console/...`: remembers the language, returns to `back`
/// (a console path only).
pub async fn switch_lang(
    State(state): State<Arc<AppState>>,
    Path(to): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let visit = visit(&state, &parts);
    let back = Params::parse(parts.uri.query().unwrap_or(""), None)
        .ok()
        .and_then(|p| p.get("back").map(str::to_owned))
        .filter(|b| b.starts_with("/console/") && !b.contains(['\\', '\r', '\n']))
        .unwrap_or_else(|| "/console/".to_owned());
    let Ok(lang) = to.parse::<Lang>() else {
        return visit.message(&state, "console", StatusCode::NOT_FOUND, "Not found", &to);
    };
    let code = match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    };
    let mut response = visit.redirect(&state, "console", &back);
    let value = format!(
        "{LANG_COOKIE}={code}; Path=/console; SameSite=Strict; Max-Age=31536000{}",
        if visit.secure { "; Secure" } else { "" }
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// `GET /console/assets/{file}`: the embedded stylesheet and script.
pub async fn asset(Path(file): Path<String>) -> Response {
    let (content_type, body) = match file.as_str() {
        "console.css" => ("text/css; charset=utf-8", threatintel_console::CSS),
        "console.js" => ("text/javascript; charset=utf-8", threatintel_console::JS),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Any other `/console/...` path.
pub async fn not_found(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let visit = visit(&state, &parts);
    let lang = visit.lang;
    visit.message(
        &state,
        "console",
        StatusCode::NOT_FOUND,
        tr(lang, "未找到", "Not found"),
        tr(lang, "没有这个页面。", "There is no such page."),
    )
}

/// The visit of a page that writes (import, refresh): refused (sent to sign in) unless the
/// visitor is signed in.
fn writer_visit(
    state: &AppState,
    parts: &Parts,
    route: &'static str,
) -> Result<Visit, Box<Response>> {
    let visit = visit(state, parts);
    if visit.visitor.user.is_none() {
        return Err(Box::new(visit.redirect(state, route, "/console/login")));
    }
    Ok(visit)
}

/// `GET /console/import`: the upload form (signed-in keys only).
pub async fn import_page(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let visit = match writer_visit(&state, &parts, "console_import") {
        Ok(visit) => visit,
        Err(refused) => return *refused,
    };
    let page = pages::import(&visit.page(&state), state.config.console.max_upload_bytes);
    visit.html(&state, "console_import", StatusCode::OK, page)
}

/// The uploaded file's name as a file name of our own: its last path segment, characters
/// outside `[A-Za-z0-9._-]` dropped; the import names the source after its stem.
fn upload_name(name: Option<&str>) -> String {
    let last = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let kept: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(100)
        .collect();
    if kept.trim_start_matches('.').is_empty() {
        "upload".to_owned()
    } else {
        kept
    }
}

/// Reads the multipart form: the CSRF field first, then the file, written to `dir` within the
/// size limit, each chunk arriving within the request timeout of the one before (the whole
/// upload may take longer). Returns the file's name.
async fn receive_upload(
    state: &AppState,
    visit: &Visit,
    mut form: axum::extract::Multipart,
    dir: &std::path::Path,
) -> Result<String, ApiError> {
    use tokio::io::AsyncWriteExt;
    let limit = state.config.console.max_upload_bytes;
    let stall = std::time::Duration::from_secs(state.config.request_timeout_secs);
    let mut csrf_checked = false;
    loop {
        let next = tokio::time::timeout(stall, form.next_field())
            .await
            .map_err(|_| ApiError::RequestTimeout)?
            .map_err(|e| ApiError::invalid("file", e.body_text()))?;
        let Some(mut field) = next else { break };
        match field.name() {
            Some("csrf") => {
                let token = tokio::time::timeout(stall, field.text())
                    .await
                    .map_err(|_| ApiError::RequestTimeout)?
                    .map_err(|e| ApiError::invalid("csrf", e.body_text()))?;
                csrf_checked = state.sessions.csrf_matches(&visit.visitor, Some(&token));
            }
            Some("file") if csrf_checked => {
                let name = upload_name(field.file_name());
                let path = dir.join(&name);
                let mut file = tokio::fs::File::create(&path)
                    .await
                    .map_err(|_| ApiError::Internal)?;
                let mut written = 0u64;
                while let Some(chunk) = tokio::time::timeout(stall, field.chunk())
                    .await
                    .map_err(|_| ApiError::RequestTimeout)?
                    .map_err(|e| ApiError::invalid("file", e.body_text()))?
                {
                    written += chunk.len() as u64;
                    if written > limit {
                        return Err(ApiError::invalid("file", format!("the file is larger than {limit} bytes (server.console.max_upload_bytes)")));
                    }
                    file.write_all(&chunk)
                        .await
                        .map_err(|_| ApiError::Internal)?;
                }
                file.flush().await.map_err(|_| ApiError::Internal)?;
                return Ok(name);
            }
            _ => {}
        }
    }
    if csrf_checked {
        Err(ApiError::invalid("file", "the form carries no file"))
    } else {
        Err(ApiError::invalid(
            "csrf",
            "the form's CSRF token is missing or does not match the session",
        ))
    }
}

/// The outcome of an import or refresh that ended with `result`; an error that names
/// `hidden` (a temporary directory) names the file alone.
fn outcome_of<E: std::fmt::Display>(
    result: Result<threatintel_ingest::ImportSummary, E>,
    hidden: &std::path::Path,
) -> pages::Outcome {
    match result {
        Ok(summary) => crate::jobs::imported(summary),
        Err(e) => {
            pages::Outcome::Failed(e.to_string().replace(&format!("{}/", hidden.display()), ""))
        }
    }
}

/// Starts `work` as a job of the signed-in visitor and sends them to its page; 503 when too
/// many jobs run.
fn start_job(
    state: &AppState,
    visit: &Visit,
    route: &'static str,
    feed: Option<&str>,
    file: &str,
    work: impl FnOnce(&mut dyn threatintel_ingest::Progress) -> pages::Outcome + Send + 'static,
) -> Response {
    let owner = visit.visitor.user.as_deref().unwrap_or_default();
    match state.jobs.start(owner, feed, file, work) {
        Some(job) => {
            tracing::info!(user = owner, file, job = %job.id, "console import started");
            visit.redirect(state, route, &format!("/console/import/{}", job.id))
        }
        None => visit.message(
            state,
            route,
            StatusCode::SERVICE_UNAVAILABLE,
            tr(visit.lang, "请稍后再试", "Try again later"),
            tr(
                visit.lang,
                "正在进行的导入过多。",
                "Too many imports are running.",
            ),
        ),
    }
}

/// `POST /console/import` (multipart: `csrf`, then `file`): the file is received, then handed
/// to a background job that imports it as `threatintel import` does
/// (`threatintel_ingest::import_file`: format detected, one transaction); the answer sends
/// the visitor to the job's page.
pub async fn import(State(state): State<Arc<AppState>>, request: Request) -> Response {
    use axum::extract::FromRequest;
    let (parts, body) = request.into_parts();
    let visit = match writer_visit(&state, &parts, "console_import") {
        Ok(visit) => visit,
        Err(refused) => return *refused,
    };
    let request = Request::from_parts(parts, body);
    let form = match axum::extract::Multipart::from_request(request, &()).await {
        Ok(form) => form,
        Err(e) => {
            return refused(
                &state,
                &visit,
                "console_import",
                &ApiError::invalid("file", e.body_text()),
            )
        }
    };
    let Ok(dir) = tempfile::tempdir() else {
        return visit.internal(&state, "console_import");
    };
    let name = match receive_upload(&state, &visit, form, dir.path()).await {
        Ok(name) => name,
        Err(e) => return refused(&state, &visit, "console_import", &e),
    };
    let store = state.engine.store().clone();
    let path = dir.path().join(&name);
    start_job(
        &state,
        &visit,
        "console_import",
        None,
        &name,
        move |progress| {
            let options = threatintel_ingest::ImportOptions::new(Utc::now());
            let imported = threatintel_ingest::import_file(&*store, &path, &options, progress);
            outcome_of(imported, dir.path())
        },
    )
}

/// `GET /console/import/{id}`: a job's progress, then its summary; `{id}.json`: its progress
/// for the page's script.
pub async fn import_job(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let visit = match writer_visit(&state, &parts, "console_import") {
        Ok(visit) => visit,
        Err(refused) => return *refused,
    };
    let (id, json) = match id.strip_suffix(".json") {
        Some(id) => (id, true),
        None => (id.as_str(), false),
    };
    let owner = visit.visitor.user.as_deref().unwrap_or_default();
    let Some(job) = state.jobs.get(id, owner) else {
        let lang = visit.lang;
        return visit.message(
            &state,
            "console_import",
            StatusCode::NOT_FOUND,
            tr(lang, "未找到", "Not found"),
            tr(
                lang,
                "没有这个导入（服务器重启后导入记录不再保留）。",
                "There is no such import of yours (the server forgets them when it restarts).",
            ),
        );
    };
    let status = job.status();
    if json {
        return visit.finish(
            &state,
            "console_import",
            (
                [(CONTENT_TYPE, crate::error::JSON_CONTENT_TYPE)],
                status.to_json(),
            )
                .into_response(),
        );
    }
    visit.html(
        &state,
        "console_import",
        StatusCode::OK,
        pages::import_job(&visit.page(&state), &status),
    )
}

/// `POST /console/feeds/{name}/refresh` with `csrf`: refreshes a configured feed in the
/// background as `threatintel feeds refresh` does (`threatintel_ingest::feeds::refresh`) and
/// sends the visitor to the job's page (the running one, if the feed is being refreshed).
pub async fn refresh_feed(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let visit = match writer_visit(&state, &parts, "console_refresh") {
        Ok(visit) => visit,
        Err(refused) => return *refused,
    };
    if let Err(e) = form(&state, &visit, &parts, body).await {
        return refused(&state, &visit, "console_refresh", &e);
    }
    let Some(feed) = state.feeds.feeds.iter().find(|f| f.name == name).cloned() else {
        let lang = visit.lang;
        return visit.message(
            &state,
            "console_refresh",
            StatusCode::NOT_FOUND,
            tr(lang, "未找到", "Not found"),
            &format!(
                "{}: {name:?}",
                tr(
                    lang,
                    "配置中没有这个订阅源",
                    "The config declares no such feed"
                )
            ),
        );
    };
    let label = feed.name.clone();
    let work = crate::jobs::feed_refresh(&state, feed);
    start_job(
        &state,
        &visit,
        "console_refresh",
        Some(&label),
        &label,
        work,
    )
}
