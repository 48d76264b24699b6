-- Named queries of the PostgreSQL store. A block runs from its `-- name:` line to the next;
-- `{{name}}` includes another block's text (a fragment, never a value). Every value is a
-- bound parameter; batches pass one array per column and unnest them, so a batch of any
-- size is one statement and one round trip.
--
-- Every statement that changes a job's version inserts its event row in a CTE of the same
-- statement; the trigger on lro_events turns those inserts into NOTIFY payloads.
--
-- Batch updates of leased jobs lock their rows in `id` order first (the `locked` CTEs):
-- a worker's heartbeat batch and its completion batch may touch the same rows at the same
-- moment, and locking in one global order means they queue instead of deadlocking.

-- name: event_columns
(job_id, version, kind, status, progress_pct, step, attempt, at)

-- name: get_job
SELECT * FROM lro_jobs WHERE id = $1

-- name: handoff_lock_class
1819438952

-- name: insert_jobs
-- ON CONFLICT on the partial unique index decides idempotency: a concurrent inserter of
-- the same (owner, key) makes this statement wait for its commit, then skip the row; the
-- caller then reads the winner. An id that already exists is an error, as it should be.
--
-- Hand-off ($17: a single job, due now): `idle` locks the longest-parked worker that runs
-- this operation (SKIP LOCKED: concurrent submits take different workers) and probes its
-- liveness lock; if its LISTEN session is alive, the job is inserted already leased to it
-- (version 1 queued, version 2 processing, both as events) and `note` sends it the row,
-- which is delivered at commit. Its park is then used up (`gone`); a dead worker's row
-- goes too, and its job is simply queued. A row that ON CONFLICT skipped uses no park.
WITH input AS (
    SELECT *
    FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[],
        $7::float8[], $8::timestamptz[], $9::float8[], $10::text[], $11::text[],
        $12::text[], $13::timestamptz[], $15::bool[], $16::text[]
    ) WITH ORDINALITY AS t(
        id, operation, params, owner, priority, max_attempts, timeout_seconds, run_at,
        estimated_duration_seconds, callback_url, idempotency_key, request_fingerprint,
        idempotency_expires_at, callback_progress, callback_target, ord
    )
),
idle AS (
    SELECT w.worker_id, w.lease_seconds,
           NOT pg_try_advisory_xact_lock({{handoff_lock_class}}, w.lock_key) AS alive
    FROM lro_idle_workers w
    WHERE $17::bool AND (w.operations IS NULL OR w.operations @> $2::text[])
    ORDER BY w.parked_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
),
taker AS (
    SELECT worker_id, lease_seconds FROM idle WHERE alive
),
ins AS (
    INSERT INTO lro_jobs (
        id, operation, status, params, owner, priority, max_attempts, timeout_seconds,
        run_at, created_at, updated_at, estimated_duration_seconds, version, callback_url,
        idempotency_key, request_fingerprint, idempotency_expires_at, callback_progress,
        callback_target, attempt, worker_id, lease_token, lease_expires_at, started_at
    )
    SELECT input.id, operation, CASE WHEN taker.worker_id IS NULL THEN 'queued' ELSE 'processing' END,
           params::jsonb, owner, priority, max_attempts, timeout_seconds, run_at, $14, $14,
           estimated_duration_seconds, CASE WHEN taker.worker_id IS NULL THEN 1 ELSE 2 END,
           callback_url, idempotency_key, request_fingerprint, idempotency_expires_at,
           callback_progress, callback_target,
           CASE WHEN taker.worker_id IS NULL THEN 0 ELSE 1 END, taker.worker_id,
           CASE WHEN taker.worker_id IS NOT NULL
                THEN replace(gen_random_uuid()::text, '-', '') END,
           $14::timestamptz + taker.lease_seconds * interval '1 second',
           CASE WHEN taker.worker_id IS NOT NULL THEN $14::timestamptz END
    FROM input LEFT JOIN taker ON input.ord = 1
    ORDER BY ord
    ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, 1, 'status', 'queued', 0, NULL, 0, $14 FROM ins
    UNION ALL
    SELECT id, 2, 'status', 'processing', 0, NULL, 1, $14 FROM ins WHERE worker_id IS NOT NULL
),
note AS (
    SELECT pg_notify('lro_changes', 'H|' || ins.worker_id || '|' || CASE
               WHEN octet_length(r.doc) <= 7800 THEN r.doc
               ELSE json_build_object('id', ins.id)::text END) AS sent
    FROM ins CROSS JOIN LATERAL (SELECT row_to_json(ins)::text AS doc) r
    WHERE ins.worker_id IS NOT NULL
),
gone AS (
    DELETE FROM lro_idle_workers w USING idle
    WHERE w.worker_id = idle.worker_id
      AND (NOT idle.alive OR EXISTS (SELECT 1 FROM ins WHERE ins.worker_id = idle.worker_id))
)
-- `note` is read in the select list: a CTE nobody reads is never run.
SELECT ins.*, (SELECT count(*) FROM note) AS handed_to FROM ins

