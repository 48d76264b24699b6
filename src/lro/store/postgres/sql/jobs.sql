-- The job verbs of the PostgreSQL store (lro.store.postgres.jobs). A block runs from its
-- `-- name:` line to the next; `{{name}}` includes another block's text (a fragment, never
-- a value), from this file or rows.sql. Every value is a bound `:name` parameter (the
-- loader numbers them for asyncpg); batches pass one array per column and unnest them, so
-- a batch of any size is one statement and one round trip.
--
-- Every statement that changes a job's version inserts its event row in a CTE of the same
-- statement; the trigger on lro_events turns those inserts into NOTIFY payloads.
--
-- Batch updates of leased jobs lock their rows in `id` order first (the `locked` CTEs):
-- a worker's heartbeat batch and its completion batch may touch the same rows at the same
-- moment, and locking in one global order means they queue instead of deadlocking.

-- name: get_job
SELECT * FROM lro_jobs WHERE id = :id

-- name: claim_ctes
-- SKIP LOCKED: a claimer passes over rows another claimer (or the sweeper) has locked
-- instead of queueing behind it, so concurrent claimers take disjoint jobs. Rows are
-- picked by walking the partial index lro_jobs_claim in claim order; the lock re-checks
-- `status = 'queued'` on the latest row version, so a job is never leased twice. Jobs
-- with a concurrency_key are not in that index: only the limited claim (workload.sql)
-- takes them.
-- The commit does not wait for its WAL flush (synchronous_commit off, this transaction
-- only): a claim lost in a server crash leaves the job queued, its run's writes fail the
-- lease fence, and it runs again, which at-least-once allows. Submits and completions
-- keep waiting for the flush; each of them also makes every earlier claim durable.
async_commit AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'off', true)
),
picked AS (
    SELECT seq FROM lro_jobs
    WHERE status = 'queued'
      AND concurrency_key IS NULL
      AND run_at <= :now
      AND (:operations::text[] IS NULL OR operation = ANY(:operations::text[]))
    ORDER BY priority DESC, run_at, seq
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
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
    FROM picked
    WHERE j.seq = picked.seq
    RETURNING j.*
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'status', status, progress_pct, step, attempt, :now FROM upd
)

-- name: claim_jobs
WITH {{claim_ctes}}
SELECT upd.* FROM upd, async_commit ORDER BY priority DESC, run_at, seq

-- name: claim_or_park
-- A claim that, when it comes back short (nothing left for this worker), also parks the
-- worker for a hand-off (0006) in the same statement: an idle worker's claim and its park
-- cost one round trip. :park_key is the LISTEN session's liveness key.
WITH {{claim_ctes}},
park AS (
    INSERT INTO lro_idle_workers (worker_id, lock_key, operations, lease_seconds, parked_at)
    SELECT :worker_id, :park_key, :operations, :lease_seconds, :now
    WHERE (SELECT count(*) FROM upd) < :limit
    ON CONFLICT (worker_id) DO UPDATE
    SET lock_key = EXCLUDED.lock_key, operations = EXCLUDED.operations,
        lease_seconds = EXCLUDED.lease_seconds, parked_at = EXCLUDED.parked_at
)
SELECT upd.* FROM upd, async_commit ORDER BY priority DESC, run_at, seq

-- name: heartbeat
-- No version, no event: a heartbeat is not a change anyone waits for.
WITH u AS (
    SELECT * FROM unnest(:job_ids::text[], :tokens::text[]) AS u(id, token)
),
locked AS (
    SELECT j.seq FROM lro_jobs j JOIN u ON j.id = u.id AND j.lease_token = u.token
    WHERE j.status = 'processing'
    ORDER BY j.id
    FOR UPDATE OF j
)
UPDATE lro_jobs j SET lease_expires_at = :lease_until
FROM locked
WHERE j.seq = locked.seq
RETURNING j.id, j.lease_token, j.cancel_requested

