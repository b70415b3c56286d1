//! The scale-out backend: PostgreSQL, shared by any number of threatintel processes, through a
//! pool of synchronous `postgres` clients. Same data model, identities and read results as the
//! SQLite backend; schema and index choices: `postgres/schema.sql`.
//!
//! A [`StoreWriter`] is one transaction that holds a per-schema advisory lock, so writers are
//! serialised across every process that shares the store, as SQLite's single writer is within
//! one. A reader is a `REPEATABLE READ READ ONLY` transaction: one snapshot, taken at its first
//! read (or kept from the connection's last reader, `snapshots.rs`).
//! [`StoreWriter::put_batch`] writes the batch's names with one statement that returns their
//! ids and stored kind bits, then binary-`COPY`s each table's rows straight into it when the
//! bits show their name has no record of the kind yet, else into a temporary table merged with
//! one `INSERT ... ON CONFLICT`. Needs PostgreSQL 12 or later;
//! connections are plain TCP or Unix sockets (no TLS).
//!
//! `reader.rs` answers the report's reads, `zone.rs` is its statement about a zone,
//! `snapshots.rs` keeps read snapshots between readers; `writer.rs` is the write transaction
//! (record by record), `staging.rs` its bulk path; `migrate.rs` brings a schema up to date.

mod copy_rows;
mod fresh;
mod migrate;
mod pipeline;
mod reader;
mod snapshots;
mod staging;
mod writer;
mod zone;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::postgres::config::Host;
use ::postgres::types::ToSql;
use ::postgres::{Client, Config, NoTls, Row, Statement};
use chrono::SubsecRound;
use r2d2::{ManageConnection, Pool};
use r2d2_postgres::PostgresConnectionManager;
use threatintel_model::{DomainName, Timestamp};

use self::migrate::{lock_key, migrate};
use self::pipeline::Pipelined;
use self::reader::PgReader;
use self::snapshots::{Shared, Snapshot};
use self::writer::PgWriter;
use crate::keys::key;
use crate::{Result, Store, StoreError, StoreReader, StoreWriter};

/// Connections in the pool, unless configured: readers and the writer of this process.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// A client error with its causes in its message: `postgres::Error` says only "db error" or
/// "error connecting to server" and leaves the server's message to `source()`, which not every
/// caller prints. (No `source()` here, so that a caller printing the chain sees it once.)
#[derive(Debug)]
struct PgError(String);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgError {}

impl PgError {
    fn boxed(e: &::postgres::Error) -> Box<dyn std::error::Error + Send + Sync> {
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        Box::new(PgError(message))
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        StoreError::Backend(PgError::boxed(&e))
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A time as both backends store it: whole seconds (SQLite keeps Unix seconds).
fn secs(t: Timestamp) -> Timestamp {
    t.trunc_subsecs(0)
}

/// `name` quoted as an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Where the store is, for messages: never the password.
fn describe(config: &Config, schema: Option<&str>) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(dir)) => dir.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    let mut out = format!("postgresql://{user}{host}:{port}/{db}");
    if let Some(schema) = schema {
        out.push_str(&format!(" (schema {schema})"));
    }
    out
}

/// A pooled connection with its prepared statements.
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
    /// Set when a transaction could not be begun or ended: the pool then discards the
    /// connection.
    broken: bool,
    /// The read transaction the connection keeps open for the next reader (`snapshots.rs`).
    snapshot: Option<Snapshot>,
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

impl Conn {
    /// `sql` prepared once per connection.
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.checked(|client| client.prepare(sql))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// `run`'s result; an error spoils the read transaction, which it aborted.
    fn checked<T>(
        &mut self,
        run: impl FnOnce(&mut Client) -> Result<T, ::postgres::Error>,
    ) -> Result<T> {
        let result = run(&mut self.client);
        if result.is_err() {
            self.spoil();
        }
        Ok(result?)
    }

    fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        self.checked(|c| c.query(&statement, params))
    }

    fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row> {
        let statement = self.statement(sql)?;
        self.checked(|c| c.query_one(&statement, params))
    }

    fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>> {
        let statement = self.statement(sql)?;
        self.checked(|c| c.query_opt(&statement, params))
    }

    fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64> {
        let statement = self.statement(sql)?;
        self.checked(|c| c.execute(&statement, params))
    }

    /// Ends the open transaction; a connection that cannot is not reused.
    fn end(&mut self, sql: &str) {
        if self.client.batch_execute(sql).is_err() {
            self.broken = true;
        }
    }
}

/// r2d2_postgres's manager, plus the session setup and the statement cache of [`Conn`].
struct Manager {
    inner: PostgresConnectionManager<NoTls>,
    setup: String,
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = ::postgres::Error;

