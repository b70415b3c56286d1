-- threatintel store, schema version 6 (applied after schema_5.sql): files known by their
-- hashes, and dated records about them.
--
-- * `files`: one row per file, with the first hash of each kind a record linked to it.
-- * `file_hashes`: every linked hash (the raw digest, 16, 20 or 32 bytes) with its file, so a
--   lookup by any of a file's hashes is one probe.
-- * `file_records`: the records, keyed by identity with the file first; `file_names` is a JSON
--   array of strings.
CREATE TABLE files (
    id     INTEGER PRIMARY KEY,
    md5    BLOB CHECK (md5 IS NULL OR length(md5) = 16),
    sha1   BLOB CHECK (sha1 IS NULL OR length(sha1) = 20),
    sha256 BLOB CHECK (sha256 IS NULL OR length(sha256) = 32)
);

CREATE TABLE file_hashes (
    hash    BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) IN (16, 20, 32)),
    file_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE file_records (
    file_id     INTEGER NOT NULL,
    source_id   INTEGER NOT NULL,
    threat_type TEXT    NOT NULL,
    label       TEXT    NOT NULL DEFAULT '',
    risk        INTEGER NOT NULL CHECK (risk BETWEEN 0 AND 3),
    scenario    TEXT,
    file_type   TEXT,
    size        INTEGER CHECK (size >= 0),
    file_names  TEXT    NOT NULL DEFAULT '[]',
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    confidence  INTEGER CHECK (confidence BETWEEN 0 AND 100),
    reference   TEXT,
    sightings   INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (file_id, source_id, threat_type, label)
) WITHOUT ROWID;
