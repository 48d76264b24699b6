-- The ids of the unexpired jobs that fit a bulk action's filter, oldest first
-- (lro.store.steps.Steps.select_jobs). A = {index, from, to, limit, now, statuses | nil,
-- operation | nil, exclude | nil}: walks the owner's (or everyone's) created-order index
-- between two ZRANGEBYLEX bounds (the created range). Writes nothing.
local wanted = status_set(A.statuses)
local op = opt(A.operation)
local exclude = opt(A.exclude)
local now = tonumber(A.now)
local out = {}
local bound = A.from
while #out < A.limit do
  local members = rcall("ZRANGEBYLEX", P .. A.index, bound, A.to, "LIMIT", 0, 500)
  if #members == 0 then break end
  for _, m in ipairs(members) do
    bound = "(" .. m
    local id = string.sub(m, 19)
    local j = id ~= exclude and load(id)
    if j and (j.expires_at == nil or tonumber(j.expires_at) > now)
        and (wanted == nil or wanted[j.status]) and (op == nil or j.operation == op) then
      out[#out + 1] = id
      if #out >= A.limit then break end
    end
  end
end
return out
