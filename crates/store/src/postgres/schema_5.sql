-- Migration 5: files known by their hashes, and dated records about them (the SQLite store's
-- schema_6.sql). `file_hashes` links every hash (the raw digest) to its file, so a lookup by
-- any of a file's hashes is one probe; `files` holds the first hash of each kind linked to it;
-- `file_names` is a JSON array of strings.
CREATE TABLE files (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    md5    bytea CHECK (octet_length(md5) = 16),
    sha1   bytea CHECK (octet_length(sha1) = 20),
    sha256 bytea CHECK (octet_length(sha256) = 32)
);

CREATE TABLE file_hashes (
    hash    bytea  PRIMARY KEY CHECK (octet_length(hash) IN (16, 20, 32)),
    file_id bigint NOT NULL
);

CREATE TABLE file_records (
    file_id     bigint      NOT NULL,
    source_id   integer     NOT NULL,
    threat_type text        COLLATE "C" NOT NULL,
    label       text        COLLATE "C" NOT NULL DEFAULT '',
    risk        smallint    NOT NULL CHECK (risk BETWEEN 0 AND 3),
    scenario    text,
    file_type   text,
    size        bigint      CHECK (size >= 0),
    file_names  text        NOT NULL DEFAULT '[]',
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    confidence  smallint    CHECK (confidence BETWEEN 0 AND 100),
    reference   text,
    sightings   bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (file_id, source_id, threat_type, label)
);
