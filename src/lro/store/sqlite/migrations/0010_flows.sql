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
