-- Tintype's job engine, SQLite schema 1. Timestamps are INTEGER unix milliseconds (the
-- PostgreSQL driver mirrors them as bigint); documents are JSON text.

CREATE TABLE jobs (
    id                  TEXT    PRIMARY KEY,          -- job_<uuidv7>: sorts by creation
    tenant              TEXT    NOT NULL,
    kind                TEXT    NOT NULL,
    queue               TEXT    NOT NULL,
    priority            INTEGER NOT NULL DEFAULT 0,
    state               TEXT    NOT NULL CHECK (state IN
                            ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
    step                TEXT,
    progress            REAL    NOT NULL DEFAULT 0,
    message             TEXT,
    attempt             INTEGER NOT NULL DEFAULT 0,
    max_attempts        INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_at              INTEGER NOT NULL,
    lease_token         TEXT,
    lease_owner         TEXT,
    lease_expires_at    INTEGER,
    cancel_requested    INTEGER NOT NULL DEFAULT 0,
    idempotency_key     TEXT,
    fingerprint         TEXT    NOT NULL,
    input               TEXT    NOT NULL,             -- JSON
    output              TEXT,                         -- JSON JobOutput
    error               TEXT,                         -- JSON JobFailure
    correlation_id      TEXT,
    artifact_ttl_ms     INTEGER,                      -- NULL: the engine's default
    created_at          INTEGER NOT NULL,
    started_at          INTEGER,
    finished_at         INTEGER,
    updated_at          INTEGER NOT NULL,
    artifacts_expire_at INTEGER,
    UNIQUE (tenant, idempotency_key)                  -- NULL keys never collide
);

-- claim: per queue, in claim order; only queued rows are indexed, so it stays small.
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';
-- rescue_expired: running jobs by lease expiry.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
-- due_for_expiry: succeeded jobs by artifact expiry.
CREATE INDEX jobs_artifacts ON jobs (artifacts_expire_at) WHERE state = 'succeeded';
-- list: newest first per tenant, and per state (the dead-letter list).
CREATE INDEX jobs_tenant ON jobs (tenant, id);
CREATE INDEX jobs_state ON jobs (state, id);
