//! The scale-out backend: PostgreSQL, shared by any number of threatintel processes, through a
//! pool of synchronous `postgres` clients. Same data model, identities and read results as the
//! SQLite backend; schema and index choices: `postgres_schema.sql`.
//!
//! A [`StoreWriter`] is one transaction that holds a per-schema advisory lock, so writers are
//! serialised across every process that shares the store, as SQLite's single writer is within
//! one. A reader is a `REPEATABLE READ READ ONLY` transaction: one snapshot, taken at its first
//! read. [`StoreWriter::put_batch`] stages the batch with binary `COPY` into temporary tables
//! and merges it with one `INSERT ... ON CONFLICT` per table. Needs PostgreSQL 12 or later;
//! connections are plain TCP or Unix sockets (no TLS).

use std::cell::{RefCell, RefMut};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::time::Duration;

use ::postgres::binary_copy::BinaryCopyInWriter;
use ::postgres::config::Host;
use ::postgres::types::{ToSql, Type};
use ::postgres::{Client, Config, NoTls, Row, Statement};
use chrono::SubsecRound;
use r2d2::{ManageConnection, Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;
use threatintel_model::{
    mask, Allowlist, AllowlistEntry, Certificate, DomainName, DomainQuery, Evidence,
    IndicatorRecord, IpIntel, IpNetwork, Resolution, SecurityEvent, Source, Timestamp, WhoisRecord,
};

use crate::layout::{
    allowlist_kind, allowlist_kind_str, ip_bytes, ip_from_bytes, key, key_end, kind, matching,
    matching_str, name_from_key, newest_first, outcome, reliability, risk, scope_range, sorted,
};
use crate::{
    AllowlistHit, EventTotal, FeedState, IndicatorHit, PutOutcome, ResolvedIp, Result,
    SourceSummary, Store, StoreError, StoreReader, StoreStats, StoreWriter, WriteSummary,
};

/// Schema migrations, applied in order; `threatintel_migrations` records each version applied.
const MIGRATIONS: &[&str] = &[include_str!("postgres_schema.sql")];

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

/// A stable 64-bit key for `pg_advisory_xact_lock` (FNV-1a), distinct per purpose and schema.
fn lock_key(purpose: &str, schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"threatintel:"
        .iter()
        .chain(purpose.as_bytes())
        .chain(b":")
        .chain(schema.as_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
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
    /// Set when a transaction could not be ended: the pool then discards the connection.
    broken: bool,
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

impl Conn {
    /// `sql` prepared once per connection.
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.client.query(&statement, params)?)
    }

    fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_one(&statement, params)?)
    }

    fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_opt(&statement, params)?)
    }

    fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64> {
        let statement = self.statement(sql)?;
        Ok(self.client.execute(&statement, params)?)
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
    pool: Pool<Manager>,
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
        // Every session: the store's schema, and plans made for each query's actual key range
        // (a generic plan cannot tell a one-name zone from a million-name one).
        let mut setup = String::from("SET plan_cache_mode = force_custom_plan;");
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
        let pool = Pool::builder()
            .max_size(max_connections.max(1))
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(30))
            .build(manager)
            .map_err(|e| StoreError::Open {
                path: location.clone(),
                source: Box::new(e),
            })?;
        Ok(Self {
            pool,
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
        let mut conn = self.pool.get()?;
        let row = conn.query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM threatintel_migrations",
            &[],
        )?;
        Ok(row.try_get(0)?)
    }
}

/// Creates the schema if needed and applies the migrations it lacks, in one transaction that
/// other processes migrating the same schema wait for. Returns the schema's name.
fn migrate(client: &mut Client, schema: Option<&str>, location: &str) -> Result<String> {
    let mut tx = client.transaction()?;
    let schema_name = match schema {
        Some(s) => s.to_owned(),
        None => tx
            .query_one("SELECT current_schema()::text", &[])?
            .try_get::<_, Option<String>>(0)?
            .unwrap_or_default(),
    };
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key("migrate", &schema_name)],
    )?;
    if let Some(schema) = schema {
        let exists = tx
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])?
            .is_some();
        if !exists {
            tx.batch_execute(&format!("CREATE SCHEMA {}", quote_ident(schema)))?;
        }
    }
    let has_table: bool = tx
        .query_one(
            "SELECT to_regclass('threatintel_migrations') IS NOT NULL",
            &[],
        )?
        .try_get(0)?;
    if !has_table {
        tx.batch_execute(
            "CREATE TABLE threatintel_migrations (
                 version    integer     PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )?;
    }
    let found: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM threatintel_migrations",
            &[],
        )?
        .try_get(0)?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew {
            path: location.to_owned(),
            found,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO threatintel_migrations (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(schema_name)
}

impl Store for PostgresStore {
    fn runs_own_runtime(&self) -> bool {
        true
    }

    fn reader(&self) -> Result<Box<dyn StoreReader + '_>> {
        let mut conn = self.pool.get()?;
        conn.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        Ok(Box::new(PgReader {
            conn: RefCell::new(conn),
        }))
    }

    fn writer(&self) -> Result<Box<dyn StoreWriter + '_>> {
        let mut conn = self.pool.get()?;
        // Room for the bulk path's sorts and hash joins of a 200k-record batch.
        conn.client
            .batch_execute("BEGIN; SET LOCAL work_mem = '64MB'")?;
        let mut writer = PgWriter {
            conn,
            open: true,
            sources: HashMap::new(),
            lists: HashMap::new(),
            staging: HashSet::new(),
            summary: WriteSummary::default(),
        };
        // One writer at a time per schema, whichever process it runs in; held until the end
        // of the transaction.
        writer
            .conn
            .execute("SELECT pg_advisory_xact_lock($1)", &[&self.writer_lock])?;
        Ok(Box::new(writer))
    }
}

const INDICATOR_COLUMNS: &str = "n.rev, i.zone, s.name, i.threat_type, i.label, i.risk, i.scenario, \
     i.attack_stage, i.first_seen, i.last_seen, i.confidence, i.reference, s.reliability, i.sightings, i.via_url";

/// The order SQLite returns a name's indicators in (its primary key), after the name.
const INDICATOR_ORDER: &str = "i.zone, i.source_id, i.threat_type, i.label";

fn indicator_hit(row: &Row) -> Result<IndicatorHit> {
    let label: String = row.try_get(4)?;
    let confidence: Option<i16> = row.try_get(10)?;
    Ok(IndicatorHit {
        record: IndicatorRecord {
            name: name_from_key(row.try_get(0)?)?,
            zone: row.try_get(1)?,
            source: row.try_get(2)?,
            threat_type: row.try_get(3)?,
            label: (!label.is_empty()).then_some(label),
            risk: risk(row.try_get::<_, i16>(5)?.into())?,
            scenario: row.try_get(6)?,
            attack_stage: row.try_get(7)?,
            first_seen: row.try_get(8)?,
            last_seen: row.try_get(9)?,
            confidence: confidence
                .map(|c| u8::try_from(c).map_err(|_| corrupt(format!("confidence {c}"))))
                .transpose()?,
            reference: row.try_get(11)?,
            via_url: row.try_get(14)?,
        },
        reliability: reliability(row.try_get(12)?)?,
        sightings: row.try_get::<_, i64>(13)? as u64,
    })
}

