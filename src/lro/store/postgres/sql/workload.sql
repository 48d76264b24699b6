-- Workload control on PostgreSQL (lro.store.postgres.workload; migrations/0009).
--
-- A limited claim is one transaction: it takes the advisory lock of each operation it
-- claims for (so claimers of one operation take turns; claimers of others never wait),
-- and only then, in later statements with fresh snapshots, reads the counts: every claim
-- that committed before it is visible, and job writes that commit meanwhile only free
-- slots, so what it reads can only be more cautious than the truth. Completions, cancels
-- and rescues never take the lock: their triggers append to lro_limit_deltas, and the
-- next claim folds those rows into lro_limit_keys.

-- name: limit_lock_class
1819438953

-- name: lock_operations
-- In name order, so two claimers of overlapping operations never deadlock.
SELECT pg_advisory_xact_lock({{limit_lock_class}}, hashtext(o))
FROM (SELECT o FROM unnest(:operations::text[]) AS o ORDER BY o) AS sorted

-- name: fold
-- Folds the committed deltas into the keys (DELETE ... RETURNING takes each delta row
-- exactly once), drops rate-window rows older than the period, and answers how many jobs
-- may start now and which keys are now empty.
WITH d AS (
    DELETE FROM lro_limit_deltas WHERE operation = :operation
    RETURNING key, queued, running
),
s AS (
    SELECT key, sum(queued)::int AS queued, sum(running)::int AS running FROM d GROUP BY key
),
up AS (
    INSERT INTO lro_limit_keys AS k (operation, key, queued, running)
    SELECT :operation, key, queued, running FROM s ORDER BY key
    ON CONFLICT (operation, key) DO UPDATE
    SET queued = k.queued + excluded.queued, running = k.running + excluded.running
    RETURNING k.key, k.queued, k.running
),
pruned AS (
    DELETE FROM lro_limit_starts
    WHERE :rate::int IS NOT NULL AND operation = :operation AND at <= :since
)
SELECT
    (SELECT coalesce(array_agg(key), '{}') FROM up WHERE queued <= 0 AND running <= 0)
        AS idle_keys,
    greatest(0, least(
        :left::int,
        CASE WHEN :concurrency::int IS NULL THEN :left::int
             ELSE :concurrency::int - (
                 SELECT count(*) FROM lro_jobs
                 WHERE operation = :operation AND status = 'processing'
                   AND concurrency_key IS NOT NULL)::int
        END,
        CASE WHEN :rate::int IS NULL THEN :left::int
             ELSE :rate::int - (
                 SELECT coalesce(sum(n), 0) FROM lro_limit_starts
                 WHERE operation = :operation AND at > :since)::int
        END
    )) AS budget

-- name: drop_idle_keys
DELETE FROM lro_limit_keys
WHERE operation = :operation AND key = ANY(:keys::text[]) AND queued <= 0 AND running <= 0

-- name: claim_round
-- One round over the ready keys, least recently served first (lro_limit_keys_turns; a
-- key at its limit is one index entry, its jobs never read): each offers its next due
-- jobs (lro_jobs_limited) up to its free slots and, when fair, its share of the budget;
-- the best :budget offers are claimed (fair: round by round across keys; otherwise by
-- priority, run_at, insert), and every key offered moves to the back of the turn order,
-- picked keys in the order they were served. Always one row: key_count, and per job
-- claimed its pick position and row.
WITH async_commit AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'off', true)
),
keys AS MATERIALIZED (
    SELECT key, running, served FROM lro_limit_keys
    WHERE operation = :operation AND queued > 0
      AND (:key_limit::int IS NULL OR running < :key_limit::int)
    ORDER BY served, key
    LIMIT :budget
),
{{claim_round_rest}}

-- name: claim_round_free
-- claim_round for key_concurrency=1: only keys with nothing running
-- (lro_limit_keys_free), so a claim never reads a key held at its limit.
WITH async_commit AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'off', true)
),
keys AS MATERIALIZED (
    SELECT key, running, served FROM lro_limit_keys
    WHERE operation = :operation AND queued > 0 AND running = 0
    ORDER BY served, key
    LIMIT :budget
),
{{claim_round_rest}}

