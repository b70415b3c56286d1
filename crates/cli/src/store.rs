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
    /// `--store` wins (a `postgres://` URL or a SQLite file), then `store.url` (PostgreSQL in
    /// either form its clients take: a URL, or `host=... dbname=...`), then `store.path`.
    pub fn choose(arg: Option<String>, config: &Config) -> Self {
        match (arg, &config.store.url) {
            (Some(s), _) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Self::Postgres(s)
            }
            (Some(s), _) => Self::File(PathBuf::from(s)),
            (None, Some(url)) => Self::Postgres(url.clone()),
            (None, None) => Self::File(config.store.path.clone()),
        }
    }

    /// For messages: a password is never shown (a URL's, or a `password=` setting's).
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if url[scheme + 3..at].contains(':') => {
                    let user_end = scheme + 3 + url[scheme + 3..at].find(':').unwrap_or(0);
                    format!("{}:***{}", &url[..user_end], &url[at..])
                }
                (Some(_), _) => url.clone(),
                (None, _) => url
                    .split_whitespace()
                    .map(|setting| match setting.split_once('=') {
                        Some((key, _)) if key.trim() == "password" => "password=***",
                        _ => setting,
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The location `--store arg` and `store.url = url` choose, described.
    fn check(arg: Option<&str>, url: Option<&str>, expected: &str) {
        let mut config = Config::default();
        config.store.url = url.map(str::to_owned);
        let location = Location::choose(arg.map(str::to_owned), &config);
        let kind = match location {
            Location::File(_) => "file",
            Location::Postgres(_) => "postgres",
        };
        assert_eq!(format!("{kind} {}", location.describe()), expected);
    }

    #[test]
    fn a_store_url_is_postgres_in_either_form_and_never_shows_its_password() {
        check(None, None, "file threatintel.db");
        check(Some("x.db"), Some("postgres://h/db"), "file x.db");
        check(
            Some("postgres://u:pw@h/db"),
            None,
            "postgres postgres://u:***@h/db",
        );
        check(
            None,
            Some("postgresql://u@h/db"),
            "postgres postgresql://u@h/db",
        );
        check(
            None,
            Some("host=/var/run/postgresql user=u password=pw dbname=test"),
            "postgres host=/var/run/postgresql user=u password=*** dbname=test",
        );
    }
}
