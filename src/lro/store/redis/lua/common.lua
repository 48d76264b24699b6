-- The prelude of every lro script (lro.store.redis.connection puts it in front of each).
--
-- ARGV[1] lro's key prefix ("lro:"), ARGV[2] the calling process's origin id (so its
-- own change feed skips what it already told its listeners), ARGV[3] BullMQ's prefix
-- ("bull"), ARGV[4] the call's arguments as JSON. Times are integer microseconds kept as
-- decimal strings: Lua numbers are doubles, exact for them, but tostring() would print
-- 1.8934e+15, so every time that is written is a string the caller made, or fmt().
-- Job fields absent from the hash are NULL; `false` in an update table deletes one.
local rcall = redis.call
local P, ORIGIN, BP = ARGV[1], ARGV[2], ARGV[3]
local A = cjson.decode(ARGV[4])
local CHANGES = {}

local function fmt(n) return string.format("%.0f", n) end
local function jk(id) return P .. "job:" .. id end
local function bk(queue) return BP .. ":" .. queue .. ":" end
local function us_to_ms(us) return math.floor(tonumber(us) / 1000) end

local TERMINAL = {completed = true, failed = true, cancelled = true}

-- An optional argument of a call: JSON null arrives as cjson.null, and reads as nil here.
local function opt(v)
  if v == cjson.null then return nil end
  return v
end

-- A list filter's statuses as a set; nil (any status) when the filter names none.
local function status_set(statuses)
  if opt(statuses) == nil then return nil end
  local set = {}
  for _, s in ipairs(statuses) do set[s] = true end
  return set
end

local function load(id)
  local flat = rcall("HGETALL", jk(id))
  if #flat == 0 then return nil end
  local j = {}
  for i = 1, #flat, 2 do j[flat[i]] = flat[i + 1] end
  return j
end

