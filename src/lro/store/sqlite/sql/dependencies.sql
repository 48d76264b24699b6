-- Dependencies at insert (lro.store.sqlite.settle): what a new job with depends_on
-- becomes, in its inserting transaction. Later endings: the trigger in schema.sql.

-- name: dependency_states
SELECT id, status, expires_at, finished_at FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids))

-- name: wait_on
-- Part of the insert itself (same transaction, version 1): no version, no event.
UPDATE jobs SET waiting_on = :waiting_on, run_at = :waiting_run_at WHERE id = :id

-- name: fail_dependent
UPDATE jobs
SET status = 'failed', error = :error, finished_at = :now, updated_at = :now,
    expires_at = :expires_at, version = version + 1
WHERE id = :id AND status = 'queued'
