-- 0003: what the abuse limits and the admin's view need.

-- Token buckets for rate limits, one row per key (e.g. "submit:<principal>"), shared by
-- every process on this database. `tokens` is the balance at `at` (microseconds).
CREATE TABLE buckets (
    key TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    at INTEGER NOT NULL
);

-- The per-principal cap counts a principal's unfinished jobs: a partial index keeps that
-- count proportional to those jobs, however many finished ones are kept. `owner <> ''`
-- (the anonymous principal is never capped) keeps the claim query, which says nothing
-- about owners, from choosing this index over its own ordered one.
CREATE INDEX jobs_owner_active ON jobs (owner)
    WHERE status IN ('queued', 'processing') AND owner <> '';

-- An admin lists every principal's jobs, newest first.
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
