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
, callback_progress INTEGER NOT NULL DEFAULT 0, callback_target TEXT);

CREATE INDEX jobs_claim ON jobs (priority DESC, run_at) WHERE status = 'queued';

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
