-- threatintel store, schema version 8 (applied after schema_7.sql).
--
-- * `resolved_names`: reverse passive DNS, one row per (address, name) of `resolutions`, keyed
--   by the address, then the name's key: the names that resolved to an address are one range,
--   in name key order (the IP report lists the first ones). The writer adds a row with each new
--   resolution; the observation window stays in `resolutions`.

CREATE TABLE resolved_names (
    ip  BLOB NOT NULL,
    rev TEXT NOT NULL,
    PRIMARY KEY (ip, rev)
) WITHOUT ROWID;

INSERT INTO resolved_names (ip, rev)
SELECT r.ip, n.rev FROM resolutions r JOIN names n ON n.id = r.name_id;