-- name: set_progress
-- `locked` reads the row as it is under the lock (the old values), so the statement can
-- tell a real change (progress rises, or a different step) from a repeat: only a real
-- change bumps the version and writes an event, yet every held lease is reported.
WITH u AS (
    SELECT * FROM unnest(:job_ids::text[], :tokens::text[], :pcts::float8[], :steps::text[])
        AS u(id, token, pct, step)
),
locked AS (
    SELECT j.seq, j.id, u.token, j.progress_pct AS old_pct, j.step AS old_step, u.pct, u.step
    FROM lro_jobs j JOIN u ON j.id = u.id AND j.lease_token = u.token
    WHERE j.status = 'processing'
    ORDER BY j.id
    FOR UPDATE OF j
),
upd AS (
    UPDATE lro_jobs j
    SET version = j.version + 1,
        updated_at = :now,
        progress_pct = greatest(locked.old_pct, locked.pct),
        step = coalesce(locked.step, locked.old_step)
    FROM locked
    WHERE j.seq = locked.seq
      AND (locked.old_pct < locked.pct
           OR (locked.step IS NOT NULL AND locked.old_step IS DISTINCT FROM locked.step))
    RETURNING j.id, j.version, j.status, j.progress_pct, j.step, j.attempt
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'progress', status, progress_pct, step, attempt, :now FROM upd
)
SELECT locked.id, locked.token, upd.version, upd.status
FROM locked LEFT JOIN upd ON upd.id = locked.id

-- name: complete_jobs
WITH u AS (
    SELECT *
    FROM unnest(
        :job_ids::text[], :tokens::text[], :results::text[], :result_refs::text[],
        :steps::text[]
    ) AS u(id, token, result, result_ref, step)
),
locked AS (
    SELECT j.seq, u.token, u.result, u.result_ref, u.step
    FROM lro_jobs j JOIN u ON j.id = u.id AND j.lease_token = u.token
    WHERE j.status = 'processing'
    ORDER BY j.id
    FOR UPDATE OF j
),
upd AS (
    UPDATE lro_jobs j
    SET status = 'completed', progress_pct = 100,
        result = locked.result::jsonb, result_ref = locked.result_ref::jsonb,
        step = COALESCE(locked.step, j.step), finished_at = :now, updated_at = :now,
        expires_at = :expires_at,
        lease_token = NULL, lease_expires_at = NULL, version = j.version + 1
    FROM locked
    WHERE j.seq = locked.seq
    RETURNING j.*, locked.token AS fenced_by
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'completed', status, progress_pct, step, attempt, :now FROM upd
)
SELECT * FROM upd

