-- Lease up to A.limit due queued jobs (of A.operations, or of any) in claim order.
-- A = {now, lease_until, lock_ms, worker_id, limit, operations | nil, tokens = [...],
-- park = {origin, lease_us} | nil}.
--
-- lro's claim runs over BullMQ's state rather than through BullMQ's moveToActive: the
-- lease must be fenced on lro's clock (callers pass `now`), honour lro's order and the
-- operation filter. A job a BullMQ worker already took (it left BullMQ's wait states)
-- is skipped: the change feed will record it as processing.
local now = tonumber(A.now)
local due = rcall("ZRANGEBYSCORE", P .. "delayed", "-inf", now, "LIMIT", 0, 1000)
for _, id in ipairs(due) do
  local j = load(id)
  rcall("ZREM", P .. "delayed", id)
  if j and j.status == "queued" then
    local rk = ready_member(j)
    rcall("ZADD", P .. "ready:" .. j.operation, 0, rk)
    rcall("HSET", jk(id), "rk", rk)
  end
end
local ops = A.operations
if ops == nil or ops == cjson.null then ops = rcall("SMEMBERS", P .. "ops") end
-- Merge the heads of each operation's ready set, in claim order.
local heads = {}
for _, op in ipairs(ops) do
  for _, m in ipairs(rcall("ZRANGEBYLEX", P .. "ready:" .. op, "-", "+", "LIMIT", 0, A.limit)) do
    heads[#heads + 1] = {m, op}
  end
end
table.sort(heads, function(a, b) return a[1] < b[1] end)
local out = {}
local n = 0
for _, h in ipairs(heads) do
  if n >= A.limit then break end
  local m, op = h[1], h[2]
  local id = string.sub(m, 49)
  rcall("ZREM", P .. "ready:" .. op, m)
  local j = load(id)
  local in_bull = j and bull_exists(j)
  if j and j.status == "queued" and (not in_bull or bull_take(j) > 0) then
    n = n + 1
    if in_bull then bull_activate(j, A.tokens[n], A.lock_ms, A.now) end
    rcall("HDEL", jk(id), "rk")
    j.rk = nil
    change(j, {status = "processing", attempt = tostring(tonumber(j.attempt) + 1),
      lease_token = A.tokens[n], lease_expires_at = A.lease_until, worker_id = A.worker_id,
      started_at = A.now, progress_pct = "0", step = false, external = false}, A.now, "")
    out[#out + 1] = flat_of(j)
  end
end
-- claim_or_park: a claim that came back short also parks the worker (one offer, for one
-- job, replacing any it had), so the next submit of an operation it runs hands it over.
local parked = 0
local park = A.park
if park ~= nil and park ~= cjson.null and n < A.limit then
  drop_park(A.worker_id)
  local served = A.operations
  if served == nil or served == cjson.null then served = {"*"} end
  rcall("HSET", P .. "park:" .. A.worker_id, "origin", park.origin, "lease_us", park.lease_us,
    "ops", cjson.encode(served))
  local order = rcall("INCR", P .. "park_seq")
  for _, op in ipairs(served) do rcall("ZADD", P .. "parked:" .. op, order, A.worker_id) end
  parked = 1
end
return {out, CHANGES, parked}
