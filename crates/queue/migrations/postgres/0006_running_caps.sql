-- Tintype's job engine, PostgreSQL schema 6: fair claims. A job carries its tenant's cap
-- on running jobs (copied from the plan at enqueue; NULL: none), and the claim passes over
-- a job whose tenant already runs that many, counting the rows it claims at once: within
-- a window of the best `limit + 64` claimable rows (the `jobs_claim` index walk),
-- each tenant's rows are ranked, and a row is taken only while the tenant's running jobs
-- plus its rank stay within the cap. The window's rows are locked as they are read
-- (`FOR UPDATE SKIP LOCKED`, so claimers running at the same instant walk past each
-- other's windows instead of choosing the same rows); those not taken are released at
-- the end of the statement's transaction. Claimers at the same instant may together
-- pass a cap by the rows they took at once (each counts running jobs before the others
-- commit); one claimer never does.

ALTER TABLE jobs ADD COLUMN running_cap INTEGER;

DROP FUNCTION tintype_claim(text, text, bigint, bigint, bigint, text[], text[]);

CREATE FUNCTION tintype_claim(p_nonce text, p_owner text, p_expires_at bigint, p_now bigint,
                              p_limit bigint, p_queues text[], p_kinds text[])
RETURNS SETOF jobs
LANGUAGE plpgsql
SET enable_bitmapscan = off
SET enable_seqscan = off
SET jit = off
AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    WITH window_rows AS (
        SELECT id, tenant, priority, run_at, running_cap FROM jobs
        WHERE state = 'queued' AND queue = ANY(p_queues) AND run_at <= p_now
          AND (p_kinds IS NULL OR kind = ANY(p_kinds))
        ORDER BY priority DESC, run_at, id
        LIMIT p_limit + 64
        FOR UPDATE SKIP LOCKED),
    busy AS (
        SELECT tenant, count(*) AS n FROM jobs
        WHERE state = 'running'
          AND tenant IN (SELECT w.tenant FROM window_rows w WHERE w.running_cap IS NOT NULL)
        GROUP BY tenant),
    ranked AS (
        SELECT w.id, w.priority, w.run_at, w.running_cap,
               COALESCE(b.n, 0) + row_number() OVER (PARTITION BY w.tenant
                                                      ORDER BY w.priority DESC, w.run_at, w.id) AS nth
        FROM window_rows w LEFT JOIN busy b ON b.tenant = w.tenant),
    fair AS (
        SELECT r.id FROM ranked r
        WHERE r.running_cap IS NULL OR r.nth <= r.running_cap
        ORDER BY r.priority DESC, r.run_at, r.id
        LIMIT p_limit),
    next AS (SELECT f.id FROM fair f)
    UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1,
        lease_token = p_nonce || ':' || jobs.id, lease_owner = p_owner,
        lease_expires_at = p_expires_at, started_at = p_now, updated_at = p_now,
        step = NULL, progress = 0, message = NULL
    FROM next WHERE jobs.id = next.id
    RETURNING jobs.*;
END
$$;
