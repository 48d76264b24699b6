-- 0009: workload control (lro.limits, lro.store.postgres.workload; HTTP-CONTRACT §13).
--
-- A job of a limited operation carries a concurrency_key (its key's value, the principal
-- for a fair operation without one, or '' for one key per operation). Such jobs leave the
-- plain claim's index, so jobs held back by a limit are never walked by a claim looking
-- for runnable work; the limited claim finds them per (operation, key) instead.

ALTER TABLE lro_jobs ADD COLUMN queue text NOT NULL DEFAULT 'default';
ALTER TABLE lro_jobs ADD COLUMN concurrency_key text;

DROP INDEX lro_jobs_claim;
CREATE INDEX lro_jobs_claim ON lro_jobs (priority DESC, run_at, seq)
    WHERE status = 'queued' AND concurrency_key IS NULL;

-- One key's queue, in claim order: a key's next job is one probe.
CREATE INDEX lro_jobs_limited ON lro_jobs (operation, concurrency_key, priority DESC, run_at, seq)
    WHERE status = 'queued' AND concurrency_key IS NOT NULL;

-- Running keyed jobs of an operation: the global concurrency count walks at most the
-- limit's worth of entries.
CREATE INDEX lro_jobs_limited_running ON lro_jobs (operation, concurrency_key)
    WHERE status = 'processing' AND concurrency_key IS NOT NULL;

-- One row per (operation, key) with queued or running jobs, written only by limited
-- claims, which hold the operation's advisory lock. `served` orders keys for turns:
-- least recently served first.
CREATE TABLE lro_limit_keys (
    operation text NOT NULL,
    key text NOT NULL,
    queued integer NOT NULL DEFAULT 0,
    running integer NOT NULL DEFAULT 0,
    served bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (operation, key)
);

CREATE INDEX lro_limit_keys_turns ON lro_limit_keys (operation, served, key) WHERE queued > 0;

-- Ready keys with nothing running, in turn order: the claim of a key_concurrency=1
-- operation (the common "one per customer") reads only keys it can serve, however many
-- others are held at their limit.
CREATE INDEX lro_limit_keys_free ON lro_limit_keys (operation, served, key) WHERE queued > 0 AND running = 0;

-- What job writes tell the counts: a trigger appends (operation, key, +/-queued,
-- +/-running) per status change of a keyed job, and the next limited claim of that
-- operation folds the rows it can see into lro_limit_keys. Appending takes no lock, so a
-- completion batch never waits on (or deadlocks over) a counter row another transaction
-- holds; a row of a transaction still in flight is folded by a later claim, and until
-- then its job is invisible to the claim too.
CREATE TABLE lro_limit_deltas (
    id bigserial PRIMARY KEY,
    operation text NOT NULL,
    key text NOT NULL,
    queued integer NOT NULL,
    running integer NOT NULL
);

CREATE INDEX lro_limit_deltas_op ON lro_limit_deltas (operation, id);

-- Starts of rate-limited operations: one row per claim, `n` jobs at `at`.
CREATE TABLE lro_limit_starts (
    operation text NOT NULL,
    at timestamptz NOT NULL,
    n integer NOT NULL
);

CREATE INDEX lro_limit_starts_op ON lro_limit_starts (operation, at);

CREATE FUNCTION lro_limit_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.concurrency_key IS NOT NULL
       AND OLD.status IN ('queued', 'processing') THEN
        INSERT INTO lro_limit_deltas (operation, key, queued, running)
        VALUES (OLD.operation, OLD.concurrency_key, -(OLD.status = 'queued')::int,
                -(OLD.status = 'processing')::int);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.concurrency_key IS NOT NULL
       AND NEW.status IN ('queued', 'processing') THEN
        INSERT INTO lro_limit_deltas (operation, key, queued, running)
        VALUES (NEW.operation, NEW.concurrency_key, (NEW.status = 'queued')::int,
                (NEW.status = 'processing')::int);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER lro_jobs_limit_insert AFTER INSERT ON lro_jobs
FOR EACH ROW WHEN (NEW.concurrency_key IS NOT NULL)
EXECUTE FUNCTION lro_limit_delta();

CREATE TRIGGER lro_jobs_limit_update AFTER UPDATE OF status, concurrency_key ON lro_jobs
FOR EACH ROW
WHEN ((OLD.concurrency_key IS NOT NULL OR NEW.concurrency_key IS NOT NULL)
      AND (OLD.status IS DISTINCT FROM NEW.status
           OR OLD.concurrency_key IS DISTINCT FROM NEW.concurrency_key))
EXECUTE FUNCTION lro_limit_delta();

CREATE TRIGGER lro_jobs_limit_delete AFTER DELETE ON lro_jobs
FOR EACH ROW WHEN (OLD.concurrency_key IS NOT NULL AND OLD.status IN ('queued', 'processing'))
EXECUTE FUNCTION lro_limit_delta();
