//! The server under test, the fixture evidence, HTTP clients (ureq, and raw bytes over TCP for
//! what a well-behaved client cannot send) and request builders for both signature schemes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{Duration as Days, TimeZone, Utc};
use serde_json::Value;
use threatintel_api::auth::AccessKey;
use threatintel_api::{AppState, ServerConfig};
use threatintel_model::*;
use threatintel_report::{ReportConfig, ReportEngine, VerdictConfig};
use threatintel_store::{SqliteStore, Store};

use crate::sign::{
    enc, sha256_hex, v1_signature, v1_string_to_sign, v3_canonical_request, v3_signature,
    v3_string_to_sign,
};
use crate::xml;

/// Names of the fixture.
pub const MALICIOUS: &str = "evil-c2-fixture.com";
pub const ALLOWLISTED: &str = "google.com";
pub const UNKNOWN: &str = "never-seen-fixture.org";
/// Addresses of the fixture: listed by two B sources, inside a listed network, an allowlisted
/// resolver a weak feed lists, and one nothing knows.
pub const LISTED_IP: &str = "198.51.100.23";
pub const IN_LISTED_NETWORK: &str = "2001:db8:bad::1";
pub const RESOLVER_IP: &str = "9.9.9.9";
pub const UNKNOWN_IP: &str = "192.0.2.200";
/// A file of the fixture: listed by its MD5 by one source, and by all three hashes by another
/// (which links them).
pub const FILE_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
pub const FILE_SHA1: &str = "3395856ce81f2b7382dee72602f798b642f14140";
pub const FILE_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
pub const UNKNOWN_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000001";

/// The 7 keys of DescribeFileReport's response, in the server's order.
pub const FILE_REPORT_KEYS: [&str; 7] = [
    "FileHash",
    "Basic",
    "ThreatLevel",
    "ThreatTypes",
    "Intelligences",
    "Sandbox",
    "RequestId",
];

/// The 12 keys of DescribeIpReport's response, in the server's order.
pub const IP_REPORT_KEYS: [&str; 12] = [
    "Context",
    "RequestId",
    "ThreatTypes",
    "Intelligences",
    "Scenario",
    "Whois",
    "AttackCntByThreatType",
    "ThreatLevel",
    "Confidence",
    "Ip",
    "AttackPreferenceTop5",
    "Group",
];

/// An unlimited key most tests share (each request has a fresh nonce).
pub const KEY: &str = "LTAItestMainKey000001";
pub const SECRET: &str = "main-secret-0001";
/// A disabled key.
pub const INACTIVE: &str = "LTAItestInactive00001";
/// Keys with their own small limits, one per test that counts admissions.
pub const BURST_KEY: &str = "LTAItestBurstKey00001";
pub const SUSTAINED_KEY: &str = "LTAItestSustained0001";
pub const THROTTLE_KEY: &str = "LTAItestThrottle00001";
pub const NONCE_KEY: &str = "LTAItestNonceKey00001";
pub const LIMITED_SECRET: &str = "limited-secret";

/// The native API's `Authorization` header for [`KEY`].
pub fn bearer() -> String {
    format!("Bearer {KEY}:{SECRET}")
}

/// The 14 keys of DescribeDomainReport's response, in the reference's order.
pub const REPORT_KEYS: [&str; 14] = [
    "Context",
    "Basic",
    "RequestId",
    "SslCert",
    "ThreatTypes",
    "Intelligences",
    "Scenario",
    "Whois",
    "AttackCntByThreatType",
    "ThreatLevel",
    "Confidence",
    "Domain",
    "AttackPreferenceTop5",
    "Group",
];
pub const HEAVY: [&str; 4] = [
    "ThreatTypes",
    "Intelligences",
    "AttackPreferenceTop5",
    "AttackCntByThreatType",
];
pub const ALL_FIELDS: &str = "ThreatTypes,Intelligences,AttackPreferenceTop5,AttackCntByThreatType";
pub const ERROR_KEYS: [&str; 5] = ["RequestId", "HostId", "Code", "Message", "Recommend"];

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

