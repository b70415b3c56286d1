//! TLS termination (`[server.tls]`): the PEM certificate chain and key are read at start
//! (a bad file stops `serve` with the reason) and again on every SIGHUP, where a bad new file
//! keeps the certificate being served and logs why. Handshakes pick up the current certificate
//! through [`Reloadable`], so a reload needs no new listener and keeps connections open.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Deserialize;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, crypto::ring};
use tokio_rustls::TlsAcceptor;

/// The `[server.tls]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM: the server's certificate first, then its intermediates.
    pub cert: PathBuf,
    /// The private key of the first certificate, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("server.tls: cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("server.tls: {} is not a PEM certificate chain: {reason}", path.display())]
    Certificates { path: PathBuf, reason: String },
    #[error("server.tls: {} is not a PEM private key: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("server.tls: the key {} does not fit the certificate {}: {source}", key.display(), cert.display())]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The chain and key `config` names, checked to belong together.
fn load(config: &TlsConfig) -> Result<CertifiedKey, TlsError> {
    let bad_chain = |reason: String| TlsError::Certificates {
        path: config.cert.clone(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&read(&config.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_chain(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad_chain("it holds no CERTIFICATE section".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&config.key)?).map_err(|e| TlsError::Key {
        path: config.key.clone(),
        reason: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, &ring::default_provider()).map_err(|source| {
        TlsError::Mismatch {
            cert: config.cert.clone(),
            key: config.key.clone(),
            source,
        }
    })
}

/// The certificate handshakes are answered with; replaced on reload.
#[derive(Debug)]
struct Reloadable(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().clone())
    }
}

/// A server's TLS: its acceptor and the files to reload from.
pub(crate) struct Tls {
    config: TlsConfig,
    current: Arc<Reloadable>,
    pub acceptor: TlsAcceptor,
}

impl Tls {
    /// Reads the certificate and key; HTTP/1.1 only (the server speaks nothing else).
    pub fn start(config: &TlsConfig) -> Result<Tls, TlsError> {
        let current = Arc::new(Reloadable(RwLock::new(Arc::new(load(config)?))));
        let mut server =
            rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_no_client_auth()
                .with_cert_resolver(current.clone());
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: config.clone(),
            current,
            acceptor: TlsAcceptor::from(Arc::new(server)),
        })
    }

    /// Reads the files again: new handshakes get the new certificate; a bad file keeps the
    /// one being served.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = load(&self.config)?;
        *self.current.0.write() = Arc::new(loaded);
        Ok(())
    }

    /// Reloads on every SIGHUP for as long as the server runs, logging what came of it.
    /// The handler is installed before this returns, so a SIGHUP sent once the server
    /// answers never falls to the default action (ending the process).
    pub fn reload_on_hangup(self: &Arc<Self>) -> std::io::Result<tokio::task::JoinHandle<()>> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut hangups = signal(SignalKind::hangup())?;
            let tls = self.clone();
            Ok(tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    match tls.reload() {
                        Ok(()) => {
                            tracing::info!(cert = %tls.config.cert.display(), "SIGHUP: TLS certificate reloaded")
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "SIGHUP: TLS certificate not reloaded; still serving the previous one")
                        }
                    }
                }
            }))
        }
        #[cfg(not(unix))]
        Ok(tokio::spawn(async {}))
    }
}
