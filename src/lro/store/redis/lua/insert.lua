-- Store new queued jobs (lro's side; BullMQ's own add script runs just before this one in
-- the same MULTI). A = {jobs = [{field = value}], release = [job ids whose stale
-- idempotency key the new jobs take], handoff = {token} | nil}. The idempotency
-- decisions were made by the caller under WATCH of the keys involved, so this script
-- only writes. With `handoff` (one job, due now: the caller checked), the job goes to
-- the longest-parked live worker that runs its operation, already leased to it, and the
-- answer is {{job id, worker id, row}}; otherwise {}.

-- The longest-parked live worker for `op`, its offer taken (a dead one's dropped too).
local function take_park(op)
  for _ = 1, 8 do
    local best, best_score = nil, nil
    for _, key in ipairs({P .. "parked:" .. op, P .. "parked:*"}) do
      local head = rcall("ZRANGE", key, 0, 0, "WITHSCORES")
      if head[1] and (best_score == nil or tonumber(head[2]) < best_score) then
        best, best_score = head[1], tonumber(head[2])
      end
    end
    if best == nil then return nil end
    local park = rcall("HMGET", P .. "park:" .. best, "origin", "lease_us")
    drop_park(best)
    if park[1] and rcall("PUBSUB", "NUMSUB", P .. "alive:" .. park[1])[2] > 0 then
      return best, park[2], park[1]
    end
  end
  return nil
end

local handed = {}
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
    local worker, lease_us, at_origin = nil, nil, nil
    if due and A.handoff ~= nil and A.handoff ~= cjson.null then
      worker, lease_us, at_origin = take_park(j.operation)
    end
    if due and not worker then j.rk = ready_member(j) end
    rcall("HSET", jk(j.id), unpack(flat_of(j)))
    rcall("RPUSH", jk(j.id) .. ":events", cjson.encode({"1", "status", "queued", j.progress_pct,
      "", false, "0", "0", j.created_at}))
    if worker then
      -- Handed off: in no queue index; leased below, once its version 1 is written.
    elseif due then
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
    if worker then
      -- As a claim would leave it (version 2, processing, attempt 1), in BullMQ too.
      local now = j.created_at
      if bull_exists(j) and bull_take(j) > 0 then
        bull_activate(j, A.handoff.token, math.max(1, math.floor(tonumber(lease_us) / 1000)), now)
      end
      change(j, {status = "processing", attempt = "1", lease_token = A.handoff.token,
        lease_expires_at = fmt(tonumber(now) + tonumber(lease_us)), worker_id = worker,
        started_at = now, progress_pct = "0"}, now, "")
      local row = flat_of(j)
      rcall("XADD", P .. "changes", "MAXLEN", "~", 10000, "*", "h", worker, "p", at_origin,
        "r", cjson.encode(row), "o", ORIGIN)
      handed[#handed + 1] = {j.id, worker, row}
    end
  end
end
return handed