local function flat_of(j)
  local out = {}
  for k, v in pairs(j) do out[#out + 1] = k; out[#out + 1] = v end
  return out
end

-- The claim order as one string (ZRANGEBYLEX): highest priority first, then oldest
-- run_at, then oldest insert; fixed widths make the string order the numeric one.
local function ready_member(j)
  return string.format("%016.0f|%017.0f|%012.0f|%s", 1e15 - tonumber(j.priority),
    tonumber(j.run_at), tonumber(j.seq), j.id)
end

local function set_fields(j, upd)
  local sets, dels = {}, {}
  for k, v in pairs(upd) do
    if v == false then
      if j[k] ~= nil then dels[#dels + 1] = k end
      j[k] = nil
    else
      j[k] = v
      sets[#sets + 1] = k; sets[#sets + 1] = v
    end
  end
  if #sets > 0 then rcall("HSET", jk(j.id), unpack(sets)) end
  if #dels > 0 then rcall("HDEL", jk(j.id), unpack(dels)) end
end

local function add_delivery(j, event_type, at, did)
  local id = "msg_" .. did
  rcall("HSET", P .. "delivery:" .. id, "id", id, "job_id", j.id, "event_type", event_type,
    "url", j.callback_url, "event_at", at, "status", "pending", "attempts", "0",
    "next_attempt_at", at, "created_at", at, "manual", "0", "target", j.callback_target or "")
  rcall("RPUSH", jk(j.id) .. ":deliveries", id)
  rcall("ZADD", P .. "outbox", tonumber(at), id)
  return id
end

-- The indexes a job is in follow its status: queued jobs wait in `delayed` (by run_at)
-- until a claim moves the due ones to their operation's `ready` set; processing jobs
-- are in `leases`; terminal ones in `expiring`; unfinished ones in their owner's set.
local function leave_indexes(j, status)
  if status == "queued" then
    rcall("ZREM", P .. "delayed", j.id)
    if j.rk then rcall("ZREM", P .. "ready:" .. j.operation, j.rk) end
  elseif status == "processing" then
    rcall("ZREM", P .. "leases", j.id)
  end
end

local function enter_indexes(j, status)
  if status == "queued" then
    rcall("ZADD", P .. "delayed", tonumber(j.run_at), j.id)
    if j.rk then rcall("HDEL", jk(j.id), "rk"); j.rk = nil end
  elseif status == "processing" then
    if j.lease_expires_at then
      rcall("ZADD", P .. "leases", tonumber(j.lease_expires_at), j.id)
    end
  elseif TERMINAL[status] then
    rcall("ZADD", P .. "expiring", tonumber(j.expires_at), j.id)
    if j.owner ~= "" then rcall("SREM", P .. "active:" .. j.owner, j.id) end
    if status == "completed" and j.started_at then
      local took = (tonumber(j.finished_at) - tonumber(j.started_at)) / 1e6
      rcall("LPUSH", P .. "durations:" .. j.operation, tostring(took))
      rcall("LTRIM", P .. "durations:" .. j.operation, 0, 99)
    end
  end
end

-- One committed change of a job: version + 1, its event, the deliveries it calls for,
-- the indexes its status moves it between, and a line on the change feed. `did` is a
-- fresh delivery id (32 hex digits) from the caller, used if a delivery is written.
-- `as_kind` names the event where the fields cannot tell it (a partial result).
local function change(j, upd, now, did, as_kind)
  local old_status, old_cancel = j.status, j.cancel_requested
  local old_pct, old_step = j.progress_pct, j.step
  set_fields(j, upd)
  local v = tonumber(j.version) + 1
  j.version = tostring(v)
  j.updated_at = now
  rcall("HSET", jk(j.id), "version", j.version, "updated_at", now)
  local kind
  if j.status ~= old_status and TERMINAL[j.status] then
    kind = j.status
  elseif j.status == old_status and j.cancel_requested == old_cancel then
    kind = "progress"
  else
    kind = "status"
  end
  if as_kind then kind = as_kind end
  local requested = (j.cancel_requested == "1" and old_cancel ~= "1") and "1" or "0"
  rcall("RPUSH", jk(j.id) .. ":events", cjson.encode({j.version, kind, j.status,
    j.progress_pct, j.step or "", j.step ~= nil, j.attempt, requested, now}))
  if j.status ~= old_status then
    leave_indexes(j, old_status)
    enter_indexes(j, j.status)
  end
  if j.callback_url then
    if j.status ~= old_status and TERMINAL[j.status] then
      add_delivery(j, "job." .. j.status, now, did)
    elseif j.callback_progress == "1" and j.status == "processing"
        and old_status == "processing"
        and (j.progress_pct ~= old_pct or j.step ~= old_step) then
      local pending = rcall("GET", jk(j.id) .. ":progress_delivery")
      local dkey = pending and (P .. "delivery:" .. pending)
      if pending and rcall("HGET", dkey, "status") == "pending"
          and rcall("HGET", dkey, "attempts") == "0" then
        rcall("HSET", dkey, "event_at", now)
      else
        rcall("SET", jk(j.id) .. ":progress_delivery", add_delivery(j, "job.progress", now, did))
      end
    end
  end
  rcall("XADD", P .. "changes", "MAXLEN", "~", 10000, "*", "j", j.id, "v", j.version,
    "s", j.status, "c", requested, "o", ORIGIN)
  CHANGES[#CHANGES + 1] = {j.id, j.version, j.status, requested}
end

-- BullMQ's side of a job: its hash and the list or sorted set its state is, laid out as
-- BullMQ keeps them (its own scripts add jobs; these move them the way BullMQ's would),
-- so BullMQ workers, QueueEvents and Bull Board see lro's changes. Every event lro adds
-- to BullMQ's stream carries `lro 1`, so lro's own reader skips it.
local function bull_event(q, ...)
  rcall("XADD", bk(q) .. "events", "MAXLEN", "~", 10000, "*", ...)
end

local function bull_exists(j)
  return rcall("EXISTS", bk(j.queue) .. j.id) == 1
end

local function bull_take(j)
  local b = bk(j.queue)
  -- BullMQ pushes on the left of `wait` and its workers take from the right, so the
  -- job lro claims (the oldest) is near the right end: LREM from the tail (count -1)
  -- stops there instead of scanning the whole list, which made a drain quadratic.
  return rcall("LREM", b .. "wait", -1, j.id) + rcall("ZREM", b .. "prioritized", j.id)
    + rcall("ZREM", b .. "delayed", j.id) + rcall("LREM", b .. "paused", -1, j.id)
end

local function bull_waiting(j)
  local b = bk(j.queue)
  if rcall("ZSCORE", b .. "prioritized", j.id) or rcall("ZSCORE", b .. "delayed", j.id) then
    return true
  end
  return rcall("LPOS", b .. "wait", j.id) ~= false or rcall("LPOS", b .. "paused", j.id) ~= false
end

local function bull_activate(j, token, lock_ms, now)
  local b = bk(j.queue)
  rcall("LPUSH", b .. "active", j.id)
  rcall("SET", b .. j.id .. ":lock", token, "PX", lock_ms)
  rcall("HSET", b .. j.id, "processedOn", us_to_ms(now))
  rcall("HINCRBY", b .. j.id, "ats", 1)
  bull_event(j.queue, "event", "active", "jobId", j.id, "prev", "waiting", "lro", "1")
end

local function bull_leave_active(j)
  local b = bk(j.queue)
  rcall("LREM", b .. "active", -1, j.id)
  rcall("DEL", b .. j.id .. ":lock")
  rcall("SREM", b .. "stalled", j.id)
end

local function bull_finish(j, target, field, value, now)
  local b = bk(j.queue)
  local ms = us_to_ms(now)
  rcall("ZADD", b .. target, ms, j.id)
  rcall("HSET", b .. j.id, field, value, "finishedOn", ms)
  if target == "failed" then
    bull_event(j.queue, "event", "failed", "jobId", j.id, "failedReason", value,
      "prev", "active", "lro", "1")
  else
    bull_event(j.queue, "event", "completed", "jobId", j.id, "returnvalue", value,
      "prev", "active", "lro", "1")
  end
end

-- Back to BullMQ's waiting states: delayed (by run_at), prioritized or wait.
local function bull_requeue(j, now)
  local b = bk(j.queue)
  local run_ms = us_to_ms(j.run_at)
  if tonumber(j.run_at) > tonumber(now) then
    rcall("ZADD", b .. "delayed", run_ms * 0x1000, j.id)
    rcall("HSET", b .. j.id, "delay", run_ms - us_to_ms(now))
    local first = rcall("ZRANGE", b .. "delayed", 0, 0, "WITHSCORES")
    if first[2] then rcall("ZADD", b .. "marker", tonumber(first[2]) / 0x1000, "1") end
    bull_event(j.queue, "event", "delayed", "jobId", j.id, "delay", run_ms, "lro", "1")
  else
    local prio = tonumber(rcall("HGET", b .. j.id, "priority") or "0") or 0
    if prio > 0 then
      local counter = rcall("INCR", b .. "pc")
      rcall("ZADD", b .. "prioritized", prio * 0x100000000 + counter % 0x100000000, j.id)
    else
      rcall("LPUSH", b .. "wait", j.id)
    end
    rcall("ZADD", b .. "marker", 0, "0")
    bull_event(j.queue, "event", "waiting", "jobId", j.id, "prev", "active", "lro", "1")
  end
end

local function bull_remove(j)
  local b = bk(j.queue)
  rcall("ZREM", b .. "completed", j.id)
  rcall("ZREM", b .. "failed", j.id)
  bull_take(j)
  bull_leave_active(j)
  rcall("DEL", b .. j.id, b .. j.id .. ":logs")
  bull_event(j.queue, "event", "removed", "jobId", j.id, "prev", "completed", "lro", "1")
end

local CANCELLED_REASON = "cancelled through lro"

-- Everything of a job, as one deletion: its hash, events, deliveries and attempts,
-- result blobs, idempotency key, indexes, and its BullMQ job.
local function delete_job(j)
  local k = jk(j.id)
  for _, d in ipairs(rcall("LRANGE", k .. ":deliveries", 0, -1)) do
    rcall("DEL", P .. "delivery:" .. d, P .. "delivery:" .. d .. ":attempts")
    rcall("ZREM", P .. "outbox", d)
  end
  for _, key in ipairs(rcall("SMEMBERS", k .. ":blobs")) do
    rcall("DEL", P .. "blob:" .. j.id .. ":" .. key, P .. "chunks:" .. j.id .. ":" .. key)
  end
  if j.idempotency_key then
    local ik = P .. "idem:" .. string.len(j.owner) .. ":" .. j.owner .. ":" .. j.idempotency_key
    if rcall("GET", ik) == j.id then rcall("DEL", ik) end
    rcall("ZREM", P .. "idem_expiring", j.id)
  end
  leave_indexes(j, j.status)
  rcall("ZREM", P .. "expiring", j.id)
  rcall("SREM", P .. "active:" .. j.owner, j.id)
  local created = string.format("%017.0f|%s", tonumber(j.created_at), j.id)
  rcall("ZREM", P .. "owner:" .. j.owner, created)
  rcall("ZREM", P .. "all", created)
  rcall("DEL", k, k .. ":events", k .. ":deliveries", k .. ":blobs", k .. ":progress_delivery",
    k .. ":steps", k .. ":checkpoint", k .. ":partials", k .. ":partial_at", k .. ":partial_bytes")
  if bull_exists(j) then bull_remove(j) end
end

-- One partial result of a processing job (lro.store.steps.Steps.append_partials): the
-- job's version + 1 and its event of kind `partial`, then the partial itself, its seq
-- the list's length: `:partials` holds [version, data (JSON text), created_at] in seq
-- order, `:partial_at` maps a version (event id) to its seq, `:partial_bytes` counts
-- the JSON text (`size`, as the caller measured it) for the size limit.
local function append_partial(j, data, size, now)
  change(j, {}, now, "", "partial")
  local k = jk(j.id)
  local seq = rcall("RPUSH", k .. ":partials", cjson.encode({j.version, data, now}))
  rcall("HSET", k .. ":partial_at", j.version, seq)
  rcall("INCRBY", k .. ":partial_bytes", size)
end

-- Direct hand-off (lro.store.redis.handoff): a parked worker's offer is a hash
-- `park:<worker_id>` {origin, lease_us, ops (JSON array, or ["*"] for any)} and
-- its id in `parked:<op>` per operation, scored by when it parked (oldest first).
local function drop_park(worker_id)
  local pk = P .. "park:" .. worker_id
  local ops = rcall("HGET", pk, "ops")
  if not ops then return false end
  for _, op in ipairs(cjson.decode(ops)) do rcall("ZREM", P .. "parked:" .. op, worker_id) end
  rcall("DEL", pk)
  return true
end

local function changes_out()
  return CHANGES
end