/// Evidence relative to now (the server reports at the current time): a C2 name with two B
/// sources, events, resolutions, WHOIS and a certificate; an allowlisted top site.
pub fn fixture() -> Vec<Evidence> {
    let now = Utc::now();
    let ago = |days: i64| now - Days::days(days);
    let c2 = |source: &str, last: i64| {
        Evidence::Indicator(IndicatorRecord {
            name: name(MALICIOUS),
            zone: false,
            source: source.into(),
            threat_type: "C&C Server".into(),
            label: Some("mykings".into()),
            risk: RiskLevel::High,
            scenario: None,
            attack_stage: Some("command-and-control".into()),
            first_seen: ago(30),
            last_seen: ago(last),
            confidence: None,
            reference: Some(format!("https://feeds.example/{source}")),
            via_url: false,
        })
    };
    let event = |days: i64, stage: &str, industry: &str, count: u64| {
        Evidence::Event(SecurityEvent {
            name: name(MALICIOUS),
            time: ago(days),
            stage: stage.into(),
            industry: industry.into(),
            count,
            source: "ids-fixture".into(),
        })
    };
    let ip_record = |network: &str, source: &str, threat_type: &str| {
        Evidence::IpRecord(IpRecord {
            network: network.parse().unwrap(),
            source: source.into(),
            threat_type: threat_type.into(),
            label: Some("pikabot".into()),
            risk: RiskLevel::High,
            scenario: None,
            first_seen: ago(30),
            last_seen: ago(1),
            confidence: None,
            reference: Some(format!("https://feeds.example/{source}")),
        })
    };
    let file_record = |hashes: &[&str], source: &str, names: &[&str]| {
        Evidence::FileRecord(Box::new(FileRecord {
            hashes: FileHashes::new(hashes.iter().map(|h| h.parse().unwrap())).unwrap(),
            source: source.into(),
            threat_type: "Malware".into(),
            label: Some("AgentTesla".into()),
            risk: RiskLevel::High,
            scenario: None,
            file_type: (hashes.len() > 1).then(|| "exe".to_owned()),
            size: (hashes.len() > 1).then_some(68),
            file_names: names.iter().map(|n| (*n).to_owned()).collect(),
            first_seen: ago(30),
            last_seen: ago(1),
            confidence: None,
            reference: None,
        }))
    };
    vec![
        Evidence::Source(Source {
            name: "feed-d-weak".into(),
            reliability: Reliability::D,
            default_threat_type: None,
        }),
        Evidence::Allowlist(Allowlist {
            name: "public-dns-fixture".into(),
            kind: AllowlistKind::Curated,
            enabled: true,
        }),
        Evidence::NetworkAllowEntry(NetworkAllowEntry {
            list: "public-dns-fixture".into(),
            network: "9.9.9.0/24".parse().unwrap(),
        }),
        Evidence::Source(Source {
            name: "feed-b-one".into(),
            reliability: Reliability::B,
            default_threat_type: None,
        }),
        Evidence::Source(Source {
            name: "feed-b-two".into(),
            reliability: Reliability::B,
            default_threat_type: None,
        }),
        Evidence::Source(Source {
            name: "ids-fixture".into(),
            reliability: Reliability::B,
            default_threat_type: None,
        }),
        Evidence::Allowlist(Allowlist {
            name: "top-fixture".into(),
            kind: AllowlistKind::TopSites,
            enabled: true,
        }),
        Evidence::AllowlistEntry(AllowlistEntry {
            name: name(ALLOWLISTED),
            matching: AllowMatch::Hostname,
            list: "top-fixture".into(),
            rank: Some(1),
        }),
        c2("feed-b-one", 1),
        c2("feed-b-two", 2),
        ip_record(LISTED_IP, "feed-b-one", "C&C Server"),
        ip_record(LISTED_IP, "feed-b-two", "C&C Server"),
        ip_record("2001:db8:bad::/48", "feed-b-one", "Malicious Source"),
        ip_record(RESOLVER_IP, "feed-d-weak", "C&C Server"),
        file_record(&[FILE_MD5], "feed-b-one", &["invoice.doc"]),
        file_record(
            &[FILE_MD5, FILE_SHA1, FILE_SHA256],
            "feed-b-two",
            &["payload.exe"],
        ),
        event(2, "command-and-control", "finance", 12),
        event(3, "initial-access", "gaming", 4),
        Evidence::Resolution(Resolution {
            name: name(MALICIOUS),
            ip: "203.0.113.7".parse().unwrap(),
            first_seen: ago(20),
            last_seen: ago(1),
            count: 9,
        }),
        Evidence::Resolution(Resolution {
            name: name(&format!("cdn.{MALICIOUS}")),
            ip: "203.0.113.8".parse().unwrap(),
            first_seen: ago(10),
            last_seen: ago(2),
            count: 2,
        }),
        Evidence::Whois(Box::new(WhoisRecord {
            domain: name(MALICIOUS),
            registrar: Registrar {
                name: "NameCheap, Inc.".into(),
                url: "http://www.namecheap.com".into(),
                ..Default::default()
            },
            registrant: Contact {
                country: "IS".into(),
                ..Default::default()
            },
            admin: Contact::default(),
            tech: Contact::default(),
            whois_server: "whois.namecheap.com".into(),
            dnssec: "unsigned".into(),
            nameservers: vec!["ns1.evil-dns.net".into()],
            status: vec!["clientTransferProhibited".into()],
            created: Some(Utc.with_ymd_and_hms(2024, 4, 1, 8, 30, 0).unwrap()),
            expires: Some(now + Days::days(200)),
            updated: None,
            observed_at: ago(5),
            raw: "Domain Name: EVIL-C2-FIXTURE.COM\n".into(),
        })),
        Evidence::Certificate(Box::new(Certificate {
            serial: "18395475168054001104".into(),
            issuer: "CN=R3,O=Let's Encrypt,C=US".into(),
            subject: format!("CN={MALICIOUS}"),
            sans: vec![MALICIOUS.into()],
            covers: vec![DomainQuery::Exact(name(MALICIOUS))],
            not_before: ago(30),
            not_after: now + Days::days(60),
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            seen_at: ago(2),
            seen_where: "203.0.113.7:443".into(),
        })),
    ]
}

