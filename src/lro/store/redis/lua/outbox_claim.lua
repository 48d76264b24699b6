-- Take due pending deliveries. A = {now, lease_until, limit, skip = [targets]}.
-- `outbox` holds every pending delivery by next_attempt_at; a claim leases it by moving
-- that to lease_until (and in_flight_until with it), so concurrent claimers (scripts
-- run one at a time) take disjoint deliveries.
local skip = {}
for _, t in ipairs(A.skip) do skip[t] = true end
local out = {}
local offset = 0
while #out < A.limit do
  local ids = rcall("ZRANGEBYSCORE", P .. "outbox", "-inf", tonumber(A.now), "LIMIT", offset, 200)
  if #ids == 0 then break end
  offset = offset + #ids
  for _, id in ipairs(ids) do
    if #out >= A.limit then break end
    local key = P .. "delivery:" .. id
    local target = rcall("HGET", key, "target") or ""
    if not skip[target] and rcall("HGET", key, "status") == "pending" then
      rcall("HINCRBY", key, "attempts", 1)
      rcall("HSET", key, "next_attempt_at", A.lease_until, "in_flight_until", A.lease_until)
      out[#out + 1] = id
    end
  end
end
for _, id in ipairs(out) do rcall("ZADD", P .. "outbox", tonumber(A.lease_until), id) end
local rows = {}
for i, id in ipairs(out) do rows[i] = rcall("HGETALL", P .. "delivery:" .. id) end
return rows
