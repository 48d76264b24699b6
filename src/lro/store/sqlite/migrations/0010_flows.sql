-- Flows (HTTP-CONTRACT §15, §17): tags and metadata on jobs, and batches.
--
-- `tags` is a JSON array of strings and `metadata` a JSON object, both NULL when the
-- submit gave none. A tag filter must not scan the jobs table, so every tag is also a row
-- of `job_tags`, keyed in the order a list walks it (owner, tag, newest first): a list
-- by tag is a range of that key, however many jobs there are. The rows are written and
-- removed by triggers, so no statement can store a tagged job without its index rows.
ALTER TABLE jobs ADD COLUMN tags TEXT;
ALTER TABLE jobs ADD COLUMN metadata TEXT;
ALTER TABLE jobs ADD COLUMN batch_id TEXT;

CREATE TABLE job_tags (
    owner TEXT NOT NULL,
    tag TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (owner, tag, created_at, job_id)
) WITHOUT ROWID;

-- An admin's list by tag spans every owner.
CREATE INDEX job_tags_all ON job_tags (tag, created_at, job_id);

CREATE TRIGGER jobs_tags_insert AFTER INSERT ON jobs
WHEN new.tags IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO job_tags (owner, tag, created_at, job_id)
    SELECT new.owner, value, new.created_at, new.id FROM json_each(new.tags);
END;

CREATE TRIGGER jobs_tags_delete AFTER DELETE ON jobs
WHEN old.tags IS NOT NULL
BEGIN
    DELETE FROM job_tags
    WHERE owner = old.owner
      AND tag IN (SELECT value FROM json_each(old.tags))
      AND created_at = old.created_at
      AND job_id = old.id;
END;

-- A batch: jobs submitted together (POST /batches). `unfinished` counts its jobs not yet
-- terminal; the job verbs move it through the triggers below in the same transaction as
-- the job's own change, so the last job to end is known without a scan, exactly once,
-- and its ending writes the one `batch.completed` delivery (attached to that job, so it
-- goes through the outbox like every webhook and is deleted with it).
CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    total INTEGER NOT NULL,
    unfinished INTEGER NOT NULL,
    callback_url TEXT,
    callback_target TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    expires_at INTEGER,
    idempotency_key TEXT,
    request_fingerprint TEXT,
    idempotency_expires_at INTEGER
);

