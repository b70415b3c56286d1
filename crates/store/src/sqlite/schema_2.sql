-- threatintel store, schema version 2 (applied after schema.sql).
--
-- * `names` is keyed by its reversed-label key itself (WITHOUT ROWID): one B-tree per name
--   instead of a rowid table plus a unique index on `rev`. Ids are handed out by the writer from
--   `name_counter`, in the same transaction that inserts the name.
-- * No foreign keys: the writer derives every id it stores in the same transaction and nothing is
--   deleted, and a per-row check cost bulk imports a third of their time (see postgres_schema.sql,
--   which made the same choice). The tables below are version 1's without REFERENCES clauses.
-- * New stores use 16 KiB pages (set by the store before this runs; see sqlite.rs).
-- Every table is rebuilt once, copying its rows.

CREATE TABLE names_v2 (
    rev   TEXT    NOT NULL PRIMARY KEY,
    id    INTEGER NOT NULL,
    -- Bit set of the evidence kinds that mention the name (see layout.rs, `kind`).
    kinds INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO names_v2 (rev, id, kinds) SELECT rev, id, kinds FROM names ORDER BY rev;

-- One row: the next id `names` hands out.
CREATE TABLE name_counter (next_id INTEGER NOT NULL);
INSERT INTO name_counter (next_id) SELECT coalesce(max(id), 0) + 1 FROM names;

CREATE TABLE indicators_v2 (
    name_id      INTEGER NOT NULL,
    zone         INTEGER NOT NULL CHECK (zone IN (0, 1)),
    source_id    INTEGER NOT NULL,
    threat_type  TEXT    NOT NULL,
    label        TEXT    NOT NULL DEFAULT '',
    risk         INTEGER NOT NULL CHECK (risk BETWEEN 0 AND 3),
    scenario     TEXT,
    attack_stage TEXT,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    confidence   INTEGER CHECK (confidence BETWEEN 0 AND 100),
    reference    TEXT,
    -- 1 while every listing of the record named a URL on the host, not the host itself.
    via_url      INTEGER NOT NULL DEFAULT 0 CHECK (via_url IN (0, 1)),
    sightings    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (name_id, zone, source_id, threat_type, label)
) WITHOUT ROWID;
INSERT INTO indicators_v2 SELECT * FROM indicators;

CREATE TABLE allowlist_entries_v2 (
    name_id  INTEGER NOT NULL,
    list_id  INTEGER NOT NULL,
    matching TEXT    NOT NULL CHECK (matching IN ('hostname', 'exact')),
    rank     INTEGER,
    PRIMARY KEY (name_id, list_id, matching)
) WITHOUT ROWID;
INSERT INTO allowlist_entries_v2 SELECT * FROM allowlist_entries;

CREATE TABLE whois_v2 (
    name_id     INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    record      TEXT    NOT NULL,
    PRIMARY KEY (name_id, observed_at)
) WITHOUT ROWID;
INSERT INTO whois_v2 SELECT * FROM whois;

CREATE TABLE certificate_sightings_v2 (
    cert_id    INTEGER NOT NULL,
    seen_where TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (cert_id, seen_where)
) WITHOUT ROWID;
INSERT INTO certificate_sightings_v2 SELECT * FROM certificate_sightings;

-- wildcard = 1: the certificate covers every name one label below name_id (`*.zone`).
CREATE TABLE certificate_names_v2 (
    name_id  INTEGER NOT NULL,
    wildcard INTEGER NOT NULL CHECK (wildcard IN (0, 1)),
    cert_id  INTEGER NOT NULL,
    PRIMARY KEY (name_id, wildcard, cert_id)
) WITHOUT ROWID;
INSERT INTO certificate_names_v2 SELECT * FROM certificate_names;

CREATE TABLE resolutions_v2 (
    name_id    INTEGER NOT NULL,
    ip         BLOB    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (name_id, ip)
) WITHOUT ROWID;
INSERT INTO resolutions_v2 SELECT * FROM resolutions;

-- network: the masked address bytes (4 or 16); one row per (network, source).
CREATE TABLE ip_intel_v2 (
    network     BLOB    NOT NULL,
    prefix      INTEGER NOT NULL,
    source_id   INTEGER NOT NULL,
    risk        INTEGER NOT NULL CHECK (risk BETWEEN 0 AND 3),
    threat_type TEXT,
    PRIMARY KEY (network, prefix, source_id)
) WITHOUT ROWID;
INSERT INTO ip_intel_v2 SELECT * FROM ip_intel;

CREATE TABLE events_v2 (
    name_id   INTEGER NOT NULL,
    time      INTEGER NOT NULL,
    stage     TEXT    NOT NULL,
    industry  TEXT    NOT NULL,
    source_id INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (name_id, time, stage, industry, source_id)
) WITHOUT ROWID;
INSERT INTO events_v2 SELECT * FROM events;

DROP TABLE indicators;
DROP TABLE allowlist_entries;
DROP TABLE whois;
DROP TABLE certificate_sightings;
DROP TABLE certificate_names;
DROP TABLE resolutions;
DROP TABLE ip_intel;
DROP TABLE events;
DROP TABLE names;

ALTER TABLE names_v2 RENAME TO names;
ALTER TABLE indicators_v2 RENAME TO indicators;
ALTER TABLE allowlist_entries_v2 RENAME TO allowlist_entries;
ALTER TABLE whois_v2 RENAME TO whois;
ALTER TABLE certificate_sightings_v2 RENAME TO certificate_sightings;
ALTER TABLE certificate_names_v2 RENAME TO certificate_names;
ALTER TABLE resolutions_v2 RENAME TO resolutions;
ALTER TABLE ip_intel_v2 RENAME TO ip_intel;
ALTER TABLE events_v2 RENAME TO events;
