-- threatintel store, schema version 4: the commit marker.
--
-- One row: how many write transactions committed (`generation`) and when the last did (Unix
-- seconds; NULL until the first commit after this migration). Every commit bumps it, so "did
-- anything change since" is one read of one row (exports' ETag and Last-Modified).
CREATE TABLE commit_marker (
    generation   INTEGER NOT NULL,
    committed_at INTEGER
);
INSERT INTO commit_marker (generation, committed_at) VALUES (0, NULL);