const ALLOWLIST_COLUMNS: &str = "n.rev, l.name, e.matching, e.rank, l.kind";

/// The order SQLite returns a name's allowlist entries in (its primary key), after the name.
const ALLOWLIST_ORDER: &str = "e.list_id, e.matching";

fn allowlist_hit(row: &Row) -> Result<AllowlistHit> {
    let rank: Option<i64> = row.try_get(3)?;
    Ok(AllowlistHit {
        entry: AllowlistEntry {
            name: name_from_key(row.try_get(0)?)?,
            list: row.try_get(1)?,
            matching: matching(row.try_get(2)?)?,
            rank: rank
                .map(|r| u32::try_from(r).map_err(|_| corrupt(format!("rank {r}"))))
                .transpose()?,
        },
        kind: allowlist_kind(row.try_get(4)?)?,
    })
}

/// A read-only snapshot transaction on a pooled connection; it ends when dropped.
struct PgReader {
    conn: RefCell<PooledConnection<Manager>>,
}

impl Drop for PgReader {
    fn drop(&mut self) {
        self.conn.get_mut().end("COMMIT");
    }
}

impl PgReader {
    fn conn(&self) -> RefMut<'_, PooledConnection<Manager>> {
        self.conn.borrow_mut()
    }

    fn collect<T>(
        &self,
        sql: &str,
        params: &Params<'_>,
        map: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.conn().query(sql, params)?.iter().map(map).collect()
    }

    /// Hands each row of `sql` to `visit`, mapped, as the server streams them, until the rows
    /// end or `visit` breaks.
    fn each_row<T>(
        &self,
        sql: &str,
        map: impl Fn(&Row) -> Result<T>,
        visit: &mut dyn FnMut(T) -> ControlFlow<()>,
    ) -> Result<()> {
        use ::postgres::fallible_iterator::FallibleIterator;
        let mut conn = self.conn();
        let statement = conn.statement(sql)?;
        let mut rows = conn
            .client
            .query_raw(&statement, std::iter::empty::<&(dyn ToSql + Sync)>())?;
        while let Some(row) = rows.next()? {
            if visit(map(&row)?).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// WHOIS records of `domain`, newest first; at most `limit` of them.
    fn whois(&self, domain: &DomainName, limit: Option<i64>) -> Result<Vec<WhoisRecord>> {
        self.collect(
            "SELECT w.record::text FROM names n JOIN whois w ON w.name_id = n.id WHERE n.rev = $1 \
             ORDER BY w.observed_at DESC LIMIT $2",
            &[&key(domain), &limit],
            |r| Ok(serde_json::from_str(r.try_get(0)?)?),
        )
    }
}

fn keys(names: &[DomainName]) -> Vec<String> {
    names.iter().map(key).collect()
}

impl StoreReader for PgReader {
    fn knows_zone(&self, zone: &DomainName) -> Result<bool> {
        let k = key(zone);
        let ancestors: Vec<String> = zone.ancestors().map(|a| key(&a)).collect();
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM names WHERE rev >= $1 AND rev < $2) \
             OR EXISTS (SELECT 1 FROM names WHERE rev = ANY($3::text[]) AND kinds & {} <> 0)",
            kind::ABOVE
        );
        Ok(self
            .conn()
            .query_one(&sql, &[&k, &key_end(&k), &ancestors])?
            .try_get(0)?)
    }

    fn indicators_at(&self, names: &[DomainName]) -> Result<Vec<IndicatorHit>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // One query for all names, in the caller's order (duplicates included), as SQLite's
        // one query per name returns them.
        let sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM unnest($1::text[]) WITH ORDINALITY AS q(rev, ord) \
             JOIN names n ON n.rev = q.rev JOIN indicators i ON i.name_id = n.id \
             JOIN sources s ON s.id = i.source_id ORDER BY q.ord, {INDICATOR_ORDER}"
        );
        self.collect(&sql, &[&keys(names)], indicator_hit)
    }

    fn indicators_below(&self, zone: &DomainName) -> Result<Vec<IndicatorHit>> {
        let sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM names n JOIN indicators i ON i.name_id = n.id \
             JOIN sources s ON s.id = i.source_id \
             WHERE n.rev >= $1 AND n.rev < $2 AND n.kinds & {} <> 0 \
             ORDER BY n.rev, {INDICATOR_ORDER}",
            kind::INDICATOR | kind::ZONE_INDICATOR
        );
        let k = key(zone);
        self.collect(&sql, &[&k, &key_end(&k)], indicator_hit)
    }

    fn allowlist_at(&self, names: &[DomainName]) -> Result<Vec<AllowlistHit>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ALLOWLIST_COLUMNS} FROM unnest($1::text[]) WITH ORDINALITY AS q(rev, ord) \
             JOIN names n ON n.rev = q.rev JOIN allowlist_entries e ON e.name_id = n.id \
             JOIN allowlists l ON l.id = e.list_id WHERE l.enabled \
             ORDER BY q.ord, {ALLOWLIST_ORDER}"
        );
        self.collect(&sql, &[&keys(names)], allowlist_hit)
    }

    fn allowlist_below(&self, zone: &DomainName) -> Result<Vec<AllowlistHit>> {
        let sql = format!(
            "SELECT {ALLOWLIST_COLUMNS} FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
             JOIN allowlists l ON l.id = e.list_id \
             WHERE n.rev >= $1 AND n.rev < $2 AND n.kinds & {} <> 0 AND l.enabled \
             ORDER BY n.rev, {ALLOWLIST_ORDER}",
            kind::ALLOWLIST
        );
        let k = key(zone);
        self.collect(&sql, &[&k, &key_end(&k)], allowlist_hit)
    }

    fn count_names_below(&self, zone: &DomainName) -> Result<u64> {
        let sql = format!(
            "SELECT count(*) FROM names WHERE rev > $1 AND rev < $2 AND kinds & {} <> 0",
            kind::COUNTED
        );
        let k = key(zone);
        let count: i64 = self
            .conn()
            .query_one(&sql, &[&k, &key_end(&k)])?
            .try_get(0)?;
        Ok(count as u64)
    }

    fn names_below(&self, zone: &DomainName, limit: usize) -> Result<Vec<DomainName>> {
        let sql = format!(
            "SELECT rev FROM names WHERE rev > $1 AND rev < $2 AND kinds & {} <> 0 \
             ORDER BY rev LIMIT $3",
            kind::COUNTED
        );
        let k = key(zone);
        let limit = limit.min(i64::MAX as usize) as i64;
        self.collect(&sql, &[&k, &key_end(&k), &limit], |r| {
            name_from_key(r.try_get(0)?)
        })
    }

    fn latest_whois(&self, domain: &DomainName) -> Result<Option<WhoisRecord>> {
        Ok(self.whois(domain, Some(1))?.pop())
    }

    fn whois_history(&self, domain: &DomainName) -> Result<Vec<WhoisRecord>> {
        self.whois(domain, None)
    }

    fn certificates(&self, name: &DomainName) -> Result<Vec<Certificate>> {
        let exact = key(name);
        let parent = name.parent().map(|p| key(&p)).unwrap_or_default();
        let all = self.collect(
            "SELECT c.record::text FROM certificate_names cn JOIN certificates c ON c.id = cn.cert_id \
             WHERE cn.name_id IN (SELECT id FROM names WHERE rev = $1) AND NOT cn.wildcard \
             UNION ALL \
             SELECT c.record::text FROM certificate_names cn JOIN certificates c ON c.id = cn.cert_id \
             WHERE cn.name_id IN (SELECT id FROM names WHERE rev = $2) AND cn.wildcard",
            &[&exact, &parent],
            |r| Ok(serde_json::from_str::<Certificate>(r.try_get(0)?)?),
        )?;
        Ok(newest_first(all))
    }

    fn resolved_ips(
        &self,
        scope: &DomainQuery,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<ResolvedIp>> {
        let (lo, hi) = scope_range(scope);
        self.collect(
            "SELECT r.ip, min(r.first_seen), max(r.last_seen), sum(r.count)::bigint \
             FROM names n JOIN resolutions r ON r.name_id = n.id \
             WHERE n.rev >= $1 AND n.rev < $2 AND r.last_seen >= $3 AND r.first_seen <= $4 \
             GROUP BY r.ip ORDER BY r.ip",
            &[&lo, &hi, &secs(since), &secs(until)],
            |r| {
                Ok(ResolvedIp {
                    ip: ip_from_bytes(r.try_get(0)?)?,
                    first_seen: r.try_get(1)?,
                    last_seen: r.try_get(2)?,
                    count: r.try_get::<_, i64>(3)? as u64,
                })
            },
        )
    }

    fn ip_intel(&self, ips: &[IpAddr]) -> Result<Vec<(IpAddr, IpIntel)>> {
        if ips.is_empty() {
            return Ok(Vec::new());
        }
        let prefixes: Vec<(i16, i16)> = self.collect(
            "SELECT octets, prefix FROM ip_prefixes ORDER BY octets, prefix",
            &[],
            |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        )?;
        // Every (address, prefix in use) probe, in the order SQLite makes them, then one query.
        let mut probes: Vec<(IpAddr, IpNetwork)> = Vec::new();
        for &ip in ips {
            let octets = if ip.is_ipv4() { 4 } else { 16 };
            for &(_, prefix) in prefixes.iter().filter(|(o, _)| *o == octets) {
                let prefix = u8::try_from(prefix).map_err(|_| corrupt("stored prefix"))?;
                let network = IpNetwork::new(ip, prefix)
                    .map_err(|e| StoreError::Corrupt(format!("stored prefix: {e}")))?;
                probes.push((ip, network));
            }
        }
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        let networks: Vec<Vec<u8>> = probes
            .iter()
            .map(|(ip, net)| ip_bytes(mask(*ip, net.prefix())))
            .collect();
        let lengths: Vec<i16> = probes
            .iter()
            .map(|(_, net)| i16::from(net.prefix()))
            .collect();
        self.collect(
            "SELECT q.ord, s.name, p.risk, p.threat_type \
             FROM unnest($1::bytea[], $2::smallint[]) WITH ORDINALITY AS q(network, prefix, ord) \
             JOIN ip_intel p ON p.network = q.network AND p.prefix = q.prefix \
             JOIN sources s ON s.id = p.source_id ORDER BY q.ord, p.source_id",
            &[&networks, &lengths],
            |r| {
                let ord: i64 = r.try_get(0)?;
                let (ip, network) = usize::try_from(ord - 1)
                    .ok()
                    .and_then(|i| probes.get(i))
                    .ok_or_else(|| corrupt(format!("probe {ord}")))?;
                Ok((
                    *ip,
                    IpIntel {
                        network: *network,
                        source: r.try_get(1)?,
                        risk: risk(r.try_get::<_, i16>(2)?.into())?,
                        threat_type: r.try_get(3)?,
                    },
                ))
            },
        )
    }

    fn event_totals(&self, scope: &DomainQuery, until: Timestamp) -> Result<Vec<EventTotal>> {
        let (lo, hi) = scope_range(scope);
        let sql = format!(
            "SELECT e.industry, e.stage, sum(e.count)::bigint, max(e.time) \
             FROM names n JOIN events e ON e.name_id = n.id \
             WHERE n.rev >= $1 AND n.rev < $2 AND n.kinds & {} <> 0 AND e.time <= $3 \
             GROUP BY e.industry, e.stage ORDER BY e.industry, e.stage",
            kind::EVENT
        );
        self.collect(&sql, &[&lo, &hi, &secs(until)], |r| {
            Ok(EventTotal {
                industry: r.try_get(0)?,
                stage: r.try_get(1)?,
                count: r.try_get::<_, i64>(2)? as u64,
                last: r.try_get(3)?,
            })
        })
    }

    fn sources(&self) -> Result<Vec<SourceSummary>> {
        self.collect(
            "SELECT s.name, s.reliability, s.default_threat_type, s.last_import, coalesce(c.n, 0) \
             FROM sources s LEFT JOIN (SELECT source_id, count(*) AS n FROM indicators GROUP BY source_id) c \
             ON c.source_id = s.id ORDER BY s.name",
            &[],
            |r| {
                Ok(SourceSummary {
                    source: Source {
                        name: r.try_get(0)?,
                        reliability: reliability(r.try_get(1)?)?,
                        default_threat_type: r.try_get(2)?,
                    },
                    last_import: r.try_get(3)?,
                    indicators: r.try_get::<_, i64>(4)? as u64,
                })
            },
        )
    }

    fn stats(&self) -> Result<StoreStats> {
        let row = self.conn().query_one(
            "SELECT (SELECT count(*) FROM names), (SELECT count(*) FROM sources), \
             (SELECT count(*) FROM indicators), (SELECT count(*) FROM allowlists), \
             (SELECT count(*) FROM allowlist_entries), (SELECT count(*) FROM whois), \
             (SELECT count(*) FROM certificates), (SELECT count(*) FROM resolutions), \
             (SELECT count(*) FROM ip_intel), (SELECT count(*) FROM events)",
            &[],
        )?;
        let count = |i: usize| -> Result<u64> { Ok(row.try_get::<_, i64>(i)? as u64) };
        Ok(StoreStats {
            names: count(0)?,
            sources: count(1)?,
            indicators: count(2)?,
            allowlists: count(3)?,
            allowlist_entries: count(4)?,
            whois_records: count(5)?,
            certificates: count(6)?,
            resolutions: count(7)?,
            ip_intel: count(8)?,
            events: count(9)?,
        })
    }

    fn each_indicator(&self, visit: &mut dyn FnMut(IndicatorHit) -> ControlFlow<()>) -> Result<()> {
        let sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM names n JOIN indicators i ON i.name_id = n.id \
             JOIN sources s ON s.id = i.source_id WHERE n.kinds & {} <> 0 \
             ORDER BY n.rev, {INDICATOR_ORDER}",
            kind::INDICATOR | kind::ZONE_INDICATOR
        );
        self.each_row(&sql, indicator_hit, visit)
    }

    fn each_allowlist_entry(
        &self,
        visit: &mut dyn FnMut(AllowlistHit) -> ControlFlow<()>,
    ) -> Result<()> {
        let sql = format!(
            "SELECT {ALLOWLIST_COLUMNS} FROM names n JOIN allowlist_entries e ON e.name_id = n.id \
             JOIN allowlists l ON l.id = e.list_id WHERE n.kinds & {} <> 0 AND l.enabled \
             ORDER BY n.rev, {ALLOWLIST_ORDER}",
            kind::ALLOWLIST
        );
        self.each_row(&sql, allowlist_hit, visit)
    }

    fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        let row = self.conn().query_opt(
            "SELECT etag, last_modified, refreshed_at FROM feed_state WHERE name = $1",
            &[&name],
        )?;
        row.map(|r| {
            Ok(FeedState {
                name: name.to_owned(),
                etag: r.try_get(0)?,
                last_modified: r.try_get(1)?,
                refreshed_at: r.try_get(2)?,
            })
        })
        .transpose()
    }
}

