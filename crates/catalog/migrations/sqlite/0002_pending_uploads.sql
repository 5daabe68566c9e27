-- Tintype's catalog, SQLite schema 2: uploads a client was given a presigned PUT for
-- (`POST /v1/uploads/presign`) and has not confirmed yet. Confirming files the upload
-- under the same id; the sweeper removes rows past their expiry.

CREATE TABLE pending_uploads (
    id           TEXT    PRIMARY KEY,                 -- upl_<uuidv7>, kept on confirm
    tenant       TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,                    -- what the PUT must hash to
    bytes        INTEGER NOT NULL,                    -- and its size
    content_type TEXT    NOT NULL,
    filename     TEXT,
    blob_key     TEXT    NOT NULL,                    -- where the PUT lands
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE INDEX pending_uploads_expiry ON pending_uploads (expires_at);