-- name: unpark_worker
-- Whether the park was still unused: if not, a hand-off to this worker has committed.
DELETE FROM lro_idle_workers WHERE worker_id = $1 RETURNING worker_id

-- name: orphaned_handoffs
-- Jobs leased to this worker that it does not know of: a hand-off whose notification was
-- lost with the LISTEN connection. The lease partial index holds only processing jobs.
SELECT * FROM lro_jobs
WHERE status = 'processing' AND worker_id = $1 AND NOT (lease_token = ANY($2::text[]))

-- name: key_holders
SELECT * FROM lro_jobs
WHERE idempotency_key IS NOT NULL
  AND (owner, idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))

-- name: release_stale_keys
-- Bookkeeping, not a change of the job's state: no version bump, no event. Staleness is
-- re-checked under the row lock, so a key that another inserter just took stays.
UPDATE lro_jobs
SET idempotency_key = NULL, request_fingerprint = NULL, idempotency_expires_at = NULL
WHERE seq = ANY($1::bigint[])
  AND (idempotency_expires_at <= $2 OR expires_at <= $2)

-- name: claim_ctes
-- SKIP LOCKED: a claimer passes over rows another claimer (or the sweeper) has locked
-- instead of queueing behind it, so concurrent claimers take disjoint jobs. Rows are
-- picked by walking the partial index lro_jobs_claim in claim order; the lock re-checks
-- `status = 'queued'` on the latest row version, so a job is never leased twice.
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
      AND run_at <= $1
      AND ($4::text[] IS NULL OR operation = ANY($4::text[]))
    ORDER BY priority DESC, run_at, seq
    LIMIT $5
    FOR UPDATE SKIP LOCKED
),
upd AS (
    UPDATE lro_jobs j
    SET status = 'processing',
        attempt = j.attempt + 1,
        lease_token = replace(gen_random_uuid()::text, '-', ''),
        lease_expires_at = $2,
        worker_id = $3,
        started_at = $1,
        updated_at = $1,
        progress_pct = 0,
        step = NULL,
        version = j.version + 1
    FROM picked
    WHERE j.seq = picked.seq
    RETURNING j.*
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'status', status, progress_pct, step, attempt, $1 FROM upd
)

-- name: claim_jobs
WITH {{claim_ctes}}
SELECT upd.* FROM upd, async_commit ORDER BY priority DESC, run_at, seq

-- name: claim_or_park
-- A claim that, when it comes back short (nothing left for this worker), also parks the
-- worker for a hand-off (0006) in the same statement: an idle worker's claim and its park
-- cost one round trip. $6 is the LISTEN session's liveness key, $7 the lease seconds.
WITH {{claim_ctes}},
park AS (
    INSERT INTO lro_idle_workers (worker_id, lock_key, operations, lease_seconds, parked_at)
    SELECT $3, $6, $4, $7, $1
    WHERE (SELECT count(*) FROM upd) < $5
    ON CONFLICT (worker_id) DO UPDATE
    SET lock_key = EXCLUDED.lock_key, operations = EXCLUDED.operations,
        lease_seconds = EXCLUDED.lease_seconds, parked_at = EXCLUDED.parked_at
)
SELECT upd.* FROM upd, async_commit ORDER BY priority DESC, run_at, seq

