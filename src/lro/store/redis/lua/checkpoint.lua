-- Fenced checkpoints (lro.store.steps.Steps.set_checkpoints). A = {now, writes = [[id,
-- token, value (JSON text)]]}: `:checkpoint` is {value, attempt, updated_at}; of several
-- writes for one job the last wins. No version, no event. Returns 1 / 0 per write.
local held = {}
for i, w in ipairs(A.writes) do
  local j = load(w[1])
  if j and j.status == "processing" and j.lease_token == w[2] then
    rcall("HSET", jk(j.id) .. ":checkpoint", "value", w[3], "attempt", j.attempt,
      "updated_at", A.now)
    held[i] = 1
  else
    held[i] = 0
  end
end
return held
