-- 0002: the webhook outbox (deliveries and their attempts) and shared settings.
--
-- A delivery row is written by a trigger in the same transaction as the change that ends
-- its job, so no code path can finish a job with a callback_url and forget its webhook;
-- another trigger deletes deliveries (and their attempts) with their job.

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
);
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

-- Values every process must agree on, e.g. the generated webhook secret.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TRIGGER jobs_outbox AFTER UPDATE OF status ON jobs
WHEN new.status <> old.status
     AND new.status IN ('completed', 'failed', 'cancelled')
     AND new.callback_url IS NOT NULL
BEGIN
    INSERT INTO deliveries (id, job_id, event_type, url, event_at, next_attempt_at, created_at)
    VALUES ('msg_' || lower(hex(randomblob(16))), new.id, 'job.' || new.status,
            new.callback_url, new.updated_at, new.updated_at, new.updated_at);
END;

CREATE TRIGGER jobs_deliveries_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM delivery_attempts
    WHERE delivery_id IN (SELECT id FROM deliveries WHERE job_id = old.id);
    DELETE FROM deliveries WHERE job_id = old.id;
END;
