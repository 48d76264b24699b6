-- Fenced progress. A = {now, updates = [[job_id, token, pct, step | nil, did]]}.
-- Progress never decreases within an attempt; a no-op writes nothing. BullMQ's
-- `progress` field gets {"pct", "step"}, as a plain worker's updateProgress would.
local held = {}
for i, u in ipairs(A.updates) do
  local j = load(u[1])
  if j and j.status == "processing" and j.lease_token == u[2] then
    held[i] = 1
    local pct = math.max(tonumber(j.progress_pct), tonumber(u[3]))
    local pct_s = (pct == tonumber(j.progress_pct)) and j.progress_pct or u[3]
    local step = u[4]
    if step == cjson.null then step = nil end
    local new_step = step or j.step
    if pct_s ~= j.progress_pct or new_step ~= j.step then
      change(j, {progress_pct = pct_s, step = new_step or false}, A.now, u[5])
      local b = bk(j.queue)
      if rcall("EXISTS", b .. j.id) == 1 then
        local value = cjson.encode({pct = tonumber(pct_s), step = new_step or cjson.null})
        rcall("HSET", b .. j.id, "progress", value)
        bull_event(j.queue, "event", "progress", "jobId", j.id, "data", value, "lro", "1")
      end
    end
  else
    held[i] = 0
  end
end
return {held, CHANGES}
