-- Daily quotas (plans): each tenant's jobs per quota class per UTC day, counted by the
-- enqueue in the transaction that inserts the job; a job remembers what it was counted
-- against, so that a failure through the server's fault can give it back once.
CREATE TABLE quota_usage (
    tenant TEXT NOT NULL,
    day TEXT NOT NULL,
    class TEXT NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (tenant, day, class)
) WITHOUT ROWID;
ALTER TABLE jobs ADD COLUMN quota_class TEXT;
ALTER TABLE jobs ADD COLUMN quota_day TEXT;
