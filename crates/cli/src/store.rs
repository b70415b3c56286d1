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

    /// For messages: a password is never shown (a URL's, its `password` parameter's, or a
    /// `password=` setting's).
    pub fn describe(&self) -> String {
        let url = match self {
            Self::File(path) => return path.display().to_string(),
            Self::Postgres(url) => url,
        };
        let Some(scheme) = url.find("://") else {
            return settings_without_password(url);
        };
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let base = match base.rfind('@') {
            Some(at) if at > scheme + 3 && base[scheme + 3..at].contains(':') => {
                let user_end = scheme + 3 + base[scheme + 3..at].find(':').unwrap_or(0);
                format!("{}:***{}", &base[..user_end], &base[at..])
            }
            _ => base.to_owned(),
        };
        if query.is_empty() {
            return base;
        }
        let query: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some(("password", _)) => "password=***".to_owned(),
                _ => param.to_owned(),
            })
            .collect();
        format!("{base}?{}", query.join("&"))
    }
}

/// `host=... password=... dbname=...` settings with the password's value shown as `***`,
/// whether quoted (`password='a b'`) or escaped (`password=a\ b`), as libpq reads them.
fn settings_without_password(settings: &str) -> String {
    let mut out = String::with_capacity(settings.len());
    let mut rest = settings;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim();
        out.push_str(&rest[..=eq]);
        let value = rest[eq + 1..].trim_start();
        out.push_str(&rest[eq + 1..rest.len() - value.len()]);
        let end = value_end(value);
        out.push_str(if key == "password" {
            "***"
        } else {
            &value[..end]
        });
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// Where a setting's value ends: after its closing quote, or at the first unescaped space.
fn value_end(value: &str) -> usize {
    let quoted = value.starts_with('\'');
    let mut chars = value.char_indices().skip(usize::from(quoted));
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\'' if quoted => return i + 1,
            c if c.is_whitespace() && !quoted => return i,
            _ => {}
        }
    }
    value.len()
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
        check(
            None,
            Some(r"password = 'a b\' c' host=h password=x\ y dbname=d"),
            "postgres password = *** host=h password=*** dbname=d",
        );
        check(None, Some("x@postgres://h"), "postgres x@postgres://h");
        check(
            None,
            Some("postgres://u@h/db?sslmode=require&password=pw"),
            "postgres postgres://u@h/db?sslmode=require&password=***",
        );
    }
}
