-- Tintype's photo library, SQLite schema 1: photos (one per tenant and content), their
-- renditions, albums and their members, and recorded near-duplicate pairs. Every table
-- has its tenant; every lookup is scoped by it. Times are unix milliseconds.

CREATE TABLE photos (
    seq                  INTEGER PRIMARY KEY,         -- the rowid, kept by VACUUM (search refers to it)
    id                   TEXT    NOT NULL UNIQUE,     -- pho_<uuidv7>
    tenant               TEXT    NOT NULL,
    upload_id            TEXT    NOT NULL,            -- the catalog's upl_…, by value
    sha256               TEXT    NOT NULL,            -- hex SHA-256 of the original
    file_name            TEXT,
    content_type         TEXT    NOT NULL,
    bytes                INTEGER NOT NULL,
    format               TEXT    NOT NULL,
    width                INTEGER NOT NULL,            -- upright
    height               INTEGER NOT NULL,
    taken_at             INTEGER,
    taken_offset_minutes INTEGER,
    make                 TEXT,
    model                TEXT,
    lens                 TEXT,
    exposure_time        REAL,
    f_number             REAL,
    iso                  INTEGER,
    focal_length_mm      REAL,
    gps_latitude         REAL,
    gps_longitude        REAL,
    gps_altitude         REAL,
    orientation          INTEGER,
    phash                INTEGER,                     -- the u64's bits as a signed integer
    phash_q0             INTEGER,                     -- its four 16-bit quarters, low first
    phash_q1             INTEGER,
    phash_q2             INTEGER,
    phash_q3             INTEGER,
    phash_params         TEXT,
    state                TEXT    NOT NULL CHECK (state IN ('processing', 'ready')),
    sort_at              INTEGER NOT NULL,            -- taken_at, else created_at
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (tenant, sha256)
);

-- The timeline: one ordered walk per page, only ready photos.
CREATE INDEX photos_timeline ON photos (tenant, sort_at DESC, id DESC) WHERE state = 'ready';
-- Similarity (multi-index hashing): two hashes within d bits agree within d/4 bits on at
-- least one quarter, so a search looks up the quarters near the hash's own, one index
-- per quarter. A search too wide for that scans (phash, id) of the tenant from the
-- covering index instead.
CREATE INDEX photos_phash_q0 ON photos (tenant, phash_q0);
CREATE INDEX photos_phash_q1 ON photos (tenant, phash_q1);
CREATE INDEX photos_phash_q2 ON photos (tenant, phash_q2);
CREATE INDEX photos_phash_q3 ON photos (tenant, phash_q3);
CREATE INDEX photos_phash ON photos (tenant, phash, id) WHERE phash IS NOT NULL;

-- Search (`q` of three characters or more): a trigram index of the four searched
-- columns, kept by triggers (the columns never change, but an update would be followed).
-- It narrows the rows a search looks at; the LIKE filter still decides.
CREATE VIRTUAL TABLE photos_search USING fts5 (
    file_name, make, model, lens, content = 'photos', content_rowid = 'seq', tokenize = 'trigram'
);

CREATE TRIGGER photos_search_insert AFTER INSERT ON photos BEGIN
    INSERT INTO photos_search (rowid, file_name, make, model, lens)
    VALUES (new.seq, new.file_name, new.make, new.model, new.lens);
END;

CREATE TRIGGER photos_search_delete AFTER DELETE ON photos BEGIN
    INSERT INTO photos_search (photos_search, rowid, file_name, make, model, lens)
    VALUES ('delete', old.seq, old.file_name, old.make, old.model, old.lens);
END;

CREATE TRIGGER photos_search_update AFTER UPDATE OF file_name, make, model, lens ON photos BEGIN
    INSERT INTO photos_search (photos_search, rowid, file_name, make, model, lens)
    VALUES ('delete', old.seq, old.file_name, old.make, old.model, old.lens);
    INSERT INTO photos_search (rowid, file_name, make, model, lens)
    VALUES (new.seq, new.file_name, new.make, new.model, new.lens);
END;

CREATE TABLE photo_renditions (
    photo_id   TEXT    NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    tenant     TEXT    NOT NULL,
    size       INTEGER NOT NULL,                      -- longest edge asked for
    format     TEXT    NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    etag       TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (photo_id, size, format)
) WITHOUT ROWID;

CREATE TABLE albums (
    id         TEXT    PRIMARY KEY,                   -- alb_<uuidv7>
    tenant     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant, name)
);

CREATE TABLE album_photos (
    album_id TEXT    NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    photo_id TEXT    NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    tenant   TEXT    NOT NULL,
    sort_at  INTEGER NOT NULL,                        -- the photo's (never changes), copied
    added_at INTEGER NOT NULL,
    PRIMARY KEY (album_id, photo_id)
) WITHOUT ROWID;

-- An album's timeline (and its cover) is one ordered walk here.
CREATE INDEX album_photos_timeline ON album_photos (album_id, sort_at DESC, photo_id DESC);
CREATE INDEX album_photos_photo ON album_photos (photo_id);

CREATE TABLE near_duplicates (
    a          TEXT    NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    b          TEXT    NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    tenant     TEXT    NOT NULL,
    distance   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
) WITHOUT ROWID;

CREATE INDEX near_duplicates_b ON near_duplicates (b);
CREATE INDEX near_duplicates_listing ON near_duplicates (tenant, a, b);