fn key(id: &str, secret: &str, rate: u32, enabled: bool) -> AccessKey {
    AccessKey {
        id: id.into(),
        secret: secret.into(),
        rate_per_sec: rate,
        enabled,
        console: true,
    }
}

/// The configuration of the shared server.
pub fn config() -> ServerConfig {
    ServerConfig {
        access_keys: vec![
            key(KEY, SECRET, 0, true),
            key(INACTIVE, SECRET, 0, false),
            key(BURST_KEY, LIMITED_SECRET, 5, true),
            key(SUSTAINED_KEY, LIMITED_SECRET, 5, true),
            key(THROTTLE_KEY, LIMITED_SECRET, 1, true),
            key(NONCE_KEY, LIMITED_SECRET, 1, true),
        ],
        host_id: "threatintel-test".into(),
        ..ServerConfig::default()
    }
}

/// A running server; stopped (gracefully) when dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// What a server's enricher is started with (on the server's runtime).
pub struct Enrichment {
    pub config: threatintel_enrich::EnrichConfig,
    pub bootstrap: threatintel_enrich::bootstrap::Bootstrap,
    pub clock: threatintel_enrich::Clock,
}

impl Server {
    /// Builds the fixture store and serves it on 127.0.0.1 with `config`.
    pub fn start(config: ServerConfig) -> Server {
        Self::start_with(config, None)
    }

    /// [`start`](Self::start), with an enricher when `enrichment` is given.
    pub fn start_with(config: ServerConfig, enrichment: Option<Enrichment>) -> Server {
        Self::launch(config, enrichment, threatintel_api::Feeds::default())
    }

