-- 0006: result files kept in the database itself (LRO_RESULT_STORE=db; lro.results.db),
-- cut in chunks so a file of any size is written and read piece by piece.
--
-- A blob is named by its job and a key; lro.results puts the attempt that wrote it in the
-- key, so two attempts of one job (a worker that lost its lease and the one that took the
-- job over) never write the same rows. `result_blobs` holds one row per finished blob,
-- inserted after its last chunk: readers only ever see complete blobs.
--
-- Plain rowid tables, not WITHOUT ROWID: chunks are large (hundreds of KiB), and SQLite
-- keeps such rows best in a rowid table, with the key in a separate index.

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

-- Deleting a job (user delete or sweep) takes its results with it, in the same
-- transaction, as the events trigger of 0001 does for its history.
CREATE TRIGGER jobs_results_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM result_chunks WHERE job_id = old.id;
    DELETE FROM result_blobs WHERE job_id = old.id;
END;
