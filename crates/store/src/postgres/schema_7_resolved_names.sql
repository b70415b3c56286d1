-- threatintel PostgreSQL store, migration 7: reverse passive DNS (the same table as SQLite's
-- schema_8.sql; see there). Filled from each staged batch of resolutions.

CREATE TABLE resolved_names (
    ip  bytea NOT NULL CHECK (octet_length(ip) IN (4, 16)),
    rev text  COLLATE "C" NOT NULL,
    PRIMARY KEY (ip, rev)
);

INSERT INTO resolved_names (ip, rev)
SELECT r.ip, n.rev FROM resolutions r JOIN names n ON n.id = r.name_id
ON CONFLICT DO NOTHING;
