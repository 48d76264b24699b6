-- The job verbs of the SQLite store (lro.store.sqlite.jobs). A block runs from its
-- `-- name:` line to the next; `{{name}}` includes another block's text (a column list,
-- never a value; job_columns is in rows.sql). Every value is a bound `:name` parameter.
-- Times are integer microseconds since the epoch.
--
-- The event rows and webhook deliveries these statements cause are written by triggers
-- on `jobs` (see schema.sql): every version bump writes exactly one event.

-- name: get_job
SELECT {{job_columns}} FROM jobs WHERE id = :id

-- name: find_by_key
SELECT {{job_columns}} FROM jobs WHERE owner = :owner AND idempotency_key = :key

-- name: release_key
-- Bookkeeping, not a change of the job's state: no version bump, no event.
UPDATE jobs
SET idempotency_key = NULL, request_fingerprint = NULL, idempotency_expires_at = NULL
WHERE seq = :seq

-- name: insert_job
INSERT INTO jobs (
    id, operation, status, params, owner, priority, max_attempts, timeout_seconds, run_at,
    created_at, updated_at, estimated_duration_seconds, version, callback_url,
    idempotency_key, request_fingerprint, idempotency_expires_at, callback_progress,
    callback_target, queue, concurrency_key, tags, metadata, batch_id, depends_on,
    dependency_policy, trace_context
) VALUES (
    :id, :operation, 'queued', :params, :owner, :priority, :max_attempts, :timeout_seconds,
    :run_at, :now, :now, :estimated_duration_seconds, 1, :callback_url, :idempotency_key,
    :request_fingerprint, :idempotency_expires_at, :callback_progress, :callback_target,
    :queue, :concurrency_key, :tags, :metadata, :batch_id, :depends_on, :dependency_policy,
    :trace_context
)

-- name: claim_jobs
-- The sub-select walks the partial index jobs_claim in claim order; BEGIN IMMEDIATE
-- already excludes every other writer, so the chosen rows cannot be taken twice. Jobs
-- with a concurrency_key are not in that index: only the limited claim (workload.sql)
-- takes them.
UPDATE jobs
SET status = 'processing',
    attempt = attempt + 1,
    lease_token = lower(hex(randomblob(16))),
    lease_expires_at = :lease_until,
    worker_id = :worker_id,
    started_at = :now,
    updated_at = :now,
    progress_pct = 0,
    step = NULL,
    version = version + 1
WHERE seq IN (
    SELECT seq FROM jobs
    WHERE status = 'queued'
      AND concurrency_key IS NULL
      AND run_at <= :now
      AND (:operations IS NULL OR operation IN (SELECT value FROM json_each(:operations)))
    ORDER BY priority DESC, run_at, seq
    LIMIT :limit
)
RETURNING {{job_columns}}

-- name: heartbeat
UPDATE jobs SET lease_expires_at = :lease_until
WHERE id = :id AND lease_token = :token AND status = 'processing'
RETURNING cancel_requested

