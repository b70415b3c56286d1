-- threatintel store, schema version 7 (applied after schema_6.sql).
--
-- * `imports`: one row per committed write that named a source (an import, a feed refresh, a
--   batch of live lookups): when it committed, how many sources it named and how many records
--   it added or updated. The console's dashboard charts imports per day from it; nothing reads
--   it to judge.

CREATE TABLE imports (
    at      INTEGER NOT NULL,
    sources INTEGER NOT NULL,
    records INTEGER NOT NULL
);

CREATE INDEX imports_at ON imports (at);
