-- Tintype's photo library, PostgreSQL schema 1: the SQLite schema's twin. Ids and names
-- compare bytewise (COLLATE "C"), as on SQLite, so keyset pages and `a < b` agree with
-- the drivers' own ordering. Integers are bigint, so one row decoder serves both.

CREATE TABLE photos (
    id                   text COLLATE "C" PRIMARY KEY,  -- pho_<uuidv7>
    tenant               text   NOT NULL,
    upload_id            text   NOT NULL,               -- the catalog's upl_…, by value
    sha256               text   NOT NULL,
    file_name            text,
    content_type         text   NOT NULL,
    bytes                bigint NOT NULL,
    format               text   NOT NULL,
    width                bigint NOT NULL,
    height               bigint NOT NULL,
    taken_at             bigint,
    taken_offset_minutes bigint,
    make                 text,
    model                text,
    lens                 text,
    exposure_time        double precision,
    f_number             double precision,
    iso                  bigint,
    focal_length_mm      double precision,
    gps_latitude         double precision,
    gps_longitude        double precision,
    gps_altitude         double precision,
    orientation          bigint,
    phash                bigint,                        -- the u64's bits
    phash_q0             bigint,                        -- its 16-bit quarters, low first
    phash_q1             bigint,
    phash_q2             bigint,
    phash_q3             bigint,
    phash_params         text,
    state                text   NOT NULL CHECK (state IN ('processing', 'ready')),
    sort_at              bigint NOT NULL,
    created_at           bigint NOT NULL,
    updated_at           bigint NOT NULL,
    UNIQUE (tenant, sha256)
);

CREATE INDEX photos_timeline ON photos (tenant, sort_at DESC, id DESC) WHERE state = 'ready';
-- Similarity: one index per hash quarter (multi-index hashing, as on SQLite), and
-- (phash, id) for searches too wide for it.
CREATE INDEX photos_phash_q0 ON photos (tenant, phash_q0);
CREATE INDEX photos_phash_q1 ON photos (tenant, phash_q1);
CREATE INDEX photos_phash_q2 ON photos (tenant, phash_q2);
CREATE INDEX photos_phash_q3 ON photos (tenant, phash_q3);
CREATE INDEX photos_phash ON photos (tenant, phash, id) WHERE phash IS NOT NULL;

CREATE TABLE photo_renditions (
    photo_id   text COLLATE "C" NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    tenant     text   NOT NULL,
    size       bigint NOT NULL,
    format     text   NOT NULL,
    width      bigint NOT NULL,
    height     bigint NOT NULL,
    bytes      bigint NOT NULL,
    etag       text   NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (photo_id, size, format)
);

CREATE TABLE albums (
    id         text COLLATE "C" PRIMARY KEY,            -- alb_<uuidv7>
    tenant     text   NOT NULL,
    name       text COLLATE "C" NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    UNIQUE (tenant, name)
);

CREATE TABLE album_photos (
    album_id text COLLATE "C" NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    photo_id text COLLATE "C" NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    tenant   text   NOT NULL,
    sort_at  bigint NOT NULL,
    added_at bigint NOT NULL,
    PRIMARY KEY (album_id, photo_id)
);

CREATE INDEX album_photos_timeline ON album_photos (album_id, sort_at DESC, photo_id DESC);
CREATE INDEX album_photos_photo ON album_photos (photo_id);

CREATE TABLE near_duplicates (
    a          text COLLATE "C" NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    b          text COLLATE "C" NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    tenant     text   NOT NULL,
    distance   bigint NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);

CREATE INDEX near_duplicates_b ON near_duplicates (b);
CREATE INDEX near_duplicates_listing ON near_duplicates (tenant, a, b);

-- Search (`q`, ILIKE '%…%' on four columns) through a trigram index when pg_trgm is
-- there or can be made: found in whatever schema holds it, else created in `public`
-- (never in this component's schema, whose drop would take the extension, and every
-- index on it, with it). Without it, search filters the timeline walk instead.
DO $$
DECLARE
    trgm text;
BEGIN
    SELECT n.nspname INTO trgm
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    IF trgm IS NULL THEN
        BEGIN
            CREATE EXTENSION pg_trgm SCHEMA public;
            trgm := 'public';
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'pg_trgm unavailable (%): photo search will not use an index', SQLERRM;
            RETURN;
        END;
    END IF;
    EXECUTE format(
        'CREATE INDEX photos_search ON photos USING gin '
        '(file_name %1$I.gin_trgm_ops, make %1$I.gin_trgm_ops, model %1$I.gin_trgm_ops, lens %1$I.gin_trgm_ops)',
        trgm);
END
$$;
