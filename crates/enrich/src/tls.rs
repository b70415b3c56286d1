//! Certificates as a TLS server presents them: a handshake with SNI on the name's addresses,
//! the leaf and chain recorded, nothing trusted (no chain or name verification; the handshake
//! signature is still checked, so the server holds the leaf's key).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use threatintel_model::{Certificate, DomainName, Timestamp};
use threatintel_parse::context::parse_der;
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::Resumption;
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{CipherSuite, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::{safety, EnrichConfig, EnrichError};

pub struct TlsClient {
    connector: TlsConnector,
    port: u16,
    timeout: Duration,
    allow_private: bool,
}

/// Accepts any certificate: the enricher records what it is shown, it does not trust it.
#[derive(Debug)]
struct RecordOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for RecordOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl TlsClient {
    pub fn new(config: &EnrichConfig) -> Result<Self, EnrichError> {
        let mut provider = crypto::ring::default_provider();
        // TLS 1.3's AES-128-GCM-SHA256 first (servers pick by our order): the handshake hashes
        // its transcript and derives its keys with the suite's hash, and SHA-256 is the cheaper.
        provider
            .cipher_suites
            .sort_by_key(|suite| suite.suite() != CipherSuite::TLS13_AES_128_GCM_SHA256);
        let provider = Arc::new(provider);
        let mut tls = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| EnrichError::Config(format!("TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(RecordOnly(provider)))
            .with_no_client_auth();
        // Every handshake is with another name: nothing to resume, so nothing to keep.
        tls.resumption = Resumption::disabled();
        Ok(Self {
            connector: TlsConnector::from(Arc::new(tls)),
            port: config.tls_port,
            timeout: config.timeout(),
            allow_private: config.allow_private_addresses,
        })
    }

    /// Reads the certificates `name` presents at the first of `addresses` that answers; the
    /// server is reported as `tls://address:port`.
    pub async fn certificates(
        &self,
        name: &DomainName,
        addresses: &[IpAddr],
        now: Timestamp,
    ) -> Result<(String, Vec<Certificate>), EnrichError> {
        let addrs = addresses
            .iter()
            .map(|ip| SocketAddr::new(*ip, self.port))
            .collect();
        let addrs = safety::allowed(addrs, self.allow_private)?;
        let mut last = None;
        for addr in addrs {
            let server = format!("tls://{addr}");
            match self.handshake(name, addr, &server).await {
                Ok(ders) => {
                    let certs = ders
                        .iter()
                        .map(|der| parse_der(der, now, &server))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| EnrichError::Parse {
                            server: server.clone(),
                            message: e.to_string(),
                        })?;
                    return Ok((server, certs));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(EnrichError::NoServer {
            name: name.to_string(),
        }))
    }

    async fn handshake(
        &self,
        name: &DomainName,
        addr: SocketAddr,
        server: &str,
    ) -> Result<Vec<Vec<u8>>, EnrichError> {
        let io = |e: std::io::Error| EnrichError::Io {
            server: server.to_owned(),
            message: e.to_string(),
        };
        let sni = ServerName::try_from(name.as_str().to_owned()).map_err(|e| EnrichError::Io {
            server: server.to_owned(),
            message: format!("no SNI for {name}: {e}"),
        })?;
        let work = async {
            let tcp = TcpStream::connect(addr).await.map_err(io)?;
            let stream = self.connector.connect(sni, tcp).await.map_err(io)?;
            let (_, session) = stream.get_ref();
            Ok::<_, EnrichError>(
                session
                    .peer_certificates()
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.as_ref().to_vec())
                    .collect(),
            )
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| EnrichError::Timeout {
                server: server.to_owned(),
            })?
    }
}
