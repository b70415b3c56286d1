-- threatintel store (PostgreSQL), migration 3: the commit marker (see the SQLite schema_4.sql).
CREATE TABLE commit_marker (
    generation   bigint NOT NULL,
    committed_at timestamptz
);
INSERT INTO commit_marker (generation, committed_at) VALUES (0, NULL);
