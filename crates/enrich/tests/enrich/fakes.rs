//! The servers the enricher talks to, on 127.0.0.1, each counting what it was asked.
//!
//! - RDAP registry (axum): `google.com` is Verisign's real (thin) answer from the corpus with
//!   its `related` link pointed at the registrar server; `ratelimited.com` answers 429 with
//!   `Retry-After: 120`; `slow.com` answers after 3 s; anything else 404.
//! - RDAP registrar (axum, another port): a registrant, admin and registrar for any name.
//! - WHOIS root → registry → registrar on three ports: the corpus's Verisign answer for
//!   `google.net` refers to the MarkMonitor answer.
//! - DNS (UDP and TCP on one port): A/AAAA/CNAME/NS/MX for a few names, `private.com` → 10.0.0.5.
//! - Benchmark names `bench-N.com` are registered (the corpus answer renamed) and resolve to
//!   127.0.0.1 (`examples/loopback_servers.rs`).
//! - TLS: an rcgen certificate for `google.com` and `*.google.com`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, NS};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::Acceptor;
use tokio_rustls::rustls::{crypto, ServerConfig};
use tokio_rustls::LazyConfigAcceptor;

/// Requests per key (`rdap:google.com`, `whois:registry:google.net`, `dns:google.com:A`, `tls`).
#[derive(Clone, Default)]
pub struct Hits(Arc<Mutex<BTreeMap<String, usize>>>);

impl Hits {
    fn hit(&self, key: String) {
        *self.0.lock().entry(key).or_default() += 1;
    }

    pub fn get(&self, key: &str) -> usize {
        self.0.lock().get(key).copied().unwrap_or(0)
    }

    /// Requests of every key starting with `prefix`.
    pub fn total(&self, prefix: &str) -> usize {
        self.0
            .lock()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}

pub struct Fakes {
    pub hits: Hits,
    pub rdap: SocketAddr,
    pub whois_root: SocketAddr,
    pub dns: SocketAddr,
    pub tls: SocketAddr,
}

#[allow(dead_code)] // Only `corpus_path`: every file the fakes read is in the repository.
#[path = "../../../../testdata/paths.rs"]
mod testdata;

/// A corpus file the repository keeps in `testdata/corpus`.
pub fn corpus(path: &str) -> String {
    let file = testdata::corpus_path(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

impl Fakes {
    /// `[enrich]` settings that send every lookup to these servers (inline, private addresses
    /// allowed: they are all on loopback; a 1 s timeout).
    pub fn config(&self) -> threatintel_enrich::EnrichConfig {
        threatintel_enrich::EnrichConfig {
            mode: threatintel_enrich::Mode::Inline,
            inline_budget_ms: 10_000,
            whois_root: self.whois_root.to_string(),
            dns_upstreams: vec![self.dns.to_string()],
            tls_port: self.tls.port(),
            allow_private_addresses: true,
            timeout_ms: 1000,
            concurrency: 4,
            ..threatintel_enrich::EnrichConfig::default()
        }
    }

    pub async fn start() -> Self {
        let hits = Hits::default();
        let registrar = serve_http(registrar_router(hits.clone())).await;
        let rdap = serve_http(registry_router(hits.clone(), registrar)).await;
        let whois_registrar = serve_whois(hits.clone(), "registrar", move |_| {
            corpus("whois_weppos/visible/responses/whois.markmonitor.com/status_registered.txt")
                .replace("Domain Name: google.com", "Domain Name: google.net")
        })
        .await;
        let whois_registry = serve_whois(hits.clone(), "registry", move |query| {
            if query == "google.net" {
                corpus("whois_weppos/visible/responses/whois.verisign-grs.com/net/status_registered.txt")
                    .replace("whois.markmonitor.com", &whois_registrar.to_string())
            } else if query == "throttled.net" {
                corpus("whois_weppos/visible/responses/whois.markmonitor.com/response_throttled.txt")
            } else {
                corpus("whois_weppos/visible/responses/whois.markmonitor.com/status_available.txt")
            }
        })
        .await;
        let whois_root = serve_whois(hits.clone(), "root", move |query| {
            format!(
                "% IANA WHOIS server\n\ndomain:       {}\n\nrefer:        {whois_registry}\n",
                query.to_uppercase()
            )
        })
        .await;
        let dns = serve_dns(hits.clone()).await;
        let tls = serve_tls(hits.clone()).await;
        Self {
            hits,
            rdap,
            whois_root,
            dns,
            tls,
        }
    }

    /// A bootstrap registry that sends `.com` to the fake RDAP server (and nothing else).
    pub fn bootstrap(&self) -> String {
        format!(
            r#"{{"version":"1.0","publication":"2026-01-01T00:00:00Z","services":[[["com"],["http://{}/"]]]}}"#,
            self.rdap
        )
    }
}

async fn serve_http(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn rdap_json(body: String) -> Response {
    ([("content-type", "application/rdap+json")], body).into_response()
}

fn registry_router(hits: Hits, registrar: SocketAddr) -> Router {
    async fn domain(
        State((hits, registrar)): State<(Hits, SocketAddr)>,
        Path(name): Path<String>,
        headers: HeaderMap,
    ) -> Response {
        hits.hit(format!("rdap:{name}"));
        assert_eq!(headers["accept"], "application/rdap+json");
        match name.as_str() {
            bench if bench.starts_with("bench-") => rdap_json(
                corpus(
                    "rdap_samples/visible/whoisit/domain1/input_data_rdap_response_domain1.json",
                )
                .replace("GOOGLE.COM", &bench.to_uppercase())
                .replace(
                    "https://rdap.markmonitor.com/",
                    &format!("http://{registrar}/"),
                ),
            ),
            "google.com" => rdap_json(
                corpus(
                    "rdap_samples/visible/whoisit/domain1/input_data_rdap_response_domain1.json",
                )
                .replace(
                    "https://rdap.markmonitor.com/",
                    &format!("http://{registrar}/"),
                ),
            ),
            "ratelimited.com" => {
                (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "120")]).into_response()
            }
            "slow.com" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                StatusCode::NOT_FOUND.into_response()
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }
    Router::new()
        .route("/domain/{name}", get(domain))
        .with_state((hits, registrar))
}

fn registrar_router(hits: Hits) -> Router {
    async fn domain(State(hits): State<Hits>, Path(name): Path<String>) -> Response {
        hits.hit(format!("registrar:{}", name.to_lowercase()));
        let contact = |role: &str, name: &str| {
            serde_json::json!({
                "objectClassName": "entity", "roles": [role],
                "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", name],
                    ["org", {}, "text", "Google LLC"], ["email", {}, "text", "dns-admin@google.com"],
                    ["adr", {"cc": "US"}, "text", ["", "", "1600 Amphitheatre Parkway", "Mountain View", "CA", "94043", ""]]]]
            })
        };
        let body = serde_json::json!({
            "objectClassName": "domain", "ldhName": name.to_lowercase(),
            "entities": [contact("registrant", "Domain Administrator"), contact("administrative", "Admin"),
                         contact("registrar", "MarkMonitor Inc.")],
        });
        rdap_json(body.to_string())
    }
    Router::new()
        .route("/rdap/domain/{name}", get(domain))
        .with_state(hits)
}

