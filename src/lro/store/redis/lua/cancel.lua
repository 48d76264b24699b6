-- A client's cancel. A = {id, now, expires_at, did}. Returns {outcome, job, changes}.
-- A queued job ends at once (and leaves BullMQ's waiting states for its failed set, so
-- no BullMQ worker runs it); a processing one gets cancel_requested, which lro's worker
-- hears of; a plain BullMQ worker cannot, so its job ends as its handler ends.
local j = load(A.id)
if not j then return {"none", false, CHANGES} end
if j.status == "queued" then
  local bull = bull_exists(j) and bull_take(j) > 0
  change(j, {status = "cancelled", finished_at = A.now, expires_at = A.expires_at}, A.now, A.did)
  if bull then bull_finish(j, "failed", "failedReason", CANCELLED_REASON, A.now) end
  return {"cancelled", flat_of(j), CHANGES}
elseif j.status == "processing" then
  if j.cancel_requested ~= "1" then
    change(j, {cancel_requested = "1"}, A.now, A.did)
  end
  return {"requested", flat_of(j), CHANGES}
end
return {"finished", flat_of(j), CHANGES}
