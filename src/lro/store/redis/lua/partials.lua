-- Fenced partial results (lro.store.steps.Steps.append_partials). A = {now, writes =
-- [[id, token, [[data (JSON text), size], ...]]]}: per value, in order, common.lua's
-- append_partial (version + 1, a `partial` event, a change line). Returns {held 1 / 0
-- per write, changes}.
local held = {}
for i, w in ipairs(A.writes) do
  local j = load(w[1])
  if j and j.status == "processing" and j.lease_token == w[2] then
    for _, value in ipairs(w[3]) do append_partial(j, value[1], value[2], A.now) end
    held[i] = 1
  else
    held[i] = 0
  end
end
return {held, CHANGES}
