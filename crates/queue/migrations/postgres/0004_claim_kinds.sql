-- Tintype's job engine, PostgreSQL schema 4: the claim can be limited to the job kinds a
-- worker runs (a GPU worker claims only what it has models for), `p_kinds` NULL meaning
-- any kind. Same function otherwise as in migration 2 (same settings, same plan: the
-- kind is a filter on the rows the ordered walk of `jobs_claim` visits).

DROP FUNCTION tintype_claim(text, text, bigint, bigint, bigint, text[]);

CREATE FUNCTION tintype_claim(p_nonce text, p_owner text, p_expires_at bigint, p_now bigint,
                              p_limit bigint, p_queues text[], p_kinds text[])
RETURNS SETOF jobs
LANGUAGE plpgsql
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_seqscan = off
SET jit = off
AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    WITH next AS (
        SELECT id FROM jobs
        WHERE state = 'queued' AND queue = ANY(p_queues) AND run_at <= p_now
          AND (p_kinds IS NULL OR kind = ANY(p_kinds))
        ORDER BY priority DESC, run_at, id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED)
    UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1,
        lease_token = p_nonce || ':' || jobs.id, lease_owner = p_owner,
        lease_expires_at = p_expires_at, started_at = p_now, updated_at = p_now,
        step = NULL, progress = 0, message = NULL
    FROM next WHERE jobs.id = next.id
    RETURNING jobs.*;
END
$$;
