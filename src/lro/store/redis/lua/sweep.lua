-- Retention. A = {now, batch, keep_us}. Expired terminal jobs go (leaving tombstones),
-- old tombstones go, and idempotency windows that ended release their keys.
local now = tonumber(A.now)
local gone = {}
for _, id in ipairs(rcall("ZRANGEBYSCORE", P .. "expiring", "-inf", now, "LIMIT", 0, A.batch)) do
  local j = load(id)
  rcall("ZREM", P .. "expiring", id)
  if j and TERMINAL[j.status] then
    local keep = fmt(tonumber(j.expires_at) + tonumber(A.keep_us))
    rcall("HSET", P .. "tomb:" .. id, "owner", j.owner, "expired_at", j.expires_at,
      "keep_until", keep)
    rcall("ZADD", P .. "tombs", tonumber(keep), id)
    gone[#gone + 1] = {id, j.result_ref or false}
    delete_job(j)
  end
end
for _, id in ipairs(rcall("ZRANGEBYSCORE", P .. "tombs", "-inf", now, "LIMIT", 0, A.batch)) do
  rcall("DEL", P .. "tomb:" .. id)
  rcall("ZREM", P .. "tombs", id)
end
for _, id in ipairs(rcall("ZRANGEBYSCORE", P .. "idem_expiring", "-inf", now, "LIMIT", 0, A.batch)) do
  rcall("ZREM", P .. "idem_expiring", id)
  local j = load(id)
  if j and j.idempotency_key then
    local ik = P .. "idem:" .. string.len(j.owner) .. ":" .. j.owner .. ":" .. j.idempotency_key
    if rcall("GET", ik) == id then rcall("DEL", ik) end
    rcall("HDEL", jk(id), "idempotency_key", "request_fingerprint", "idempotency_expires_at")
  end
end
return gone