-- name: heartbeat
-- No version, no event: a heartbeat is not a change anyone waits for.
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[]) AS u(id, token)
),
locked AS (
    SELECT j.seq FROM lro_jobs j JOIN u ON j.id = u.id AND j.lease_token = u.token
    WHERE j.status = 'processing'
    ORDER BY j.id
    FOR UPDATE OF j
)
UPDATE lro_jobs j SET lease_expires_at = $3
FROM locked
WHERE j.seq = locked.seq
RETURNING j.id, j.lease_token, j.cancel_requested

-- name: set_progress
-- `locked` reads the row as it is under the lock (the old values), so the statement can
-- tell a real change (progress rises, or a different step) from a repeat: only a real
-- change bumps the version and writes an event, yet every held lease is reported.
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[])
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
        updated_at = $5,
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
    SELECT id, version, 'progress', status, progress_pct, step, attempt, $5 FROM upd
)
SELECT locked.id, locked.token, upd.version, upd.status
FROM locked LEFT JOIN upd ON upd.id = locked.id

-- name: complete_jobs
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $7::text[])
        AS u(id, token, result, result_ref, step)
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
        step = COALESCE(locked.step, j.step), finished_at = $5, updated_at = $5, expires_at = $6,
        lease_token = NULL, lease_expires_at = NULL, version = j.version + 1
    FROM locked
    WHERE j.seq = locked.seq
    RETURNING j.*, locked.token AS fenced_by
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'completed', status, progress_pct, step, attempt, $5 FROM upd
)
SELECT * FROM upd

-- name: retry_job
-- The failed attempt's error is not kept: `error` is present iff the job is `failed`.
WITH upd AS (
    UPDATE lro_jobs
    SET status = 'queued', run_at = $4, updated_at = $3, progress_pct = 0, step = NULL,
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL,
        version = version + 1
    WHERE id = $1 AND lease_token = $2 AND status = 'processing'
    RETURNING *
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'status', status, progress_pct, step, attempt, $3 FROM upd
)
SELECT * FROM upd

-- name: fail_job
WITH upd AS (
    UPDATE lro_jobs
    SET status = 'failed', error = $4::jsonb, finished_at = $3, updated_at = $3,
        expires_at = $5, lease_token = NULL, lease_expires_at = NULL,
        version = version + 1
    WHERE id = $1 AND lease_token = $2 AND status = 'processing'
    RETURNING *
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'failed', status, progress_pct, step, attempt, $3 FROM upd
)
SELECT * FROM upd

-- name: cancel_running
WITH upd AS (
    UPDATE lro_jobs
    SET status = 'cancelled', finished_at = $3, updated_at = $3, expires_at = $4,
        lease_token = NULL, lease_expires_at = NULL, version = version + 1
    WHERE id = $1 AND lease_token = $2 AND status = 'processing'
    RETURNING *
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'cancelled', status, progress_pct, step, attempt, $3 FROM upd
)
SELECT * FROM upd

-- name: release_jobs
-- Graceful shutdown: the interrupted run does not count as an attempt.
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[]) AS u(id, token)
),
locked AS (
    SELECT j.seq, u.token FROM lro_jobs j JOIN u ON j.id = u.id AND j.lease_token = u.token
    WHERE j.status = 'processing'
    ORDER BY j.id
    FOR UPDATE OF j
),
upd AS (
    UPDATE lro_jobs j
    SET status = 'queued', run_at = $3, updated_at = $3,
        attempt = greatest(j.attempt - 1, 0), progress_pct = 0, step = NULL,
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL,
        version = j.version + 1
    FROM locked
    WHERE j.seq = locked.seq
    RETURNING j.*, locked.token AS fenced_by
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'status', status, progress_pct, step, attempt, $3 FROM upd
)
SELECT * FROM upd

