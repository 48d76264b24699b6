-- Submits (lro.store.postgres.insert): the batch insert, with idempotency and the direct
-- hand-off to a parked worker decided in the same statement, and its idempotency rounds.

-- name: insert_jobs
-- ON CONFLICT on the partial unique index decides idempotency: a concurrent inserter of
-- the same (owner, key) makes this statement wait for its commit, then skip the row; the
-- caller then reads the winner. An id that already exists is an error, as it should be.
--
-- Hand-off (:may_hand_off, a single job due now): `idle` locks the longest-parked worker
-- that runs this operation (SKIP LOCKED: concurrent submits take different workers) and
-- probes its liveness lock; if its LISTEN session is alive, the job is inserted already
-- leased to it (version 1 queued, version 2 processing, both as events) and `note` sends
-- it the row, which is delivered at commit. Its park is then used up (`gone`); a dead
-- worker's row goes too, and its job is simply queued. A row that ON CONFLICT skipped
-- uses no park.
--
-- A column's array may be NULL where every job has NULL there (insert.insert_params):
-- a multi-argument unnest pads it with NULLs. callback_progress NULL means false.
WITH input AS (
    SELECT *
    FROM unnest(
        :ids::text[], :operations::text[], :params::text[], :owners::text[],
        :priorities::int[], :max_attempts::int[], :timeouts::float8[], :run_at::timestamptz[],
        :estimates::float8[], :callback_urls::text[], :keys::text[], :fingerprints::text[],
        :key_expiries::timestamptz[], :callback_progress::bool[], :callback_targets::text[],
        :queues::text[], :concurrency_keys::text[],
        :tags::text[], :metadata::text[], :batch_ids::text[], :depends_on::text[],
        :dependency_policies::text[], :trace_contexts::text[]
    ) WITH ORDINALITY AS t(
        id, operation, params, owner, priority, max_attempts, timeout_seconds, run_at,
        estimated_duration_seconds, callback_url, idempotency_key, request_fingerprint,
        idempotency_expires_at, callback_progress, callback_target, queue, concurrency_key,
        tags, metadata, batch_id, depends_on, dependency_policy, trace_context, ord
    )
),
idle AS (
    SELECT w.worker_id, w.lease_seconds,
           NOT pg_try_advisory_xact_lock({{handoff_lock_class}}, w.lock_key) AS alive
    FROM lro_idle_workers w
    WHERE :may_hand_off::bool
      AND (w.operations IS NULL OR w.operations @> :operations::text[])
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
        callback_target, attempt, worker_id, lease_token, lease_expires_at, started_at,
        queue, concurrency_key,
        tags, metadata, batch_id, depends_on, dependency_policy, trace_context
    )
    SELECT input.id, operation,
           CASE WHEN taker.worker_id IS NULL THEN 'queued' ELSE 'processing' END,
           params::jsonb, owner, priority, max_attempts, timeout_seconds, run_at, :now, :now,
           estimated_duration_seconds, CASE WHEN taker.worker_id IS NULL THEN 1 ELSE 2 END,
           callback_url, idempotency_key, request_fingerprint, idempotency_expires_at,
           coalesce(callback_progress, false), callback_target,
           CASE WHEN taker.worker_id IS NULL THEN 0 ELSE 1 END, taker.worker_id,
           CASE WHEN taker.worker_id IS NOT NULL
                THEN replace(gen_random_uuid()::text, '-', '') END,
           :now::timestamptz + taker.lease_seconds * interval '1 second',
           CASE WHEN taker.worker_id IS NOT NULL THEN :now::timestamptz END,
           queue, concurrency_key,
           tags::jsonb, metadata::jsonb, batch_id, depends_on::jsonb, dependency_policy,
           trace_context
    FROM input LEFT JOIN taker ON input.ord = 1
    ORDER BY ord
    ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *
),
ev AS (
    INSERT INTO lro_events {{event_columns}}
    SELECT id, 1, 'status', 'queued', 0, NULL, 0, :now FROM ins
    UNION ALL
    SELECT id, 2, 'status', 'processing', 0, NULL, 1, :now FROM ins WHERE worker_id IS NOT NULL
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
-- `note` is read in the select list: a CTE nobody reads is never run. Only what this
-- statement decides is returned (the rest is the caller's NewJob, insert.stored_job):
-- whether the job was handed off, and to whom. Every other column is the input as given
-- or a column default, and sending the whole row back (43 columns, params as jsonb text
-- to parse again) cost more than the insert's own indexes (docs/benchmarks.md).
SELECT ins.id, ins.status, ins.version, ins.attempt, ins.worker_id, ins.lease_token,
       ins.lease_expires_at, ins.started_at,
       (SELECT count(*) FROM note) AS handed_to
FROM ins

-- name: key_holders
SELECT * FROM lro_jobs
WHERE idempotency_key IS NOT NULL
  AND (owner, idempotency_key) IN (SELECT * FROM unnest(:owners::text[], :keys::text[]))

-- name: release_stale_keys
-- Bookkeeping, not a change of the job's state: no version bump, no event. Staleness is
-- re-checked under the row lock, so a key that another inserter just took stays.
UPDATE lro_jobs
SET idempotency_key = NULL, request_fingerprint = NULL, idempotency_expires_at = NULL
WHERE seq = ANY(:seqs::bigint[])
  AND (idempotency_expires_at <= :now OR expires_at <= :now)

-- name: jobs_by_id
SELECT * FROM lro_jobs WHERE id = ANY(:ids::text[])