-- name: claim_round_rest
-- The rest of both claim rounds, after their `keys`.
share AS (
    SELECT CASE WHEN :fair::bool THEN ceil(:budget::numeric / greatest(count(*), 1))::int
                ELSE :budget::int END AS n
    FROM keys
),
offers AS (
    SELECT j.seq, j.priority, j.run_at, j.rank, k.key, k.served
    FROM keys k CROSS JOIN share
    CROSS JOIN LATERAL (
        SELECT q.seq, q.priority, q.run_at, row_number() OVER () AS rank
        FROM (
            SELECT seq, priority, run_at FROM lro_jobs
            WHERE operation = :operation AND concurrency_key = k.key AND status = 'queued'
              AND concurrency_key IS NOT NULL AND run_at <= :now
            ORDER BY priority DESC, run_at, seq
            LIMIT least(share.n, coalesce(:key_limit::int - k.running, share.n))
            FOR UPDATE SKIP LOCKED
        ) q
    ) j
),
picked AS (
    SELECT seq, key, row_number() OVER (
        ORDER BY CASE WHEN :fair::bool THEN rank END, CASE WHEN :fair::bool THEN served END,
                 CASE WHEN :fair::bool THEN key END,
                 priority DESC, run_at, seq
    ) AS pos
    FROM offers
),
chosen AS (
    SELECT seq, key, pos FROM picked WHERE pos <= :budget ORDER BY pos LIMIT :budget
),
upd AS (
    UPDATE lro_jobs j
    SET status = 'processing',
        attempt = j.attempt + 1,
        lease_token = replace(gen_random_uuid()::text, '-', ''),
        lease_expires_at = :lease_until,
        worker_id = :worker_id,
        started_at = :now,
        updated_at = :now,
        progress_pct = 0,
        step = NULL,
        version = j.version + 1
    FROM chosen
    WHERE j.seq = chosen.seq AND j.status = 'queued'
    RETURNING j.*
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'status', status, progress_pct, step, attempt, :now FROM upd
),
turns AS (
    SELECT k.key, coalesce(max(c.pos), 0) AS last
    FROM keys k LEFT JOIN chosen c ON c.key = k.key
    GROUP BY k.key
    LIMIT :budget
),
moved AS (
    UPDATE lro_limit_keys k SET served = :turn::bigint + t.last
    FROM turns t
    WHERE k.operation = :operation AND k.key = t.key
)
SELECT n.key_count, c.pos AS pick_pos, upd.*
FROM (SELECT count(*) AS key_count FROM keys, async_commit) n
LEFT JOIN chosen c ON true
LEFT JOIN upd ON upd.seq = c.seq

-- name: record_starts
INSERT INTO lro_limit_starts (operation, at, n) VALUES (:operation, :now, :n)

-- name: queued_count
SELECT count(*) FROM (
    SELECT 1 FROM lro_jobs WHERE operation = :operation AND concurrency_key IS NOT NULL AND status = 'queued'
    LIMIT :cap
) AS q

-- name: oldest_queued_owner
-- On the owner's index of unfinished jobs (0003).
SELECT operation, min(run_at) AS due_since FROM lro_jobs
WHERE status = 'queued' AND run_at <= :now AND owner = :owner
GROUP BY operation

-- name: oldest_queued_all
-- As jobs.sql's oldest_queued.
SELECT operation, min(due_since) AS due_since FROM (
    SELECT operation, min(run_at) AS due_since FROM lro_jobs
    WHERE status = 'queued' AND concurrency_key IS NULL AND run_at <= :now
    GROUP BY operation
    UNION ALL
    SELECT operation, min(run_at) AS due_since FROM lro_jobs
    WHERE status = 'queued' AND concurrency_key IS NOT NULL AND run_at <= :now
    GROUP BY operation
) AS due
GROUP BY operation

-- name: adopt_keyed
-- Queued jobs of an operation that became limited since they were submitted: one key
-- ('') for them all, so the limited claim finds them (the plain claim no longer runs
-- this operation). SKIP LOCKED: a job a claimer holds right now is not queued for long.
UPDATE lro_jobs SET concurrency_key = ''
WHERE seq IN (
    SELECT seq FROM lro_jobs
    WHERE status = 'queued' AND concurrency_key IS NULL AND operation = :operation
    FOR UPDATE SKIP LOCKED
)
RETURNING seq

-- name: adopt_plain
-- Queued jobs of an operation that is no longer limited: back to the plain claim.
UPDATE lro_jobs SET concurrency_key = NULL
WHERE seq IN (
    SELECT seq FROM lro_jobs
    WHERE status = 'queued' AND concurrency_key IS NOT NULL AND operation = :operation
    FOR UPDATE SKIP LOCKED
)
RETURNING seq

-- name: usage_due
-- Per key, the due queued jobs the limited claim could take (an index-only range of
-- lro_jobs_limited: the operation's queued keyed jobs, never other jobs).
SELECT concurrency_key AS key, count(*) AS n FROM lro_jobs
WHERE operation = :operation AND status = 'queued' AND concurrency_key IS NOT NULL
  AND run_at <= :now
GROUP BY concurrency_key

-- name: usage_running
-- Per key, the keyed jobs running (lro_jobs_limited_running).
SELECT concurrency_key AS key, count(*) AS n FROM lro_jobs
WHERE operation = :operation AND status = 'processing' AND concurrency_key IS NOT NULL
GROUP BY concurrency_key

-- name: usage_started
-- The rate window's claims, as fold counts them (read only: fold prunes).
SELECT coalesce(sum(n), 0)::int AS n FROM lro_limit_starts
WHERE operation = :operation AND at > :since