-- name: expired_leases
-- SKIP LOCKED: rescuers in several processes split the expired jobs between them, and a
-- job whose worker is completing it right now is left to that worker.
SELECT seq, attempt, max_attempts, cancel_requested FROM lro_jobs
WHERE status = 'processing' AND lease_expires_at < $1
ORDER BY lease_expires_at
LIMIT $2
FOR UPDATE SKIP LOCKED

-- name: rescue
-- Re-checks status and lease in the statement itself (the rows are locked by
-- expired_leases in this transaction, so this is belt and braces). The new status and
-- error per row are decided by the caller: cancelled, failed (worker lost) or queued.
WITH u AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(seq, status, error)
),
upd AS (
    UPDATE lro_jobs j
    SET status = u.status,
        error = CASE WHEN u.status = 'failed' THEN u.error::jsonb ELSE j.error END,
        run_at = CASE WHEN u.status = 'queued' THEN $5 ELSE j.run_at END,
        finished_at = CASE WHEN u.status = 'queued' THEN j.finished_at ELSE $4 END,
        expires_at = CASE WHEN u.status = 'queued' THEN j.expires_at ELSE $6 END,
        progress_pct = CASE WHEN u.status = 'queued' THEN 0 ELSE j.progress_pct END,
        step = CASE WHEN u.status = 'queued' THEN NULL ELSE j.step END,
        worker_id = CASE WHEN u.status = 'queued' THEN NULL ELSE j.worker_id END,
        updated_at = $4, lease_token = NULL, lease_expires_at = NULL,
        version = j.version + 1
    FROM u
    WHERE j.seq = u.seq AND j.status = 'processing' AND j.lease_expires_at < $4
    RETURNING j.*
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, CASE WHEN status = 'queued' THEN 'status' ELSE status END,
           status, progress_pct, step, attempt, $4
    FROM upd
)
SELECT * FROM upd

-- name: cancel_queued
WITH upd AS (
    UPDATE lro_jobs
    SET status = 'cancelled', finished_at = $2, updated_at = $2, expires_at = $3,
        version = version + 1
    WHERE id = $1 AND status = 'queued'
    RETURNING *
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'cancelled', status, progress_pct, step, attempt, $2 FROM upd
)
SELECT * FROM upd

-- name: request_cancel_running
-- The event carries cancel_requested, so the NOTIFY tells the worker holding the job,
-- on whichever machine, to stop it.
WITH upd AS (
    UPDATE lro_jobs
    SET cancel_requested = true, updated_at = $2, version = version + 1
    WHERE id = $1 AND status = 'processing' AND NOT cancel_requested
    RETURNING *
),
ev AS (
    INSERT INTO lro_events (job_id, version, kind, status, progress_pct, step, attempt,
                            cancel_requested, at)
    SELECT id, version, 'status', status, progress_pct, step, attempt, true, $2 FROM upd
)
SELECT * FROM upd

-- name: delete_terminal
-- No event exists for a deletion, so the statement notifies itself: other processes'
-- waiters re-read and find the job gone.
WITH del AS (
    DELETE FROM lro_jobs
    WHERE id = $1 AND status IN ('completed', 'failed', 'cancelled')
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
    WHERE expires_at <= $1 AND status IN ('completed', 'failed', 'cancelled')
    ORDER BY expires_at
    LIMIT $2
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
    SELECT id, owner, expires_at, expires_at + make_interval(secs => $3) FROM del
    ON CONFLICT (job_id) DO UPDATE
    SET owner = excluded.owner, expired_at = excluded.expired_at,
        keep_until = excluded.keep_until
),
old_tombs AS (
    DELETE FROM lro_tombstones
    WHERE job_id IN (
        SELECT job_id FROM lro_tombstones
        WHERE keep_until <= $1 AND job_id NOT IN (SELECT id FROM del)
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    )
),
stale_keys AS (
    UPDATE lro_jobs
    SET idempotency_key = NULL, request_fingerprint = NULL, idempotency_expires_at = NULL
    WHERE seq IN (
        SELECT seq FROM lro_jobs
        WHERE idempotency_key IS NOT NULL AND idempotency_expires_at <= $1
          AND seq NOT IN (SELECT seq FROM doomed)
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    )
)
SELECT id, result_ref::text AS result_ref FROM del