    fn connect(&self) -> Result<Conn, ::postgres::Error> {
        let mut client = self.inner.connect()?;
        client.batch_execute(&self.setup)?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
            broken: false,
            snapshot: None,
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), ::postgres::Error> {
        self.inner.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken || self.inner.has_broken(&mut conn.client)
    }
}

/// The shared store. Cheap to share behind an `Arc`; reads run in parallel on pooled
/// connections, writers take turns (across processes too).
pub struct PostgresStore {
    /// The pool, with what readers need to keep their snapshots.
    shared: Arc<Shared>,
    /// Where the store is, without credentials.
    location: String,
    schema: Option<String>,
    writer_lock: i64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The store at `url` and `schema` as messages name it (`postgresql://user@host:port/db
    /// (schema s)`, whichever form `url` takes), never with its password.
    pub fn describe(url: &str, schema: Option<&str>) -> String {
        match url.parse::<Config>() {
            Ok(config) => describe(&config, schema),
            Err(_) => "PostgreSQL (connection settings that do not parse)".to_owned(),
        }
    }

    /// Connects to the database at `url` (`postgresql://user@host/db` or `host=... dbname=...`)
    /// and brings the schema up to date. The tables live in `schema` (created if missing), or
    /// in the first schema of the connection's `search_path` when `None`.
    pub fn connect(url: &str, schema: Option<&str>) -> Result<Self> {
        Self::connect_with_pool_size(url, schema, DEFAULT_POOL_SIZE)
    }

    /// [`connect`](Self::connect) with at most `max_connections` connections in the pool.
    pub fn connect_with_pool_size(
        url: &str,
        schema: Option<&str>,
        max_connections: u32,
    ) -> Result<Self> {
        let config: Config = url.parse().map_err(|e| StoreError::Open {
            path: "the configured PostgreSQL URL".to_owned(),
            source: PgError::boxed(&e),
        })?;
        let location = describe(&config, schema);
        let open_err = |e: ::postgres::Error| StoreError::Open {
            path: location.clone(),
            source: PgError::boxed(&e),
        };
        // Every session: the store's schema (readers choose their plans, see `PgReader::begin`).
        let mut setup = String::new();
        if let Some(schema) = schema {
            setup.push_str(&format!("SET search_path TO {};", quote_ident(schema)));
        }
        // Migrations run on a connection of their own, so that errors come at once rather
        // than after the pool's connection timeout.
        let mut client = config.connect(NoTls).map_err(open_err)?;
        client.batch_execute(&setup).map_err(open_err)?;
        let schema_name = migrate(&mut client, schema, &location).map_err(|e| match e {
            StoreError::Backend(source) => StoreError::Open {
                path: location.clone(),
                source,
            },
            other => other,
        })?;
        drop(client);

        let manager = Manager {
            inner: PostgresConnectionManager::new(config, NoTls),
            setup,
        };
        // No test on checkout: it is a round trip per reader. A connection the server closed
        // fails the statement that finds it so, and the pool then drops it.
        let pool = Pool::builder()
            .max_size(max_connections.max(1))
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(30))
            .build(manager)
            .map_err(|e| StoreError::Open {
                path: location.clone(),
                source: Box::new(e),
            })?;
        Ok(Self {
            shared: Shared::new(pool),
            location,
            schema: schema.map(str::to_owned),
            writer_lock: lock_key("writer", &schema_name),
        })
    }

    /// The schema the tables live in, if one was given to [`connect`](Self::connect).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Schema version of the store (the newest migration applied).
    pub fn schema_version(&self) -> Result<i64> {
        let mut conn = self.shared.pool.get()?;
        let row = conn.query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM threatintel_migrations",
            &[],
        )?;
        Ok(row.try_get(0)?)
    }
}

impl Store for PostgresStore {
    fn runs_own_runtime(&self) -> bool {
        true
    }

    /// The pool's connections but one, kept for the writer.
    fn parallel_reads(&self) -> Option<usize> {
        Some(
            (self.shared.pool.max_size() as usize)
                .saturating_sub(1)
                .max(1),
        )
    }

    fn prepare_reads(&self) -> Result<()> {
        self.shared.build_name_filter()
    }

    fn knows_nothing_of(&self, zone: &DomainName) -> bool {
        self.shared.knows_nothing_of(&key(zone))
    }

    fn reader(&self) -> Result<Box<dyn StoreReader + '_>> {
        Ok(Box::new(PgReader::begin(
            self.shared.pool.get()?,
            &self.shared,
        )?))
    }

    fn writer(&self) -> Result<Box<dyn StoreWriter + '_>> {
        Ok(Box::new(Pipelined::new(PgWriter::begin(
            self.shared.pool.get()?,
            self.writer_lock,
            &self.shared,
        )?)))
    }
}
