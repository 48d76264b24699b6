-- A page of jobs, newest first. A = {index, before, limit, now, statuses | nil,
-- operation | nil}: walks the owner's (or everyone's) index from `before` (a ZRANGEBYLEX
-- bound), skipping expired jobs and those the filters leave out.
local wanted = status_set(A.statuses)
local op = opt(A.operation)
local now = tonumber(A.now)
local out = {}
local bound = A.before
while #out < A.limit do
  local members = rcall("ZREVRANGEBYLEX", P .. A.index, bound, "-", "LIMIT", 0, 200)
  if #members == 0 then break end
  for _, m in ipairs(members) do
    bound = "(" .. m
    local j = load(string.sub(m, 19))
    if j and (j.expires_at == nil or tonumber(j.expires_at) > now)
        and (wanted == nil or wanted[j.status]) and (op == nil or j.operation == op) then
      out[#out + 1] = flat_of(j)
      if #out >= A.limit then break end
    end
  end
end
return out
