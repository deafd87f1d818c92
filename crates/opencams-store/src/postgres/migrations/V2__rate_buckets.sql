-- Token buckets every node shares (the API's per-account limits, each number's throughput, the
-- per-(number, user) pair rate): tokens held as of at_ms (unix ms). Rows idle for over 10
-- minutes are deleted by the nodes now and then; a missing bucket is a full one. No index on
-- at_ms: every take updates it (an index would end HOT updates), and the sweep is rare.
-- UNLOGGED: no WAL and no flush per take; a database crash empties it, which refills every
-- bucket once.
CREATE UNLOGGED TABLE rate_buckets (
    key TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    at_ms BIGINT NOT NULL
);