CREATE UNIQUE INDEX batches_idempotency ON batches (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE INDEX batches_expiry ON batches (expires_at) WHERE expires_at IS NOT NULL;

CREATE INDEX jobs_batch ON jobs (batch_id, seq) WHERE batch_id IS NOT NULL;

CREATE TRIGGER jobs_batch_ended AFTER UPDATE OF status ON jobs
WHEN new.batch_id IS NOT NULL
     AND old.status IN ('queued', 'processing')
     AND new.status IN ('completed', 'failed', 'cancelled')
BEGIN
    UPDATE batches
    SET unfinished = unfinished - 1,
        finished_at = CASE WHEN unfinished = 1 THEN new.updated_at END,
        expires_at = CASE WHEN unfinished = 1 THEN new.expires_at END
    WHERE id = new.batch_id;
    INSERT INTO deliveries (id, job_id, event_type, url, event_at, next_attempt_at, created_at,
                            target)
    SELECT 'msg_' || lower(hex(randomblob(16))), new.id, 'batch.completed', b.callback_url,
           new.updated_at, new.updated_at, new.updated_at, coalesce(b.callback_target, '')
    FROM batches b
    WHERE b.id = new.batch_id AND b.unfinished = 0 AND b.callback_url IS NOT NULL;
END;

-- A job that runs again after it ended (a retry, HTTP-CONTRACT §14) reopens its batch.
CREATE TRIGGER jobs_batch_reopened AFTER UPDATE OF status ON jobs
WHEN new.batch_id IS NOT NULL
     AND old.status IN ('completed', 'failed', 'cancelled')
     AND new.status IN ('queued', 'processing')
BEGIN
    UPDATE batches SET unfinished = unfinished + 1, finished_at = NULL, expires_at = NULL
    WHERE id = new.batch_id;
END;

-- Dependencies (HTTP-CONTRACT §17). `depends_on` is the JSON array of job ids a job
-- needs, `waiting_on` those of them not yet ended (NULL once none is left), and
-- `dependency_policy` 'always' when the job runs whatever its dependencies' outcome.
-- A waiting job is a job not yet due: its `run_at` is far in the future (9999-01-01),
-- so the claim leaves it alone as it leaves a delayed job, and holds no worker slot.
-- `job_dependencies` holds one edge per (dependency, dependent), so the ending of a job
-- finds its dependents by key, not by a scan.
ALTER TABLE jobs ADD COLUMN depends_on TEXT;
ALTER TABLE jobs ADD COLUMN waiting_on TEXT;
ALTER TABLE jobs ADD COLUMN dependency_policy TEXT;

CREATE TABLE job_dependencies (
    dependency_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (dependency_id, job_id)
) WITHOUT ROWID;

CREATE INDEX job_dependencies_job ON job_dependencies (job_id);

CREATE TRIGGER jobs_dependencies_insert AFTER INSERT ON jobs
WHEN new.depends_on IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO job_dependencies (dependency_id, job_id)
    SELECT value, new.id FROM json_each(new.depends_on);
END;

CREATE TRIGGER jobs_dependencies_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM job_dependencies WHERE dependency_id = old.id;
    DELETE FROM job_dependencies WHERE job_id = old.id;
END;

-- A job ended: its waiting dependents stop waiting on it, in the same transaction as the
-- ending, whichever verb ended it. A completed dependency (or any ending, for a dependent
-- with policy 'always') is taken off `waiting_on`; the last one makes the job due now.
-- A failed or cancelled one fails the others with code dependency_failed (and their
-- expiry is the ending job's: the same retention); their own endings fire this trigger
-- again (recursive triggers are on), so the failure reaches every job downstream.
CREATE TRIGGER jobs_dependencies_release AFTER UPDATE OF status ON jobs
WHEN old.status IN ('queued', 'processing')
     AND new.status IN ('completed', 'failed', 'cancelled')
BEGIN
    UPDATE jobs
    SET status = 'failed',
        error = json_object(
            'type', 'https://lro.dev/problems/dependency-failed',
            'title', 'A job this one depends on did not complete',
            'detail', 'Dependency ' || new.id || ' ended ' || new.status
                      || ', so this job did not run.',
            'code', 'dependency_failed',
            'retryable', json('false'),
            'attempts', attempt),
        finished_at = new.updated_at,
        updated_at = new.updated_at,
        expires_at = new.expires_at,
        waiting_on = NULL,
        version = version + 1
    WHERE new.status IN ('failed', 'cancelled')
      AND id IN (SELECT job_id FROM job_dependencies WHERE dependency_id = new.id)
      AND status = 'queued'
      AND waiting_on IS NOT NULL
      AND dependency_policy IS NOT 'always';
    UPDATE jobs
    SET waiting_on = CASE
            WHEN (SELECT count(*) FROM json_each(jobs.waiting_on) WHERE value <> new.id) = 0
            THEN NULL
            ELSE (SELECT json_group_array(value) FROM json_each(jobs.waiting_on)
                  WHERE value <> new.id)
        END,
        run_at = CASE
            WHEN (SELECT count(*) FROM json_each(jobs.waiting_on) WHERE value <> new.id) = 0
            THEN new.updated_at
            ELSE run_at
        END,
        updated_at = new.updated_at,
        version = version + 1
    WHERE id IN (SELECT job_id FROM job_dependencies WHERE dependency_id = new.id)
      AND status = 'queued'
      AND waiting_on IS NOT NULL
      AND EXISTS (SELECT 1 FROM json_each(jobs.waiting_on) WHERE value = new.id)
      AND (new.status = 'completed' OR dependency_policy = 'always');
END;

-- Schedules (HTTP-CONTRACT §16), per principal like jobs. A firing that made a job is a
-- row of schedule_firings, whose key (owner, schedule_id, due_at) is the firing's
-- identity: however many processes fire one due time, one job is made.
CREATE TABLE schedules (
    owner TEXT NOT NULL,
    id TEXT NOT NULL,
    operation TEXT NOT NULL,
    params TEXT NOT NULL,
    cron TEXT,
    interval_seconds REAL,
    timezone TEXT NOT NULL,
    overlap TEXT NOT NULL CHECK (overlap IN ('skip', 'allow')),
    paused INTEGER NOT NULL DEFAULT 0,
    tags TEXT,
    callback_url TEXT,
    next_run_at INTEGER NOT NULL,
    last_run_at INTEGER,
    last_job_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (owner, id)
);

CREATE INDEX schedules_due ON schedules (next_run_at) WHERE paused = 0;

CREATE TABLE schedule_firings (
    owner TEXT NOT NULL,
    schedule_id TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (owner, schedule_id, due_at)
) WITHOUT ROWID;
