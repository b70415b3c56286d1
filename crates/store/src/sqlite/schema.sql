-- threatintel store, schema version 1.
-- Every name is stored once, under its reversed-label key with a trailing dot
-- ("www.example.com" -> "com.example.www."), so a zone and everything below it is
-- one contiguous key range: [key, key with the final '.' replaced by '/').
CREATE TABLE names (
    id    INTEGER PRIMARY KEY,
    rev   TEXT    NOT NULL UNIQUE,
    -- Bit set of the evidence kinds that mention the name (see layout.rs, `kind`).
    kinds INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sources (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    reliability         TEXT    NOT NULL CHECK (reliability IN ('A','B','C','D','E','F')),
    default_threat_type TEXT,
    last_import         INTEGER
);

-- Keyed by the record's identity, so an insert maintains one B-tree.
CREATE TABLE indicators (
    name_id      INTEGER NOT NULL REFERENCES names(id),
    zone         INTEGER NOT NULL CHECK (zone IN (0, 1)),
    source_id    INTEGER NOT NULL REFERENCES sources(id),
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

CREATE TABLE allowlists (
    id      INTEGER PRIMARY KEY,
    name    TEXT    NOT NULL UNIQUE,
    kind    TEXT    NOT NULL CHECK (kind IN ('operator', 'curated', 'top_sites')),
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
);

CREATE TABLE allowlist_entries (
    name_id  INTEGER NOT NULL REFERENCES names(id),
    list_id  INTEGER NOT NULL REFERENCES allowlists(id),
    matching TEXT    NOT NULL CHECK (matching IN ('hostname', 'exact')),
    rank     INTEGER,
    PRIMARY KEY (name_id, list_id, matching)
) WITHOUT ROWID;

CREATE TABLE whois (
    name_id     INTEGER NOT NULL REFERENCES names(id),
    observed_at INTEGER NOT NULL,
    record      TEXT    NOT NULL,
    PRIMARY KEY (name_id, observed_at)
) WITHOUT ROWID;

CREATE TABLE certificates (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT    NOT NULL UNIQUE,
    record      TEXT    NOT NULL,
    last_seen   INTEGER NOT NULL
);

CREATE TABLE certificate_sightings (
    cert_id    INTEGER NOT NULL REFERENCES certificates(id),
    seen_where TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (cert_id, seen_where)
) WITHOUT ROWID;

-- wildcard = 1: the certificate covers every name one label below name_id (`*.zone`).
CREATE TABLE certificate_names (
    name_id  INTEGER NOT NULL REFERENCES names(id),
    wildcard INTEGER NOT NULL CHECK (wildcard IN (0, 1)),
    cert_id  INTEGER NOT NULL REFERENCES certificates(id),
    PRIMARY KEY (name_id, wildcard, cert_id)
) WITHOUT ROWID;

CREATE TABLE resolutions (
    name_id    INTEGER NOT NULL REFERENCES names(id),
    ip         BLOB    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (name_id, ip)
) WITHOUT ROWID;

-- network: the masked address bytes (4 or 16); one row per (network, source).
CREATE TABLE ip_intel (
    network     BLOB    NOT NULL,
    prefix      INTEGER NOT NULL,
    source_id   INTEGER NOT NULL REFERENCES sources(id),
    risk        INTEGER NOT NULL CHECK (risk BETWEEN 0 AND 3),
    threat_type TEXT,
    PRIMARY KEY (network, prefix, source_id)
) WITHOUT ROWID;
-- The prefix lengths in use per address length, so a containment lookup is a few point reads.
CREATE TABLE ip_prefixes (
    octets INTEGER NOT NULL,
    prefix INTEGER NOT NULL,
    PRIMARY KEY (octets, prefix)
) WITHOUT ROWID;

CREATE TABLE events (
    name_id   INTEGER NOT NULL REFERENCES names(id),
    time      INTEGER NOT NULL,
    stage     TEXT    NOT NULL,
    industry  TEXT    NOT NULL,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    count     INTEGER NOT NULL,
    PRIMARY KEY (name_id, time, stage, industry, source_id)
) WITHOUT ROWID;

-- The last committed refresh of each configured feed (HTTP validators for conditional GETs).
CREATE TABLE feed_state (
    name          TEXT    PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    refreshed_at  INTEGER NOT NULL
);
