-- 0008: workload control (lro.limits, lro.store.sqlite.workload; HTTP-CONTRACT §13).
--
-- A job of a limited operation carries a concurrency_key (its key's value, the principal
-- for a fair operation without one, or '' for one key per operation). Such jobs leave the
-- plain claim's index, so jobs held back by a limit are never walked by a claim looking
-- for runnable work; the limited claim finds them per (operation, key) instead.

ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
ALTER TABLE jobs ADD COLUMN concurrency_key TEXT;

DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at)
    WHERE status = 'queued' AND concurrency_key IS NULL;

-- One key's queue, in claim order: a key's next job is one probe.
CREATE INDEX jobs_limited ON jobs (operation, concurrency_key, priority DESC, run_at)
    WHERE status = 'queued' AND concurrency_key IS NOT NULL;

-- Running keyed jobs of an operation: the global concurrency count walks at most the
-- limit's worth of entries.
CREATE INDEX jobs_limited_running ON jobs (operation, concurrency_key)
    WHERE status = 'processing' AND concurrency_key IS NOT NULL;

-- One row per (operation, key) with queued or running jobs; triggers below keep the
-- counts in the transaction that changes a job's status, and delete a row once both are
-- 0. `served` orders keys for turns: least recently served first.
CREATE TABLE limit_keys (
    operation TEXT NOT NULL,
    key TEXT NOT NULL,
    queued INTEGER NOT NULL DEFAULT 0,
    running INTEGER NOT NULL DEFAULT 0,
    served INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (operation, key)
);

-- Ready keys in turn order, without the keys that have nothing queued. A key at its
-- limit (key_concurrency above 1) is passed over here as one index entry.
CREATE INDEX limit_keys_turns ON limit_keys (operation, served, key) WHERE queued > 0;

-- Ready keys with nothing running, in turn order: the claim of a key_concurrency=1
-- operation (the common "one per customer") reads only keys it can serve, however many
-- others are held at their limit.
CREATE INDEX limit_keys_free ON limit_keys (operation, served, key) WHERE queued > 0 AND running = 0;

-- Starts of rate-limited operations: one row per claim, `n` jobs at `at` (microseconds).
CREATE TABLE limit_starts (
    operation TEXT NOT NULL,
    at INTEGER NOT NULL,
    n INTEGER NOT NULL
);
CREATE INDEX limit_starts_op ON limit_starts (operation, at);

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
