-- Give claimed deliveries back unsent. A = {until, items = [[id, attempts]]}; fenced by
-- the claim's attempt number.
for _, it in ipairs(A.items) do
  local key = P .. "delivery:" .. it[1]
  if rcall("HGET", key, "status") == "pending" and rcall("HGET", key, "attempts") == it[2] then
    rcall("HSET", key, "attempts", tostring(tonumber(it[2]) - 1), "next_attempt_at", A["until"])
    rcall("HDEL", key, "in_flight_until")
    rcall("ZADD", P .. "outbox", tonumber(A["until"]), it[1])
  end
end
return 0