/// A write transaction (`BEGIN` .. `COMMIT`) holding the schema's writer lock.
struct PgWriter {
    conn: PooledConnection<Manager>,
    open: bool,
    /// Ids of the sources and lists this transaction used (the sources get `last_import`).
    sources: HashMap<String, i32>,
    lists: HashMap<String, i32>,
    /// Staging tables created in this transaction (they are dropped at its end).
    staging: HashSet<&'static str>,
    summary: WriteSummary,
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        if self.open {
            self.conn.end("ROLLBACK");
        }
    }
}

/// `SET` clauses merging a record into the stored one with the same identity, as SQLite's
/// writer does (the stored row is `i`, `e`, `w`, `r`, `p`, `v`; the new one `excluded`).
const INDICATOR_MERGE: &str =
    "ON CONFLICT (name_id, zone, source_id, threat_type, label) DO UPDATE SET \
     risk = excluded.risk, scenario = excluded.scenario, attack_stage = excluded.attack_stage, \
     first_seen = least(i.first_seen, excluded.first_seen), \
     last_seen = greatest(i.last_seen, excluded.last_seen), \
     confidence = excluded.confidence, reference = excluded.reference, \
     via_url = i.via_url AND excluded.via_url, sightings = i.sightings + excluded.sightings \
     RETURNING i.xmax = 0";
