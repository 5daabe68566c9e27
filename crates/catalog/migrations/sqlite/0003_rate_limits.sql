-- Rate limits (plans): one row per key and route class holding the GCRA's theoretical
-- arrival time (ms since the epoch), so the limit holds across every api process.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL
);