-- name: get_tombstone
SELECT job_id, owner, expired_at FROM lro_tombstones WHERE job_id = $1 AND keep_until > $2

-- name: list_jobs
-- Keyset pagination on the lro_jobs_owner_created index; the first page passes no cursor
-- and compares against 'infinity'.
SELECT * FROM lro_jobs
WHERE owner = $1
  AND (created_at, id) < (coalesce($2::timestamptz, 'infinity'::timestamptz), $3::text)
  AND (expires_at IS NULL OR expires_at > $4)
  AND ($5::text IS NULL OR operation = $5::text)
  AND ($6::text[] IS NULL OR status = ANY($6::text[]))
ORDER BY created_at DESC, id DESC
LIMIT $7

-- name: list_all_jobs
-- list_jobs for an admin: every owner, on the lro_jobs_created index ($1 is unused).
SELECT * FROM lro_jobs
WHERE ($1::text IS NULL OR true)
  AND (created_at, id) < (coalesce($2::timestamptz, 'infinity'::timestamptz), $3::text)
  AND (expires_at IS NULL OR expires_at > $4)
  AND ($5::text IS NULL OR operation = $5::text)
  AND ($6::text[] IS NULL OR status = ANY($6::text[]))
ORDER BY created_at DESC, id DESC
LIMIT $7

-- name: events_after
SELECT job_id, version, kind, status, progress_pct, step, attempt, at FROM lro_events
WHERE job_id = $1 AND version > $2
ORDER BY version

-- name: job_with_events
-- The job, with its events after $2 as a JSON array: one round trip for a feed's read.
-- One statement, one snapshot: the job row is at least as new as the events.
SELECT j.*, (
    SELECT coalesce(json_agg(json_build_array(
        e.version, e.kind, e.status, e.progress_pct, e.step, e.attempt,
        extract(epoch FROM e.at)::float8
    ) ORDER BY e.version), '[]')
    FROM lro_events e WHERE e.job_id = $1 AND e.version > $2
) AS new_events
FROM lro_jobs j
WHERE j.id = $1

-- name: recent_durations
SELECT extract(epoch FROM finished_at - started_at)::float8 FROM lro_jobs
WHERE operation = $1 AND status = 'completed' AND started_at IS NOT NULL
ORDER BY finished_at DESC
LIMIT $2

-- name: job_counts
-- GET /stats: an owner's jobs per operation and status, found through the owner's index;
-- expired jobs are left out, as list_jobs leaves them out. COLLATE "C" sorts by code
-- point, as SQLite does, so both stores return the same order.
SELECT operation, status, count(*) FROM lro_jobs
WHERE owner = $1 AND (expires_at IS NULL OR expires_at > $2)
GROUP BY operation, status
ORDER BY operation COLLATE "C", status COLLATE "C"

-- name: job_counts_all
-- job_counts for an admin: every owner's jobs.
SELECT operation, status, count(*) FROM lro_jobs
WHERE expires_at IS NULL OR expires_at > $1
GROUP BY operation, status
ORDER BY operation COLLATE "C", status COLLATE "C"

-- name: oldest_queued
-- /metrics: when each operation's oldest due, queued job became due (the claim index).
SELECT operation, min(run_at) FROM lro_jobs
WHERE status = 'queued' AND run_at <= $1
GROUP BY operation
