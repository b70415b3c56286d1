-- threatintel store on PostgreSQL, migration 1: the data model of schema.sql (SQLite), same
-- identities and semantics. Applied by postgres.rs, which records it in threatintel_migrations.
--
-- Access paths, sized for 100M+ names, resolutions and events:
-- * names(rev) is a unique B-tree on a COLLATE "C" column: byte order, as SQLite's BINARY, so
--   "a zone and everything below it" ([key, key with the last '.' replaced by '/')) is one
--   index range scan, ORDER BY rev comes from the index, and an unknown name is one probe. (The
--   database's default collation, e.g. en_US, would neither order nor range-scan by bytes.)
--   Every key/ordered text column is COLLATE "C" too, so ORDER BY matches SQLite.
-- * Every per-name table (indicators, resolutions, events, whois, allowlist entries,
--   certificate names) has its identity as primary key with name_id first, so the records of
--   the names a zone range yields are one index descent each, and a bulk upsert sorted by name
--   walks each B-tree in order. No secondary indexes: none of the trait's reads starts from
--   anything but a name, a certificate, a network or a feed.
-- * No foreign keys (as in SQLite since its schema 2): a check per imported row locks the referenced name
--   (a WAL record each) and more than doubled the bulk import time. The writer takes every
--   id from the referenced table in the same transaction, under the writer lock, and the
--   store never deletes, so the references hold by construction.
-- * names.id and certificates.id are bigint: sequence values are never given back (a rolled
--   back import keeps its gap), and 32 bits is only 21 times 100M.
-- * No BRIN on the time columns: every read is name-scoped and filters time only on the few
--   rows of one name or zone, and resolutions/indicators change their times in place on
--   re-import, which breaks the physical time order BRIN relies on. Time-sliced maintenance
--   (expiry) would add BRIN on events(time), which is append-mostly.
-- * Timestamps are timestamptz holding whole seconds (SQLite stores Unix seconds); addresses
--   and networks are bytea (4 or 16 octets), ordered as SQLite orders its blobs.

CREATE TABLE names (
    id    bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rev   text    COLLATE "C" NOT NULL,
    -- Bit set of the evidence kinds that mention the name (see layout.rs, `kind`).
    kinds integer NOT NULL DEFAULT 0,
    CONSTRAINT names_rev_key UNIQUE (rev)
);

CREATE TABLE sources (
    id                  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text    COLLATE "C" NOT NULL UNIQUE,
    reliability         text    NOT NULL CHECK (reliability IN ('A','B','C','D','E','F')),
    default_threat_type text,
    last_import         timestamptz
);

CREATE TABLE indicators (
    name_id      bigint   NOT NULL,
    zone         boolean  NOT NULL,
    source_id    integer  NOT NULL,
    threat_type  text     COLLATE "C" NOT NULL,
    label        text     COLLATE "C" NOT NULL DEFAULT '',
    risk         smallint NOT NULL CHECK (risk BETWEEN 0 AND 3),
    scenario     text,
    attack_stage text,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    confidence   smallint CHECK (confidence BETWEEN 0 AND 100),
    reference    text,
    -- true while every listing of the record named a URL on the host, not the host itself.
    via_url      boolean  NOT NULL DEFAULT false,
    sightings    bigint   NOT NULL DEFAULT 1,
    PRIMARY KEY (name_id, zone, source_id, threat_type, label)
);

CREATE TABLE allowlists (
    id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name    text    COLLATE "C" NOT NULL UNIQUE,
    kind    text    NOT NULL CHECK (kind IN ('operator', 'curated', 'top_sites')),
    enabled boolean NOT NULL
);

CREATE TABLE allowlist_entries (
    name_id  bigint  NOT NULL,
    list_id  integer NOT NULL,
    matching text    COLLATE "C" NOT NULL CHECK (matching IN ('hostname', 'exact')),
    rank     bigint,
    PRIMARY KEY (name_id, list_id, matching)
);

-- record: the serde JSON of the WhoisRecord (json, not jsonb: kept verbatim, and jsonb
-- cannot hold the \u0000 a raw WHOIS text may contain).
CREATE TABLE whois (
    name_id     bigint      NOT NULL,
    observed_at timestamptz NOT NULL,
    record      json        NOT NULL,
    PRIMARY KEY (name_id, observed_at)
);

CREATE TABLE certificates (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256    text        COLLATE "C" NOT NULL UNIQUE,
    record    json        NOT NULL,
    last_seen timestamptz NOT NULL
);

CREATE TABLE certificate_sightings (
    cert_id    bigint      NOT NULL,
    seen_where text        COLLATE "C" NOT NULL,
    seen_at    timestamptz NOT NULL,
    PRIMARY KEY (cert_id, seen_where)
);

-- wildcard: the certificate covers every name one label below name_id (`*.zone`).
CREATE TABLE certificate_names (
    name_id  bigint  NOT NULL,
    wildcard boolean NOT NULL,
    cert_id  bigint  NOT NULL,
    PRIMARY KEY (name_id, wildcard, cert_id)
);

CREATE TABLE resolutions (
    name_id    bigint      NOT NULL,
    ip         bytea       NOT NULL CHECK (octet_length(ip) IN (4, 16)),
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    count      bigint      NOT NULL,
    PRIMARY KEY (name_id, ip)
);

-- network: the masked address octets (4 or 16); one row per (network, source).
CREATE TABLE ip_intel (
    network     bytea    NOT NULL CHECK (octet_length(network) IN (4, 16)),
    prefix      smallint NOT NULL,
    source_id   integer  NOT NULL,
    risk        smallint NOT NULL CHECK (risk BETWEEN 0 AND 3),
    threat_type text,
    PRIMARY KEY (network, prefix, source_id)
);
-- The prefix lengths in use per address length, so a containment lookup is a few point reads.
CREATE TABLE ip_prefixes (
    octets smallint NOT NULL,
    prefix smallint NOT NULL,
    PRIMARY KEY (octets, prefix)
);

CREATE TABLE events (
    name_id   bigint      NOT NULL,
    time      timestamptz NOT NULL,
    stage     text        COLLATE "C" NOT NULL,
    industry  text        COLLATE "C" NOT NULL,
    source_id integer     NOT NULL,
    count     bigint      NOT NULL,
    PRIMARY KEY (name_id, time, stage, industry, source_id)
);

-- The last committed refresh of each configured feed (HTTP validators for conditional GETs).
CREATE TABLE feed_state (
    name          text        COLLATE "C" PRIMARY KEY,
    etag          text,
    last_modified text,
    refreshed_at  timestamptz NOT NULL
);
