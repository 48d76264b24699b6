-- Take back jobs whose lease expired, as the caller decided (lro.store.rules.rescue_of)
-- from what it read. A = {now, expires_at, items = [{id, seen, status, run_at?, error?,
-- reason?, did}]}: each is re-checked here (still processing, the lease the caller saw,
-- expired before now), so a heartbeat or completion that won the race is left alone
-- and a job is taken back once, whichever process rescues it.
local out = {}
for _, it in ipairs(A.items) do
  local j = load(it.id)
  if j and j.status == "processing" and j.lease_expires_at == it.seen
      and tonumber(j.lease_expires_at) < tonumber(A.now) then
    local bull = bull_exists(j)
    if bull then bull_leave_active(j) end
    if it.status == "queued" then
      change(j, {status = "queued", run_at = it.run_at, progress_pct = "0", step = false,
        lease_token = false, lease_expires_at = false, worker_id = false}, A.now, it.did)
      if bull then bull_requeue(j, A.now) end
    else
      local upd = {status = it.status, finished_at = A.now, expires_at = A.expires_at,
        lease_token = false, lease_expires_at = false}
      if it.error then upd.error = it.error end
      change(j, upd, A.now, it.did)
      if bull then
        bull_finish(j, "failed", "failedReason", it.reason or CANCELLED_REASON, A.now)
      end
    end
    out[#out + 1] = flat_of(j)
  end
end
return {out, CHANGES}
