//! Which store a command uses: the embedded SQLite file (default), or PostgreSQL when
//! `--store` / `store.url` is a `postgres://` URL.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use threatintel_store::{PostgresStore, SqliteStore, Store};

use crate::config::Config;

pub enum Location {
    File(PathBuf),
    Postgres(String),
}

impl Location {
    /// `--store` wins, then `store.url`, then `store.path`.
    pub fn choose(arg: Option<String>, config: &Config) -> Self {
        match arg.or_else(|| config.store.url.clone()) {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Self::Postgres(s)
            }
            Some(s) => Self::File(PathBuf::from(s)),
            None => Self::File(config.store.path.clone()),
        }
    }

    /// For messages: a URL's password is never shown.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if url[scheme + 3..at].contains(':') => {
                    let user_end = scheme + 3 + url[scheme + 3..at].find(':').unwrap_or(0);
                    format!("{}:***{}", &url[..user_end], &url[at..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// An open store and its schema version (opening applies pending migrations).
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub schema_version: i64,
}

/// Opens the store; with `must_exist`, a missing SQLite file is an error instead of a new store.
pub fn open(location: &Location, config: &Config, must_exist: bool) -> Result<Opened> {
    match location {
        Location::File(path) => {
            if must_exist && !path.exists() {
                bail!(
                    "no store at {}; create one with `threatintel db init`",
                    path.display()
                );
            }
            let store = SqliteStore::open_with_cache(path, config.store.write_cache_mib)?;
            let schema_version = store.schema_version()?;
            Ok(Opened {
                store: Arc::new(store),
                schema_version,
            })
        }
        Location::Postgres(url) => {
            let store = PostgresStore::connect(url, config.store.schema.as_deref())?;
            let schema_version = store.schema_version()?;
            Ok(Opened {
                store: Arc::new(store),
                schema_version,
            })
        }
    }
}