const ENTRY_MERGE: &str = "ON CONFLICT (name_id, list_id, matching) DO UPDATE SET \
     rank = excluded.rank RETURNING e.xmax = 0";
const WHOIS_MERGE: &str =
    "ON CONFLICT (name_id, observed_at) DO UPDATE SET record = excluded.record RETURNING w.xmax = 0";
const RESOLUTION_MERGE: &str = "ON CONFLICT (name_id, ip) DO UPDATE SET \
     first_seen = least(r.first_seen, excluded.first_seen), \
     last_seen = greatest(r.last_seen, excluded.last_seen), count = r.count + excluded.count \
     RETURNING r.xmax = 0";
const IP_INTEL_MERGE: &str = "ON CONFLICT (network, prefix, source_id) DO UPDATE SET \
     risk = excluded.risk, threat_type = excluded.threat_type RETURNING p.xmax = 0";
const EVENT_MERGE: &str = "ON CONFLICT (name_id, time, stage, industry, source_id) DO UPDATE SET \
     count = excluded.count RETURNING v.xmax = 0";
// (`xmax = 0` in RETURNING is true for a row this statement inserted and false for one it
// updated: the conflicting row was locked first, so its new version carries a locker.)

impl PgWriter {
    /// The id of `name`, creating it, with `kinds` added to its kind bits. One round trip;
    /// no sequence value is used unless the name is new.
    fn name_id(&mut self, name: &DomainName, kinds: i64) -> Result<i64> {
        let row = self.conn.query_one(
            "WITH found AS (SELECT id, kinds FROM names WHERE rev = $1::text), \
             added AS (INSERT INTO names (rev, kinds) SELECT $1::text, $2::integer \
                 WHERE NOT EXISTS (SELECT 1 FROM found) RETURNING id), \
             widened AS (UPDATE names SET kinds = names.kinds | $2::integer FROM found \
                 WHERE names.id = found.id AND found.kinds & $2::integer <> $2::integer) \
             SELECT id FROM added UNION ALL SELECT id FROM found",
            &[&key(name), &(kinds as i32)],
        )?;
        Ok(row.try_get(0)?)
    }

    fn cached_id(
        &mut self,
        lists: bool,
        name: &str,
        unknown: fn(String) -> StoreError,
    ) -> Result<i32> {
        let cache = if lists { &self.lists } else { &self.sources };
        if let Some(id) = cache.get(name) {
            return Ok(*id);
        }
        let sql = if lists {
            "SELECT id FROM allowlists WHERE name = $1"
        } else {
            "SELECT id FROM sources WHERE name = $1"
        };
        let id: i32 = match self.conn.query_opt(sql, &[&name])? {
            Some(row) => row.try_get(0)?,
            None => return Err(unknown(name.to_owned())),
        };
        let cache = if lists {
            &mut self.lists
        } else {
            &mut self.sources
        };
        cache.insert(name.to_owned(), id);
        Ok(id)
    }

    fn source_id(&mut self, name: &str) -> Result<i32> {
        self.cached_id(false, name, StoreError::UnknownSource)
    }

    fn list_id(&mut self, name: &str) -> Result<i32> {
        self.cached_id(true, name, StoreError::UnknownAllowlist)
    }

