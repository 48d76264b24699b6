-- The schema of a freshly migrated SQLite database: every table, index and trigger, as
-- the migrations in migrations/ leave them. The one place to read the final triggers
-- (the event log and the webhook outbox are written by them; lro.store.base says what
-- each verb writes). Generated: python -m tests.support.schema sqlite; held equal to the
-- migrations by tests/unit/test_sqlite_schema.py. Edit a migration, then regenerate.

CREATE TABLE schema_version ( version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL);

CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    operation TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
    params TEXT NOT NULL,
    owner TEXT NOT NULL,
    priority INTEGER NOT NULL,
    progress_pct REAL NOT NULL DEFAULT 0,
    step TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    timeout_seconds REAL,
    run_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    expires_at INTEGER,
    estimated_duration_seconds REAL,
    version INTEGER NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    result_ref TEXT,
    error TEXT,
    callback_url TEXT,
    idempotency_key TEXT,
    request_fingerprint TEXT,
    idempotency_expires_at INTEGER,
    lease_token TEXT,
    lease_expires_at INTEGER,
    worker_id TEXT
, callback_progress INTEGER NOT NULL DEFAULT 0, callback_target TEXT, queue TEXT NOT NULL DEFAULT 'default', concurrency_key TEXT, tags TEXT, metadata TEXT, batch_id TEXT, depends_on TEXT, waiting_on TEXT, dependency_policy TEXT, trace_context TEXT, has_dependents INTEGER NOT NULL DEFAULT 0);

CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE status = 'processing';

CREATE INDEX jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;

CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE INDEX jobs_idempotency_expiry ON jobs (idempotency_expires_at)
    WHERE idempotency_key IS NOT NULL;

CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);

CREATE INDEX jobs_durations ON jobs (operation, finished_at DESC) WHERE status = 'completed';

CREATE INDEX jobs_owner_active ON jobs (owner)
    WHERE status IN ('queued', 'processing') AND owner <> '';

CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);

CREATE INDEX jobs_claim ON jobs (priority DESC, run_at)
    WHERE status = 'queued' AND concurrency_key IS NULL;

CREATE INDEX jobs_limited ON jobs (operation, concurrency_key, priority DESC, run_at)
    WHERE status = 'queued' AND concurrency_key IS NOT NULL;

CREATE INDEX jobs_limited_running ON jobs (operation, concurrency_key)
    WHERE status = 'processing' AND concurrency_key IS NOT NULL;

CREATE INDEX jobs_batch ON jobs (batch_id, seq) WHERE batch_id IS NOT NULL;

CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE INDEX jobs_owner_finished ON jobs (owner, finished_at) WHERE finished_at IS NOT NULL;

CREATE TRIGGER jobs_event_insert AFTER INSERT ON jobs
BEGIN
    INSERT INTO events (job_id, version, kind, status, progress_pct, step, attempt, at)
    VALUES (new.id, new.version, 'status', new.status, new.progress_pct, new.step,
            new.attempt, new.updated_at);
END;

CREATE TRIGGER jobs_event_update AFTER UPDATE OF version ON jobs
WHEN new.version <> old.version
BEGIN
    INSERT INTO events (job_id, version, kind, status, progress_pct, step, attempt,
                        cancel_requested, at)
    VALUES (
        new.id,
        new.version,
        CASE
            WHEN new.status <> old.status
                 AND new.status IN ('completed', 'failed', 'cancelled') THEN new.status
            WHEN new.status = old.status
                 AND new.cancel_requested = old.cancel_requested THEN 'progress'
            ELSE 'status'
        END,
        new.status,
        new.progress_pct,
        new.step,
        new.attempt,
        new.cancel_requested > old.cancel_requested,
        new.updated_at
    );
END;

CREATE TRIGGER jobs_events_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM events WHERE job_id = old.id;
END;

CREATE TRIGGER jobs_deliveries_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM delivery_attempts
    WHERE delivery_id IN (SELECT id FROM deliveries WHERE job_id = old.id);
    DELETE FROM deliveries WHERE job_id = old.id;
END;

CREATE TRIGGER jobs_outbox AFTER UPDATE OF status ON jobs
WHEN new.status <> old.status
     AND new.status IN ('completed', 'failed', 'cancelled')
     AND new.callback_url IS NOT NULL
