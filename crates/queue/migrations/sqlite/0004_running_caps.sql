-- Fair claims (plans): a job carries its tenant's cap on running jobs, copied from the
-- plan at enqueue (NULL: none); a claim passes over a job whose tenant runs that many.
ALTER TABLE jobs ADD COLUMN running_cap INTEGER;
