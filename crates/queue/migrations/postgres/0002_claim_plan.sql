-- Tintype's job engine, PostgreSQL schema 2: the claim as a function whose planner
-- settings force the ordered walk of `jobs_claim` that stops after LIMIT rows.
--
-- Why: a queue table's statistics are usually stale in the way that hurts most. Taken
-- while the table was nearly empty, they promise one queued row, and the planner then
-- claims with a bitmap scan of *every* queued row plus a sort (measured: 15-75 ms per
-- claim over 20,000 queued jobs, against well under 1 ms for the ordered index scan).
-- The settings below are local to the function call (and the triggers its UPDATE fires:
-- hence `jit = off`, since the disabled plan types' penalty costs would otherwise make
-- PostgreSQL JIT-compile the trigger's little queries, 250 ms each). The claim also
-- commits asynchronously (`synchronous_commit` off for its transaction): after a
-- database crash the claims of its last moments are forgotten, so those jobs are
-- queued again and the workers holding them find their leases refused by the fence;
-- a job's outcome, written synchronously, can never be lost that way (WAL is flushed
-- in order, so a durable outcome implies a durable claim).
--
-- PL/pgSQL rather than SQL: it keeps the statement's plan for the session, where an SQL
-- function with settings would parse and plan its body on every call.

CREATE FUNCTION tintype_claim(p_nonce text, p_owner text, p_expires_at bigint, p_now bigint,
                              p_limit bigint, p_queues text[])
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
