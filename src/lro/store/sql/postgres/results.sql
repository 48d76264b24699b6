-- Result blob queries (lro.store.postgres_blobs); see migrations/0007_results.sql.

-- name: write_chunk
-- The EXISTS spares the usual case of a job that is gone an error; the foreign key still
-- refuses the chunk if the job is deleted concurrently (the caller maps that to False).
INSERT INTO lro_result_chunks (job_id, key, n, data)
SELECT $1, $2, $3, $4
WHERE EXISTS (SELECT 1 FROM lro_jobs WHERE id = $1)
ON CONFLICT (job_id, key, n) DO UPDATE SET data = EXCLUDED.data
RETURNING 1

-- name: finish_blob
INSERT INTO lro_result_blobs (job_id, key, size, chunk_bytes, created_at)
SELECT $1, $2, $3, $4, $5
WHERE EXISTS (SELECT 1 FROM lro_jobs WHERE id = $1)
ON CONFLICT (job_id, key) DO UPDATE
SET size = EXCLUDED.size, chunk_bytes = EXCLUDED.chunk_bytes, created_at = EXCLUDED.created_at
RETURNING 1

-- name: blob_info
SELECT size, chunk_bytes, created_at FROM lro_result_blobs WHERE job_id = $1 AND key = $2

-- name: read_chunks
SELECT data FROM lro_result_chunks
WHERE job_id = $1 AND key = $2 AND n >= $3 AND n < $3 + $4
ORDER BY n

-- name: delete_blob
-- One statement: the blob row and its chunks go together.
WITH chunks AS (DELETE FROM lro_result_chunks WHERE job_id = $1 AND key = $2)
DELETE FROM lro_result_blobs WHERE job_id = $1 AND key = $2

-- name: delete_job_blobs
-- `key IS DISTINCT FROM $2` keeps nothing when $2 is NULL.
WITH chunks AS (
    DELETE FROM lro_result_chunks WHERE job_id = $1 AND key IS DISTINCT FROM $2::text
)
DELETE FROM lro_result_blobs WHERE job_id = $1 AND key IS DISTINCT FROM $2::text
