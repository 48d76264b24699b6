-- Batches (lro.store.sqlite.batches, HTTP-CONTRACT §17). The batch row's `unfinished`
-- count and the batch.completed delivery are kept by triggers on jobs (schema.sql).

-- name: insert_batch
INSERT INTO batches (
    id, owner, total, unfinished, callback_url, callback_target, created_at,
    idempotency_key, request_fingerprint, idempotency_expires_at
) VALUES (
    :id, :owner, :total, :total, :callback_url, :callback_target, :now,
    :idempotency_key, :request_fingerprint, :idempotency_expires_at
)

-- name: batch_by_key
SELECT id, request_fingerprint, idempotency_expires_at, expires_at FROM batches
WHERE owner = :owner AND idempotency_key = :key

-- name: release_batch_key
UPDATE batches
SET idempotency_key = NULL, request_fingerprint = NULL, idempotency_expires_at = NULL
WHERE id = :id

-- name: get_batch
SELECT id, owner, total, unfinished, callback_url, created_at, finished_at, expires_at
FROM batches WHERE id = :id

-- name: batch_counts
-- One pass over the batch's jobs on the jobs_batch index.
SELECT status, count(*) AS n,
       sum(CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN 100.0
                ELSE progress_pct END) AS progress,
       max(attempt) AS attempts,
       max(estimated_duration_seconds) AS estimate
FROM jobs WHERE batch_id = :id
GROUP BY status

-- name: batch_jobs
SELECT {{job_columns}} FROM jobs WHERE batch_id = :id ORDER BY seq

-- name: sweep_batches
DELETE FROM batches
WHERE id IN (SELECT id FROM batches WHERE expires_at <= :now ORDER BY expires_at LIMIT :limit)

-- name: batch_totals
-- Open and finished batch rows, for the metrics (one pass over the batches, not their jobs).
SELECT coalesce(sum(CASE WHEN unfinished > 0 THEN 1 ELSE 0 END), 0) AS open,
       coalesce(sum(CASE WHEN unfinished > 0 THEN 0 ELSE 1 END), 0) AS finished
FROM batches

-- name: list_batches
-- Newest first, keyset-paged like list_jobs; the first page passes a cursor past every
-- row. Batch rows are few (one per up to 1,000 jobs) and swept with their jobs, so this
-- reads them without an index of its own.
SELECT id, owner, total, unfinished, callback_url, created_at, finished_at, expires_at
FROM batches
WHERE (:owner IS NULL OR owner = :owner)
  AND (expires_at IS NULL OR expires_at > :now)
  AND (created_at, id) < (:after_created, :after_id)
ORDER BY created_at DESC, id DESC
LIMIT :limit
