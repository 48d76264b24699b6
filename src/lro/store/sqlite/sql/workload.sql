-- Workload control on SQLite (lro.store.sqlite.workload; migrations/0008_concurrency.sql).
-- Every limited claim runs in one BEGIN IMMEDIATE transaction, so the counts it reads
-- cannot change under it; limit_keys is kept by triggers on jobs in the transaction that
-- changes a job's status, so a finished, cancelled, released or rescued job's slot is free
-- the moment that transaction commits.

-- name: running_total
-- The operation's keyed jobs running now, on jobs_limited_running.
SELECT count(*) FROM jobs
WHERE operation = :operation AND status = 'processing' AND concurrency_key IS NOT NULL

-- name: prune_starts
DELETE FROM limit_starts WHERE operation = :operation AND at <= :since

-- name: started_since
SELECT coalesce(sum(n), 0) FROM limit_starts WHERE operation = :operation AND at > :since

-- name: record_starts
INSERT INTO limit_starts (operation, at, n) VALUES (:operation, :now, :n)

-- name: ready_keys
-- Keys with queued jobs and a free slot, least recently served first (limit_keys_turns).
-- A key at its limit is passed over here, as one index entry; its jobs are never read.
SELECT key, running, served FROM limit_keys
WHERE operation = :operation AND queued > 0
  AND (:key_limit IS NULL OR running < :key_limit)
ORDER BY served, key
LIMIT :limit

-- name: free_keys
-- ready_keys for key_concurrency=1: only keys with nothing running (limit_keys_free), so
-- a claim never reads a key held at its limit.
SELECT key, running, served FROM limit_keys
WHERE operation = :operation AND queued > 0 AND running = 0
ORDER BY served, key
LIMIT :limit

-- name: key_head
-- A key's next due jobs in claim order (jobs_limited).
SELECT seq, priority, run_at FROM jobs
WHERE operation = :operation AND concurrency_key = :key AND status = 'queued'
  AND concurrency_key IS NOT NULL AND run_at <= :now
ORDER BY priority DESC, run_at, seq
LIMIT :limit

-- name: serve_key
UPDATE limit_keys SET served = :served WHERE operation = :operation AND key = :key

-- name: claim_seqs
-- The claim of lro.store.sqlite.jobs, for rows already chosen within the limits.
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
WHERE seq IN (SELECT value FROM json_each(:seqs)) AND status = 'queued'
RETURNING {{job_columns}}

-- name: queued_count
SELECT count(*) FROM (
    SELECT 1 FROM jobs WHERE operation = :operation AND concurrency_key IS NOT NULL AND status = 'queued'
    LIMIT :cap
)

-- name: oldest_queued_owner
-- On the owner's index of unfinished jobs (0003).
SELECT operation, min(run_at) AS due_since FROM jobs
WHERE status = 'queued' AND run_at <= :now AND owner = :owner
GROUP BY operation

-- name: oldest_queued_all
-- As jobs.sql's oldest_queued.
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

-- name: adopt_keyed
-- Queued jobs of an operation that became limited since they were submitted: one key
-- ('') for them all, so the limited claim finds them (the plain claim no longer runs
-- this operation). Triggers count them in.
UPDATE jobs SET concurrency_key = ''
WHERE seq IN (
    SELECT seq FROM jobs
    WHERE status = 'queued' AND concurrency_key IS NULL AND operation = :operation
)

-- name: adopt_plain
-- Queued jobs of an operation that is no longer limited: back to the plain claim.
UPDATE jobs SET concurrency_key = NULL
WHERE seq IN (
    SELECT seq FROM jobs
    WHERE status = 'queued' AND concurrency_key IS NOT NULL AND operation = :operation
)

-- name: usage_due
-- Per key, the due queued jobs the limited claim could take (an index-only range of
-- jobs_limited: the operation's queued keyed jobs, never other jobs).
SELECT concurrency_key AS key, count(*) AS n FROM jobs
WHERE operation = :operation AND status = 'queued' AND concurrency_key IS NOT NULL
  AND run_at <= :now
GROUP BY concurrency_key

-- name: usage_running
-- Per key, the keyed jobs running (jobs_limited_running).
SELECT concurrency_key AS key, count(*) AS n FROM jobs
WHERE operation = :operation AND status = 'processing' AND concurrency_key IS NOT NULL
GROUP BY concurrency_key
