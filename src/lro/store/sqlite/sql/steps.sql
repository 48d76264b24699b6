-- Long-job queries (lro.store.sqlite.steps); see migrations/0009_steps.sql. Each write
-- runs under BEGIN IMMEDIATE after `fence`, so the lease cannot change between the
-- check and the write.

-- name: fence
SELECT attempt, status, version FROM jobs
WHERE id = :job_id AND status = 'processing' AND lease_token = :token

-- name: resume_checkpoint
SELECT value FROM job_checkpoints WHERE job_id = :job_id

-- name: resume_partial_bytes
SELECT coalesce(sum(length(data)), 0) AS bytes FROM job_partials WHERE job_id = :job_id

-- name: resume_steps
SELECT name, result FROM job_steps WHERE job_id = :job_id AND status = 'completed'

-- name: list_steps
SELECT name, status, attempt, result, started_at, finished_at FROM job_steps
WHERE job_id = :job_id
ORDER BY ord

-- name: start_step
-- A completed step is never run again, so it is never reset either.
INSERT INTO job_steps (job_id, name, ord, status, attempt, result, started_at, finished_at)
VALUES (:job_id, :name,
        coalesce((SELECT max(ord) FROM job_steps WHERE job_id = :job_id), 0) + 1,
        'running', :attempt, NULL, :now, NULL)
ON CONFLICT (job_id, name) DO UPDATE
SET status = 'running', attempt = excluded.attempt, started_at = excluded.started_at,
    finished_at = NULL, result = NULL
WHERE job_steps.status <> 'completed'

-- name: finish_step
INSERT INTO job_steps (job_id, name, ord, status, attempt, result, started_at, finished_at)
VALUES (:job_id, :name,
        coalesce((SELECT max(ord) FROM job_steps WHERE job_id = :job_id), 0) + 1,
        'completed', :attempt, :result, :now, :now)
ON CONFLICT (job_id, name) DO UPDATE
SET status = 'completed', attempt = excluded.attempt, result = excluded.result,
    finished_at = excluded.finished_at
WHERE job_steps.status <> 'completed'

-- name: fail_step
UPDATE job_steps SET status = 'failed', attempt = :attempt, finished_at = :now
WHERE job_id = :job_id AND name = :name AND status = 'running'

-- name: set_checkpoint
INSERT INTO job_checkpoints (job_id, value, attempt, updated_at)
VALUES (:job_id, :value, :attempt, :now)
ON CONFLICT (job_id) DO UPDATE
SET value = excluded.value, attempt = excluded.attempt, updated_at = excluded.updated_at

-- name: bump_for_partial
-- The version trigger writes the event (kind 'progress': nothing else moved), which
-- `mark_partial` then names for what it is, in the same transaction.
UPDATE jobs SET version = version + 1, updated_at = :now WHERE id = :job_id
RETURNING version, status

-- name: mark_partial
UPDATE events SET kind = 'partial' WHERE job_id = :job_id AND version = :version

-- name: insert_partial
INSERT INTO job_partials (job_id, seq, version, data, created_at)
VALUES (:job_id, coalesce((SELECT max(seq) FROM job_partials WHERE job_id = :job_id), 0) + 1,
        :version, :data, :now)

-- name: partials
SELECT seq, version, data, created_at FROM job_partials
WHERE job_id = :job_id AND seq > :after
ORDER BY seq
LIMIT :limit

-- name: partials_at
SELECT seq, version, data, created_at FROM job_partials
WHERE job_id = :job_id AND version IN (SELECT value FROM json_each(:versions))
ORDER BY seq

-- name: retry_job
-- Expired jobs are gone for clients (and may be swept at any moment): not retried.
UPDATE jobs
SET status = 'queued', run_at = :now, updated_at = :now, error = NULL, result = NULL,
    result_ref = NULL, finished_at = NULL, expires_at = NULL, cancel_requested = 0,
    progress_pct = 0, step = NULL, max_attempts = max(max_attempts, attempt + 1),
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, version = version + 1
WHERE id = :id AND status IN ('failed', 'cancelled')
  AND (expires_at IS NULL OR expires_at > :now)
RETURNING {{job_columns}}

-- name: get_job_row
SELECT {{job_columns}} FROM jobs WHERE id = :id

-- name: select_jobs
SELECT id FROM jobs
WHERE (:owner IS NULL OR owner = :owner)
  AND (expires_at IS NULL OR expires_at > :now)
  AND (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))
  AND (:operation IS NULL OR operation = :operation)
  AND (:before IS NULL OR created_at < :before)
  AND (:after IS NULL OR created_at > :after)
  AND (:tag IS NULL OR id IN (SELECT job_id FROM job_tags WHERE tag = :tag))
  AND (:exclude IS NULL OR id <> :exclude)
ORDER BY created_at, id
LIMIT :limit
