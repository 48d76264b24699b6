-- Run a failed or cancelled job again under its id (lro.store.steps.Steps.retry_job).
-- A = {id, now}. Returns {outcome ("none" | "retried" | "conflict"), job, changes}.
-- lro's side is queued again (steps, checkpoint and partials stay); BullMQ's job leaves
-- its failed set for BullMQ's waiting states, as bull_requeue puts a job back, so a
-- plain BullMQ worker runs it again as well as lro's. An expired job is gone for
-- clients (and may be swept at any moment): not retried.
local j = load(A.id)
if not j then return {"none", false, CHANGES} end
local unexpired = j.expires_at == nil or tonumber(j.expires_at) > tonumber(A.now)
if not ((j.status == "failed" or j.status == "cancelled") and unexpired) then
  return {"conflict", flat_of(j), CHANGES}
end
rcall("ZREM", P .. "expiring", j.id)
local attempts = math.max(tonumber(j.max_attempts), tonumber(j.attempt) + 1)
change(j, {status = "queued", run_at = A.now, error = false, result = false,
  result_ref = false, finished_at = false, expires_at = false, cancel_requested = "0",
  progress_pct = "0", step = false, max_attempts = tostring(attempts), lease_token = false,
  lease_expires_at = false, worker_id = false, external = false}, A.now, "")
if j.owner ~= "" then rcall("SADD", P .. "active:" .. j.owner, j.id) end
if bull_exists(j) then
  local b = bk(j.queue)
  rcall("ZREM", b .. "failed", j.id)
  rcall("ZREM", b .. "completed", j.id)
  rcall("HDEL", b .. j.id, "finishedOn", "failedReason", "returnvalue", "processedOn")
  rcall("HSET", b .. j.id, "progress", "0")
  bull_requeue(j, A.now)
end
return {"retried", flat_of(j), CHANGES}