-- name: set_progress
-- One statement so a held lease is reported even when nothing changes: the version (and
-- so the trigger's event) moves only when progress rises or a new step is given. All
-- right-hand sides see the row as it was before this UPDATE.
UPDATE jobs
SET version = version + (progress_pct < :pct OR (:step IS NOT NULL AND step IS NOT :step)),
    updated_at = CASE
        WHEN progress_pct < :pct OR (:step IS NOT NULL AND step IS NOT :step) THEN :now
        ELSE updated_at
    END,
    progress_pct = max(progress_pct, :pct),
    step = coalesce(:step, step)
WHERE id = :id AND lease_token = :token AND status = 'processing'
RETURNING version, status

-- name: complete_job
UPDATE jobs
SET status = 'completed', progress_pct = 100, result = :result, result_ref = :result_ref,
    step = COALESCE(:step, step), finished_at = :now, updated_at = :now, expires_at = :expires_at,
    lease_token = NULL, lease_expires_at = NULL, version = version + 1
WHERE id = :id AND lease_token = :token AND status = 'processing'
RETURNING {{job_columns}}

-- name: retry_job
-- The failed attempt's error is not kept: `error` is present iff the job is `failed`.
-- A job whose cancel was requested before its attempt failed is not run again: it ends
-- `cancelled` here, as the rescuer ends such a job (running it again would ignore the cancel).
UPDATE jobs
SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
    run_at = CASE WHEN cancel_requested THEN run_at ELSE :run_at END,
    finished_at = CASE WHEN cancel_requested THEN :now ELSE finished_at END,
    expires_at = CASE WHEN cancel_requested THEN :expires_at ELSE expires_at END,
    progress_pct = CASE WHEN cancel_requested THEN progress_pct ELSE 0 END,
    step = CASE WHEN cancel_requested THEN step END,
    worker_id = CASE WHEN cancel_requested THEN worker_id END,
    updated_at = :now, lease_token = NULL, lease_expires_at = NULL, version = version + 1
WHERE id = :id AND lease_token = :token AND status = 'processing'
RETURNING {{job_columns}}

-- name: fail_job
UPDATE jobs
SET status = 'failed', error = :error, finished_at = :now, updated_at = :now,
    expires_at = :expires_at, lease_token = NULL, lease_expires_at = NULL,
    version = version + 1
WHERE id = :id AND lease_token = :token AND status = 'processing'
RETURNING {{job_columns}}

-- name: cancel_job
UPDATE jobs
SET status = 'cancelled', finished_at = :now, updated_at = :now, expires_at = :expires_at,
    lease_token = NULL, lease_expires_at = NULL, version = version + 1
WHERE id = :id AND lease_token = :token AND status = 'processing'
RETURNING {{job_columns}}

-- name: release_job
-- Graceful shutdown: the interrupted run does not count as an attempt.
UPDATE jobs
SET status = 'queued', run_at = :now, updated_at = :now, attempt = max(attempt - 1, 0),
    progress_pct = 0, step = NULL, lease_token = NULL, lease_expires_at = NULL,
    worker_id = NULL, version = version + 1
WHERE id = :id AND lease_token = :token AND status = 'processing'
RETURNING {{job_columns}}

-- name: expired_leases
-- What `rules.rescue_of` needs to decide each job's fate.
SELECT seq, operation, attempt, max_attempts, cancel_requested FROM jobs
WHERE status = 'processing' AND lease_expires_at < :now
ORDER BY lease_expires_at
LIMIT :limit

-- name: rescue_requeue
-- Every rescue statement re-checks status and lease itself, so a heartbeat or completion
-- that won the race leaves the row alone.
UPDATE jobs
SET status = 'queued', run_at = :run_at, updated_at = :now, progress_pct = 0, step = NULL,
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, version = version + 1
WHERE seq = :seq AND status = 'processing' AND lease_expires_at < :now
RETURNING {{job_columns}}

-- name: rescue_fail
UPDATE jobs
SET status = 'failed', error = :error, finished_at = :now, updated_at = :now,
    expires_at = :expires_at, lease_token = NULL, lease_expires_at = NULL,
    version = version + 1
WHERE seq = :seq AND status = 'processing' AND lease_expires_at < :now
RETURNING {{job_columns}}

-- name: rescue_cancel
UPDATE jobs
SET status = 'cancelled', finished_at = :now, updated_at = :now, expires_at = :expires_at,
    lease_token = NULL, lease_expires_at = NULL, version = version + 1
WHERE seq = :seq AND status = 'processing' AND lease_expires_at < :now
RETURNING {{job_columns}}

-- name: cancel_queued
UPDATE jobs
SET status = 'cancelled', finished_at = :now, updated_at = :now, expires_at = :expires_at,
    version = version + 1
WHERE id = :id AND status = 'queued'
RETURNING {{job_columns}}

-- name: request_cancel_running
UPDATE jobs
SET cancel_requested = 1, updated_at = :now, version = version + 1
WHERE id = :id AND status = 'processing' AND cancel_requested = 0
RETURNING {{job_columns}}

-- name: delete_terminal
-- The jobs_events_delete trigger removes the job's events.
DELETE FROM jobs
WHERE seq = :seq AND status IN ('completed', 'failed', 'cancelled')

-- name: sweep_jobs
-- Status is re-checked although only terminal jobs carry expires_at: an active job must
-- never be swept, whatever wrote its row.
DELETE FROM jobs
WHERE seq IN (
    SELECT seq FROM jobs
    WHERE expires_at <= :now AND status IN ('completed', 'failed', 'cancelled')
    ORDER BY expires_at
    LIMIT :limit
)
RETURNING id, owner, expires_at, result_ref

-- name: insert_tombstone
INSERT OR REPLACE INTO tombstones (job_id, owner, expired_at, keep_until)
VALUES (:job_id, :owner, :expired_at, :keep_until)

-- name: drop_tombstones
DELETE FROM tombstones
WHERE rowid IN (SELECT rowid FROM tombstones WHERE keep_until <= :now LIMIT :limit)

-- name: clear_idempotency_keys
UPDATE jobs
SET idempotency_key = NULL, request_fingerprint = NULL, idempotency_expires_at = NULL
WHERE seq IN (
    SELECT seq FROM jobs
    WHERE idempotency_key IS NOT NULL AND idempotency_expires_at <= :now
    LIMIT :limit
)

-- name: get_tombstone
SELECT job_id, owner, expired_at FROM tombstones WHERE job_id = :id AND keep_until > :now

-- name: list_jobs
-- The row-value comparison is a range on the jobs_owner_created index; the first page
-- passes a cursor past every row instead of a NULL test that would defeat the index.
SELECT {{job_columns}} FROM jobs
WHERE owner = :owner
  AND (created_at, id) < (:after_created, :after_id)
  AND {{list_filters}}
ORDER BY created_at DESC, id DESC
LIMIT :limit

-- name: list_all_jobs
-- list_jobs for an admin: every owner, on the jobs_created index.
SELECT {{job_columns}} FROM jobs
WHERE (created_at, id) < (:after_created, :after_id)
  AND {{list_filters}}
ORDER BY created_at DESC, id DESC
LIMIT :limit

-- name: events_after
SELECT job_id, version, kind, status, progress_pct, step, attempt, at FROM events
WHERE job_id = :id AND version > :after
ORDER BY version

-- name: recent_durations
SELECT (finished_at - started_at) / 1e6 AS seconds FROM jobs
WHERE operation = :operation AND status = 'completed' AND started_at IS NOT NULL
ORDER BY finished_at DESC
LIMIT :limit

-- name: job_counts
-- GET /stats: an owner's jobs per operation and status, found through the owner's index;
-- expired jobs are left out, as list_jobs leaves them out.
SELECT operation, status, count(*) AS count FROM jobs
WHERE owner = :owner AND (expires_at IS NULL OR expires_at > :now)
GROUP BY operation, status
ORDER BY operation, status

-- name: job_counts_all
-- job_counts for an admin: every owner's jobs.
SELECT operation, status, count(*) AS count FROM jobs
WHERE expires_at IS NULL OR expires_at > :now
GROUP BY operation, status
ORDER BY operation, status

-- name: oldest_queued
-- /metrics: when each operation's oldest due, queued job became due: the plain jobs on
-- the claim index, the ones with a concurrency key on jobs_limited (0008/0009).
SELECT operation, min(due_since) AS due_since FROM (
    SELECT operation, min(run_at) AS due_since FROM jobs
    WHERE status = 'queued' AND concurrency_key IS NULL AND run_at <= :now
    GROUP BY operation
    UNION ALL
    SELECT operation, min(run_at) AS due_since FROM jobs
    WHERE status = 'queued' AND concurrency_key IS NOT NULL AND run_at <= :now
    GROUP BY operation
) AS due
GROUP BY operation
