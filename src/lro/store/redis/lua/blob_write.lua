-- One chunk of a result blob, only while its job exists. A = {job_id, key, index};
-- ARGV[5] the bytes.
if rcall("EXISTS", jk(A.job_id)) == 0 then return 0 end
rcall("HSET", P .. "chunks:" .. A.job_id .. ":" .. A.key, A.index, ARGV[5])
rcall("SADD", jk(A.job_id) .. ":blobs", A.key)
return 1
