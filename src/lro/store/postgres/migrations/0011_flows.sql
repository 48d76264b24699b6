-- Flows (HTTP-CONTRACT §15, §17): tags and metadata on jobs, and batches.
--
-- `tags` is a JSON array of strings and `metadata` a JSON object, both NULL when the
-- submit gave none. A tag filter must not scan the jobs table, so every tag is also a row
-- of `lro_job_tags`, keyed in the order a list walks it (owner, tag, newest first): a
-- list by tag is a range of that key, however many jobs there are. A trigger writes the
-- rows; the foreign key removes them with their job.
ALTER TABLE lro_jobs ADD COLUMN tags jsonb;
ALTER TABLE lro_jobs ADD COLUMN metadata jsonb;
ALTER TABLE lro_jobs ADD COLUMN batch_id text;

CREATE TABLE lro_job_tags (
    owner text NOT NULL,
    tag text NOT NULL,
    created_at timestamptz NOT NULL,
    job_id text NOT NULL REFERENCES lro_jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (owner, tag, created_at, job_id)
);

-- An admin's list by tag spans every owner; the cascade finds a job's rows by job_id.
CREATE INDEX lro_job_tags_all ON lro_job_tags (tag, created_at, job_id);
CREATE INDEX lro_job_tags_job ON lro_job_tags (job_id);

CREATE FUNCTION lro_index_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lro_job_tags (owner, tag, created_at, job_id)
    SELECT DISTINCT NEW.owner, t, NEW.created_at, NEW.id
    FROM jsonb_array_elements_text(NEW.tags) t
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER lro_jobs_tags AFTER INSERT ON lro_jobs
FOR EACH ROW WHEN (NEW.tags IS NOT NULL) EXECUTE FUNCTION lro_index_tags();

-- A batch: jobs submitted together (POST /batches). `unfinished` counts its jobs not yet
-- terminal; the job verbs move it through the trigger below in the same transaction as
-- the job's own change. The batch row's lock orders concurrent endings, so exactly one
-- of them sees the count reach 0, and it writes the one `batch.completed` delivery
-- (attached to that job, so it goes through the outbox like every webhook).
CREATE TABLE lro_batches (
    id text PRIMARY KEY,
    owner text NOT NULL,
    total integer NOT NULL,
    unfinished integer NOT NULL,
    callback_url text,
    callback_target text,
    created_at timestamptz NOT NULL,
    finished_at timestamptz,
    expires_at timestamptz,
    idempotency_key text,
    request_fingerprint text,
    idempotency_expires_at timestamptz
);

CREATE UNIQUE INDEX lro_batches_idempotency ON lro_batches (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE INDEX lro_batches_expiry ON lro_batches (expires_at) WHERE expires_at IS NOT NULL;

CREATE INDEX lro_jobs_batch ON lro_jobs (batch_id, seq) WHERE batch_id IS NOT NULL;

CREATE FUNCTION lro_batch_progress() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    left_ integer;
    b_url text;
    b_target text;
BEGIN
    IF NEW.status IN ('completed', 'failed', 'cancelled') THEN
        UPDATE lro_batches
        SET unfinished = unfinished - 1,
            finished_at = CASE WHEN unfinished = 1 THEN NEW.updated_at END,
            expires_at = CASE WHEN unfinished = 1 THEN NEW.expires_at END
        WHERE id = NEW.batch_id
        RETURNING unfinished, callback_url, callback_target INTO left_, b_url, b_target;
        IF FOUND AND left_ = 0 AND b_url IS NOT NULL THEN
            INSERT INTO lro_deliveries (id, job_id, event_type, url, event_at,
                                        next_attempt_at, created_at, target)
            VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id,
                    'batch.completed', b_url, NEW.updated_at, NEW.updated_at,
                    NEW.updated_at, coalesce(b_target, ''));
        END IF;
    ELSE
        -- A job that runs again after it ended (a retry, HTTP-CONTRACT §14).
        UPDATE lro_batches SET unfinished = unfinished + 1, finished_at = NULL,
                               expires_at = NULL
        WHERE id = NEW.batch_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER lro_jobs_batch AFTER UPDATE OF status ON lro_jobs
FOR EACH ROW WHEN (
    NEW.batch_id IS NOT NULL
    AND (OLD.status IN ('queued', 'processing')) <> (NEW.status IN ('queued', 'processing'))
) EXECUTE FUNCTION lro_batch_progress();

-- Dependencies (HTTP-CONTRACT §17). `depends_on` is the JSON array of job ids a job
-- needs, `waiting_on` those of them not yet ended (NULL once none is left), and
-- `dependency_policy` 'always' when the job runs whatever its dependencies' outcome.
-- A waiting job is a job not yet due: its `run_at` is far in the future (9999-01-01),
-- so the claim leaves it alone as it leaves a delayed job, and holds no worker slot.
-- `lro_job_dependencies` holds one edge per (dependency, dependent), so the ending of a
-- job finds its dependents by key, not by a scan.
ALTER TABLE lro_jobs ADD COLUMN depends_on jsonb;
ALTER TABLE lro_jobs ADD COLUMN waiting_on jsonb;
ALTER TABLE lro_jobs ADD COLUMN dependency_policy text;

