-- 0001: jobs (the queue), their event log, tombstones of swept jobs, change notifications.
--
-- Tables are prefixed `lro_` so the schema can live beside an application's own tables.
-- Times are timestamptz; JSON values are jsonb; ids are the caller's strings (UUIDs).
-- The version table (lro_schema_version) is created by the migrator itself.

-- `seq` is the creation order that breaks claim ties, and the cheap key the batch
-- statements join on. `id` is the caller's UUID.
CREATE TABLE lro_jobs (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    operation text NOT NULL,
    status text NOT NULL
        CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
    params jsonb NOT NULL,
    owner text NOT NULL,
    priority integer NOT NULL,
    progress_pct double precision NOT NULL DEFAULT 0,
    step text,
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    timeout_seconds double precision,
    run_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    expires_at timestamptz,
    estimated_duration_seconds double precision,
    version integer NOT NULL,
    cancel_requested boolean NOT NULL DEFAULT false,
    result jsonb,
    result_ref jsonb,
    error jsonb,
    callback_url text,
    idempotency_key text,
    request_fingerprint text,
    idempotency_expires_at timestamptz,
    lease_token text,
    lease_expires_at timestamptz,
    worker_id text
);

-- A queue table churns: every claim and completion leaves a dead row version behind, and
-- the claim plan (an ordered walk of lro_jobs_claim that stops after LIMIT rows) is only
-- chosen with fresh statistics. Vacuum and analyze it far sooner than the defaults (20% /
-- 10% of the table). fillfactor leaves room on each page so progress updates, which
-- touch no indexed column, can be HOT updates that write no index entries.
ALTER TABLE lro_jobs SET (
    fillfactor = 90,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02
);

-- The claim scan walks this partial index in claim order and stops after LIMIT rows; it
-- only ever holds queued jobs, so it stays small however many finished jobs are kept.
CREATE INDEX lro_jobs_claim ON lro_jobs (priority DESC, run_at, seq) WHERE status = 'queued';

-- The rescuer: processing jobs by lease expiry.
CREATE INDEX lro_jobs_lease ON lro_jobs (lease_expires_at) WHERE status = 'processing';

-- The sweeper: only terminal jobs carry expires_at.
CREATE INDEX lro_jobs_expiry ON lro_jobs (expires_at) WHERE expires_at IS NOT NULL;

-- Exactly one job per live (owner, key): the index, not the code, decides; concurrent
-- inserters of the same key wait on each other inside INSERT ... ON CONFLICT.
CREATE UNIQUE INDEX lro_jobs_idempotency ON lro_jobs (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX lro_jobs_idempotency_expiry ON lro_jobs (idempotency_expires_at)
    WHERE idempotency_key IS NOT NULL;

-- list_jobs: one owner's jobs, newest first, keyset-paginated on (created_at, id).
CREATE INDEX lro_jobs_owner_created ON lro_jobs (owner, created_at DESC, id DESC);

-- recent_durations: latest completed runs of one operation.
CREATE INDEX lro_jobs_durations ON lro_jobs (operation, finished_at DESC)
    WHERE status = 'completed';

-- One row per committed change of a job, keyed by the job's own version, which is
-- assigned under the job row's lock: per-job ids in commit order, unlike a global
-- sequence. No foreign key: its per-row check would cost a lookup on every event, and
-- the two statements that delete jobs delete their events in the same statement.
-- `cancel_requested` is true only on the change that requested cancellation of a
-- processing job (JobChange.cancel_requested).
CREATE TABLE lro_events (
    job_id text NOT NULL,
    version integer NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    progress_pct double precision NOT NULL,
    step text,
    attempt integer NOT NULL,
    cancel_requested boolean NOT NULL DEFAULT false,
    at timestamptz NOT NULL,
    PRIMARY KEY (job_id, version)
);

CREATE TABLE lro_tombstones (
    job_id text PRIMARY KEY,
    owner text NOT NULL,
    expired_at timestamptz NOT NULL,
    keep_until timestamptz NOT NULL
);
CREATE INDEX lro_tombstones_keep_until ON lro_tombstones (keep_until);

-- Change notifications follow the event log: every change writes exactly one event, so
-- notifying from event inserts notifies every change and nothing else (heartbeats write
-- no event). One statement-level trigger per INSERT statement sends compact multi-job
-- payloads "origin|id version status cancel;..." chunked below NOTIFY's 8000-byte limit;
-- they are delivered at commit, and not at all on rollback. `lro.origin` is set per
-- connection by the store, so a process can skip its own changes (it already dispatched
-- them locally).
CREATE FUNCTION lro_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    origin text := coalesce(current_setting('lro.origin', true), '');
    payload text;
BEGIN
    FOR payload IN
        SELECT string_agg(line, ';')
        FROM (
            SELECT line, sum(length(line) + 1) OVER (ROWS UNBOUNDED PRECEDING) / 7000 AS chunk
            FROM (
                SELECT job_id || ' ' || version || ' ' || status || ' '
                       || CASE WHEN cancel_requested THEN '1' ELSE '0' END AS line
                FROM new_events
            ) lines
        ) chunks
        GROUP BY chunk
    LOOP
        PERFORM pg_notify('lro_changes', origin || '|' || payload);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER lro_events_notify
    AFTER INSERT ON lro_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION lro_notify_events();
