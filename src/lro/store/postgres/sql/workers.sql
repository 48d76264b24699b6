-- The worker registry (lro.store.postgres.workers).

-- name: beat
INSERT INTO lro_workers (
    worker_id, host, pid, queues, operations, concurrency, busy, started_at, last_seen_at
) VALUES (
    :worker_id, :host, :pid, :queues::text[], :operations::text[], :concurrency, :busy,
    :started_at, :last_seen_at
)
ON CONFLICT (worker_id) DO UPDATE
SET host = EXCLUDED.host, pid = EXCLUDED.pid, queues = EXCLUDED.queues,
    operations = EXCLUDED.operations, concurrency = EXCLUDED.concurrency,
    busy = EXCLUDED.busy, started_at = EXCLUDED.started_at,
    last_seen_at = EXCLUDED.last_seen_at

-- name: live
SELECT worker_id, host, pid, queues, operations, concurrency, busy, started_at, last_seen_at
FROM lro_workers
WHERE last_seen_at > :seen_after
ORDER BY started_at, worker_id

-- name: remove
DELETE FROM lro_workers WHERE worker_id = :worker_id

-- name: prune
WITH gone AS (DELETE FROM lro_workers WHERE last_seen_at < :seen_before RETURNING 1)
SELECT count(*) FROM gone