    /// Runs an upsert whose `RETURNING` says whether it inserted.
    fn upsert(&mut self, sql: &str, params: &Params<'_>) -> Result<PutOutcome> {
        let added: bool = self.conn.query_one(sql, params)?.try_get(0)?;
        Ok(outcome(added))
    }

    fn put_source(&mut self, source: &Source) -> Result<PutOutcome> {
        let existed = self.source_id(&source.name).is_ok();
        let id: i32 = self
            .conn
            .query_one(
                "INSERT INTO sources (name, reliability, default_threat_type) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET reliability = excluded.reliability, \
                 default_threat_type = excluded.default_threat_type RETURNING id",
                &[
                    &source.name,
                    &source.reliability.to_string(),
                    &source.default_threat_type,
                ],
            )?
            .try_get(0)?;
        self.sources.insert(source.name.clone(), id);
        Ok(outcome(!existed))
    }

    fn put_allowlist(&mut self, list: &Allowlist) -> Result<PutOutcome> {
        let existed = self.list_id(&list.name).is_ok();
        let id: i32 = self
            .conn
            .query_one(
                "INSERT INTO allowlists (name, kind, enabled) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, enabled = excluded.enabled \
                 RETURNING id",
                &[&list.name, &allowlist_kind_str(list.kind), &list.enabled],
            )?
            .try_get(0)?;
        self.lists.insert(list.name.clone(), id);
        Ok(outcome(!existed))
    }

