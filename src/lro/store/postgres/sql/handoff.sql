-- Direct hand-off (lro.store.postgres.handoff; migrations/0006_handoff.sql). The submit side
-- is in jobs.sql: `insert_jobs` takes a park, `claim_or_park` makes one.
-- `handoff_lock_class` is the advisory-lock class of the LISTEN sessions' liveness locks
-- (one key per session).

-- name: handoff_lock_class
1819438952

-- name: unpark_worker
-- Whether the park was still unused: if not, a hand-off to this worker has committed.
DELETE FROM lro_idle_workers WHERE worker_id = :worker_id RETURNING worker_id

-- name: orphaned_handoffs
-- Jobs leased to this worker that it does not know of: a hand-off whose notification was
-- lost with the LISTEN connection. The lease partial index holds only processing jobs.
SELECT * FROM lro_jobs
WHERE status = 'processing' AND worker_id = :worker_id
  AND NOT (lease_token = ANY(:known_tokens::text[]))
