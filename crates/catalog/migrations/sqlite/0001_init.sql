-- Tintype's catalog, SQLite schema 1: tenants' API keys (hashes only) and uploads
-- (content-addressed per tenant). Release 0.1 created these tables in the queue's first
-- migration; a database from it adopts this step without running it.

CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,                   -- key_<uuidv7>
    tenant     TEXT    NOT NULL,
    plan       TEXT    NOT NULL,
    key_hash   TEXT    NOT NULL UNIQUE,               -- hex SHA-256 of the secret
    label      TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE uploads (
    id           TEXT    PRIMARY KEY,                 -- upl_<uuidv7>
    tenant       TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    bytes        INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    filename     TEXT,
    blob_key     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (tenant, sha256)
);
