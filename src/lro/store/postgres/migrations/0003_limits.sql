-- 0003: what the abuse limits and the admin's view need.

-- Token buckets for rate limits, one row per key (e.g. "submit:<principal>"), shared by
-- every process on this database, so a principal has one budget across API processes.
CREATE TABLE lro_buckets (
    key text PRIMARY KEY,
    tokens double precision NOT NULL,
    at timestamptz NOT NULL
);

-- The per-principal cap counts a principal's unfinished jobs: a partial index keeps that
-- count proportional to those jobs, however many finished ones are kept. `owner <> ''`
-- (the anonymous principal is never capped) keeps the claim query, which says nothing
-- about owners, from choosing this index over its own ordered one.
CREATE INDEX lro_jobs_owner_active ON lro_jobs (owner)
    WHERE status IN ('queued', 'processing') AND owner <> '';

-- An admin lists every principal's jobs, newest first.
CREATE INDEX lro_jobs_created ON lro_jobs (created_at DESC, id DESC);
