-- Make a delivery due now, unless an attempt is in flight (that attempt is the retry).
-- A = {job_id, id, now}. Returns the delivery's fields, or false when the job has none
-- such.
local key = P .. "delivery:" .. A.id
if rcall("HGET", key, "job_id") ~= A.job_id then return false end
local flight = rcall("HGET", key, "in_flight_until")
if flight and tonumber(flight) > tonumber(A.now) then return rcall("HGETALL", key) end
if rcall("HGET", key, "status") ~= "pending" then rcall("HSET", key, "manual", "1") end
rcall("HSET", key, "status", "pending", "next_attempt_at", A.now)
rcall("HDEL", key, "in_flight_until")
rcall("ZADD", P .. "outbox", tonumber(A.now), A.id)
return rcall("HGETALL", key)