    fn put_indicator(&mut self, rec: &IndicatorRecord) -> Result<PutOutcome> {
        let source_id = self.source_id(&rec.source)?;
        let kinds = if rec.zone {
            kind::ZONE_INDICATOR
        } else {
            kind::INDICATOR
        };
        let name_id = self.name_id(&rec.name, kinds)?;
        let sql = format!(
            "INSERT INTO indicators AS i (name_id, zone, source_id, threat_type, label, risk, \
             scenario, attack_stage, first_seen, last_seen, confidence, reference, via_url) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) {INDICATOR_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &name_id,
                &rec.zone,
                &source_id,
                &rec.threat_type,
                &rec.label.as_deref().unwrap_or(""),
                &i16::from(rec.risk.code()),
                &rec.scenario,
                &rec.attack_stage,
                &secs(rec.first_seen),
                &secs(rec.last_seen),
                &rec.confidence.map(i16::from),
                &rec.reference,
                &rec.via_url,
            ],
        )
    }

    fn put_allowlist_entry(&mut self, entry: &AllowlistEntry) -> Result<PutOutcome> {
        let list_id = self.list_id(&entry.list)?;
        let name_id = self.name_id(&entry.name, kind::ALLOWLIST)?;
        let sql = format!(
            "INSERT INTO allowlist_entries AS e (name_id, list_id, matching, rank) \
             VALUES ($1, $2, $3, $4) {ENTRY_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &name_id,
                &list_id,
                &matching_str(entry.matching),
                &entry.rank.map(i64::from),
            ],
        )
    }

    fn put_whois(&mut self, rec: &WhoisRecord) -> Result<PutOutcome> {
        let name_id = self.name_id(&rec.domain, kind::WHOIS)?;
        let sql = format!(
            "INSERT INTO whois AS w (name_id, observed_at, record) \
             VALUES ($1, $2, $3::text::json) {WHOIS_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &name_id,
                &secs(rec.observed_at),
                &serde_json::to_string(rec)?,
            ],
        )
    }

    fn put_certificate(&mut self, cert: &Certificate) -> Result<PutOutcome> {
        let seen = secs(cert.seen_at);
        let existing = self.conn.query_opt(
            "SELECT id, last_seen FROM certificates WHERE sha256 = $1",
            &[&cert.sha256],
        )?;
        let id: i64 = match &existing {
            Some(row) => {
                let id: i64 = row.try_get(0)?;
                let last_seen: Timestamp = row.try_get(1)?;
                if seen > last_seen {
                    self.conn.execute(
                        "UPDATE certificates SET record = $2::text::json, last_seen = $3 WHERE id = $1",
                        &[&id, &serde_json::to_string(cert)?, &seen],
                    )?;
                }
                id
            }
            None => self
                .conn
                .query_one(
                    "INSERT INTO certificates (sha256, record, last_seen) \
                     VALUES ($1, $2::text::json, $3) RETURNING id",
                    &[&cert.sha256, &serde_json::to_string(cert)?, &seen],
                )?
                .try_get(0)?,
        };
        self.conn.execute(
            "INSERT INTO certificate_sightings AS c (cert_id, seen_where, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (cert_id, seen_where) DO UPDATE SET seen_at = greatest(c.seen_at, excluded.seen_at)",
            &[&id, &cert.seen_where, &seen],
        )?;
        for covered in &cert.covers {
            let (name_id, wildcard) = match covered {
                DomainQuery::Exact(n) => (self.name_id(n, kind::CERTIFICATE)?, false),
                DomainQuery::Wildcard(zone) => {
                    (self.name_id(zone, kind::CERTIFICATE_WILDCARD)?, true)
                }
            };
            self.conn.execute(
                "INSERT INTO certificate_names (name_id, wildcard, cert_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&name_id, &wildcard, &id],
            )?;
        }
        Ok(outcome(existing.is_none()))
    }

    fn put_resolution(&mut self, res: &Resolution) -> Result<PutOutcome> {
        let name_id = self.name_id(&res.name, kind::RESOLUTION)?;
        let sql = format!(
            "INSERT INTO resolutions AS r (name_id, ip, first_seen, last_seen, count) \
             VALUES ($1, $2, $3, $4, $5) {RESOLUTION_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &name_id,
                &ip_bytes(res.ip),
                &secs(res.first_seen),
                &secs(res.last_seen),
                &(res.count as i64),
            ],
        )
    }

    fn put_ip_intel(&mut self, intel: &IpIntel) -> Result<PutOutcome> {
        let source_id = self.source_id(&intel.source)?;
        let network = ip_bytes(intel.network.addr());
        let prefix = i16::from(intel.network.prefix());
        self.conn.execute(
            "INSERT INTO ip_prefixes (octets, prefix) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&(network.len() as i16), &prefix],
        )?;
        let sql = format!(
            "INSERT INTO ip_intel AS p (network, prefix, source_id, risk, threat_type) \
             VALUES ($1, $2, $3, $4, $5) {IP_INTEL_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &network,
                &prefix,
                &source_id,
                &i16::from(intel.risk.code()),
                &intel.threat_type,
            ],
        )
    }

    fn put_event(&mut self, event: &SecurityEvent) -> Result<PutOutcome> {
        let source_id = self.source_id(&event.source)?;
        let name_id = self.name_id(&event.name, kind::EVENT)?;
        let sql = format!(
            "INSERT INTO events AS v (name_id, time, stage, industry, source_id, count) \
             VALUES ($1, $2, $3, $4, $5, $6) {EVENT_MERGE}"
        );
        self.upsert(
            &sql,
            &[
                &name_id,
                &secs(event.time),
                &event.stage,
                &event.industry,
                &source_id,
                &(event.count as i64),
            ],
        )
    }

    /// Empties staging table `table` (creating it for this transaction) and fills it by binary
    /// `COPY` from `write`.
    fn stage(
        &mut self,
        table: &StageTable,
        write: impl FnOnce(&mut BinaryCopyInWriter<'_>) -> Result<()>,
    ) -> Result<()> {
        let client = &mut self.conn.client;
        if self.staging.insert(table.name) {
            client.batch_execute(&format!(
                "CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP",
                table.name, table.columns
            ))?;
        } else {
            client.batch_execute(&format!("TRUNCATE {}", table.name))?;
        }
        let sink = client.copy_in(&format!("COPY {} FROM STDIN (FORMAT binary)", table.name))?;
        let mut writer = BinaryCopyInWriter::new(sink, table.types);
        write(&mut writer)?;
        writer.finish()?;
        // Row counts for the planner: the merge joins the batch to tables of any size.
        client.batch_execute(&format!("ANALYZE {}", table.name))?;
        Ok(())
    }

    /// Merges a staged table with `sql`, which returns how many rows it inserted, and counts
    /// the staged records: each new identity is one record added, every other record updated.
    fn merge(&mut self, sql: &str, records: u64, summary: &mut WriteSummary) -> Result<()> {
        // Not cached: the staging tables are new in every transaction.
        let added = self.conn.client.query_one(sql, &[])?.try_get::<_, i64>(0)? as u64;
        summary.added += added;
        summary.updated += records - added;
        Ok(())
    }

    /// Writes the staged records: names first, then each kind of record.
    fn flush(&mut self, staged: &Staged<'_>, summary: &mut WriteSummary) -> Result<()> {
        if staged.names.is_empty() && staged.ip_intel.rows.is_empty() {
            return Ok(());
        }
        if !staged.names.is_empty() {
            self.stage(&STAGE_NAMES, |w| {
                for (rev, kinds) in &staged.names {
                    w.write(&[rev, kinds])?;
                }
                Ok(())
            })?;
            // Plain UPDATE and INSERT rather than an upsert: ON CONFLICT would take a sequence
            // value for every name already stored.
            self.conn.client.batch_execute(
                "UPDATE names n SET kinds = n.kinds | s.kinds FROM stage_names s \
                 WHERE n.rev = s.rev AND n.kinds | s.kinds <> n.kinds; \
                 INSERT INTO names (rev, kinds) SELECT s.rev, s.kinds FROM stage_names s \
                 WHERE NOT EXISTS (SELECT 1 FROM names n WHERE n.rev = s.rev) ORDER BY s.rev",
            )?;
        }
        let rev = |i: usize| &staged.names[i].0;
        if !staged.indicators.rows.is_empty() {
            self.stage(&STAGE_INDICATORS, |w| {
                for ((name, zone, source_id, threat_type, label), v) in &staged.indicators.rows {
                    let r = v.last;
                    w.write(&[
                        rev(*name),
                        zone,
                        source_id,
                        threat_type,
                        label,
                        &i16::from(r.risk.code()),
                        &r.scenario,
                        &r.attack_stage,
                        &v.first_seen,
                        &v.last_seen,
                        &r.confidence.map(i16::from),
                        &r.reference,
                        &v.via_url,
                        &v.sightings,
                    ])?;
                }
                Ok(())
            })?;
            self.merge(
                &format!(
                    "WITH up AS (INSERT INTO indicators AS i (name_id, zone, source_id, threat_type, \
                     label, risk, scenario, attack_stage, first_seen, last_seen, confidence, reference, \
                     via_url, sightings) \
                     SELECT n.id, s.zone, s.source_id, s.threat_type, s.label, s.risk, s.scenario, \
                     s.attack_stage, s.first_seen, s.last_seen, s.confidence, s.reference, s.via_url, \
                     s.sightings FROM stage_indicators s JOIN names n ON n.rev = s.rev \
                     ORDER BY n.id, s.zone, s.source_id, s.threat_type, s.label \
                     {INDICATOR_MERGE} AS added) SELECT count(*) FILTER (WHERE added) FROM up"
                ),
                staged.indicators.records,
                summary,
            )?;
        }
        if !staged.entries.rows.is_empty() {
            self.stage(&STAGE_ENTRIES, |w| {
                for ((name, list_id, matching), rank) in &staged.entries.rows {
                    w.write(&[rev(*name), list_id, matching, &rank.map(i64::from)])?;
                }
                Ok(())
            })?;
            self.merge(
                &format!(
                    "WITH up AS (INSERT INTO allowlist_entries AS e (name_id, list_id, matching, rank) \
                     SELECT n.id, s.list_id, s.matching, s.rank FROM stage_entries s \
                     JOIN names n ON n.rev = s.rev ORDER BY n.id, s.list_id, s.matching \
                     {ENTRY_MERGE} AS added) SELECT count(*) FILTER (WHERE added) FROM up"
                ),
                staged.entries.records,
                summary,
            )?;
        }
        if !staged.whois.rows.is_empty() {
            self.stage(&STAGE_WHOIS, |w| {
                for ((name, observed_at), rec) in &staged.whois.rows {
                    w.write(&[rev(*name), observed_at, &serde_json::to_string(rec)?])?;
                }
                Ok(())
            })?;
            self.merge(
                &format!(
                    "WITH up AS (INSERT INTO whois AS w (name_id, observed_at, record) \
                     SELECT n.id, s.observed_at, s.record::json FROM stage_whois s \
                     JOIN names n ON n.rev = s.rev ORDER BY n.id, s.observed_at \
                     {WHOIS_MERGE} AS added) SELECT count(*) FILTER (WHERE added) FROM up"
                ),
                staged.whois.records,
                summary,
            )?;
        }
        if !staged.resolutions.rows.is_empty() {
            self.stage(&STAGE_RESOLUTIONS, |w| {
                for ((name, ip), (first, last, count)) in &staged.resolutions.rows {
                    w.write(&[rev(*name), &ip_bytes(*ip), first, last, count])?;
                }
                Ok(())
            })?;
            self.merge(
                &format!(
                    "WITH up AS (INSERT INTO resolutions AS r (name_id, ip, first_seen, last_seen, count) \
                     SELECT n.id, s.ip, s.first_seen, s.last_seen, s.count FROM stage_resolutions s \
                     JOIN names n ON n.rev = s.rev ORDER BY n.id, s.ip \
                     {RESOLUTION_MERGE} AS added) SELECT count(*) FILTER (WHERE added) FROM up"
                ),
                staged.resolutions.records,
                summary,
            )?;
        }
        if !staged.events.rows.is_empty() {
            self.stage(&STAGE_EVENTS, |w| {
                for ((name, time, stage, industry, source_id), count) in &staged.events.rows {
                    w.write(&[rev(*name), time, stage, industry, source_id, count])?;
                }
                Ok(())
            })?;
            self.merge(
                &format!(
                    "WITH up AS (INSERT INTO events AS v (name_id, time, stage, industry, source_id, count) \
                     SELECT n.id, s.time, s.stage, s.industry, s.source_id, s.count FROM stage_events s \
                     JOIN names n ON n.rev = s.rev \
                     ORDER BY n.id, s.time, s.stage, s.industry, s.source_id \
                     {EVENT_MERGE} AS added) SELECT count(*) FILTER (WHERE added) FROM up"
                ),
                staged.events.records,
                summary,
            )?;
        }
        if !staged.ip_intel.rows.is_empty() {
            self.stage(&STAGE_IP_INTEL, |w| {
                for ((network, prefix, source_id), intel) in &staged.ip_intel.rows {
                    w.write(&[
                        &ip_bytes(*network),
                        &i16::from(*prefix),
                        source_id,
                        &i16::from(intel.risk.code()),
                        &intel.threat_type,
                    ])?;
                }
                Ok(())
            })?;
            self.conn.client.batch_execute(
                "INSERT INTO ip_prefixes (octets, prefix) \
                 SELECT DISTINCT octet_length(network), prefix FROM stage_ip_intel \
                 ON CONFLICT DO NOTHING",
            )?;
            self.merge(
                &format!(
                    "WITH up AS (INSERT INTO ip_intel AS p (network, prefix, source_id, risk, threat_type) \
                     SELECT s.network, s.prefix, s.source_id, s.risk, s.threat_type FROM stage_ip_intel s \
                     ORDER BY s.network, s.prefix, s.source_id \
                     {IP_INTEL_MERGE} AS added) SELECT count(*) FILTER (WHERE added) FROM up"
                ),
                staged.ip_intel.records,
                summary,
            )?;
        }
        Ok(())
    }
}

