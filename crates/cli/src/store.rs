//! Which store a command uses: the embedded SQLite file (default), or PostgreSQL when
//! `--store` is a `postgres://` URL or `store.url` is set.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use threatintel_store::{PostgresStore, SqliteStore, Store};

use crate::config::Config;

pub enum Location {
    File(PathBuf),
    /// A connection string and the schema (`store.schema`).
    Postgres {
        url: String,
        schema: Option<String>,
    },
}

impl Location {
    /// `--store` wins (a `postgres://` URL or a SQLite file), then `store.url` (PostgreSQL in
    /// either form its clients take: a URL, or `host=... dbname=...`), then `store.path`.
    pub fn choose(arg: Option<String>, config: &Config) -> Self {
        let postgres = |url: String| Self::Postgres {
            url,
            schema: config.store.schema.clone(),
        };
        match (arg, &config.store.url) {
            (Some(s), _) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                postgres(s)
            }
            (Some(s), _) => Self::File(PathBuf::from(s)),
            (None, Some(url)) => postgres(url.clone()),
            (None, None) => Self::File(config.store.path.clone()),
        }
    }

    /// For messages: as the store names itself, never with a password.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Postgres { url, schema } => PostgresStore::describe(url, schema.as_deref()),
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
        Location::Postgres { url, schema } => {
            let store = PostgresStore::connect(url, schema.as_deref())?;
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

    /// The location `--store arg`, `store.url = url` and `store.schema = schema` choose,
    /// described.
    fn check(arg: Option<&str>, url: Option<&str>, schema: Option<&str>, expected: &str) {
        let mut config = Config::default();
        config.store.url = url.map(str::to_owned);
        config.store.schema = schema.map(str::to_owned);
        let location = Location::choose(arg.map(str::to_owned), &config);
        let kind = match location {
            Location::File(_) => "file",
            Location::Postgres { .. } => "postgres",
        };
        assert_eq!(format!("{kind} {}", location.describe()), expected);
    }

    #[test]
    fn a_store_url_is_postgres_in_either_form_and_never_shows_its_password() {
        check(None, None, None, "file threatintel.db");
        check(Some("x.db"), Some("postgres://h/db"), None, "file x.db");
        check(
            Some("postgres://u:pw@h/db"),
            None,
            Some("s"),
            "postgres postgresql://u@h:5432/db (schema s)",
        );
        check(
            None,
            Some("postgresql://u@h:6543/db"),
            None,
            "postgres postgresql://u@h:6543/db",
        );
        check(
            None,
            Some("host=/var/run/postgresql user=u password=pw dbname=test"),
            None,
            "postgres postgresql://u@/var/run/postgresql:5432/test",
        );
        check(
            None,
            Some(r"password = 'a b\' c' host=h dbname=d"),
            None,
            "postgres postgresql://h:5432/d",
        );
        check(
            None,
            Some("postgres://u@h/db?sslmode=disable&password=pw"),
            None,
            "postgres postgresql://u@h:5432/db",
        );
        check(
            None,
            Some("x@postgres://h password=pw"),
            None,
            "postgres PostgreSQL (connection settings that do not parse)",
        );
    }
}
