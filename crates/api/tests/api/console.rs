//! The console over HTTP against the real server: sign-in (session cookie flags, CSRF, the
//! attempt limit, sign-out), every page for the fixture's malicious, allowlisted and unknown
//! names and a wildcard, the pasted search with its CSV, the JSON links, and anonymous
//! read-only access. No page ever carries a secret.

use std::time::Duration;

use threatintel_api::auth::{AccessKey, Authenticator};
use threatintel_api::ServerConfig;

use crate::support::{config, server, Server, ALLOWLISTED, KEY, MALICIOUS, SECRET, UNKNOWN};

/// A browser without JavaScript: a cookie jar (name → value), redirects not followed.
struct Browser<'a> {
    server: &'a Server,
    agent: ureq::Agent,
    cookies: std::collections::BTreeMap<String, String>,
}

/// An answer: status, headers wanted by the tests, body.
struct Answer {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    content_type: String,
    body: String,
}

impl<'a> Browser<'a> {
    fn new(server: &'a Server) -> Self {
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(Duration::from_secs(30))
            .build();
        Self {
            server,
            agent,
            cookies: Default::default(),
        }
    }

    fn send(&mut self, request: ureq::Request, form: Option<&[(&str, &str)]>) -> Answer {
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let request = if jar.is_empty() {
            request
        } else {
            request.set("Cookie", &jar.join("; "))
        };
        let result = match form {
            Some(fields) => request.send_form(fields),
            None => request.call(),
        };
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let cookies: Vec<String> = response
            .all("set-cookie")
            .into_iter()
            .map(str::to_owned)
            .collect();
        for cookie in &cookies {
            let pair = cookie.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Answer {
            status: response.status(),
            location: response.header("location").map(str::to_owned),
            content_type: response.content_type().to_owned(),
            cookies,
            body: response.into_string().unwrap(),
        }
    }

    fn get(&mut self, path: &str) -> Answer {
        let request = self.agent.get(&self.server.url(path));
        let answer = self.send(request, None);
        assert!(!answer.body.contains(SECRET), "{path} rendered a secret");
        answer
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let request = self.agent.post(&self.server.url(path));
        let answer = self.send(request, Some(form));
        assert!(!answer.body.contains(SECRET), "{path} rendered a secret");
        answer
    }

    /// The CSRF token of the session, read from the sign-in form as a browser would.
    fn csrf(&mut self) -> String {
        let page = self.get("/console/login").body;
        let at = page
            .find("name=\"csrf\" value=\"")
            .expect("the form carries a CSRF token")
            + 19;
        page[at..at + 64].to_owned()
    }

    fn sign_in(&mut self, id: &str, secret: &str) -> Answer {
        let csrf = self.csrf();
        self.post(
            "/console/login",
            &[("id", id), ("secret", secret), ("csrf", &csrf)],
        )
    }
}

/// Rows of the results table.
fn rows(page: &str) -> usize {
    let Some(body) = page.split("<tbody>").nth(1) else {
        return 0;
    };
    body.split("</tbody>")
        .next()
        .unwrap()
        .matches("<tr")
        .count()
}

#[test]
fn a_signed_out_visitor_is_sent_to_sign_in_with_a_strict_session_cookie() {
    let mut browser = Browser::new(server());
    let answer = browser.get("/console/");
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location.as_deref(), Some("/console/login"));
    let cookie = &answer.cookies[0];
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=28800",
    ] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    for path in [
        "/console/sources",
        "/console/search?q=example.com",
        &format!("/console/domain/{MALICIOUS}"),
    ] {
        assert_eq!(browser.get(path).status, 303, "{path}");
    }
}