/// A temporary table a batch is copied into before it is merged.
struct StageTable {
    name: &'static str,
    columns: &'static str,
    types: &'static [Type],
}

const STAGE_NAMES: StageTable = StageTable {
    name: "stage_names",
    columns: "rev text COLLATE \"C\", kinds integer",
    types: &[Type::TEXT, Type::INT4],
};
const STAGE_INDICATORS: StageTable = StageTable {
    name: "stage_indicators",
    columns:
        "rev text COLLATE \"C\", zone boolean, source_id integer, threat_type text COLLATE \"C\", \
              label text COLLATE \"C\", risk smallint, scenario text, attack_stage text, \
              first_seen timestamptz, last_seen timestamptz, confidence smallint, reference text, \
              via_url boolean, sightings bigint",
    types: &[
        Type::TEXT,
        Type::BOOL,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::INT2,
        Type::TEXT,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::INT2,
        Type::TEXT,
        Type::BOOL,
        Type::INT8,
    ],
};
const STAGE_ENTRIES: StageTable = StageTable {
    name: "stage_entries",
    columns: "rev text COLLATE \"C\", list_id integer, matching text COLLATE \"C\", rank bigint",
    types: &[Type::TEXT, Type::INT4, Type::TEXT, Type::INT8],
};
const STAGE_WHOIS: StageTable = StageTable {
    name: "stage_whois",
    columns: "rev text COLLATE \"C\", observed_at timestamptz, record text",
    types: &[Type::TEXT, Type::TIMESTAMPTZ, Type::TEXT],
};
const STAGE_RESOLUTIONS: StageTable = StageTable {
    name: "stage_resolutions",
    columns: "rev text COLLATE \"C\", ip bytea, first_seen timestamptz, last_seen timestamptz, \
              count bigint",
    types: &[
        Type::TEXT,
        Type::BYTEA,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::INT8,
    ],
};
const STAGE_EVENTS: StageTable = StageTable {
    name: "stage_events",
    columns: "rev text COLLATE \"C\", time timestamptz, stage text COLLATE \"C\", \
              industry text COLLATE \"C\", source_id integer, count bigint",
    types: &[
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::INT8,
    ],
};
const STAGE_IP_INTEL: StageTable = StageTable {
    name: "stage_ip_intel",
    columns: "network bytea, prefix smallint, source_id integer, risk smallint, threat_type text",
    types: &[Type::BYTEA, Type::INT2, Type::INT4, Type::INT2, Type::TEXT],
};

/// Records of one identity merged in batch order, and how many records they were.
struct Merged<K, V> {
    index: HashMap<K, usize>,
    rows: Vec<(K, V)>,
    records: u64,
}