BEGIN
    INSERT INTO deliveries (id, job_id, event_type, url, event_at, next_attempt_at, created_at,
                            target)
    VALUES ('msg_' || lower(hex(randomblob(16))), new.id, 'job.' || new.status,
            new.callback_url, new.updated_at, new.updated_at, new.updated_at,
            coalesce(new.callback_target, ''));
END;

CREATE TRIGGER jobs_outbox_progress AFTER UPDATE OF version ON jobs
WHEN new.callback_progress = 1
     AND new.callback_url IS NOT NULL
     AND new.status = 'processing'
     AND old.status = 'processing'
     AND (new.progress_pct <> old.progress_pct OR new.step IS NOT old.step)
BEGIN
    UPDATE deliveries SET event_at = new.updated_at
    WHERE job_id = new.id AND event_type = 'job.progress' AND status = 'pending'
      AND attempts = 0;
    INSERT INTO deliveries (id, job_id, event_type, url, event_at, next_attempt_at, created_at,
                            target)
    SELECT 'msg_' || lower(hex(randomblob(16))), new.id, 'job.progress', new.callback_url,
           new.updated_at, new.updated_at, new.updated_at, coalesce(new.callback_target, '')
    WHERE NOT EXISTS (
        SELECT 1 FROM deliveries
        WHERE job_id = new.id AND event_type = 'job.progress' AND status = 'pending'
          AND attempts = 0
    );
END;

CREATE TRIGGER jobs_results_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM result_chunks WHERE job_id = old.id;
    DELETE FROM result_blobs WHERE job_id = old.id;
END;

CREATE TRIGGER jobs_limit_insert AFTER INSERT ON jobs
WHEN new.concurrency_key IS NOT NULL AND new.status IN ('queued', 'processing')
BEGIN
    INSERT INTO limit_keys (operation, key, queued, running)
    VALUES (new.operation, new.concurrency_key, new.status = 'queued',
            new.status = 'processing')
    ON CONFLICT (operation, key) DO UPDATE
    SET queued = queued + excluded.queued, running = running + excluded.running;
END;

CREATE TRIGGER jobs_limit_leave AFTER UPDATE OF status, concurrency_key ON jobs
WHEN old.concurrency_key IS NOT NULL AND old.status IN ('queued', 'processing')
     AND (new.status IS NOT old.status OR new.concurrency_key IS NOT old.concurrency_key)
BEGIN
    UPDATE limit_keys
    SET queued = queued - (old.status = 'queued'), running = running - (old.status = 'processing')
    WHERE operation = old.operation AND key = old.concurrency_key;
    DELETE FROM limit_keys
    WHERE operation = old.operation AND key = old.concurrency_key
      AND queued <= 0 AND running <= 0;
END;

CREATE TRIGGER jobs_limit_enter AFTER UPDATE OF status, concurrency_key ON jobs
WHEN new.concurrency_key IS NOT NULL AND new.status IN ('queued', 'processing')
     AND (new.status IS NOT old.status OR new.concurrency_key IS NOT old.concurrency_key)
BEGIN
    INSERT INTO limit_keys (operation, key, queued, running)
    VALUES (new.operation, new.concurrency_key, new.status = 'queued',
            new.status = 'processing')
    ON CONFLICT (operation, key) DO UPDATE
    SET queued = queued + excluded.queued, running = running + excluded.running;
END;

CREATE TRIGGER jobs_limit_delete AFTER DELETE ON jobs
WHEN old.concurrency_key IS NOT NULL AND old.status IN ('queued', 'processing')
BEGIN
    UPDATE limit_keys
    SET queued = queued - (old.status = 'queued'), running = running - (old.status = 'processing')
    WHERE operation = old.operation AND key = old.concurrency_key;
    DELETE FROM limit_keys
    WHERE operation = old.operation AND key = old.concurrency_key
      AND queued <= 0 AND running <= 0;
END;

CREATE TRIGGER jobs_long_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM job_steps WHERE job_id = old.id;
    DELETE FROM job_checkpoints WHERE job_id = old.id;
    DELETE FROM job_partials WHERE job_id = old.id;
END;

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

CREATE TRIGGER jobs_batch_reopened AFTER UPDATE OF status ON jobs
WHEN new.batch_id IS NOT NULL
     AND old.status IN ('completed', 'failed', 'cancelled')
     AND new.status IN ('queued', 'processing')
BEGIN
    UPDATE batches SET unfinished = unfinished + 1, finished_at = NULL, expires_at = NULL
    WHERE id = new.batch_id;
