-- The processing jobs leased to A.worker_id under a token not in A.known (hand-offs the
-- worker never heard of). Reads only: a sweep after the feed reconnects.
local known = {}
for _, t in ipairs(A.known) do known[t] = true end
local out = {}
for _, id in ipairs(rcall("ZRANGE", P .. "leases", 0, -1)) do
  local j = load(id)
  if j and j.status == "processing" and j.worker_id == A.worker_id
      and j.lease_token and not known[j.lease_token] then
    out[#out + 1] = flat_of(j)
  end
end
return out
