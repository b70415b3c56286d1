//! Schema migrations of the PostgreSQL store, applied under an advisory lock and recorded in
//! `threatintel_migrations`.

use ::postgres::Client;

use super::quote_ident;
use crate::{Result, StoreError};

/// Schema migrations, applied in order; `threatintel_migrations` records each version applied.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("schema_2.sql"),
    include_str!("schema_3.sql"),
    include_str!("schema_4.sql"),
    include_str!("schema_5.sql"),
    include_str!("schema_6.sql"),
    include_str!("schema_7_ip_report.sql"),
    include_str!("schema_8_counters.sql"),
    include_str!("schema_9_names_fillfactor.sql"),
];

/// A stable 64-bit key for `pg_advisory_xact_lock` (FNV-1a), distinct per purpose and schema.
pub(super) fn lock_key(purpose: &str, schema: &str) -> i64 {
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

/// Creates the schema if needed and applies the migrations it lacks, in one transaction that
/// other processes migrating the same schema wait for. Returns the schema's name.
pub(super) fn migrate(client: &mut Client, schema: Option<&str>, location: &str) -> Result<String> {
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
