-- 0007: result files kept in the database itself (LRO_RESULT_STORE=db, the default on
-- PostgreSQL; lro.results.db), cut in chunks so a file of any size is written and read
-- piece by piece, and API processes on machines that share no disk serve every result.
--
-- A blob is named by its job and a key; lro.results puts the attempt that wrote it in the
-- key, so two attempts of one job (a worker that lost its lease and the one that took the
-- job over) never write the same rows. `lro_result_blobs` holds one row per finished blob,
-- inserted after its last chunk: readers only ever see complete blobs.
--
-- The foreign keys delete a job's results in the same transaction as the job (DELETE and
-- the sweeper), and refuse a chunk for a job that is already gone. A chunk insert only
-- takes a KEY SHARE lock on the job row, which the worker's own updates of that row (they
-- never change `id`) do not conflict with.

CREATE TABLE lro_result_blobs (
    job_id text NOT NULL REFERENCES lro_jobs (id) ON DELETE CASCADE,
    key text NOT NULL,
    size bigint NOT NULL,
    chunk_bytes integer NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (job_id, key)
);

CREATE TABLE lro_result_chunks (
    job_id text NOT NULL REFERENCES lro_jobs (id) ON DELETE CASCADE,
    key text NOT NULL,
    n integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (job_id, key, n)
);
