-- threatintel PostgreSQL store, migration 4: DNS relations and the enricher's lookup record
-- (the same tables as SQLite's schema_5.sql; see there).

CREATE TABLE dns_relations (
    name_id    bigint      NOT NULL,
    kind       text        COLLATE "C" NOT NULL CHECK (kind IN ('CNAME', 'NS', 'MX')),
    target     text        COLLATE "C" NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    count      bigint      NOT NULL,
    source     text        NOT NULL,
    PRIMARY KEY (name_id, kind, target)
);

CREATE TABLE lookups (
    rev        text        COLLATE "C" NOT NULL,
    topic      text        COLLATE "C" NOT NULL,
    kind       text        NOT NULL,
    at         timestamptz NOT NULL,
    server     text        NOT NULL,
    outcome    text        NOT NULL,
    error      text,
    records    bigint      NOT NULL,
    latency_ms bigint      NOT NULL,
    next_due   timestamptz NOT NULL,
    failures   integer     NOT NULL,
    PRIMARY KEY (rev, topic)
);