    /// [`start`](Self::start), with `feeds` on the sources page.
    pub fn start_with_feeds(config: ServerConfig, feeds: threatintel_api::Feeds) -> Server {
        Self::launch(config, None, feeds)
    }

    fn launch(
        config: ServerConfig,
        enrichment: Option<Enrichment>,
        feeds: threatintel_api::Feeds,
    ) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("api-test.db")).unwrap();
        let mut writer = store.writer().unwrap();
        for evidence in fixture() {
            writer
                .put(&evidence)
                .unwrap_or_else(|e| panic!("{evidence:?}: {e}"));
        }
        writer.commit().unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let engine = Arc::new(
            ReportEngine::new(
                store.clone(),
                VerdictConfig::default(),
                ReportConfig::default(),
            )
            .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut state = AppState::new(engine, config).with_feeds(feeds);
                if let Some(e) = enrichment {
                    let enricher = threatintel_enrich::Enricher::start_with_clock(
                        e.config,
                        e.bootstrap,
                        store,
                        e.clock,
                    )
                    .unwrap();
                    state = state.with_enricher(enricher);
                }
                let state = Arc::new(state);
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let shutdown = async move {
                    while !flag.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                threatintel_api::serve(listener, state, shutdown)
                    .await
                    .unwrap();
            });
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Commits `evidence` into the server's store through a second handle on its file, as an
    /// import by another process would.
    pub fn commit(&self, evidence: &[Evidence]) {
        let store = SqliteStore::open(&self._dir.path().join("api-test.db")).unwrap();
        let mut writer = store.writer().unwrap();
        for e in evidence {
            writer.put(e).unwrap();
        }
        writer.commit().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server most tests share; it lives as long as the test binary.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(config()))
}

/// An HTTP response, whichever client got it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// (lower-case name, value).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the body is UTF-8")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn xml(&self) -> xml::Element {
        xml::parse(self.text()).unwrap_or_else(|e| panic!("body is not XML ({e}): {}", self.text()))
    }
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build()
    })
}

/// One request with the plain HTTP client (ureq); 4xx and 5xx are responses, not errors.
pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut request = agent().request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = response.header(&n).unwrap_or("").to_owned();
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    let mut body = Vec::new();
    response
        .into_reader()
        .take(50 << 20)
        .read_to_end(&mut body)
        .unwrap();
    Response {
        status,
        headers,
        body,
    }
}

pub fn get(path_and_query: &str) -> Response {
    call("GET", &server().url(path_and_query), &[], b"")
}

/// Parses a complete HTTP/1.1 response (Content-Length or chunked, or up to EOF).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete header block in {} bytes", raw.len()))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "header block not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let body = if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = rest[at..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or("truncated chunk size")?;
            let size_text = std::str::from_utf8(&rest[at..at + line_end]).unwrap();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            at += line_end + 2;
            if size == 0 {
                break;
            }
            body.extend_from_slice(rest.get(at..at + size).ok_or("truncated chunk")?);
            at += size + 2;
        }
        body
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().map_err(|_| "bad content-length")?;
        rest.get(..length)
            .ok_or_else(|| format!("body truncated: {} of {length} bytes", rest.len()))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Sends `request` as is and reads the answer up to EOF (the request should say
/// `Connection: close`). Errors are what a dropped connection looks like.
pub fn raw_to(addr: SocketAddr, request: &[u8]) -> Result<Response, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // Write on another thread: the server may answer (and stop reading) before the end of a
    // large body.
    let mut writer = stream.try_clone().unwrap();
    let request = request.to_vec();
    let sender = std::thread::spawn(move || writer.write_all(&request));
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let _ = sender.join();
    match (read, parse_response(&answer)) {
        (_, Ok(response)) => Ok(response),
        (Err(e), Err(partial)) => Err(format!("read: {e} ({partial})")),
        (Ok(_), Err(e)) => Err(e),
    }
}

pub fn raw(request: &[u8]) -> Result<Response, String> {
    raw_to(server().addr, request)
}

