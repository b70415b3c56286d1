//! The console in headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `scripts/test.sh` installs; this test fails without them), driven over WebDriver by
//! fantoccini against the real server on 127.0.0.1: sign in, look up a malicious name and
//! read its level and explanation, paste 50 names and get 50 rows, upload a feed file and see
//! its progress then its summary and its source appear and a name turn malicious, refresh a
//! configured feed with its button and see the result, a form posted without its CSRF token
//! refused, sign out. Screenshots (desktop and 375 px wide) go to `target/console-screenshots/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::{config, Server, KEY, MALICIOUS, SECRET};

/// A chromedriver on a free loopback port; killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver is not installed ({e}): scripts/test.sh installs chromium and chromium-driver with apt"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the page at desktop width and at 375 px.
async fn shoot(client: &Client, name: &str) {
    for (width, height, suffix) in [(1280, 1000, "desktop"), (375, 812, "mobile")] {
        client.set_window_size(width, height).await.unwrap();
        let png = client.screenshot().await.unwrap();
        std::fs::write(screenshots().join(format!("{name}-{suffix}.png")), png).unwrap();
    }
    client.set_window_size(1280, 1000).await.unwrap();
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn type_into(client: &Client, css: &str, keys: &str) {
    let field = client.find(Locator::Css(css)).await;
    field
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(keys)
        .await
        .unwrap();
}

/// Clicks a form's button and waits for the page the form leads to: the current document is
/// marked first, and the wait ends when a loaded document without the mark is shown (reading
/// the page earlier could find the old one, or none while the new one loads).
async fn click(client: &Client, css: &str) {
    client
        .execute("window.__before_submit = true", vec![])
        .await
        .unwrap();
    let target = client.find(Locator::Css(css)).await;
    target
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let loaded = client
            .execute(
                "return window.__before_submit === undefined && document.readyState === 'complete'",
                vec![],
            )
            .await;
        if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        assert!(Instant::now() < deadline, "{css}: no page after the click");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the page shows `css` (pages that reload themselves).
async fn wait_for(client: &Client, css: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while client.find(Locator::Css(css)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{css} did not appear within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Names before the uploaded feed's own lines: enough for the import to take a moment, so
/// that its progress shows.
const FEED_FILLER: u64 = 100_000;

async fn sign_in(client: &Client, server: &Server) {
    client.goto(&server.url("/console/")).await.unwrap();
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/console/login"));
    type_into(client, "#id", KEY).await;
    type_into(client, "#secret", SECRET).await;
    click(client, "form.login button").await;
    assert_eq!(text(client, "h1").await, "Dashboard");
}

async fn session(client: &Client, server: &Server, feed: &std::path::Path) {
    sign_in(client, server).await;
    shoot(client, "dashboard").await;

    // A malicious name: its level and the explanation.
    client
        .goto(&server.url(&format!("/console/search?q={MALICIOUS}")))
        .await
        .unwrap();
    assert_eq!(text(client, ".headline .level").await, "high");
    let records = text(client, "#records").await;
    assert!(
        records.contains("feed-b-one") && records.contains("active"),
        "{records}"
    );
    shoot(client, "domain").await;

    // 50 pasted names, 50 rows; the level column sorts in place.
    client.goto(&server.url("/console/search")).await.unwrap();
    let names: Vec<String> = std::iter::once(MALICIOUS.to_owned())
        .chain((1..50).map(|i| format!("pasted-{i}.example")))
        .collect();
    type_into(client, "#names", &names.join("\n")).await;
    click(client, "form.search button[type=submit]").await;
    let rows = client
        .find_all(Locator::Css("#results tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 50);
    let level = client
        .find(Locator::Css("#results th:nth-child(2)"))
        .await
        .unwrap();
    level.click().await.unwrap();
    assert_eq!(
        level.attr("aria-sort").await.unwrap().as_deref(),
        Some("descending")
    );
    shoot(client, "search").await;

    // A feed file: its source appears and a name in it turns malicious.
    client
        .goto(&server.url("/console/domain/turned-bad.example"))
        .await
        .unwrap();
    assert_eq!(text(client, ".headline .level").await, "unknown");
    client.goto(&server.url("/console/import")).await.unwrap();
    type_into(client, "#file", feed.to_str().unwrap()).await;
    click(client, "form.import button").await;
    // The job's page: its progress while the import runs (the script updates the counts),
    // then, reloaded by the script, the summary.
    // While it runs, the script updates the counts in place (shot once they moved, when the
    // import is slow enough to be seen running).
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.find(Locator::Css("#summary")).await.is_err() && Instant::now() < deadline {
        let records = match client.find(Locator::Css("#progress #records")).await {
            Ok(cell) => cell.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if records.parse::<u64>().is_ok_and(|n| n > 0) {
            shoot(client, "import-progress").await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for(client, "#summary", Duration::from_secs(120)).await;
    assert_eq!(text(client, "#added").await, (FEED_FILLER + 2).to_string());
    assert_eq!(text(client, "#rejected").await, "1");
    assert!(
        text(client, "#rejects")
            .await
            .contains(&(FEED_FILLER + 3).to_string()),
        "the reject's line number"
    );
    shoot(client, "import").await;
    client.goto(&server.url("/console/sources")).await.unwrap();
    assert!(text(client, "#sources").await.contains("browser-feed"));

    // The refresh button of a configured feed: its job, then its result on the sources page.
    assert_eq!(text(client, "#feeds td.result").await, "—");
    click(client, "#feeds form.refresh button").await;
    wait_for(client, "#summary", Duration::from_secs(30)).await;
    assert_eq!(text(client, "#added").await, "1");
    client.goto(&server.url("/console/sources")).await.unwrap();
    assert!(text(client, "#feeds td.result").await.contains("imported"));
    shoot(client, "sources").await;
    client
        .goto(&server.url("/console/domain/turned-bad.example"))
        .await
        .unwrap();
    let level = text(client, ".headline .level").await;
    assert!(
        level == "medium" || level == "high",
        "turned-bad.example is {level}"
    );

    // A form posted without its CSRF token is refused.
    client.goto(&server.url("/console/search")).await.unwrap();
    client
        .execute(
            "document.querySelector('form.search input[name=csrf]').remove()",
            vec![],
        )
        .await
        .unwrap();
    type_into(client, "#names", MALICIOUS).await;
    click(client, "form.search button[type=submit]").await;
    assert!(text(client, "main").await.contains("CSRF token is missing"));

    // Sign out: back to the sign-in page, and the console asks for it again.
    client.goto(&server.url("/console/")).await.unwrap();
    click(client, "header form.inline button").await;
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/console/login"));
    client.goto(&server.url("/console/sources")).await.unwrap();
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/console/login"));
}

#[test]
fn an_analyst_uses_the_console_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("browser-feed.txt");
    let mut lines: String = (0..FEED_FILLER)
        .map(|i| format!("filler-{i}.example\n"))
        .collect();
    lines.push_str("turned-bad.example\nalso-bad.example\nnot a host name!\n");
    std::fs::write(&feed, lines).unwrap();
    let configured = dir.path().join("configured-feed.txt");
    std::fs::write(&configured, "configured-bad.example\n").unwrap();
    let feeds = threatintel_api::Feeds {
        feeds: vec![serde_json::from_value(
            json!({ "name": "configured-feed", "path": configured }),
        )
        .unwrap()],
        ..Default::default()
    };
    let server = Server::start_with_feeds(config(), feeds);
    let driver = Driver::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en-US"] }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a Chromium session through chromedriver");
        session(&client, &server, &feed).await;
        client.close().await.unwrap();
    });
}