CREATE TABLE lro_job_dependencies (
    dependency_id text NOT NULL,
    job_id text NOT NULL REFERENCES lro_jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (dependency_id, job_id)
);

CREATE INDEX lro_job_dependencies_job ON lro_job_dependencies (job_id);

CREATE FUNCTION lro_index_dependencies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lro_job_dependencies (dependency_id, job_id)
    SELECT DISTINCT d, NEW.id FROM jsonb_array_elements_text(NEW.depends_on) d
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER lro_jobs_dependencies AFTER INSERT ON lro_jobs
FOR EACH ROW WHEN (NEW.depends_on IS NOT NULL) EXECUTE FUNCTION lro_index_dependencies();

-- A job ended: its waiting dependents stop waiting on it, in the same transaction as the
-- ending, whichever verb ended it. A completed dependency (or any ending, for a dependent
-- with policy 'always') is taken off `waiting_on`; the last one makes the job due now. A
-- failed or cancelled one fails the others with code dependency_failed (their expiry is
-- the ending job's: the same retention); their own endings fire this trigger again, so
-- the failure reaches every job downstream. Each change is version + 1 with its event,
-- like every change of a job. The events' NOTIFY carries no origin, so this process's
-- own listeners hear of them too (the verb that ended the job does not know of them).
CREATE FUNCTION lro_release_dependents() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    origin text := coalesce(current_setting('lro.origin', true), '');
BEGIN
    PERFORM set_config('lro.origin', '', true);
    IF NEW.status IN ('failed', 'cancelled') THEN
        WITH doomed AS (
            UPDATE lro_jobs j
            SET status = 'failed',
                error = jsonb_build_object(
                    'type', 'https://lro.dev/problems/dependency-failed',
                    'title', 'A job this one depends on did not complete',
                    'detail', 'Dependency ' || NEW.id || ' ended ' || NEW.status
                              || ', so this job did not run.',
                    'code', 'dependency_failed',
                    'retryable', false,
                    'attempts', j.attempt),
                finished_at = NEW.updated_at,
                updated_at = NEW.updated_at,
                expires_at = NEW.expires_at,
                waiting_on = NULL,
                version = j.version + 1
            FROM lro_job_dependencies e
            WHERE e.dependency_id = NEW.id AND j.id = e.job_id
              AND j.status = 'queued' AND j.waiting_on IS NOT NULL
              AND j.dependency_policy IS DISTINCT FROM 'always'
            RETURNING j.*
        )
        INSERT INTO lro_events (job_id, version, kind, status, progress_pct, step, attempt, at)
        SELECT id, version, 'failed', 'failed', progress_pct, step, attempt, NEW.updated_at
        FROM doomed;
    END IF;
    WITH released AS (
        UPDATE lro_jobs j
        SET waiting_on = nullif(j.waiting_on - NEW.id, '[]'::jsonb),
            run_at = CASE WHEN j.waiting_on - NEW.id = '[]'::jsonb
                          THEN NEW.updated_at ELSE j.run_at END,
            updated_at = NEW.updated_at,
            version = j.version + 1
        FROM lro_job_dependencies e
        WHERE e.dependency_id = NEW.id AND j.id = e.job_id
          AND j.status = 'queued' AND j.waiting_on ? NEW.id
          AND (NEW.status = 'completed' OR j.dependency_policy = 'always')
        RETURNING j.*
    )
    INSERT INTO lro_events (job_id, version, kind, status, progress_pct, step, attempt, at)
    SELECT id, version, 'progress', status, progress_pct, step, attempt, NEW.updated_at
    FROM released;
    PERFORM set_config('lro.origin', origin, true);
    RETURN NULL;
END
$$;

CREATE TRIGGER lro_jobs_dependents AFTER UPDATE OF status ON lro_jobs
FOR EACH ROW WHEN (
    OLD.status IN ('queued', 'processing')
    AND NEW.status IN ('completed', 'failed', 'cancelled')
) EXECUTE FUNCTION lro_release_dependents();

-- Schedules (HTTP-CONTRACT §16), per principal like jobs. A firing that made a job is a
-- row of lro_schedule_firings, whose key (owner, schedule_id, due_at) is the firing's
-- identity: however many processes fire one due time, one job is made.
CREATE TABLE lro_schedules (
    owner text NOT NULL,
    id text NOT NULL,
    operation text NOT NULL,
    params jsonb NOT NULL,
    cron text,
    interval_seconds double precision,
    timezone text NOT NULL,
    overlap text NOT NULL CHECK (overlap IN ('skip', 'allow')),
    paused boolean NOT NULL DEFAULT false,
    tags jsonb,
    callback_url text,
    next_run_at timestamptz NOT NULL,
    last_run_at timestamptz,
    last_job_id text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (owner, id)
);

CREATE INDEX lro_schedules_due ON lro_schedules (next_run_at) WHERE NOT paused;

CREATE TABLE lro_schedule_firings (
    owner text NOT NULL,
    schedule_id text NOT NULL,
    due_at timestamptz NOT NULL,
    job_id text NOT NULL,
    PRIMARY KEY (owner, schedule_id, due_at)
);
