-- An attempt's outcome, fenced. A = {id, attempt, status, at, next_attempt_at?,
-- status_code?, error?, duration_ms}. Returns 1 when recorded.
local key = P .. "delivery:" .. A.id
if rcall("HGET", key, "status") ~= "pending" or rcall("HGET", key, "attempts") ~= A.attempt then
  return 0
end
local row = cjson.encode({A.attempt, A.at, A.status_code or cjson.null, A.duration_ms,
  A.error or cjson.null})
if rcall("HSETNX", key .. ":attempts", A.attempt, row) == 0 then return 0 end
rcall("HSET", key, "status", A.status, "manual", "0")
rcall("HDEL", key, "in_flight_until")
if A.status_code then rcall("HSET", key, "last_status_code", A.status_code)
else rcall("HDEL", key, "last_status_code") end
if A.error then rcall("HSET", key, "last_error", A.error) else rcall("HDEL", key, "last_error") end
if A.status == "delivered" then rcall("HSET", key, "delivered_at", A.at) end
if A.next_attempt_at then
  rcall("HSET", key, "next_attempt_at", A.next_attempt_at)
else
  rcall("HDEL", key, "next_attempt_at")
end
if A.status == "pending" and A.next_attempt_at then
  rcall("ZADD", P .. "outbox", tonumber(A.next_attempt_at), A.id)
else
  rcall("ZREM", P .. "outbox", A.id)
end
return 1