-- name: fail_jobs
-- One statement for a batch of failed attempts: a row with :retry_at goes back to the
-- queue (the attempt's error is not kept: `error` is present iff the job is `failed`),
-- a row without ends `failed` with its error. A job whose cancel was requested before its
-- attempt failed is not run again: its retry ends it `cancelled`, as the rescuer would.
-- Only the columns of the row's own outcome change; the others keep what the job had.
WITH u AS (
    SELECT *
    FROM unnest(:job_ids::text[], :tokens::text[], :retry_at::timestamptz[], :errors::text[])
        AS u(id, token, retry_at, error)
),
locked AS (
    SELECT j.seq, u.token, u.retry_at, u.error,
           CASE WHEN u.retry_at IS NULL THEN 'failed'
                WHEN j.cancel_requested THEN 'cancelled'
                ELSE 'queued' END AS outcome
    FROM lro_jobs j JOIN u ON j.id = u.id AND j.lease_token = u.token
    WHERE j.status = 'processing'
    ORDER BY j.id
    FOR UPDATE OF j
),
upd AS (
    UPDATE lro_jobs j
    SET status = locked.outcome,
        error = CASE WHEN locked.outcome = 'failed' THEN locked.error::jsonb ELSE j.error END,
        run_at = CASE WHEN locked.outcome = 'queued' THEN locked.retry_at ELSE j.run_at END,
        finished_at = CASE WHEN locked.outcome = 'queued' THEN j.finished_at ELSE :now END,
        expires_at = CASE WHEN locked.outcome = 'queued' THEN j.expires_at ELSE :expires_at END,
        progress_pct = CASE WHEN locked.outcome = 'queued' THEN 0 ELSE j.progress_pct END,
        step = CASE WHEN locked.outcome = 'queued' THEN NULL ELSE j.step END,
        worker_id = CASE WHEN locked.outcome = 'queued' THEN NULL ELSE j.worker_id END,
        updated_at = :now, lease_token = NULL, lease_expires_at = NULL,
        version = j.version + 1
    FROM locked
    WHERE j.seq = locked.seq
    RETURNING j.*, locked.token AS fenced_by
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, CASE WHEN status IN ('failed', 'cancelled') THEN status ELSE 'status' END,
           status, progress_pct, step, attempt, :now
    FROM upd
)
SELECT * FROM upd

-- name: cancel_jobs
-- The worker stopped these jobs because their cancel was requested.
WITH u AS (
    SELECT * FROM unnest(:job_ids::text[], :tokens::text[]) AS u(id, token)
),
locked AS (
    SELECT j.seq, u.token FROM lro_jobs j JOIN u ON j.id = u.id AND j.lease_token = u.token
    WHERE j.status = 'processing'
    ORDER BY j.id
    FOR UPDATE OF j
),
upd AS (
    UPDATE lro_jobs j
    SET status = 'cancelled', finished_at = :now, updated_at = :now, expires_at = :expires_at,
        lease_token = NULL, lease_expires_at = NULL, version = j.version + 1
    FROM locked
    WHERE j.seq = locked.seq
    RETURNING j.*, locked.token AS fenced_by
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'cancelled', status, progress_pct, step, attempt, :now FROM upd
)
SELECT * FROM upd

-- name: release_jobs
-- Graceful shutdown: the interrupted run does not count as an attempt.
WITH u AS (
    SELECT * FROM unnest(:job_ids::text[], :tokens::text[]) AS u(id, token)
),
locked AS (
    SELECT j.seq, u.token FROM lro_jobs j JOIN u ON j.id = u.id AND j.lease_token = u.token
    WHERE j.status = 'processing'
    ORDER BY j.id
    FOR UPDATE OF j
),
upd AS (
    UPDATE lro_jobs j
    SET status = 'queued', run_at = :now, updated_at = :now,
        attempt = greatest(j.attempt - 1, 0), progress_pct = 0, step = NULL,
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL,
        version = j.version + 1
    FROM locked
    WHERE j.seq = locked.seq
    RETURNING j.*, locked.token AS fenced_by
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'status', status, progress_pct, step, attempt, :now FROM upd
)
SELECT * FROM upd

-- name: expired_leases
-- SKIP LOCKED: rescuers in several processes split the expired jobs between them, and a
-- job whose worker is completing it right now is left to that worker. The columns are
-- what `rules.rescue_of` needs to decide each job's fate.
SELECT seq, operation, attempt, max_attempts, cancel_requested FROM lro_jobs
WHERE status = 'processing' AND lease_expires_at < :now
ORDER BY lease_expires_at
LIMIT :limit
FOR UPDATE SKIP LOCKED

-- name: rescue
-- Re-checks status and lease in the statement itself (the rows are locked by
-- expired_leases in this transaction, so this is belt and braces). The new status, error
-- and due time per row are decided by the caller (`rules.rescue_of`): cancelled, failed
-- (worker lost) or queued again at the operation's backoff.
WITH u AS (
    SELECT *
    FROM unnest(:seqs::bigint[], :statuses::text[], :errors::text[], :run_at::timestamptz[])
        AS u(seq, status, error, run_at)
),
upd AS (
    UPDATE lro_jobs j
    SET status = u.status,
        error = CASE WHEN u.status = 'failed' THEN u.error::jsonb ELSE j.error END,
        run_at = CASE WHEN u.status = 'queued' THEN u.run_at ELSE j.run_at END,
        finished_at = CASE WHEN u.status = 'queued' THEN j.finished_at ELSE :now END,
        expires_at = CASE WHEN u.status = 'queued' THEN j.expires_at ELSE :expires_at END,
        progress_pct = CASE WHEN u.status = 'queued' THEN 0 ELSE j.progress_pct END,
        step = CASE WHEN u.status = 'queued' THEN NULL ELSE j.step END,
        worker_id = CASE WHEN u.status = 'queued' THEN NULL ELSE j.worker_id END,
        updated_at = :now, lease_token = NULL, lease_expires_at = NULL,
        version = j.version + 1
    FROM u
    WHERE j.seq = u.seq AND j.status = 'processing' AND j.lease_expires_at < :now
    RETURNING j.*
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, CASE WHEN status = 'queued' THEN 'status' ELSE status END,
           status, progress_pct, step, attempt, :now
    FROM upd
)
SELECT * FROM upd

-- name: cancel_queued
WITH upd AS (
    UPDATE lro_jobs
    SET status = 'cancelled', finished_at = :now, updated_at = :now, expires_at = :expires_at,
        version = version + 1
    WHERE id = :id AND status = 'queued'
    RETURNING *
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'cancelled', status, progress_pct, step, attempt, :now FROM upd
)
SELECT * FROM upd

-- name: request_cancel_running
-- The event carries cancel_requested, so the NOTIFY tells the worker holding the job,
-- on whichever machine, to stop it.
WITH upd AS (
    UPDATE lro_jobs
    SET cancel_requested = true, updated_at = :now, version = version + 1
    WHERE id = :id AND status = 'processing' AND NOT cancel_requested
    RETURNING *
),
ev AS (
    INSERT INTO lro_events (job_id, version, kind, status, progress_pct, step, attempt,
                            cancel_requested, at)
    SELECT id, version, 'status', status, progress_pct, step, attempt, true, :now FROM upd
)
SELECT * FROM upd

-- name: delete_terminal
-- No event exists for a deletion, so the statement notifies itself: other processes'
-- waiters re-read and find the job gone.
WITH del AS (
    DELETE FROM lro_jobs
    WHERE id = :id AND status IN ('completed', 'failed', 'cancelled')
    RETURNING *
),
del_events AS (
    DELETE FROM lro_events e USING del WHERE e.job_id = del.id
)
SELECT del.*,
       pg_notify(
           'lro_changes',
           coalesce(current_setting('lro.origin', true), '') || '|' || del.id || ' '
           || del.version || ' ' || del.status || ' 0'
       )::text AS notified
FROM del

-- name: sweep
-- Concurrent sweepers take disjoint batches (SKIP LOCKED) and never wait for a claim or
-- for each other; status is re-checked although only terminal jobs carry expires_at, so
-- an active job is never swept whatever wrote its row. The same statement drops old
-- tombstones and releases expired idempotency keys, each batch-limited and lock-skipping,
-- and never touching the rows deleted here.
WITH doomed AS (
    SELECT seq FROM lro_jobs
    WHERE expires_at <= :now AND status IN ('completed', 'failed', 'cancelled')
    ORDER BY expires_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
),
del AS (
    DELETE FROM lro_jobs j USING doomed WHERE j.seq = doomed.seq
    RETURNING j.id, j.owner, j.expires_at, j.result_ref
),
del_events AS (
    DELETE FROM lro_events e USING del WHERE e.job_id = del.id
),
tombs AS (
    INSERT INTO lro_tombstones (job_id, owner, expired_at, keep_until)
    SELECT id, owner, expires_at, expires_at + make_interval(secs => :tombstone_seconds) FROM del
    ON CONFLICT (job_id) DO UPDATE
    SET owner = excluded.owner, expired_at = excluded.expired_at,
        keep_until = excluded.keep_until
),
old_tombs AS (
    DELETE FROM lro_tombstones
    WHERE job_id IN (
        SELECT job_id FROM lro_tombstones
        WHERE keep_until <= :now AND job_id NOT IN (SELECT id FROM del)
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
),
stale_keys AS (
    UPDATE lro_jobs
    SET idempotency_key = NULL, request_fingerprint = NULL, idempotency_expires_at = NULL
    WHERE seq IN (
        SELECT seq FROM lro_jobs
        WHERE idempotency_key IS NOT NULL AND idempotency_expires_at <= :now
          AND seq NOT IN (SELECT seq FROM doomed)
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
)
SELECT id, result_ref::text AS result_ref FROM del

-- name: get_tombstone
SELECT job_id, owner, expired_at FROM lro_tombstones WHERE job_id = :id AND keep_until > :now

-- name: list_jobs
-- Keyset pagination on the lro_jobs_owner_created index; the first page passes no cursor
-- and compares against 'infinity'.
SELECT * FROM lro_jobs j
WHERE owner = :owner
  AND (created_at, id)
      < (coalesce(:after_created::timestamptz, 'infinity'::timestamptz), :after_id::text)
  AND {{list_filters}}
ORDER BY created_at DESC, id DESC
LIMIT :limit

-- name: list_all_jobs
-- list_jobs for an admin: every owner, on the lro_jobs_created index.
SELECT * FROM lro_jobs j
WHERE (created_at, id)
      < (coalesce(:after_created::timestamptz, 'infinity'::timestamptz), :after_id::text)
  AND {{list_filters}}
ORDER BY created_at DESC, id DESC
LIMIT :limit

-- name: events_after
SELECT job_id, version, kind, status, progress_pct, step, attempt, at FROM lro_events
WHERE job_id = :id AND version > :after
ORDER BY version

-- name: jobs_with_events
-- Each wanted job with its events after its own floor, as a JSON array: one round trip
-- for the reads of every feed that a burst of changes made due (lro.feeds). One
-- statement, one snapshot: each job row is at least as new as its events. A job that
-- does not exist has no row; `ord` says which wanted item a row answers.
SELECT w.ord, j.*, (
    SELECT coalesce(json_agg(json_build_array(
        e.version, e.kind, e.status, e.progress_pct, e.step, e.attempt,
        extract(epoch FROM e.at)::float8
    ) ORDER BY e.version), '[]')
    FROM lro_events e WHERE e.job_id = w.id AND e.version > w.after
) AS new_events
FROM unnest(:ids::text[], :afters::bigint[]) WITH ORDINALITY AS w(id, after, ord)
JOIN lro_jobs j ON j.id = w.id

-- name: recent_durations
SELECT extract(epoch FROM finished_at - started_at)::float8 AS seconds FROM lro_jobs
WHERE operation = :operation AND status = 'completed' AND started_at IS NOT NULL
ORDER BY finished_at DESC
LIMIT :limit

-- name: job_counts
-- GET /stats: an owner's jobs per operation and status, found through the owner's index;
-- expired jobs are left out, as list_jobs leaves them out. COLLATE "C" sorts by code
-- point, as SQLite does, so both stores return the same order.
SELECT operation, status, count(*) AS count FROM lro_jobs
WHERE owner = :owner AND (expires_at IS NULL OR expires_at > :now)
GROUP BY operation, status
ORDER BY operation COLLATE "C", status COLLATE "C"

-- name: job_counts_all
-- job_counts for an admin: every owner's jobs.
SELECT operation, status, count(*) AS count FROM lro_jobs
WHERE expires_at IS NULL OR expires_at > :now
GROUP BY operation, status
ORDER BY operation COLLATE "C", status COLLATE "C"

-- name: oldest_queued
-- /metrics: when each operation's oldest due, queued job became due: the plain jobs on
-- the claim index, the ones with a concurrency key on lro_jobs_limited (0008/0009).
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
