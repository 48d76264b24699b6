-- Mark a blob complete. A = {job_id, key, size, chunk_bytes, created_at}.
if rcall("EXISTS", jk(A.job_id)) == 0 then return 0 end
rcall("HSET", P .. "blob:" .. A.job_id .. ":" .. A.key, "size", A.size,
  "chunk_bytes", A.chunk_bytes, "created_at", A.created_at)
rcall("SADD", jk(A.job_id) .. ":blobs", A.key)
return 1