#[test]
fn a_session_reads_every_page_and_ends_with_sign_out() {
    let mut browser = Browser::new(server());
    let refused = browser.sign_in(KEY, "not-the-secret");
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("Wrong access key id or secret"));
    let before = browser.cookies.get("ti_session").cloned();
    let signed_in = browser.sign_in(KEY, SECRET);
    assert_eq!(
        (signed_in.status, signed_in.location.as_deref()),
        (303, Some("/console/"))
    );
    assert_ne!(
        browser.cookies.get("ti_session").cloned(),
        before,
        "sign-in issues a new session token"
    );

    let dashboard = browser.get("/console/");
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.content_type.starts_with("text/html"));
    for text in ["Dashboard", "indicator records", KEY, "feed-b-one"] {
        assert!(dashboard.body.contains(text), "dashboard lacks {text}");
    }

    let malicious = browser.get(&format!("/console/domain/{MALICIOUS}")).body;
    for text in [
        "level high",
        "feed-b-one",
        "feed-b-two",
        "mykings",
        "own",
        "active",
        "Support by source",
        "Score over time",
        "<svg",
        "<polyline",
        "NameCheap, Inc.",
        "ns1.evil-dns.net",
        "Let's Encrypt",
        "203.0.113.7",
        "Industries attacked",
        "native.json",
        "compat.json",
    ] {
        assert!(
            malicious.contains(text),
            "the malicious name's page lacks {text}"
        );
    }
    let allowlisted = browser.get(&format!("/console/domain/{ALLOWLISTED}")).body;
    for text in ["level safe", "Allowlist hits", "top-fixture", "#1"] {
        assert!(
            allowlisted.contains(text),
            "the allowlisted name's page lacks {text}"
        );
    }
    let unknown = browser.get(&format!("/console/domain/{UNKNOWN}")).body;
    assert!(
        unknown.contains("level unknown")
            && unknown.contains("There is no evidence about this name.")
    );
    let wildcard = browser.get(&format!("/console/domain/*.{MALICIOUS}"));
    assert_eq!(wildcard.status, 200);
    assert!(
        wildcard.body.contains(&format!("<h1>*.{MALICIOUS}</h1>")),
        "{}",
        wildcard.body
    );
    let bad = browser.get("/console/domain/no_such..name");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Not a domain name"));

    let sources = browser.get("/console/sources").body;
    assert!(sources.contains("feed-b-two") && sources.contains("ids-fixture"));

    let native = browser.get(&format!("/console/domain/{MALICIOUS}/native.json"));
    assert!(native.content_type.starts_with("application/json"));
    let native: serde_json::Value = serde_json::from_str(&native.body).unwrap();
    assert_eq!(native["report"]["verdict"]["level"], "high");
    let compat: serde_json::Value = serde_json::from_str(
        &browser
            .get(&format!("/console/domain/{MALICIOUS}/compat.json?lang=en"))
            .body,
    )
    .unwrap();
    assert_eq!(compat["ThreatLevel"], "3");

    let csrf = browser.csrf();
    let pasted = format!("{MALICIOUS}\nhxxps://www[.]{ALLOWLISTED}/login\n{UNKNOWN}, 10.0.0.1");
    let results = browser.post("/console/search", &[("names", &pasted), ("csrf", &csrf)]);
    assert_eq!(results.status, 200);
    assert_eq!(rows(&results.body), 3, "{}", results.body);
    assert!(
        results.body.find(MALICIOUS) < results.body.find(UNKNOWN),
        "worst first"
    );
    assert!(results.body.contains("10.0.0.1 is an IP address"));
    let csv = browser.post(
        "/console/search.csv",
        &[("names", &pasted), ("csrf", &csrf)],
    );
    assert!(csv.content_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 4, "{}", csv.body);
    assert!(
        lines[1].starts_with(&format!("{MALICIOUS},3,")),
        "{}",
        lines[1]
    );

    let single = browser.get(&format!("/console/search?q=hxxp://{MALICIOUS}/x"));
    assert_eq!(
        single.location,
        Some(format!("/console/domain/{MALICIOUS}"))
    );

    let without_token = browser.post("/console/search", &[("names", MALICIOUS)]);
    assert_eq!(without_token.status, 400);
    assert!(without_token.body.contains("CSRF"));
    let forged = browser.post("/console/logout", &[("csrf", &"0".repeat(64))]);
    assert_eq!(forged.status, 400);
    assert_eq!(
        browser.get("/console/").status,
        200,
        "a refused sign-out leaves the session"
    );

    let signed_out = browser.post("/console/logout", &[("csrf", &csrf)]);
    assert_eq!(signed_out.location.as_deref(), Some("/console/login"));
    assert_eq!(browser.get("/console/").status, 303);
}

#[test]
fn sign_in_attempts_are_limited_per_client() {
    let server = Server::start(config());
    let mut browser = Browser::new(&server);
    let limit = ServerConfig::default().console.login_attempts_per_minute;
    for _ in 0..limit {
        assert_eq!(browser.sign_in(KEY, "wrong").status, 401);
    }
    let throttled = browser.sign_in(KEY, SECRET);
    assert_eq!(throttled.status, 429);
    assert!(throttled.body.contains("Too many sign-in attempts"));
}

