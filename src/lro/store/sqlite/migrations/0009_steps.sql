-- 0009: long jobs (HTTP-CONTRACT §14; lro.store.sqlite.steps): durable steps, one
-- checkpoint per job, and partial results.
--
-- Every row is written by a fenced statement (the writing attempt's lease token must be
-- the job's current one), so a worker that lost its lease cannot record a step, move the
-- checkpoint or add a partial. All of it goes with its job (the delete trigger below):
-- DELETE and the retention sweeper take it in the same transaction.

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

-- The next step's `ord` is max + 1: without this index, a job of 10,000 steps would read
-- all of its steps for each new one.
CREATE INDEX job_steps_order ON job_steps (job_id, ord);

CREATE TABLE job_checkpoints (
    job_id TEXT PRIMARY KEY,
    value TEXT NOT NULL,                  -- JSON; the latest wins
    attempt INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- A partial is also a change of its job (version + 1, one event of kind 'partial'), so it
-- takes its place in the job's one event sequence; `version` names that event.
CREATE TABLE job_partials (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,                 -- 1-based per job, in the order made
    version INTEGER NOT NULL,
    data TEXT NOT NULL,                   -- JSON
    created_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE UNIQUE INDEX job_partials_version ON job_partials (job_id, version);

CREATE TRIGGER jobs_long_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM job_steps WHERE job_id = old.id;
    DELETE FROM job_checkpoints WHERE job_id = old.id;
    DELETE FROM job_partials WHERE job_id = old.id;
END;