/// `YYYY-MM-DDThh:mm:ssZ`, `offset_secs` from now.
pub fn timestamp(offset_secs: i64) -> String {
    (Utc::now() + Days::seconds(offset_secs))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `p0=1&p1=1&...`: `n` distinct parameters, for requests built to be expensive to decode.
pub fn many_params(n: usize) -> String {
    (0..n)
        .map(|i| format!("p{i}=1"))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A V1 (HMAC-SHA1) request: the common parameters of the legacy SDK plus business ones.
#[derive(Debug, Clone)]
pub struct V1 {
    pub method: String,
    pub params: Vec<(String, String)>,
    pub secret: String,
}

impl V1 {
    /// DescribeDomainReport for `domain`, JSON, signed by the shared key.
    pub fn new(domain: &str) -> V1 {
        V1::with_key(KEY, SECRET).set("Domain", domain)
    }

    /// DescribeIpReport for `ip`, JSON, signed by the shared key.
    pub fn ip(ip: &str) -> V1 {
        V1::with_key(KEY, SECRET)
            .set("Action", "DescribeIpReport")
            .set("Ip", ip)
    }

    /// DescribeFileReport for `hash`, JSON, signed by the shared key.
    pub fn file(hash: &str) -> V1 {
        V1::with_key(KEY, SECRET)
            .set("Action", "DescribeFileReport")
            .set("FileHash", hash)
    }

    pub fn with_key(id: &str, secret: &str) -> V1 {
        let params = [
            ("Action", "DescribeDomainReport"),
            ("Version", "2020-05-12"),
            ("Format", "JSON"),
            ("AccessKeyId", id),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", &timestamp(0)),
            ("SignatureNonce", &nonce()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        V1 {
            method: "POST".into(),
            params,
            secret: secret.into(),
        }
    }

    /// Sets (or replaces) a parameter.
    pub fn set(mut self, key: &str, value: &str) -> V1 {
        self.params.retain(|(k, _)| k != key);
        self.params.push((key.into(), value.into()));
        self
    }

    pub fn without(mut self, key: &str) -> V1 {
        self.params.retain(|(k, _)| k != key);
        self
    }

    pub fn method(mut self, method: &str) -> V1 {
        self.method = method.into();
        self
    }

    pub fn string_to_sign(&self) -> String {
        v1_string_to_sign(&self.method, &self.params)
    }

    /// The parameters with their `Signature`, percent-encoded as a query.
    pub fn signed_query(&self) -> String {
        let signature = v1_signature(&self.secret, &self.string_to_sign());
        let mut parts: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        parts.push(format!("Signature={}", enc(&signature)));
        parts.join("&")
    }

    /// Sends it as the SDKs do: parameters in the query, empty body.
    pub fn send(&self) -> Response {
        self.send_to(server())
    }

    /// [`send`](Self::send) to a server of the test's own.
    pub fn send_to(&self, server: &Server) -> Response {
        call(
            &self.method,
            &server.url(&format!("/?{}", self.signed_query())),
            &[],
            b"",
        )
    }

    /// Sends the signed parameters as an `application/x-www-form-urlencoded` body.
    pub fn send_as_form(&self) -> Response {
        call(
            &self.method,
            &server().url("/"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            self.signed_query().as_bytes(),
        )
    }
}

/// A V3 (ACS3-HMAC-SHA256) request as the Tea SDK sends it.
#[derive(Debug, Clone)]
pub struct V3 {
    pub key: String,
    pub secret: String,
    pub query: Vec<(String, String)>,
    /// Signed headers (lower-case), `host` added when sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl V3 {
    pub fn new(domain: &str) -> V3 {
        let mut v3 = V3 {
            key: KEY.into(),
            secret: SECRET.into(),
            query: vec![("Domain".into(), domain.into())],
            headers: Vec::new(),
            body: Vec::new(),
        };
        for (k, v) in [
            ("accept", "application/json"),
            ("x-acs-action", "DescribeDomainReport"),
            ("x-acs-version", "2020-05-12"),
            ("x-acs-date", &timestamp(0)),
            ("x-acs-signature-nonce", &nonce()),
            ("x-acs-content-sha256", &sha256_hex(b"")),
        ] {
            v3 = v3.header(k, v);
        }
        v3
    }

    /// DescribeIpReport for `ip`.
    pub fn ip(ip: &str) -> V3 {
        let mut v3 = V3::new("").header("x-acs-action", "DescribeIpReport");
        v3.query = vec![("Ip".into(), ip.into())];
        v3
    }

    /// DescribeFileReport for `hash`.
    pub fn file(hash: &str) -> V3 {
        let mut v3 = V3::new("").header("x-acs-action", "DescribeFileReport");
        v3.query = vec![("FileHash".into(), hash.into())];
        v3
    }

    pub fn query(mut self, key: &str, value: &str) -> V3 {
        self.query.retain(|(k, _)| k != key);
        self.query.push((key.into(), value.into()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> V3 {
        self.headers.retain(|(k, _)| k != name);
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The (`Authorization`, string-to-sign) for the shared server.
    pub fn authorization(&self) -> (String, String) {
        let mut headers = self.headers.clone();
        headers.push(("host".into(), server().host()));
        let payload = headers
            .iter()
            .find(|(k, _)| k == "x-acs-content-sha256")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| sha256_hex(&self.body));
        let canonical = v3_canonical_request("POST", &self.query, &headers, &payload);
        let sts = v3_string_to_sign(&canonical);
        let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        names.sort();
        let authorization = format!(
            "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={}",
            self.key,
            names.join(";"),
            v3_signature(&self.secret, &sts)
        );
        (authorization, sts)
    }

    pub fn query_string(&self) -> String {
        self.query
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    pub fn send(&self) -> Response {
        let (authorization, _) = self.authorization();
        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        headers.push(("Authorization", &authorization));
        call(
            "POST",
            &server().url(&format!("/?{}", self.query_string())),
            &headers,
            &self.body,
        )
    }
}

/// An upper-case UUID v4, as Alibaba's RequestId.
/// A JSON success body: exactly `keys`, every value a string, a fresh RequestId.
pub fn string_body(r: &Response, keys: &[&str]) -> serde_json::Map<String, Value> {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let object = r.json().as_object().expect("an object").clone();
    let mut found: Vec<&str> = object.keys().map(String::as_str).collect();
    found.sort();
    let mut expected = keys.to_vec();
    expected.sort();
    assert_eq!(found, expected, "exactly the response's keys");
    for (k, v) in &object {
        assert!(v.is_string(), "{k} is not a string: {v}");
    }
    assert_request_id(object["RequestId"].as_str().unwrap());
    object
}

pub fn is_request_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')))
        && groups[2].starts_with('4')
        && matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'A' | b'B')
}

#[track_caller]
pub fn assert_request_id(id: &str) {
    assert!(
        is_request_id(id),
        "RequestId {id:?} is not an upper-case UUID v4"
    );
}

/// A POP error body, whichever format.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub request_id: String,
    pub xml: bool,
}

/// Checks that `r` is a well-formed POP error (JSON or XML, told by its exact content type)
/// with exactly RequestId, HostId, Code, Message, Recommend, all strings; returns it.
#[track_caller]
pub fn error_body(r: &Response) -> ErrorBody {
    try_error_body(r).unwrap_or_else(|e| panic!("{e}"))
}

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// [`error_body`] without panicking.
pub fn try_error_body(r: &Response) -> Result<ErrorBody, String> {
    let content_type = r.header("content-type").unwrap_or("");
    let shown = String::from_utf8_lossy(&r.body);
    let fields: Vec<(String, String)> = match content_type {
        "application/json;charset=utf-8" => {
            let value: Value = serde_json::from_slice(&r.body)
                .map_err(|e| format!("error body is not JSON ({e}): {shown}"))?;
            let object = value
                .as_object()
                .ok_or_else(|| format!("error body is not an object: {value}"))?;
            let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
            keys.sort();
            let mut expected = ERROR_KEYS.to_vec();
            expected.sort();
            ensure!(keys == expected, "JSON error keys {keys:?}: {value}");
            let mut fields = Vec::new();
            for (k, v) in object {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("{k} is not a string: {value}"))?;
                fields.push((k.clone(), v.to_owned()));
            }
            fields
        }
        "text/xml;charset=utf-8" => {
            let doc =
                xml::parse(&shown).map_err(|e| format!("error body is not XML ({e}): {shown}"))?;
            ensure!(doc.name == "Error", "XML root <{}>: {shown}", doc.name);
            ensure!(
                doc.child_names() == ERROR_KEYS && doc.children.len() == 5,
                "XML error elements {:?}: {shown}",
                doc.child_names()
            );
            let mut fields = Vec::new();
            for c in &doc.children {
                ensure!(c.children.is_empty(), "<{}> is nested: {shown}", c.name);
                fields.push((c.name.clone(), c.text.clone()));
            }
            fields
        }
        other => {
            return Err(format!(
                "status {}: not a POP error content type {other:?}: {shown:?}",
                r.status
            ))
        }
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    ensure!(
        is_request_id(&field("RequestId")),
        "RequestId {:?} is not an upper-case UUID v4",
        field("RequestId")
    );
    for name in ["HostId", "Recommend", "Message", "Code"] {
        ensure!(!field(name).is_empty(), "{name} is empty: {shown}");
    }
    Ok(ErrorBody {
        code: field("Code"),
        message: field("Message"),
        request_id: field("RequestId"),
        xml: content_type.starts_with("text/xml"),
    })
}

/// Checks status, code and shape; returns the body.
#[track_caller]
pub fn assert_error(r: &Response, status: u16, code: &str) -> ErrorBody {
    let body = error_body(r);
    assert_eq!(
        (r.status, body.code.as_str()),
        (status, code),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    body
}

/// The error an answer must be.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// This status and code.
    Code(u16, &'static str),
    /// This status and code, with a message that contains the third string.
    Says(u16, &'static str, &'static str),
    /// 400 for a missing parameter (or V3 header) `name`, with the message
    /// `<name> is mandatory for this action.` The code is `Missing<Name>` (`MissingDomain`,
    /// the reference's §9.3) for a parameter, the generic `MissingParameter` for a header
    /// (lower-case names).
    Missing(&'static str),
    /// Any of these.
    Either(&'static [Want]),
    /// Any 4xx with a well-formed POP error body.
    AnyPop4xx,
}

impl Want {
    fn matches(self, status: u16, body: &ErrorBody) -> bool {
        match self {
            Want::Code(s, c) => status == s && body.code == c,
            Want::Says(s, c, text) => status == s && body.code == c && body.message.contains(text),
            Want::Missing(name) => {
                status == 400
                    && if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                        body.code == "MissingParameter"
                    } else {
                        body.code == format!("Missing{name}")
                    }
                    && body.message == format!("{name} is mandatory for this action.")
            }
            Want::Either(all) => all.iter().any(|w| w.matches(status, body)),
            Want::AnyPop4xx => (400..500).contains(&status),
        }
    }
}

/// Whether `r` is the error `want` says, with a well-formed body; `Err` says why not.
pub fn check_error(r: &Response, want: Want) -> Result<ErrorBody, String> {
    if r.status >= 500 {
        return Err(format!(
            "a {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    if !(400..500).contains(&r.status) {
        return Err(format!(
            "status {}, not a 4xx: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    let body = try_error_body(r).map_err(|e| format!("no well-formed POP error body: {e}"))?;
    if !want.matches(r.status, &body) {
        return Err(format!(
            "got {} {} ({}), expected {want:?}",
            r.status, body.code, body.message
        ));
    }
    Ok(body)
}

#[track_caller]
pub fn assert_want(r: &Response, want: Want) -> ErrorBody {
    match check_error(r, want) {
        Ok(body) => body,
        Err(e) => panic!("{e}"),
    }
}
