-- threatintel PostgreSQL store, migration 7: reverse passive DNS and network registrations
-- (the same tables as SQLite's schema_8.sql; see there). `resolved_names` is filled from each
-- staged batch of resolutions.

CREATE TABLE resolved_names (
    ip  bytea NOT NULL CHECK (octet_length(ip) IN (4, 16)),
    rev text  COLLATE "C" NOT NULL,
    PRIMARY KEY (ip, rev)
);

INSERT INTO resolved_names (ip, rev)
SELECT r.ip, n.rev FROM resolutions r JOIN names n ON n.id = r.name_id
ON CONFLICT DO NOTHING;

CREATE TABLE network_registrations (
    network      bytea       NOT NULL CHECK (octet_length(network) IN (4, 16)),
    prefix       smallint    NOT NULL,
    range        text        NOT NULL,
    name         text,
    organisation text,
    country      text,
    abuse_email  text,
    observed_at  timestamptz NOT NULL,
    PRIMARY KEY (network, prefix)
);
