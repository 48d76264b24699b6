-- Result blob queries (lro.store.postgres.blobs); see migrations/0007_results.sql.

-- name: write_chunk
-- The EXISTS spares the usual case of a job that is gone an error; the foreign key still
-- refuses the chunk if the job is deleted concurrently (the caller maps that to False).
INSERT INTO lro_result_chunks (job_id, key, n, data)
SELECT :job_id, :key, :n, :data
WHERE EXISTS (SELECT 1 FROM lro_jobs WHERE id = :job_id)
ON CONFLICT (job_id, key, n) DO UPDATE SET data = EXCLUDED.data
RETURNING 1

-- name: finish_blob
INSERT INTO lro_result_blobs (job_id, key, size, chunk_bytes, created_at)
SELECT :job_id, :key, :size, :chunk_bytes, :now
WHERE EXISTS (SELECT 1 FROM lro_jobs WHERE id = :job_id)
ON CONFLICT (job_id, key) DO UPDATE
SET size = EXCLUDED.size, chunk_bytes = EXCLUDED.chunk_bytes, created_at = EXCLUDED.created_at
RETURNING 1

-- name: blob_info
SELECT size, chunk_bytes, created_at FROM lro_result_blobs WHERE job_id = :job_id AND key = :key

-- name: read_chunks
SELECT data FROM lro_result_chunks
WHERE job_id = :job_id AND key = :key AND n >= :first AND n < :first + :count
ORDER BY n

-- name: delete_blob
-- One statement: the blob row and its chunks go together.
WITH chunks AS (DELETE FROM lro_result_chunks WHERE job_id = :job_id AND key = :key)
DELETE FROM lro_result_blobs WHERE job_id = :job_id AND key = :key

-- name: delete_job_blobs
-- `key IS DISTINCT FROM :keep` keeps nothing when :keep is NULL.
WITH chunks AS (
    DELETE FROM lro_result_chunks WHERE job_id = :job_id AND key IS DISTINCT FROM :keep::text
)
DELETE FROM lro_result_blobs WHERE job_id = :job_id AND key IS DISTINCT FROM :keep::text
