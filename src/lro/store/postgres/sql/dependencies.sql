-- Dependencies at insert (lro.store.postgres.settle): what a new job with depends_on
-- becomes, in its inserting transaction. Later endings: lro_release_dependents.

-- name: lock_dependencies
-- The row lock conflicts with the one an ending takes: an ending in flight is waited for
-- (and its committed status read), and one that comes later waits for this insert to
-- commit, then re-reads the row with has_dependents set, so its trigger runs and sees
-- the new dependent (0015). Either way nothing is missed. Taken in id order, so two
-- inserts that share dependencies queue behind each other instead of deadlocking; only
-- a job's first dependent writes the flag.
WITH locked AS (
    SELECT id, status, expires_at, finished_at, has_dependents FROM lro_jobs
    WHERE id = ANY(:ids::text[])
    ORDER BY id
    FOR NO KEY UPDATE
), flagged AS (
    UPDATE lro_jobs j SET has_dependents = true
    FROM locked l
    WHERE j.id = l.id AND NOT l.has_dependents
)
SELECT id, status, expires_at, finished_at FROM locked

-- name: wait_on
-- Part of the insert itself (same transaction, version 1): no version, no event.
UPDATE lro_jobs SET waiting_on = :waiting_on::jsonb, run_at = :waiting_run_at
WHERE id = :id

-- name: fail_dependent
WITH failed AS (
    UPDATE lro_jobs
    SET status = 'failed', error = :error::jsonb, finished_at = :now, updated_at = :now,
        expires_at = :expires_at, version = version + 1
    WHERE id = :id AND status = 'queued'
    RETURNING *
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'failed', status, progress_pct, step, attempt, :now FROM failed
)
SELECT * FROM failed
