-- threatintel PostgreSQL store, migration 6: the import history (the same table as SQLite's
-- schema_7.sql; see there).

CREATE TABLE imports (
    at      timestamptz NOT NULL,
    sources integer     NOT NULL,
    records bigint      NOT NULL
);

CREATE INDEX imports_at ON imports (at);
