//! The `[server]` table of the config.

use serde::Deserialize;

use crate::auth::{AccessKey, DEFAULT_RATE};

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
    /// Largest request body (RPC form parameters, native batches).
    pub max_body_bytes: usize,
    /// Most names in one native batch.
    pub max_batch: usize,
    pub request_timeout_secs: u64,
    /// `HostId` of error bodies.
    pub host_id: String,
    /// Most nonces remembered at once (per node); beyond it requests are refused, not replayable.
    pub max_nonces: usize,
    /// Share nonces and rate limits between nodes through this Redis (`redis://127.0.0.1:6379`).
    pub redis_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            anonymous: false,
            anonymous_rate_per_sec: DEFAULT_RATE,
            access_keys: Vec::new(),
            max_body_bytes: 1 << 20,
            max_batch: 1000,
            request_timeout_secs: 30,
            host_id: "threatintel".into(),
            max_nonces: 2_000_000,
            redis_url: None,
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
        if self.max_batch == 0 || self.max_body_bytes < 1024 {
            return Err(
                "server.max_batch must be positive and server.max_body_bytes at least 1024".into(),
            );
        }
        Ok(())
    }
}
