-- Bring lro's record of a job up to what BullMQ says of it, after a plain BullMQ worker
-- (Node or Python, knowing nothing of lro) changed it. A = {ids, dids, now, expires_at,
-- hints = {job id: ["completed", returnvalue] | ["failed", failedReason]}, progress =
-- {job id: [[event id, pct | null, step | null, partial (JSON text) | null, size]]}
-- (optional)}.
--
-- `progress` is the job's progress events from BullMQ's stream, in order (the feed
-- reads them; BullMQ's hash keeps only the last): each becomes its lro change, a
-- {"partial": value} one an lro partial result (common.lua: append_partial). The job
-- remembers the last event id it took (`bull_sid`, fixed width so strings compare as
-- ids), so a process that reads the same events again adds nothing twice.
--
-- Every process's reader of BullMQ's event stream calls this for the jobs the events
-- name; it reads BullMQ's state, not the event, so it is idempotent and order-proof:
-- the first caller writes the change (version + 1, event, deliveries), the others find
-- nothing to do. A job lro already ended stays as lro ended it (a cancel stays
-- `cancelled`, though BullMQ lists it as failed).
-- The pct / step a plain worker's progress names, as lro's progress rule takes it
-- (clamped, never decreasing); nil when nothing moves.
local function progress_update(j, pct, step)
  local upd = {}
  if pct then
    pct = math.min(100, math.max(0, pct))
    if pct > tonumber(j.progress_pct) then upd.progress_pct = tostring(pct) end
  end
  if step and step ~= j.step then upd.step = step end
  if next(upd) then return upd end
  return nil
end

local PROGRESS = (type(A.progress) == "table") and A.progress or {}

local function has_partials(id)
  for _, e in ipairs(PROGRESS[id] or {}) do
    if e[4] ~= cjson.null then return true end
  end
  return false
end

local function take_progress_events(j, did)
  local seen = j.bull_sid or ""
  local last = seen
  for _, e in ipairs(PROGRESS[j.id] or {}) do
    if e[1] > seen then
      local pct = (e[2] ~= cjson.null) and tonumber(e[2]) or nil
      local step = (e[3] ~= cjson.null) and e[3] or nil
      local upd = progress_update(j, pct, step)
      if upd then change(j, upd, A.now, did) end
      if e[4] ~= cjson.null then append_partial(j, e[4], e[5], A.now) end
      if e[1] > last then last = e[1] end
    end
  end
  if last ~= seen then
    j.bull_sid = last
    rcall("HSET", jk(j.id), "bull_sid", last)
  end
end

local function sync_one(id, did)
  local j = load(id)
  if not j or TERMINAL[j.status] then return end
  local b = bk(j.queue)
  if rcall("EXISTS", b .. j.id) == 0 then
    -- A worker that removes jobs as they finish (removeOnComplete / removeOnFail) left
    -- only its event: its outcome is what the event says (A.hints, from the feed).
    local hint = A.hints[id]
    if hint == nil or hint[1] == "" then return end
    local upd = {finished_at = A.now, expires_at = A.expires_at, lease_token = false,
      lease_expires_at = false}
    take_progress_events(j, did)
    if j.status == "queued" then  -- it ran and ended before lro saw it taken
      upd.started_at = A.now
      upd.attempt = tostring(tonumber(j.attempt) + 1)
      upd.worker_id = "bullmq"
    end
    if hint[1] == "completed" then
      local rv = hint[2]
      if rv == "null" or rv == "" then rv = nil end
      upd.status = "completed"; upd.progress_pct = "100"; upd.result = rv or false
    else
      upd.status = "failed"
      upd.error = cjson.encode({type = "https://lro.dev/problems/bullmq-failed",
        title = "The BullMQ worker failed this job", detail = hint[2],
        code = "bullmq_failed", retryable = false,
        attempts = math.max(tonumber(upd.attempt or j.attempt), 1)})
    end
    change(j, upd, A.now, did)
    return
  end
  local f = rcall("HMGET", b .. j.id, "processedOn", "returnvalue", "failedReason", "progress",
    "atm", "ats")
  local started_on = f[1] and fmt(tonumber(f[1]) * 1000) or A.now
  local runs = math.max(tonumber(f[5] or "0") or 0, tonumber(f[6] or "0") or 0)
  local attempt = tostring(math.max(tonumber(j.attempt), runs))

  local function started(upd)
    if j.status == "queued" then
      upd.started_at = started_on
      upd.attempt = tostring(math.max(tonumber(j.attempt) + 1, runs))
      upd.worker_id = "bullmq"
    end
    return upd
  end

  local function progress_of(raw)
    if not raw then return nil, nil end
    local ok, v = pcall(cjson.decode, raw)
    if not ok then return nil, nil end
    if type(v) == "number" then return v, nil end
    if type(v) == "table" then
      local pct = tonumber(v.pct)
      local step = (type(v.step) == "string") and v.step or nil
      return pct, step
    end
    return nil, nil
  end

  -- Walk the states BullMQ passed through since lro last looked, one change each:
  -- taken by a worker, its latest progress, then how it ended.
  local completed = rcall("ZSCORE", b .. "completed", j.id)
  local failed = not completed and rcall("ZSCORE", b .. "failed", j.id)
  local active = rcall("LPOS", b .. "active", j.id)
  if j.status == "processing" and active then
    -- A run lro has not seen: BullMQ took the job back from a lost worker (its stalled
    -- check) and a worker took it again before this reader looked. lro records both.
    local lock = rcall("GET", b .. j.id .. ":lock")
    local taken_over = (j.external == "1" and runs > tonumber(j.attempt))
      or (j.external ~= "1" and lock and lock ~= j.lease_token)
    if taken_over then
      if j.cancel_requested == "1" then
        bull_leave_active(j)
        change(j, {status = "cancelled", finished_at = A.now, expires_at = A.expires_at,
          lease_token = false, lease_expires_at = false}, A.now, did)
        bull_finish(j, "failed", "failedReason", CANCELLED_REASON, A.now)
        return
      end
      change(j, {status = "queued", run_at = A.now, progress_pct = "0", step = false,
        lease_token = false, lease_expires_at = false, worker_id = false, external = false},
        A.now, did)
    end
  end
  if j.status == "queued" and (active or completed or failed) then
    local token = rcall("GET", b .. j.id .. ":lock")
    change(j, started({status = "processing", progress_pct = "0", step = false,
      lease_token = token or "bullmq", lease_expires_at = false, external = "1"}),
      A.now, did)
  end
  if j.status == "processing" and j.external == "1" and (active or completed or failed) then
    take_progress_events(j, did)
    if (completed or failed) and A.hints[id] == nil and has_partials(id) then
      -- A worker's partials come before its end in BullMQ's stream. These events held
      -- some but not the end (the worker finished after the feed read them, or the
      -- read cut between): the end is left to the events that bring it, so every
      -- partial the worker made is stored before the terminal state, as lro's own
      -- worker does.
      return
    end
    if completed or failed then
      -- BullMQ's hash has the last progress even where its events were not read (the
      -- stream trimmed before lro looked): taken at the end, a no-op when the events
      -- said it. Not before: the events still to come would then be out of order.
      local pct, step = progress_of(f[4])
      local upd = progress_update(j, pct, step)
      if upd then change(j, upd, A.now, did) end
    end
  end
  if completed then
    local rv = f[2]
    if rv == "null" or rv == "" then rv = nil end
    change(j, {status = "completed", progress_pct = "100", result = rv or false,
      finished_at = A.now, expires_at = A.expires_at, lease_token = false,
      lease_expires_at = false, attempt = attempt}, A.now, did)
  elseif failed then
    local made = tonumber(f[5] or "0") or 0
    local err = cjson.encode({type = "https://lro.dev/problems/bullmq-failed",
      title = "The BullMQ worker failed this job", detail = f[3] or "",
      code = "bullmq_failed", retryable = false, attempts = math.max(made, 1)})
    change(j, {status = "failed", error = err, finished_at = A.now,
      expires_at = A.expires_at, lease_token = false, lease_expires_at = false,
      attempt = attempt}, A.now, did)
  elseif j.status == "processing" and bull_waiting(j) then
    -- BullMQ took the job back: a plain worker's retry, or its stalled-job recovery.
    if j.cancel_requested == "1" then
      bull_take(j)
      change(j, {status = "cancelled", finished_at = A.now, expires_at = A.expires_at,
        lease_token = false, lease_expires_at = false}, A.now, did)
      bull_finish(j, "failed", "failedReason", CANCELLED_REASON, A.now)
    else
      change(j, {status = "queued", run_at = A.now, progress_pct = "0", step = false,
        lease_token = false, lease_expires_at = false, worker_id = false, external = false},
        A.now, did)
    end
  end
end

for i, id in ipairs(A.ids) do sync_one(id, A.dids[i]) end
return CHANGES
