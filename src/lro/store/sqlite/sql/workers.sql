-- The worker registry (lro.store.sqlite.workers). Times are INTEGER microseconds;
-- queues and operations are JSON arrays.

-- name: beat
INSERT INTO workers (
    worker_id, host, pid, queues, operations, concurrency, busy, started_at, last_seen_at
) VALUES (
    :worker_id, :host, :pid, :queues, :operations, :concurrency, :busy, :started_at,
    :last_seen_at
)
ON CONFLICT (worker_id) DO UPDATE
SET host = excluded.host, pid = excluded.pid, queues = excluded.queues,
    operations = excluded.operations, concurrency = excluded.concurrency,
    busy = excluded.busy, started_at = excluded.started_at,
    last_seen_at = excluded.last_seen_at

-- name: live
SELECT worker_id, host, pid, queues, operations, concurrency, busy, started_at, last_seen_at
FROM workers
WHERE last_seen_at > :seen_after
ORDER BY started_at, worker_id

-- name: remove
DELETE FROM workers WHERE worker_id = :worker_id

-- name: prune
DELETE FROM workers WHERE last_seen_at < :seen_before
