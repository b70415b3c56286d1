//! `[server.tls]`: the real server over HTTPS with certificates rcgen makes here, called by a
//! rustls client that trusts only the test CA: the API and the console answer, session cookies
//! are `Secure`, SIGHUP serves a new certificate (and a bad new file keeps the old one), and a
//! certificate that cannot be used stops `serve` with its path.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use threatintel_api::{ServerConfig, TlsConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::support::{config, parse_response, Response, Server};

/// A test certificate authority, and the files a server's `[server.tls]` names.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    pub dir: tempfile::TempDir,
}

impl TestCa {
    /// A new CA; its certificate is `ca.pem` in its directory.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
        TestCa { cert, key, dir }
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// Issues a certificate for 127.0.0.1 and `localhost`, written (replacing any before) as
    /// `cert.pem` and `key.pem`; returns its DER.
    pub fn issue(&self) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        // Written whole and renamed, as a certificate renewal does.
        for (name, text) in [("key.pem", key.serialize_pem()), ("cert.pem", cert.pem())] {
            let partial = self.dir.path().join(format!("{name}.new"));
            std::fs::write(&partial, text).unwrap();
            std::fs::rename(&partial, self.dir.path().join(name)).unwrap();
        }
        cert.der().clone()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn tls_config(&self) -> TlsConfig {
        TlsConfig {
            cert: self.path("cert.pem"),
            key: self.path("key.pem"),
        }
    }
}

fn https_config(ca: &TestCa) -> ServerConfig {
    ServerConfig {
        tls: Some(ca.tls_config()),
        ..config()
    }
}

/// One request over TLS trusting only `roots`: the certificate the server presented and its
/// answer.
fn fetch(
    addr: SocketAddr,
    roots: &[CertificateDer<'static>],
    request: &str,
) -> Result<(CertificateDer<'static>, Response), String> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).unwrap();
    }
    let client = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
        let mut tls = TlsConnector::from(Arc::new(client))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let presented = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        // The server may close without close_notify once it answered `Connection: close`.
        let _ = tls.read_to_end(&mut raw).await;
        Ok((presented, parse_response(&raw)?))
    })
}

fn get(
    addr: SocketAddr,
    roots: &[CertificateDer<'static>],
    path: &str,
) -> (CertificateDer<'static>, Response) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    fetch(addr, roots, &request).unwrap_or_else(|e| panic!("GET {path} over TLS: {e}"))
}

#[test]
fn https_answers_the_api_and_the_console_with_secure_cookies() {
    let ca = TestCa::new("threatintel test CA");
    let issued = ca.issue();
    let server = Server::start(https_config(&ca));
    let (presented, health) = get(server.addr, &[ca.ca_der()], "/healthz");
    assert_eq!(presented, issued);
    assert_eq!(health.status, 200, "{}", health.text());
    let (_, login) = get(server.addr, &[ca.ca_der()], "/console/login");
    assert_eq!(login.status, 200);
    let cookie = login.header("set-cookie").expect("a session cookie");
    assert!(cookie.starts_with("ti_session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // A client that does not trust the CA is refused, and plain HTTP is not answered.
    let stranger = TestCa::new("another CA");
    let refused = fetch(server.addr, &[stranger.ca_der()], "GET / HTTP/1.1\r\n\r\n");
    assert!(refused.is_err_and(|e| e.contains("handshake")));
    let plain = crate::support::raw_to(server.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(plain.is_err(), "{plain:?}");
}

/// Waits (up to 10 s) until the server presents `want`.
fn wait_for_certificate(
    server: &Server,
    roots: &[CertificateDer<'static>],
    want: &CertificateDer<'static>,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (presented, _) = get(server.addr, roots, "/healthz");
        if presented == *want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server still presents the previous certificate"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn hangup() {
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn sighup_serves_the_new_certificate_and_a_bad_file_keeps_the_old_one() {
    let ca = TestCa::new("threatintel reload CA");
    let first = ca.issue();
    let server = Server::start(https_config(&ca));
    let roots = [ca.ca_der()];
    // Answering proves the server's SIGHUP handler is installed (before it accepts).
    wait_for_certificate(&server, &roots, &first);

    let second = ca.issue();
    assert_eq!(
        get(server.addr, &roots, "/healthz").0,
        first,
        "no reload before SIGHUP"
    );
    hangup();
    wait_for_certificate(&server, &roots, &second);

    // A broken certificate file: the server keeps presenting the second one.
    std::fs::write(
        ca.path("cert.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n",
    )
    .unwrap();
    hangup();
    std::thread::sleep(Duration::from_millis(500));
    let (presented, health) = get(server.addr, &roots, "/healthz");
    assert_eq!(presented, second);
    assert_eq!(health.status, 200);

    let third = ca.issue();
    hangup();
    wait_for_certificate(&server, &roots, &third);
}

/// What `serve` says about `tls`.
fn serve_error(tls: TlsConfig) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = threatintel_store::SqliteStore::open(&dir.path().join("tls.db")).unwrap();
        let engine = threatintel_report::ReportEngine::new(
            Arc::new(store),
            Default::default(),
            Default::default(),
        )
        .unwrap();
        let state = threatintel_api::AppState::new(
            Arc::new(engine),
            ServerConfig {
                tls: Some(tls),
                ..config()
            },
        );
        let error = threatintel_api::serve(listener, Arc::new(state), async {})
            .await
            .expect_err("serve refuses a certificate it cannot use");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        error.to_string()
    })
}

#[test]
fn a_certificate_that_cannot_be_used_stops_serve_with_its_path() {
    let ca = TestCa::new("threatintel bad files CA");
    ca.issue();
    let missing = Path::new("/nonexistent/cert.pem").to_owned();
    let error = serve_error(TlsConfig {
        cert: missing,
        ..ca.tls_config()
    });
    assert!(
        error.starts_with("server.tls: cannot read /nonexistent/cert.pem"),
        "{error}"
    );

    std::fs::write(ca.path("empty.pem"), "").unwrap();
    let error = serve_error(TlsConfig {
        cert: ca.path("empty.pem"),
        ..ca.tls_config()
    });
    assert!(
        error.contains("empty.pem is not a PEM certificate chain: it holds no CERTIFICATE section"),
        "{error}"
    );

    let error = serve_error(TlsConfig {
        key: ca.path("cert.pem"),
        ..ca.tls_config()
    });
    assert!(
        error.contains("cert.pem is not a PEM private key"),
        "{error}"
    );

    // The key of another certificate.
    let other = TestCa::new("other");
    other.issue();
    let error = serve_error(TlsConfig {
        key: other.path("key.pem"),
        ..ca.tls_config()
    });
    assert!(error.contains("does not fit the certificate"), "{error}");
}

#[test]
fn a_client_that_never_completes_its_handshake_is_dropped_after_the_header_read_timeout() {
    use std::io::Read;
    let ca = TestCa::new("threatintel handshake CA");
    ca.issue();
    let server = Server::start(ServerConfig {
        header_read_timeout_secs: 1,
        ..https_config(&ca)
    });
    let mut silent = std::net::TcpStream::connect(server.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 16];
    let read = silent.read(&mut buffer);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "{read:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
}
