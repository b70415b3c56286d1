-- threatintel store, schema version 5 (applied after schema_4.sql).
--
-- * `dns_relations`: the CNAME, NS and MX records of a name (passive-DNS imports and live
--   lookups), one row per (name, kind, target); the target is kept as text, so it does not
--   become a name of the store (it is a sighting about `name_id`, not about the target).
-- * `lookups`: the enricher's last lookup of each topic about a name, so that TTLs, negative
--   answers and backoff survive a restart. Keyed by the name's key, not its id: a lookup that
--   found nothing does not make the name known.

CREATE TABLE dns_relations (
    name_id    INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('CNAME', 'NS', 'MX')),
    target     TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    PRIMARY KEY (name_id, kind, target)
) WITHOUT ROWID;

CREATE TABLE lookups (
    rev        TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    server     TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    error      TEXT,
    records    INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    next_due   INTEGER NOT NULL,
    failures   INTEGER NOT NULL,
    PRIMARY KEY (rev, topic)
) WITHOUT ROWID;
