-- Fenced lease renewal. A = {lease_until, lock_ms, leases = [[job_id, token]]}.
-- Renews lro's lease and BullMQ's lock with it (and takes the job out of BullMQ's
-- `stalled` mark, as BullMQ's extendLock does), so BullMQ's stalled checker in any
-- plain worker on the queue leaves a job lro's worker is running alone.
local out = {}
for i, l in ipairs(A.leases) do
  local j = load(l[1])
  if j and j.status == "processing" and j.lease_token == l[2] then
    rcall("HSET", jk(j.id), "lease_expires_at", A.lease_until)
    rcall("ZADD", P .. "leases", tonumber(A.lease_until), j.id)
    local b = bk(j.queue)
    if rcall("EXISTS", b .. j.id) == 1 then
      rcall("SET", b .. j.id .. ":lock", l[2], "PX", A.lock_ms)
      rcall("SREM", b .. "stalled", j.id)
    end
    out[i] = {1, j.cancel_requested == "1" and 1 or 0}
  else
    out[i] = {0, 0}
  end
end
return out
