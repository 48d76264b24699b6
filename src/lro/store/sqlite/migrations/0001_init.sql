-- 0001: jobs (the queue), their event log, tombstones of swept jobs.
--
-- Times are INTEGER microseconds since the Unix epoch (UTC): exact, and compared as
-- integers. JSON values (params, result, result_ref, error) are TEXT.

-- `seq` is the rowid: the creation order that breaks claim ties, and the cheap key the
-- batch statements select by. `id` is the caller's UUID.
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
);

-- The claim scan: queued jobs in claim order (the rowid `seq` is implicitly last).
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at) WHERE status = 'queued';

-- The rescuer: processing jobs by lease expiry.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE status = 'processing';

-- The sweeper: only terminal jobs carry expires_at.
CREATE INDEX jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;

-- Exactly one job per live (owner, key): the index, not the code, decides.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_idempotency_expiry ON jobs (idempotency_expires_at)
    WHERE idempotency_key IS NOT NULL;

-- list_jobs: one owner's jobs, newest first, keyset-paginated on (created_at, id).
CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);

-- recent_durations: latest completed runs of one operation.
CREATE INDEX jobs_durations ON jobs (operation, finished_at DESC) WHERE status = 'completed';

-- One row per committed change of a job. AUTOINCREMENT (never reused, even after the
-- sweeper deletes the newest rows) plus SQLite's single writer make `id` a safe resume
-- cursor for the cross-process poll. `cancel_requested` is 1 only on the change that
-- requested cancellation of a processing job (JobChange.cancel_requested).
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

-- The event log is kept by the schema, so no code path can change a job without its
-- event: every insert, and every update that bumps `version`, writes exactly one row.
-- The kind follows from the change: entering a terminal status names it, a change that
-- keeps status and cancel flag is `progress`, anything else (claim, requeue, cancel
-- request) is `status`. Heartbeats do not touch `version`, so they write nothing.
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

-- Deleting a job (user delete or sweep) takes its history with it.
CREATE TRIGGER jobs_events_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM events WHERE job_id = old.id;
END;

CREATE TABLE tombstones (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expired_at INTEGER NOT NULL,
    keep_until INTEGER NOT NULL
);
CREATE INDEX tombstones_keep_until ON tombstones (keep_until);