#[test]
fn anonymous_mode_reads_without_signing_in_and_does_not_offer_writes() {
    let server = Server::start(ServerConfig {
        anonymous: true,
        ..config()
    });
    let mut browser = Browser::new(&server);
    let dashboard = browser.get("/console/");
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.body.contains("Sign in") && !dashboard.body.contains("/console/import"));
    let page = browser.get(&format!("/console/domain/{MALICIOUS}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("level high"));
}

#[test]
fn the_language_switch_remembers_chinese_and_returns_to_console_paths_only() {
    let server = Server::start(ServerConfig {
        anonymous: true,
        ..config()
    });
    let mut browser = Browser::new(&server);
    let switched = browser.get(&format!(
        "/console/lang/zh?back=/console/domain/{MALICIOUS}"
    ));
    assert_eq!(
        switched.location,
        Some(format!("/console/domain/{MALICIOUS}"))
    );
    assert!(switched.cookies.iter().any(|c| c.starts_with("ti_lang=zh")));
    let page = browser.get(&format!("/console/domain/{MALICIOUS}")).body;
    assert!(page.contains("高危") && page.contains("来源支持"), "{page}");
    let elsewhere = browser.get("/console/lang/en?back=https://elsewhere.example/");
    assert_eq!(elsewhere.location.as_deref(), Some("/console/"));
    assert!(browser.get("/console/").body.contains("Dashboard"));
}

#[test]
fn only_enabled_keys_marked_for_the_console_may_sign_in() {
    let mut console = AccessKey::new("console-key", "console-secret");
    console.console = true;
    let mut disabled = console.clone();
    disabled.id = "disabled-key".into();
    disabled.enabled = false;
    let api_only = AccessKey::new("api-key", "api-secret");
    let auth = Authenticator::new(vec![console, disabled, api_only], None);
    assert_eq!(
        auth.console_sign_in("console-key", "console-secret")
            .as_deref(),
        Some("console-key")
    );
    for (id, secret) in [
        ("console-key", "wrong"),
        ("disabled-key", "console-secret"),
        ("api-key", "api-secret"),
        ("nobody", "x"),
    ] {
        assert_eq!(auth.console_sign_in(id, secret), None, "{id}");
    }
}

/// A multipart upload form: `csrf`, then `file` named `name`.
fn multipart(csrf: &str, name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----threatintel-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Browser<'_> {
    /// The CSRF token of the signed-in session, from a page's form.
    fn page_csrf(&mut self) -> String {
        let page = self.get("/console/import").body;
        let at = page.find("name=\"csrf\" value=\"").expect("a form") + 19;
        page[at..at + 64].to_owned()
    }

    fn upload(&mut self, name: &str, content: &[u8]) -> Answer {
        let csrf = self.page_csrf();
        let (content_type, body) = multipart(&csrf, name, content);
        let request = self
            .agent
            .post(&self.server.url("/console/import"))
            .set("Content-Type", &content_type);
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let response = match request.set("Cookie", &jar.join("; ")).send_bytes(&body) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        Answer {
            status: response.status(),
            location: response.header("location").map(str::to_owned),
            cookies: Vec::new(),
            content_type: response.content_type().to_owned(),
            body: response.into_string().unwrap(),
        }
    }

    /// Polls a job's progress (as the page's script does) until it is done; its page.
    fn finished_job(&mut self, job: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let progress = self.get(&format!("{job}.json"));
            assert_eq!(progress.status, 200, "{}", progress.body);
            assert!(progress.content_type.contains("json"));
            let status: serde_json::Value = serde_json::from_str(&progress.body).unwrap();
            if status["done"] == true {
                return self.get(job).body;
            }
            assert!(std::time::Instant::now() < deadline, "{job} never finished");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn an_upload_is_imported_in_the_background_and_its_page_shows_the_summary_and_rejects() {
    let server = Server::start(config());
    let mut browser = Browser::new(&server);
    browser.sign_in(KEY, SECRET);
    let feed = b"job-bad-one.example\njob-bad-two.example\nnot a host name!\n";
    let started = browser.upload("job-feed.txt", feed);
    assert_eq!(started.status, 303, "{}", started.body);
    let job = started.location.expect("the job's page");
    assert!(job.starts_with("/console/import/"), "{job}");
    let page = browser.finished_job(&job);
    assert!(
        page.contains("id=\"added\">2<") && page.contains("id=\"rejected\">1<"),
        "{page}"
    );
    assert!(
        page.contains("<td>3</td>"),
        "the reject's line number: {page}"
    );
    assert!(!page.contains("data-poll"), "no more polling once done");
    assert!(browser
        .get("/console/domain/job-bad-one.example")
        .body
        .contains("level "));
    assert!(browser.get("/console/sources").body.contains("job-feed"));

    // Another key does not see the job; a visitor signed out is sent to sign in.
    let mut other = Browser::new(&server);
    other.sign_in(crate::support::BURST_KEY, crate::support::LIMITED_SECRET);
    assert_eq!(other.get(&job).status, 404);
    assert_eq!(other.get(&format!("{job}.json")).status, 404);
    let stranger = Browser::new(&server).get(&job);
    assert_eq!(stranger.location.as_deref(), Some("/console/login"));
}

#[test]
fn an_upload_that_is_not_an_evidence_file_fails_as_a_whole_on_its_job_page() {
    let server = Server::start(config());
    let mut browser = Browser::new(&server);
    browser.sign_in(KEY, SECRET);
    let started = browser.upload("../../etc/strange.bin", &[0u8, 159, 146, 150, 0, 1, 2]);
    assert_eq!(started.status, 303, "{}", started.body);
    let page = browser.finished_job(&started.location.unwrap());
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(
        page.contains("strange.bin") && !page.contains("/tmp"),
        "{page}"
    );
}

/// Sends a signed-in upload over a raw socket, its body in `pieces` with `pause` between them;
/// the answer's status line.
fn raw_upload(server: &Server, browser: &mut Browser, pieces: usize, pause: Duration) -> String {
    use std::io::{Read, Write};
    let csrf = browser.page_csrf();
    let content: Vec<u8> = (0..2000)
        .flat_map(|i| format!("slow-{i}.example\n").into_bytes())
        .collect();
    let (content_type, body) = multipart(&csrf, "slow.txt", &content);
    let jar: Vec<String> = browser
        .cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /console/import HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        jar.join("; "),
        body.len()
    )
    .unwrap();
    for piece in body.chunks(body.len().div_ceil(pieces)) {
        std::thread::sleep(pause);
        if stream.write_all(piece).is_err() {
            break;
        }
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.lines().next().unwrap_or("").to_owned()
}

#[test]
fn an_upload_slower_than_the_request_timeout_is_received_but_a_stalled_one_is_cut() {
    let server = Server::start(ServerConfig {
        request_timeout_secs: 1,
        ..config()
    });
    let mut browser = Browser::new(&server);
    browser.sign_in(KEY, SECRET);
    // Six pieces 400 ms apart: 2.4 s in all, each within the 1 s timeout of the one before.
    let slow = raw_upload(&server, &mut browser, 6, Duration::from_millis(400));
    assert_eq!(slow, "HTTP/1.1 303 See Other");
    // A pause of 2.5 s mid-body: cut.
    let stalled = raw_upload(&server, &mut browser, 2, Duration::from_millis(2500));
    assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
}

#[test]
fn the_refresh_button_refreshes_a_configured_feed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("local-feed.txt");
    std::fs::write(&file, "refreshed-bad.example\n").unwrap();
    let feed = serde_json::from_value(serde_json::json!({
        "name": "local-feed",
        "path": file,
        "refresh": "6h",
    }))
    .unwrap();
    let server = Server::start_with_feeds(
        ServerConfig {
            anonymous: true,
            ..config()
        },
        threatintel_api::Feeds {
            feeds: vec![feed],
            ..Default::default()
        },
    );
    // A reader sees the feed, never refreshed, without a button.
    let mut reader = Browser::new(&server);
    let listed = reader.get("/console/sources").body;
    assert!(
        listed.contains("local-feed") && listed.contains("6h"),
        "{listed}"
    );
    assert!(!listed.contains("/console/feeds/local-feed/refresh"));
    let csrf = reader.csrf();
    let refused = reader.post("/console/feeds/local-feed/refresh", &[("csrf", &csrf)]);
    assert_eq!(refused.location.as_deref(), Some("/console/login"));

    let mut browser = Browser::new(&server);
    browser.sign_in(KEY, SECRET);
    let sources = browser.get("/console/sources").body;
    assert!(sources.contains("action=\"/console/feeds/local-feed/refresh\""));
    let forged = browser.post("/console/feeds/local-feed/refresh", &[("csrf", "nope")]);
    assert_eq!(forged.status, 400);
    assert!(forged.body.contains("CSRF"));
    let csrf = browser.page_csrf();
    let unknown = browser.post("/console/feeds/no-such-feed/refresh", &[("csrf", &csrf)]);
    assert_eq!(unknown.status, 404);
    let started = browser.post("/console/feeds/local-feed/refresh", &[("csrf", &csrf)]);
    assert_eq!(started.status, 303, "{}", started.body);
    let page = browser.finished_job(&started.location.unwrap());
    assert!(page.contains("id=\"added\">1<"), "{page}");
    let sources = browser.get("/console/sources").body;
    assert!(
        sources.contains("imported") && sources.contains(" 1 added, 0 updated, 0 rejected"),
        "{sources}"
    );
    // The store's feed state: the last successful refresh is dated.
    let row = sources.split("data-feed=\"local-feed\"").nth(1).unwrap();
    assert!(
        !row.split("</tr>")
            .next()
            .unwrap()
            .contains("<td>—</td><td class"),
        "{row}"
    );
    assert!(browser
        .get("/console/domain/refreshed-bad.example")
        .body
        .contains("local-feed"));
    // Readers see the result, without the job's link.
    let seen = reader.get("/console/sources").body;
    assert!(
        seen.contains("imported") && !seen.contains("/console/import/"),
        "{seen}"
    );
}
