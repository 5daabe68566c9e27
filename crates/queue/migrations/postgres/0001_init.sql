-- Tintype's job engine, PostgreSQL schema 1: the SQLite schema's twin (timestamps are
-- bigint unix milliseconds, documents JSON text kept verbatim), plus the trigger that
-- publishes job changes with NOTIFY so every process sees every other's progress.

CREATE TABLE jobs (
    id                  text             PRIMARY KEY,  -- job_<uuidv7>: sorts by creation
    tenant              text             NOT NULL,
    kind                text             NOT NULL,
    queue               text             NOT NULL,
    priority            integer          NOT NULL DEFAULT 0,
    state               text             NOT NULL CHECK (state IN
                            ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
    step                text,
    progress            double precision NOT NULL DEFAULT 0,
    message             text,
    attempt             integer          NOT NULL DEFAULT 0,
    max_attempts        integer          NOT NULL CHECK (max_attempts >= 1),
    run_at              bigint           NOT NULL,
    lease_token         text,
    lease_owner         text,
    lease_expires_at    bigint,
    cancel_requested    boolean          NOT NULL DEFAULT false,
    idempotency_key     text,
    fingerprint         text             NOT NULL,
    input               text             NOT NULL,     -- JSON
    output              text,                          -- JSON JobOutput
    error               text,                          -- JSON JobFailure
    correlation_id      text,
    artifact_ttl_ms     bigint,                        -- NULL: the engine's default
    created_at          bigint           NOT NULL,
    started_at          bigint,
    finished_at         bigint,
    updated_at          bigint           NOT NULL,
    artifacts_expire_at bigint,
    UNIQUE (tenant, idempotency_key)                   -- NULL keys never collide
);

-- claim: queued rows in claim order (queue carried in the index for the filter); only
-- queued rows are indexed, so it stays small however long the history grows.
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, id) INCLUDE (queue) WHERE state = 'queued';
-- rescue_expired: running jobs by lease expiry.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
-- due_for_expiry: succeeded jobs by artifact expiry.
CREATE INDEX jobs_artifacts ON jobs (artifacts_expire_at) WHERE state = 'succeeded';
-- list: newest first per tenant, and per state (the dead-letter list).
CREATE INDEX jobs_tenant ON jobs (tenant, id);
CREATE INDEX jobs_state ON jobs (state, id);

-- Every visible change of a job (not heartbeats) is sent as a JobEvent document on the
-- channel `tintype_jobs_<schema>`, delivered to listeners when its transaction commits.
CREATE FUNCTION tintype_notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tintype_jobs_' || TG_TABLE_SCHEMA, json_build_object(
        'id', NEW.id, 'tenant', NEW.tenant, 'queue', NEW.queue, 'state', NEW.state,
        'step', NEW.step, 'progress', NEW.progress, 'message', left(NEW.message, 2000),
        'attempt', NEW.attempt)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION tintype_notify_job();

CREATE TRIGGER jobs_notify_update AFTER UPDATE ON jobs
    FOR EACH ROW
    WHEN ((OLD.state, OLD.step, OLD.progress, OLD.message, OLD.attempt, OLD.cancel_requested)
          IS DISTINCT FROM
          (NEW.state, NEW.step, NEW.progress, NEW.message, NEW.attempt, NEW.cancel_requested))
    EXECUTE FUNCTION tintype_notify_job();
