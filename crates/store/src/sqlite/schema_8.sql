-- threatintel store, schema version 8 (applied after schema_7.sql): what the IP report reads
-- besides the address records.
--
-- * `resolved_names`: reverse passive DNS, one row per (address, name) of `resolutions`, keyed
--   by the address, then the name's key: the names that resolved to an address are one range,
--   in name key order (the IP report lists the first ones). The writer adds a row with each new
--   resolution; the observation window stays in `resolutions`.
-- * `network_registrations`: who a network is registered to (RIR WHOIS, RDAP `ip network`),
--   keyed as `ip_records` (masked octets, prefix) and listed in `ip_prefixes`, so the
--   registrations of every network containing an address are one point read per prefix in use.

CREATE TABLE resolved_names (
    ip  BLOB NOT NULL,
    rev TEXT NOT NULL,
    PRIMARY KEY (ip, rev)
) WITHOUT ROWID;

INSERT INTO resolved_names (ip, rev)
SELECT r.ip, n.rev FROM resolutions r JOIN names n ON n.id = r.name_id;

CREATE TABLE network_registrations (
    network      BLOB    NOT NULL,
    prefix       INTEGER NOT NULL,
    range        TEXT    NOT NULL,
    name         TEXT,
    organisation TEXT,
    country      TEXT,
    abuse_email  TEXT,
    observed_at  INTEGER NOT NULL,
    PRIMARY KEY (network, prefix)
) WITHOUT ROWID;
