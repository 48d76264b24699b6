-- Result blob queries (lro.store.sqlite.blobs); see migrations/0006_results.sql.

-- name: write_chunk
-- Under BEGIN IMMEDIATE, so the job cannot be deleted between the check and the insert:
-- a chunk is never stored for a job that is gone (it would outlive every cleanup).
INSERT OR REPLACE INTO result_chunks (job_id, key, n, data)
SELECT :job_id, :key, :n, :data
WHERE EXISTS (SELECT 1 FROM jobs WHERE id = :job_id)

-- name: finish_blob
INSERT OR REPLACE INTO result_blobs (job_id, key, size, chunk_bytes, created_at)
SELECT :job_id, :key, :size, :chunk_bytes, :now
WHERE EXISTS (SELECT 1 FROM jobs WHERE id = :job_id)

-- name: blob_info
SELECT size, chunk_bytes, created_at FROM result_blobs WHERE job_id = :job_id AND key = :key

-- name: read_chunks
SELECT data FROM result_chunks
WHERE job_id = :job_id AND key = :key AND n >= :first AND n < :first + :count
ORDER BY n

-- name: delete_blob
DELETE FROM result_blobs WHERE job_id = :job_id AND key = :key

-- name: delete_blob_chunks
DELETE FROM result_chunks WHERE job_id = :job_id AND key = :key

-- name: delete_job_blobs
-- `key IS NOT :keep` keeps nothing when :keep is NULL.
DELETE FROM result_blobs WHERE job_id = :job_id AND key IS NOT :keep

-- name: delete_job_chunks
DELETE FROM result_chunks WHERE job_id = :job_id AND key IS NOT :keep
