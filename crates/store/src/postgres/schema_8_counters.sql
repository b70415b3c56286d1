-- threatintel PostgreSQL store, migration 8: maintained row counts (the same as SQLite's
-- schema_9.sql; see there). `row_counts` is one row; the writer adds what its transaction added
-- at its commit, `sources.indicators` with each source's `last_import`, and `indicator_counts`
-- per (threat type, label).

CREATE TABLE row_counts (
    names             bigint NOT NULL,
    sources           bigint NOT NULL,
    indicators        bigint NOT NULL,
    allowlists        bigint NOT NULL,
    allowlist_entries bigint NOT NULL,
    whois             bigint NOT NULL,
    certificates      bigint NOT NULL,
    resolutions       bigint NOT NULL,
    ip_intel          bigint NOT NULL,
    events            bigint NOT NULL
);

INSERT INTO row_counts (names, sources, indicators, allowlists, allowlist_entries, whois,
                        certificates, resolutions, ip_intel, events)
SELECT (SELECT count(*) FROM names), (SELECT count(*) FROM sources),
       (SELECT count(*) FROM indicators), (SELECT count(*) FROM allowlists),
       (SELECT count(*) FROM allowlist_entries), (SELECT count(*) FROM whois),
       (SELECT count(*) FROM certificates), (SELECT count(*) FROM resolutions),
       (SELECT count(*) FROM ip_intel), (SELECT count(*) FROM events);

ALTER TABLE sources ADD COLUMN indicators bigint NOT NULL DEFAULT 0;

UPDATE sources SET indicators = c.n
FROM (SELECT source_id, count(*) AS n FROM indicators GROUP BY source_id) AS c
WHERE c.source_id = sources.id;

CREATE TABLE indicator_counts (
    threat_type text   COLLATE "C" NOT NULL,
    label       text   COLLATE "C" NOT NULL,
    indicators  bigint NOT NULL,
    PRIMARY KEY (threat_type, label)
);

INSERT INTO indicator_counts (threat_type, label, indicators)
SELECT threat_type, label, count(*) FROM indicators GROUP BY threat_type, label;