END;

CREATE TRIGGER jobs_dependencies_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM job_dependencies WHERE dependency_id = old.id;
    DELETE FROM job_dependencies WHERE job_id = old.id;
END;

CREATE TRIGGER jobs_dependencies_insert AFTER INSERT ON jobs
WHEN new.depends_on IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO job_dependencies (dependency_id, job_id)
    SELECT value, new.id FROM json_each(new.depends_on);
    UPDATE jobs SET has_dependents = 1
    WHERE id IN (SELECT value FROM json_each(new.depends_on)) AND has_dependents = 0;
END;

CREATE TRIGGER jobs_dependencies_release AFTER UPDATE OF status ON jobs
WHEN old.status IN ('queued', 'processing')
     AND new.status IN ('completed', 'failed', 'cancelled')
     AND new.has_dependents = 1
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

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    progress_pct REAL NOT NULL,
    step TEXT,
    attempt INTEGER NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    at INTEGER NOT NULL,
    UNIQUE (job_id, version)
);

CREATE TABLE tombstones (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expired_at INTEGER NOT NULL,
    keep_until INTEGER NOT NULL
);

CREATE INDEX tombstones_keep_until ON tombstones (keep_until);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,                  -- the webhook-id: stable across retries
    job_id TEXT NOT NULL,
    event_type TEXT NOT NULL,             -- job.completed | job.failed | job.cancelled
    url TEXT NOT NULL,
    event_at INTEGER NOT NULL,            -- when the job ended: the payload's timestamp
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,  -- attempts started (the claim counts one)
    next_attempt_at INTEGER,              -- due time while pending (an in-flight lease too)
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    last_status_code INTEGER,
    last_error TEXT,
    manual INTEGER NOT NULL DEFAULT 0     -- a re-send asked for by hand: one attempt
, target TEXT NOT NULL DEFAULT '', in_flight_until INTEGER);

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

CREATE INDEX deliveries_job ON deliveries (job_id);

CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms REAL NOT NULL,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE buckets (
    key TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    at INTEGER NOT NULL
);

CREATE TABLE result_blobs (
    job_id TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    chunk_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, key)
);

CREATE TABLE result_chunks (
    job_id TEXT NOT NULL,
    key TEXT NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, key, n)
);

CREATE TABLE limit_keys (
    operation TEXT NOT NULL,
    key TEXT NOT NULL,
    queued INTEGER NOT NULL DEFAULT 0,
    running INTEGER NOT NULL DEFAULT 0,
    served INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (operation, key)
);

CREATE INDEX limit_keys_turns ON limit_keys (operation, served, key) WHERE queued > 0;

CREATE INDEX limit_keys_free ON limit_keys (operation, served, key) WHERE queued > 0 AND running = 0;

CREATE TABLE limit_starts (
    operation TEXT NOT NULL,
    at INTEGER NOT NULL,
    n INTEGER NOT NULL
);

CREATE INDEX limit_starts_op ON limit_starts (operation, at);

CREATE TABLE job_steps (
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    ord INTEGER NOT NULL,                 -- order first started, 1-based per job
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    attempt INTEGER NOT NULL,             -- the attempt that last ran it
    result TEXT,                          -- JSON, once completed
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    PRIMARY KEY (job_id, name)
);

CREATE INDEX job_steps_order ON job_steps (job_id, ord);

CREATE TABLE job_checkpoints (
    job_id TEXT PRIMARY KEY,
    value TEXT NOT NULL,                  -- JSON; the latest wins
    attempt INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE job_partials (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,                 -- 1-based per job, in the order made
    version INTEGER NOT NULL,
    data TEXT NOT NULL,                   -- JSON
    created_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE UNIQUE INDEX job_partials_version ON job_partials (job_id, version);

CREATE TABLE job_tags (
    owner TEXT NOT NULL,
    tag TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (owner, tag, created_at, job_id)
) WITHOUT ROWID;

CREATE INDEX job_tags_all ON job_tags (tag, created_at, job_id);

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

CREATE TABLE job_dependencies (
    dependency_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (dependency_id, job_id)
) WITHOUT ROWID;

CREATE INDEX job_dependencies_job ON job_dependencies (job_id);

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

CREATE TABLE workers (
    worker_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues TEXT NOT NULL,
    operations TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    busy INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);

CREATE INDEX workers_last_seen ON workers (last_seen_at);
