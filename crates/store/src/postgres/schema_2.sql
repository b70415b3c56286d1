-- Migration 2: dated records about addresses and networks, and allowlisted networks (the
-- SQLite store's schema_3.sql). `network` is the masked address octets, as in `ip_intel`;
-- `ip_prefixes` lists every (octets, prefix) either table holds.
CREATE TABLE ip_records (
    network     bytea       NOT NULL CHECK (octet_length(network) IN (4, 16)),
    prefix      smallint    NOT NULL,
    source_id   integer     NOT NULL,
    threat_type text        COLLATE "C" NOT NULL,
    label       text        COLLATE "C" NOT NULL DEFAULT '',
    risk        smallint    NOT NULL CHECK (risk BETWEEN 0 AND 3),
    scenario    text,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    confidence  smallint    CHECK (confidence BETWEEN 0 AND 100),
    reference   text,
    sightings   bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (network, prefix, source_id, threat_type, label)
);

CREATE TABLE allowlist_networks (
    network bytea    NOT NULL CHECK (octet_length(network) IN (4, 16)),
    prefix  smallint NOT NULL,
    list_id integer  NOT NULL,
    PRIMARY KEY (network, prefix, list_id)
);
