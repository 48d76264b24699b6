-- 0010: long jobs (HTTP-CONTRACT §14; lro.store.postgres.steps): durable steps, one
-- checkpoint per job, and partial results.
--
-- Every row is written by a fenced statement (the writing attempt's lease token must be
-- the job's current one, under the job row's lock), so a worker that lost its lease
-- cannot record a step, move the checkpoint or add a partial. The foreign keys take all
-- of it with its job (DELETE and the sweeper), in the same transaction.

CREATE TABLE lro_steps (
    job_id text NOT NULL REFERENCES lro_jobs (id) ON DELETE CASCADE,
    name text NOT NULL,
    ord integer NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    attempt integer NOT NULL,
    result jsonb,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    PRIMARY KEY (job_id, name)
);

-- The next step's `ord` is max + 1: without this index, a job of 10,000 steps would read
-- all of its steps for each new one.
CREATE INDEX lro_steps_order ON lro_steps (job_id, ord);

CREATE TABLE lro_checkpoints (
    job_id text PRIMARY KEY REFERENCES lro_jobs (id) ON DELETE CASCADE,
    value jsonb NOT NULL,
    attempt integer NOT NULL,
    updated_at timestamptz NOT NULL
);

-- A partial is also a change of its job (version + 1, one event of kind 'partial'), so it
-- takes its place in the job's one event sequence; `version` names that event.
CREATE TABLE lro_partials (
    job_id text NOT NULL REFERENCES lro_jobs (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    version integer NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE UNIQUE INDEX lro_partials_version ON lro_partials (job_id, version);
