-- Tintype's catalog, PostgreSQL schema 1: the SQLite schema's twin. Release 0.1 created
-- these tables in the queue's first migration; a database from it adopts this step.

CREATE TABLE api_keys (
    id         text   PRIMARY KEY,                     -- key_<uuidv7>
    tenant     text   NOT NULL,
    plan       text   NOT NULL,
    key_hash   text   NOT NULL UNIQUE,                 -- hex SHA-256 of the secret
    label      text,
    created_at bigint NOT NULL,
    revoked_at bigint
);

CREATE TABLE uploads (
    id           text   PRIMARY KEY,                   -- upl_<uuidv7>
    tenant       text   NOT NULL,
    sha256       text   NOT NULL,
    bytes        bigint NOT NULL,
    content_type text   NOT NULL,
    filename     text,
    blob_key     text   NOT NULL,
    created_at   bigint NOT NULL,
    UNIQUE (tenant, sha256)
);
