-- threatintel store, schema version 3: dated records about addresses and networks, and
-- allowlisted networks. `network` is the masked address bytes (4 or 16), as in `ip_intel`;
-- `ip_prefixes` lists every (octets, prefix) either table holds, so a lookup probes only those.
CREATE TABLE ip_records (
    network     BLOB    NOT NULL,
    prefix      INTEGER NOT NULL,
    source_id   INTEGER NOT NULL,
    threat_type TEXT    NOT NULL,
    label       TEXT    NOT NULL DEFAULT '',
    risk        INTEGER NOT NULL CHECK (risk BETWEEN 0 AND 3),
    scenario    TEXT,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    confidence  INTEGER CHECK (confidence BETWEEN 0 AND 100),
    reference   TEXT,
    sightings   INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (network, prefix, source_id, threat_type, label)
) WITHOUT ROWID;

CREATE TABLE allowlist_networks (
    network BLOB    NOT NULL,
    prefix  INTEGER NOT NULL,
    list_id INTEGER NOT NULL,
    PRIMARY KEY (network, prefix, list_id)
) WITHOUT ROWID;