impl<K, V> Default for Merged<K, V> {
    fn default() -> Self {
        Self {
            index: HashMap::new(),
            rows: Vec::new(),
            records: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V> Merged<K, V> {
    /// Adds `value` under `key`, or merges it into the value already there.
    fn add(&mut self, key: K, value: V, merge: impl FnOnce(&mut V, V)) {
        self.records += 1;
        match self.index.entry(key) {
            Entry::Occupied(e) => merge(&mut self.rows[*e.get()].1, value),
            Entry::Vacant(e) => {
                let key = e.key().clone();
                e.insert(self.rows.len());
                self.rows.push((key, value));
            }
        }
    }
}

/// What a run of puts of one indicator identity leaves: the last record's values, the
/// widest window, `via_url` only while every record had it, one sighting per record.
struct IndicatorMerge<'b> {
    last: &'b IndicatorRecord,
    first_seen: Timestamp,
    last_seen: Timestamp,
    via_url: bool,
    sightings: i64,
}

/// A batch reduced to one row per identity, each as the sequence of puts would leave it. Names
/// are indexes into `names`.
#[derive(Default)]
struct Staged<'b> {
    names: Vec<(String, i32)>,
    name_index: HashMap<String, usize>,
    indicators: Merged<(usize, bool, i32, &'b str, &'b str), IndicatorMerge<'b>>,
    entries: Merged<(usize, i32, &'static str), Option<u32>>,
    whois: Merged<(usize, Timestamp), &'b WhoisRecord>,
    resolutions: Merged<(usize, IpAddr), (Timestamp, Timestamp, i64)>,
    events: Merged<(usize, Timestamp, &'b str, &'b str, i32), i64>,
    ip_intel: Merged<(IpAddr, u8, i32), &'b IpIntel>,
}

impl<'b> Staged<'b> {
    fn name(&mut self, name: &DomainName, kinds: i64) -> usize {
        let rev = key(name);
        match self.name_index.get(&rev) {
            Some(&i) => {
                self.names[i].1 |= kinds as i32;
                i
            }
            None => {
                let i = self.names.len();
                self.name_index.insert(rev.clone(), i);
                self.names.push((rev, kinds as i32));
                i
            }
        }
    }

    fn indicator(&mut self, rec: &'b IndicatorRecord, source_id: i32) {
        let kinds = if rec.zone {
            kind::ZONE_INDICATOR
        } else {
            kind::INDICATOR
        };
        let name = self.name(&rec.name, kinds);
        let label = rec.label.as_deref().unwrap_or("");
        let merge = IndicatorMerge {
            last: rec,
            first_seen: secs(rec.first_seen),
            last_seen: secs(rec.last_seen),
            via_url: rec.via_url,
            sightings: 1,
        };
        self.indicators.add(
            (name, rec.zone, source_id, rec.threat_type.as_str(), label),
            merge,
            |old, new| {
                old.last = new.last;
                old.first_seen = old.first_seen.min(new.first_seen);
                old.last_seen = old.last_seen.max(new.last_seen);
                old.via_url &= new.via_url;
                old.sightings += 1;
            },
        );
    }

    fn entry(&mut self, entry: &AllowlistEntry, list_id: i32) {
        let name = self.name(&entry.name, kind::ALLOWLIST);
        self.entries.add(
            (name, list_id, matching_str(entry.matching)),
            entry.rank,
            |old, new| *old = new,
        );
    }

    fn whois(&mut self, rec: &'b WhoisRecord) {
        let name = self.name(&rec.domain, kind::WHOIS);
        self.whois
            .add((name, secs(rec.observed_at)), rec, |old, new| *old = new);
    }

    fn resolution(&mut self, res: &Resolution) {
        let name = self.name(&res.name, kind::RESOLUTION);
        self.resolutions.add(
            (name, res.ip),
            (secs(res.first_seen), secs(res.last_seen), res.count as i64),
            |old, new| {
                old.0 = old.0.min(new.0);
                old.1 = old.1.max(new.1);
                old.2 += new.2;
            },
        );
    }

    fn event(&mut self, event: &'b SecurityEvent, source_id: i32) {
        let name = self.name(&event.name, kind::EVENT);
        self.events.add(
            (
                name,
                secs(event.time),
                event.stage.as_str(),
                event.industry.as_str(),
                source_id,
            ),
            event.count as i64,
            |old, new| *old = new,
        );
    }

    fn ip_intel(&mut self, intel: &'b IpIntel, source_id: i32) {
        self.ip_intel.add(
            (intel.network.addr(), intel.network.prefix(), source_id),
            intel,
            |old, new| *old = new,
        );
    }
}

fn tally(summary: &mut WriteSummary, outcome: PutOutcome) {
    match outcome {
        PutOutcome::Added => summary.added += 1,
        PutOutcome::Updated => summary.updated += 1,
    }
}

impl StoreWriter for PgWriter {
    fn put(&mut self, evidence: &Evidence) -> Result<PutOutcome> {
        let outcome = match evidence {
            Evidence::Source(s) => self.put_source(s),
            Evidence::Indicator(r) => self.put_indicator(r),
            Evidence::Allowlist(l) => self.put_allowlist(l),
            Evidence::AllowlistEntry(e) => self.put_allowlist_entry(e),
            Evidence::Whois(w) => self.put_whois(w),
            Evidence::Certificate(c) => self.put_certificate(c),
            Evidence::Resolution(r) => self.put_resolution(r),
            Evidence::IpIntel(i) => self.put_ip_intel(i),
            Evidence::Event(e) => self.put_event(e),
        }?;
        tally(&mut self.summary, outcome);
        Ok(outcome)
    }

    /// The bulk path: sources and lists are put one by one, certificates (several tables
    /// each) too, after the rest; every other record is reduced to one row per identity,
    /// copied into a staging table and merged with one statement per table. The outcome is
    /// the one the same records put one by one in batch order would have.
    fn put_batch(&mut self, batch: &[Evidence]) -> Result<WriteSummary> {
        let mut summary = WriteSummary::default();
        let mut staged = Staged::default();
        let mut certificates = Vec::new();
        // In batch order, so an unknown source or list is reported for the same record as
        // one-by-one puts would report it.
        for evidence in sorted(batch) {
            match evidence {
                Evidence::Source(_) | Evidence::Allowlist(_) => {
                    let outcome = self.put(evidence)?;
                    tally(&mut summary, outcome);
                }
                Evidence::Certificate(cert) => certificates.push(&**cert),
                Evidence::Indicator(rec) => {
                    let source_id = self.source_id(&rec.source)?;
                    staged.indicator(rec, source_id);
                }
                Evidence::AllowlistEntry(entry) => {
                    let list_id = self.list_id(&entry.list)?;
                    staged.entry(entry, list_id);
                }
                Evidence::Whois(rec) => staged.whois(rec),
                Evidence::Resolution(res) => staged.resolution(res),
                Evidence::Event(event) => {
                    let source_id = self.source_id(&event.source)?;
                    staged.event(event, source_id);
                }
                Evidence::IpIntel(intel) => {
                    let source_id = self.source_id(&intel.source)?;
                    staged.ip_intel(intel, source_id);
                }
            }
        }
        let mut merged = WriteSummary::default();
        self.flush(&staged, &mut merged)?;
        for cert in certificates {
            tally(&mut merged, self.put_certificate(cert)?);
        }
        self.summary.added += merged.added;
        self.summary.updated += merged.updated;
        summary.added += merged.added;
        summary.updated += merged.updated;
        Ok(summary)
    }

    fn put_feed_state(&mut self, state: &FeedState) -> Result<()> {
        self.conn.execute(
            "INSERT INTO feed_state (name, etag, last_modified, refreshed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET etag = excluded.etag, \
             last_modified = excluded.last_modified, refreshed_at = excluded.refreshed_at",
            &[
                &state.name,
                &state.etag,
                &state.last_modified,
                &secs(state.refreshed_at),
            ],
        )?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<WriteSummary> {
        let touched: Vec<i32> = self.sources.values().copied().collect();
        if !touched.is_empty() {
            // The server's clock: every process sharing the store stamps imports alike.
            self.conn.execute(
                "UPDATE sources SET last_import = date_trunc('second', statement_timestamp()) \
                 WHERE id = ANY($1)",
                &[&touched],
            )?;
        }
        self.conn.client.batch_execute("COMMIT")?;
        self.open = false;
        // After a bulk load the planner's statistics lag far behind (autovacuum analyzes later):
        // without them a zone's range scan can turn into a scan of every resolution.
        if self.summary.added + self.summary.updated >= ANALYZE_AFTER {
            self.conn.client.batch_execute("ANALYZE")?;
        }
        Ok(self.summary)
    }
}

/// Records written by one transaction after which the writer refreshes planner statistics.
const ANALYZE_AFTER: u64 = 100_000;
