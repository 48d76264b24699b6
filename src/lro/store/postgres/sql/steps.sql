-- Long-job queries (lro.store.postgres.steps); see migrations/0010_steps.sql.
--
-- The fence: each write reads the job's lease in the same statement and locks the job
-- row (FOR SHARE, or the UPDATE's own lock for partials), so the rescuer cannot take
-- the lease between the check and the write; it waits for the commit and then finds
-- the write made while the lease was still held. Batches lock in id order, like the job
-- verbs, so they queue behind a heartbeat batch instead of deadlocking with it.

-- name: resume
SELECT (SELECT value::text FROM lro_checkpoints WHERE job_id = :job_id) AS checkpoint,
       EXISTS (SELECT 1 FROM lro_checkpoints WHERE job_id = :job_id) AS found,
       (SELECT coalesce(json_object_agg(name, result), '{}')::text FROM lro_steps
        WHERE job_id = :job_id AND status = 'completed') AS completed,
       (SELECT coalesce(sum(length(data::text)), 0) FROM lro_partials
        WHERE job_id = :job_id)::bigint AS partial_bytes

-- name: list_steps
SELECT name, status, attempt, result::text AS result, started_at, finished_at FROM lro_steps
WHERE job_id = :job_id
ORDER BY ord, started_at

-- name: fenced_job
SELECT id, attempt FROM lro_jobs
WHERE id = :job_id AND status = 'processing' AND lease_token = :token
FOR SHARE

-- name: start_step
-- A completed step is never run again, so it is never reset either.
WITH j AS ({{fenced_job}}),
ins AS (
    INSERT INTO lro_steps (job_id, name, ord, status, attempt, result, started_at, finished_at)
    SELECT j.id, :name,
           coalesce((SELECT max(ord) FROM lro_steps WHERE job_id = :job_id), 0) + 1,
           'running', j.attempt, NULL, :now, NULL
    FROM j
    ON CONFLICT (job_id, name) DO UPDATE
    SET status = 'running', attempt = excluded.attempt, started_at = excluded.started_at,
        finished_at = NULL, result = NULL
    WHERE lro_steps.status <> 'completed'
)
SELECT count(*) AS held FROM j

-- name: finish_step
WITH j AS ({{fenced_job}}),
ins AS (
    INSERT INTO lro_steps (job_id, name, ord, status, attempt, result, started_at, finished_at)
    SELECT j.id, :name,
           coalesce((SELECT max(ord) FROM lro_steps WHERE job_id = :job_id), 0) + 1,
           'completed', j.attempt, :result::jsonb, :now, :now
    FROM j
    ON CONFLICT (job_id, name) DO UPDATE
    SET status = 'completed', attempt = excluded.attempt, result = excluded.result,
        finished_at = excluded.finished_at
    WHERE lro_steps.status <> 'completed'
)
SELECT count(*) AS held FROM j

-- name: fail_step
WITH j AS ({{fenced_job}}),
upd AS (
    UPDATE lro_steps s SET status = 'failed', attempt = j.attempt, finished_at = :now
    FROM j
    WHERE s.job_id = j.id AND s.name = :name AND s.status = 'running'
)
SELECT count(*) AS held FROM j

-- name: set_checkpoints
-- Of several writes for one job in a batch, the last (highest n) wins.
WITH u AS (
    SELECT * FROM unnest(:job_ids::text[], :tokens::text[], :vals::text[])
        WITH ORDINALITY AS u(id, token, value, n)
),
locked AS (
    SELECT j.id, j.attempt, u.token, u.value, u.n
    FROM lro_jobs j JOIN u ON j.id = u.id AND j.lease_token = u.token
    WHERE j.status = 'processing'
    ORDER BY j.id
    FOR SHARE OF j
),
latest AS (
    SELECT DISTINCT ON (id) id, attempt, value FROM locked ORDER BY id, n DESC
),
ins AS (
    INSERT INTO lro_checkpoints (job_id, value, attempt, updated_at)
    SELECT id, value::jsonb, attempt, :now FROM latest
    ON CONFLICT (job_id) DO UPDATE
    SET value = excluded.value, attempt = excluded.attempt, updated_at = excluded.updated_at
)
SELECT id, token FROM locked

-- name: append_partials
-- One job's partials: version + count under the row's lock (the fence is the UPDATE's
-- WHERE), one event and one partial row per value, numbered after the ones stored.
WITH vals AS (
    SELECT * FROM unnest(:datas::text[]) WITH ORDINALITY AS v(data, n)
),
upd AS (
    UPDATE lro_jobs
    SET version = version + :count, updated_at = :now
    WHERE id = :job_id AND status = 'processing' AND lease_token = :token
    RETURNING id, version, status, progress_pct, step, attempt
),
base AS (
    SELECT coalesce(max(seq), 0) AS seq FROM lro_partials WHERE job_id = :job_id
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT upd.id, upd.version - :count + vals.n::integer, 'partial', upd.status,
           upd.progress_pct, upd.step, upd.attempt, :now
    FROM upd, vals
),
ins AS (
    INSERT INTO lro_partials (job_id, seq, version, data, created_at)
    SELECT upd.id, base.seq + vals.n::integer, upd.version - :count + vals.n::integer,
           vals.data::jsonb, :now
    FROM upd, vals, base
)
SELECT id, version, status FROM upd

-- name: partials
SELECT seq, version, data::text AS data, created_at FROM lro_partials
WHERE job_id = :job_id AND seq > :after
ORDER BY seq
LIMIT :limit

-- name: partials_at
SELECT seq, version, data::text AS data, created_at FROM lro_partials
WHERE job_id = :job_id AND version = ANY(:versions::integer[])
ORDER BY seq

-- name: retry_job
-- Expired jobs are gone for clients (and may be swept at any moment): not retried.
WITH upd AS (
    UPDATE lro_jobs
    SET status = 'queued', run_at = :now, updated_at = :now, error = NULL, result = NULL,
        result_ref = NULL, finished_at = NULL, expires_at = NULL, cancel_requested = false,
        progress_pct = 0, step = NULL, max_attempts = greatest(max_attempts, attempt + 1),
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL,
        version = version + 1
    WHERE id = :id AND status IN ('failed', 'cancelled')
      AND (expires_at IS NULL OR expires_at > :now)
    RETURNING *
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, version, 'status', status, progress_pct, step, attempt, :now FROM upd
)
SELECT * FROM upd

-- name: get_job_row
SELECT * FROM lro_jobs WHERE id = :id

-- name: select_jobs
SELECT id FROM lro_jobs
WHERE (:owner::text IS NULL OR owner = :owner::text)
  AND (expires_at IS NULL OR expires_at > :now)
  AND (:statuses::text[] IS NULL OR status = ANY(:statuses::text[]))
  AND (:operation::text IS NULL OR operation = :operation::text)
  AND (:before::timestamptz IS NULL OR created_at < :before::timestamptz)
  AND (:after::timestamptz IS NULL OR created_at > :after::timestamptz)
  AND (:tag::text IS NULL OR id IN (SELECT job_id FROM lro_job_tags WHERE tag = :tag::text))
  AND (:exclude::text IS NULL OR id <> :exclude::text)
ORDER BY created_at, id
LIMIT :limit
