//! The `[server]` table of the config.

use serde::Deserialize;
use threatintel_model::IpNetwork;

use crate::auth::{AccessKey, DEFAULT_RATE};
use crate::tls::TlsConfig;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Accept unsigned requests (local use only; off unless set).
    pub anonymous: bool,
    /// Requests per second of all unsigned requests together.
    pub anonymous_rate_per_sec: u32,
    /// `[[server.access_keys]]`: id, secret, rate_per_sec (default 100, 0 = none), enabled.
    pub access_keys: Vec<AccessKey>,
    /// Largest request body of the native API (batches).
    pub max_body_bytes: usize,
    /// Largest query string (both endpoints) and RPC request body: a DescribeDomainReport call
    /// needs a few hundred bytes.
    pub max_rpc_bytes: usize,
    /// Most names in one native batch.
    pub max_batch: usize,
    /// Time for a whole request once its head is read (body, report, answer).
    pub request_timeout_secs: u64,
    /// Time for a request head to arrive complete, counted from when the connection is ready
    /// for one (opened, or its previous answer sent).
    pub header_read_timeout_secs: u64,
    /// A kept-alive connection with no request in flight is closed after this long.
    pub keep_alive_timeout_secs: u64,
    /// Most connections open at once; beyond it new ones wait in the listen backlog.
    pub max_connections: usize,
    /// On shutdown, time for requests in flight to finish; connections still open after it
    /// are closed.
    pub shutdown_grace_secs: u64,
    /// Reports a PostgreSQL-backed node works on at once (further ones queue as tasks); 0 =
    /// [`STORE_TURNS_PER_CPU`](crate::STORE_TURNS_PER_CPU) per CPU of the machine. Raise it
    /// when PostgreSQL runs on other machines.
    pub store_concurrency: usize,
    /// `HostId` of error bodies.
    pub host_id: String,
    /// Most nonces remembered at once (per node); beyond it requests are refused, not replayable.
    pub max_nonces: usize,
    /// Share nonces and rate limits between nodes through this Redis (`redis://127.0.0.1:6379`).
    pub redis_url: Option<String>,
    /// Serve `/api/v1/export/{format}` without credentials to clients in
    /// `public_export_networks` (resolvers and blockers that cannot sign). Off unless set.
    pub public_exports: bool,
    /// The networks unauthenticated export pulls are answered from, when `public_exports` is on.
    pub public_export_networks: Vec<IpNetwork>,
    /// An export without `at` is taken at the current time rounded down to a multiple of this
    /// many seconds, so that pulls within one step get the same bytes (and a 304).
    pub export_time_step_secs: u64,
    /// `[server.console]`: the analyst's console at `/console/`.
    pub console: ConsoleConfig,
    /// `[server.tls]`: serve HTTPS with this certificate chain and key (reloaded on SIGHUP);
    /// plain HTTP unless set.
    pub tls: Option<TlsConfig>,
}

/// The `[server.console]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the console at `/console/`.
    pub enabled: bool,
    /// A signed-in session (and its cookie) expires this long after sign-in.
    pub session_minutes: u64,
    /// Sign-in attempts per client address per minute.
    pub login_attempts_per_minute: u32,
    /// Largest file the import page takes.
    pub max_upload_bytes: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            session_minutes: 480,
            login_attempts_per_minute: 5,
            max_upload_bytes: 64 << 20,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            anonymous: false,
            anonymous_rate_per_sec: DEFAULT_RATE,
            access_keys: Vec::new(),
            max_body_bytes: 1 << 20,
            max_rpc_bytes: 8 << 10,
            max_batch: 1000,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            keep_alive_timeout_secs: 5,
            max_connections: 1024,
            shutdown_grace_secs: 10,
            store_concurrency: 0,
            host_id: "threatintel".into(),
            max_nonces: 2_000_000,
            redis_url: None,
            public_exports: false,
            public_export_networks: ["127.0.0.0/8", "::1/128"]
                .map(|n| n.parse().expect("a valid network"))
                .to_vec(),
            export_time_step_secs: 300,
            console: ConsoleConfig::default(),
            tls: None,
        }
    }
}

impl ServerConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (i, key) in self.access_keys.iter().enumerate() {
            if key.id.is_empty() || key.secret.is_empty() {
                return Err(format!(
                    "server.access_keys[{i}]: id and secret must not be empty"
                ));
            }
            if self.access_keys[..i].iter().any(|k| k.id == key.id) {
                return Err(format!(
                    "server.access_keys: {:?} is declared twice",
                    key.id
                ));
            }
        }
        if self.max_batch == 0 || self.max_body_bytes < 1024 || self.max_rpc_bytes < 1024 {
            return Err(
                "server.max_batch must be positive, server.max_body_bytes and server.max_rpc_bytes at least 1024".into(),
            );
        }
        if self.console.session_minutes == 0 || self.console.login_attempts_per_minute == 0 {
            return Err(
                "server.console.session_minutes and login_attempts_per_minute must be positive"
                    .into(),
            );
        }
        if self.max_connections == 0 {
            return Err("server.max_connections must be positive".into());
        }
        let timeouts = [
            self.request_timeout_secs,
            self.header_read_timeout_secs,
            self.keep_alive_timeout_secs,
        ];
        if self.export_time_step_secs == 0 {
            return Err("server.export_time_step_secs must be positive".into());
        }
        if timeouts.contains(&0) {
            return Err("server.request_timeout_secs, header_read_timeout_secs and keep_alive_timeout_secs must be positive".into());
        }
        Ok(())
    }
}
