-- Admission counts a tenant's queued and running jobs on every capped enqueue: index
-- just those rows, so the count never walks the tenant's history.
CREATE INDEX jobs_active ON jobs (tenant) WHERE state IN ('queued', 'running');
