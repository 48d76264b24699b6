-- Fenced ends of an attempt, one per item, in order. A = {now, expires_at, items =
-- [{kind, id, token, did, ...}]} with kind one of:
--   complete {result?, result_ref?, step?, returnvalue}   fail {error, reason}
--   retry {run_at, error}   cancel {}   release {}
-- lro's hash changes as lro.store.base says; BullMQ's side moves with it: completed
-- (returnvalue), failed (failedReason; a cancel is BullMQ-failed with the reason
-- "cancelled through lro", since BullMQ has no cancelled state, while lro's status
-- says `cancelled`), or back to BullMQ's waiting states.
local out = {}
for i, it in ipairs(A.items) do
  local j = load(it.id)
  if not (j and j.status == "processing" and j.lease_token == it.token) then
    out[i] = false
  else
    local bull = bull_exists(j)
    if bull then bull_leave_active(j) end
    local ended = {lease_token = false, lease_expires_at = false, finished_at = A.now,
      expires_at = A.expires_at}
    local kind = it.kind
    if kind == "retry" and j.cancel_requested == "1" then kind = "cancel" end
    if kind == "complete" then
      ended.status = "completed"; ended.progress_pct = "100"
      ended.result = it.result or false; ended.result_ref = it.result_ref or false
      if it.step then ended.step = it.step end
      change(j, ended, A.now, it.did)
      if bull then
        -- lro's worker coalesces progress: BullMQ's field gets the final state, so a
        -- finished job reads 100% (with its last step) in Bull Board too.
        rcall("HSET", bk(j.queue) .. j.id, "progress",
          cjson.encode({pct = 100, step = j.step or cjson.null}))
        bull_finish(j, "completed", "returnvalue", it.returnvalue, A.now)
      end
    elseif kind == "fail" then
      ended.status = "failed"; ended.error = it.error
      change(j, ended, A.now, it.did)
      if bull then bull_finish(j, "failed", "failedReason", it.reason, A.now) end
    elseif kind == "cancel" then
      ended.status = "cancelled"
      change(j, ended, A.now, it.did)
      if bull then bull_finish(j, "failed", "failedReason", CANCELLED_REASON, A.now) end
    elseif kind == "retry" then
      change(j, {status = "queued", run_at = it.run_at, progress_pct = "0", step = false,
        lease_token = false, lease_expires_at = false, worker_id = false}, A.now, it.did)
      if bull then
        rcall("HSET", bk(j.queue) .. j.id, "failedReason", it.reason)
        rcall("HINCRBY", bk(j.queue) .. j.id, "atm", 1)
        bull_requeue(j, A.now)
      end
    else -- release: the run does not count
      change(j, {status = "queued", run_at = A.now, progress_pct = "0", step = false,
        attempt = tostring(math.max(0, tonumber(j.attempt) - 1)), lease_token = false,
        lease_expires_at = false, worker_id = false}, A.now, it.did)
      if bull then
        rcall("HINCRBY", bk(j.queue) .. j.id, "ats", -1)
        bull_requeue(j, A.now)
      end
    end
    out[i] = flat_of(j)
  end
end
return {out, CHANGES}
