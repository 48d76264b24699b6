-- Store new queued jobs (lro's side; BullMQ's own add script runs beside this one in the
-- same MULTI). A = {jobs = [{field = value}], release = [job ids whose stale
-- idempotency key the new jobs take]}. The idempotency decisions were made by the caller
-- under WATCH of the keys involved, so this script only writes.
for _, holder in ipairs(A.release) do
  rcall("HDEL", jk(holder), "idempotency_key", "request_fingerprint", "idempotency_expires_at")
  rcall("ZREM", P .. "idem_expiring", holder)
end
-- A job already stored is one this transaction stored before its retry (NOSCRIPT).
for _, j in ipairs(A.jobs) do
  if rcall("EXISTS", jk(j.id)) == 0 then
    j.seq = tostring(rcall("INCR", P .. "seq"))
    -- A job due at once goes straight to its operation's ready set, where the next claim
    -- finds it without first moving it out of `delayed` (the pickup's shortest path).
    local due = tonumber(j.run_at) <= tonumber(j.created_at)
    if due then j.rk = ready_member(j) end
    rcall("HSET", jk(j.id), unpack(flat_of(j)))
    rcall("RPUSH", jk(j.id) .. ":events", cjson.encode({"1", "status", "queued", j.progress_pct,
      "", false, "0", "0", j.created_at}))
    if due then
      rcall("ZADD", P .. "ready:" .. j.operation, 0, j.rk)
    else
      enter_indexes(j, "queued")
    end
    local created = string.format("%017.0f|%s", tonumber(j.created_at), j.id)
    rcall("ZADD", P .. "owner:" .. j.owner, 0, created)
    rcall("ZADD", P .. "all", 0, created)
    if j.owner ~= "" then rcall("SADD", P .. "active:" .. j.owner, j.id) end
    rcall("SADD", P .. "ops", j.operation)
    rcall("SADD", P .. "queues", j.queue)
    if j.idempotency_key then
      local ik = P .. "idem:" .. string.len(j.owner) .. ":" .. j.owner .. ":" .. j.idempotency_key
      rcall("SET", ik, j.id)
      if j.idempotency_expires_at then
        rcall("ZADD", P .. "idem_expiring", tonumber(j.idempotency_expires_at), j.id)
      end
    end
    rcall("XADD", P .. "changes", "MAXLEN", "~", 10000, "*", "j", j.id, "v", "1", "s", "queued",
      "c", "0", "o", ORIGIN)
  end
end
return "ok"