/// A port-43 server: one line in, `answer(line)` out, then close.
async fn serve_whois(
    hits: Hits,
    role: &'static str,
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (hits, answer) = (hits.clone(), answer.clone());
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                let mut line = String::new();
                stream.read_line(&mut line).await.unwrap();
                let query = line.trim().to_owned();
                hits.hit(format!("whois:{role}:{query}"));
                let _ = stream.get_mut().write_all(answer(&query).as_bytes()).await;
            });
        }
    });
    addr
}

/// The zone the DNS server knows.
fn dns_answers(name: &str, kind: RecordType) -> Option<Vec<RData>> {
    let host = |h: &str| Name::from_ascii(h).unwrap();
    let records: Vec<(RecordType, RData)> = match name {
        "google.com." => vec![
            (RecordType::A, RData::A(A(Ipv4Addr::LOCALHOST))),
            (RecordType::AAAA, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))),
            (RecordType::NS, RData::NS(NS(host("ns1.google.com.")))),
            (
                RecordType::MX,
                RData::MX(MX::new(10, host("smtp.google.com."))),
            ),
        ],
        "www.google.com." => vec![(RecordType::CNAME, RData::CNAME(CNAME(host("google.com."))))],
        "google.net." | "ratelimited.com." | "slow.com." => {
            vec![(RecordType::A, RData::A(A(Ipv4Addr::LOCALHOST)))]
        }
        "private.com." => vec![(RecordType::A, RData::A(A(Ipv4Addr::new(10, 0, 0, 5))))],
        bench if bench.starts_with("bench-") => {
            vec![(RecordType::A, RData::A(A(Ipv4Addr::LOCALHOST)))]
        }
        _ => return None,
    };
    Some(
        records
            .into_iter()
            .filter(|(k, _)| *k == kind || (*k == RecordType::CNAME && kind != RecordType::CNAME))
            .map(|(_, r)| r)
            .collect(),
    )
}

fn dns_reply(hits: &Hits, query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let question = request.queries().first()?.clone();
    let name = question.name().to_ascii().to_lowercase();
    hits.hit(format!(
        "dns:{}:{}",
        name.trim_end_matches('.'),
        question.query_type()
    ));
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(true)
        .set_recursion_available(true)
        .set_authoritative(true)
        .add_query(question.clone());
    match dns_answers(&name, question.query_type()) {
        None => {
            reply.set_response_code(ResponseCode::NXDomain);
        }
        Some(data) => {
            for rdata in data {
                reply.add_answer(Record::from_rdata(question.name().clone(), 60, rdata));
            }
        }
    }
    reply.to_vec().ok()
}

async fn serve_dns(hits: Hits) -> SocketAddr {
    // UDP and TCP on one port: retry when another process holds the TCP side.
    let (udp, tcp, addr) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            break (udp, tcp, addr);
        }
    };
    let udp_hits = hits.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, from) = udp.recv_from(&mut buf).await.unwrap();
            if let Some(reply) = dns_reply(&udp_hits, &buf[..n]) {
                let _ = udp.send_to(&reply, from).await;
            }
        }
    });
    tokio::spawn(async move {
        loop {
            let (stream, _) = tcp.accept().await.unwrap();
            tokio::spawn(answer_dns_tcp(hits.clone(), stream));
        }
    });
    addr
}

async fn answer_dns_tcp(hits: Hits, mut stream: TcpStream) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(reply) = dns_reply(&hits, &query) else {
            return;
        };
        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
        framed.extend(reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

async fn serve_tls(hits: Hits) -> SocketAddr {
    let cert = rcgen::generate_simple_self_signed(vec!["google.com".into(), "*.google.com".into()])
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.cert.der().to_vec())], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (config, hits) = (config.clone(), hits.clone());
            tokio::spawn(async move {
                // Counted at the ClientHello, before the client can finish its handshake.
                let acceptor = LazyConfigAcceptor::new(Acceptor::default(), stream);
                let Ok(start) = acceptor.await else { return };
                let sni = start.client_hello().server_name().unwrap_or("").to_owned();
                hits.hit(format!("tls:{sni}"));
                if let Ok(mut tls) = start.into_stream(config).await {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}
