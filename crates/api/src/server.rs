//! Serving connections: HTTP/1.1 over hyper, with the limits a server facing the Internet
//! needs and `axum::serve` does not give.
//!
//! - At most `max_connections` connections at once: further ones wait in the listen backlog.
//! - A request head must arrive complete within `header_read_timeout_secs` of the connection
//!   being ready for one (hyper's header-read timer), so a client dripping header bytes, or
//!   sending nothing, is dropped.
//! - A kept-alive connection with no request in flight for `keep_alive_timeout_secs` is closed.
//! - On shutdown the listener closes, idle connections close, requests in flight get
//!   `shutdown_grace_secs` to finish; connections still open after it (a half-sent request)
//!   are closed, so shutdown always completes.
//! - With `[server.tls]`, each connection's TLS handshake must complete within
//!   `header_read_timeout_secs` too (`tls.rs`: the certificate, reloaded on SIGHUP).
//!
//! While other requests are being answered, an answer ready to be written first lets the
//! worker answer those already queued ([`Answering`]), so that answers leave in bursts and a
//! client reading many connections is woken once per burst, not once per answer.
//!
//! Errors hyper answers itself, before the application runs (a request head over hyper's
//! buffer, a malformed request line), have empty bodies: hyper offers no hook to shape them.
//! Everything within hyper's limits reaches the application, which bounds query strings and
//! bodies much lower and answers in the POP shape.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::ServerConfig;
use crate::tls::Tls;
use crate::{App, AppState};

/// The connection limits of `[server]`.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read: Duration,
    keep_alive: Duration,
    max_connections: usize,
    shutdown_grace: Duration,
}

impl Limits {
    fn of(config: &ServerConfig) -> Self {
        Self {
            header_read: Duration::from_secs(config.header_read_timeout_secs),
            keep_alive: Duration::from_secs(config.keep_alive_timeout_secs),
            max_connections: config.max_connections,
            shutdown_grace: Duration::from_secs(config.shutdown_grace_secs),
        }
    }
}

/// Serves until `shutdown` resolves, then lets requests in flight finish within the grace
/// period and closes what is left. With `[server.tls]`, a certificate or key that cannot be
/// used is an `InvalidInput` error before anything is served.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Limits::of(&state.config);
    let tls = match &state.config.tls {
        Some(config) => {
            Some(Arc::new(Tls::start(config).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
            })?))
        }
        None => None,
    };
    let reloads = tls.as_ref().map(Tls::reload_on_hangup).transpose()?;
    let app = crate::App::new(state);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let answering = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        connections.spawn(connection(
            stream,
            tls.as_ref().map(|tls| tls.acceptor.clone()),
            app.clone(),
            limits,
            stopping.clone(),
            answering.clone(),
            slot,
        ));
    }
    drop(listener);
    if let Some(reloads) = reloads {
        reloads.abort();
    }
    let _ = stop.send(true);
    let finished = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            open = connections.len(),
            "shutdown grace period over: closing the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// One request being answered: counted in the server's count of them until dropped.
struct Answering(Arc<AtomicUsize>);

impl Answering {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }

    /// Whether other requests are being answered meanwhile, on any connection.
    fn others(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 1
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a connection is busy, and since when it is idle.
struct Activity {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn end(&self) {
        *self.idle_since.lock() = Instant::now();
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// When the connection will have been idle for `limit`, or `None` while a request is in
    /// flight.
    fn idle_deadline(&self, limit: Duration) -> Option<Instant> {
        (self.in_flight.load(Ordering::Acquire) == 0).then(|| *self.idle_since.lock() + limit)
    }
}

/// One connection, until it closes, idles out, or the server stops; over TLS when `tls` is
/// given, once its handshake completes within the header-read timeout.
async fn connection(
    stream: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: App,
    limits: Limits,
    stopping: watch::Receiver<bool>,
    answering: Arc<AtomicUsize>,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    // Handlers that decide by the client's address (public exports, the console's sign-in
    // limit) read it as `ConnectInfo`.
    let peer = stream.peer_addr().ok().map(ConnectInfo);
    let Some(acceptor) = tls else {
        return http(stream, peer, app, limits, stopping, answering).await;
    };
    match tokio::time::timeout(limits.header_read, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => http(stream, peer, app, limits, stopping, answering).await,
        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake not completed within the header-read timeout"),
    }
}

/// HTTP/1.1 on an open connection (plain, or past its TLS handshake).
async fn http(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    peer: Option<ConnectInfo<std::net::SocketAddr>>,
    app: App,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    answering: Arc<AtomicUsize>,
) {
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        idle_since: Mutex::new(Instant::now()),
    });
    let tracked = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        tracked.begin();
        let answering = Answering::start(&answering);
        let answer = app.clone().answer(request.map(Body::new), peer);
        let tracked = tracked.clone();
        async move {
            let response = answer.await;
            if answering.others() {
                // Let the worker answer the requests already queued before this answer is
                // written: the answers then leave in a burst, and the client's thread, woken by
                // the first, finds the others when it reads (waking it cost a listed report
                // 3.1 of its 27 µs of CPU under 64 connections). With no other request in
                // flight there is nothing to wait for, and the extra pass through the
                // scheduler would cost CPU.
                tokio::task::yield_now().await;
            }
            drop(answering);
            tracked.end();
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let idle_deadline = activity
            .idle_deadline(limits.keep_alive)
            .filter(|_| !closing);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopping.wait_for(|stop| *stop), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = sleep_until(idle_deadline) => {
                // Still idle at the deadline (a request may have come and gone meanwhile).
                if activity
                    .idle_deadline(limits.keep_alive)
                    .is_some_and(|deadline| deadline <= Instant::now())
                {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Sleeps until `deadline`; while there is none (a request in flight), wakes up now and then
/// to look again.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => tokio::time::sleep(Duration::from_millis(250)).await,
    }
}
