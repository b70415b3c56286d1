-- threatintel store, schema version 9 (applied after schema_8.sql): maintained row counts, so
-- that `stats()`, `sources()` and the dashboard's `overview()` read a few rows rather than
-- count whole tables.
--
-- * `row_counts`: one row, the rows of each counted table. The writer keeps what its
--   transaction added in memory and adds it here once, at its commit (in the same
--   transaction: a rolled-back write leaves the counts as they were). Only rows added count;
--   nothing is deleted, and a re-import of a record updates it in place.
-- * `sources.indicators`: the indicator records of each source, added to at the same commit
--   (with `last_import`).
-- * `indicator_counts`: the indicator records per (threat type, label), from which the
--   dashboard sums its records per threat type and its top families.
--
-- Both start from one count of the tables as they are, so an existing store upgrades to
-- exact counts.

CREATE TABLE row_counts (
    names             INTEGER NOT NULL,
    sources           INTEGER NOT NULL,
    indicators        INTEGER NOT NULL,
    allowlists        INTEGER NOT NULL,
    allowlist_entries INTEGER NOT NULL,
    whois             INTEGER NOT NULL,
    certificates      INTEGER NOT NULL,
    resolutions       INTEGER NOT NULL,
    ip_intel          INTEGER NOT NULL,
    events            INTEGER NOT NULL
);

INSERT INTO row_counts (names, sources, indicators, allowlists, allowlist_entries, whois,
                        certificates, resolutions, ip_intel, events)
SELECT (SELECT count(*) FROM names), (SELECT count(*) FROM sources),
       (SELECT count(*) FROM indicators), (SELECT count(*) FROM allowlists),
       (SELECT count(*) FROM allowlist_entries), (SELECT count(*) FROM whois),
       (SELECT count(*) FROM certificates), (SELECT count(*) FROM resolutions),
       (SELECT count(*) FROM ip_intel), (SELECT count(*) FROM events);

ALTER TABLE sources ADD COLUMN indicators INTEGER NOT NULL DEFAULT 0;

-- One pass over the indicators (their key does not lead with the source).
UPDATE sources SET indicators = c.n
FROM (SELECT source_id, count(*) AS n FROM indicators GROUP BY source_id) AS c
WHERE c.source_id = sources.id;

CREATE TABLE indicator_counts (
    threat_type TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    indicators  INTEGER NOT NULL,
    PRIMARY KEY (threat_type, label)
) WITHOUT ROWID;

INSERT INTO indicator_counts (threat_type, label, indicators)
SELECT threat_type, label, count(*) FROM indicators GROUP BY threat_type, label;
