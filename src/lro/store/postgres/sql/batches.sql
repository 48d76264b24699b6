-- Batches (lro.store.postgres.batches, HTTP-CONTRACT §17). The batch row's `unfinished`
-- count and the batch.completed delivery are kept by a trigger on lro_jobs (schema.sql).

-- name: insert_batch
-- ON CONFLICT on the partial unique index decides idempotency between concurrent
-- duplicates: the loser waits for the winner's commit, inserts nothing and replays it.
INSERT INTO lro_batches (
    id, owner, total, unfinished, callback_url, callback_target, created_at,
    idempotency_key, request_fingerprint, idempotency_expires_at
) VALUES (
    :id, :owner, :total, :total, :callback_url, :callback_target, :now,
    :idempotency_key, :request_fingerprint, :idempotency_expires_at
)
ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id

-- name: batch_by_key
SELECT id, request_fingerprint, idempotency_expires_at, expires_at FROM lro_batches
WHERE owner = :owner AND idempotency_key = :key
FOR UPDATE

-- name: release_batch_key
UPDATE lro_batches
SET idempotency_key = NULL, request_fingerprint = NULL, idempotency_expires_at = NULL
WHERE id = :id

-- name: batch_columns
-- A batch row `b` and its jobs counted, on lro_jobs_batch.
b.id, b.owner, b.total, b.unfinished, b.callback_url, b.created_at, b.finished_at,
       b.expires_at,
       (SELECT coalesce(json_agg(json_build_array(c.status, c.n, c.progress, c.attempts,
                                                  c.estimate)), '[]')
        FROM (
            SELECT status, count(*) AS n,
                   sum(CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN 100.0
                            ELSE progress_pct END) AS progress,
                   max(attempt) AS attempts,
                   max(estimated_duration_seconds) AS estimate
            FROM lro_jobs WHERE batch_id = b.id
            GROUP BY status
        ) c) AS counts

-- name: get_batch
-- The row and its jobs counted in one statement (one snapshot).
SELECT {{batch_columns}}
FROM lro_batches b WHERE b.id = :id

-- name: list_batches
-- Newest first, keyset-paged like list_jobs (no cursor: 'infinity'), each row counted in
-- the same statement. Batch rows are few (one per up to 1,000 jobs) and swept with their
-- jobs, so this reads them without an index of its own.
SELECT {{batch_columns}}
FROM lro_batches b
WHERE (:owner::text IS NULL OR b.owner = :owner::text)
  AND (b.expires_at IS NULL OR b.expires_at > :now)
  AND (b.created_at, b.id)
      < (coalesce(:after_created::timestamptz, 'infinity'::timestamptz), :after_id::text)
ORDER BY b.created_at DESC, b.id DESC
LIMIT :limit

-- name: batch_jobs
SELECT * FROM lro_jobs WHERE batch_id = :id ORDER BY seq

-- name: sweep_batches
WITH gone AS (
    DELETE FROM lro_batches
    WHERE id IN (
        SELECT id FROM lro_batches WHERE expires_at <= :now
        ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED
    )
    RETURNING 1
)
SELECT count(*) AS n FROM gone

-- name: batch_totals
-- Open and finished batch rows, for the metrics (one pass over the batches, not their jobs).
SELECT coalesce(sum(CASE WHEN unfinished > 0 THEN 1 ELSE 0 END), 0) AS open,
       coalesce(sum(CASE WHEN unfinished > 0 THEN 0 ELSE 1 END), 0) AS finished
FROM lro_batches
