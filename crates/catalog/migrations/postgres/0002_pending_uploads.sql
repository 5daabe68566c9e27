-- Tintype's catalog, PostgreSQL schema 2: the SQLite schema's twin (presigned uploads
-- not yet confirmed).

CREATE TABLE pending_uploads (
    id           text   PRIMARY KEY,
    tenant       text   NOT NULL,
    sha256       text   NOT NULL,
    bytes        bigint NOT NULL,
    content_type text   NOT NULL,
    filename     text,
    blob_key     text   NOT NULL,
    expires_at   bigint NOT NULL,
    created_at   bigint NOT NULL
);

CREATE INDEX pending_uploads_expiry ON pending_uploads (expires_at);
