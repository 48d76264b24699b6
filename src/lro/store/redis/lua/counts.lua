-- Unexpired jobs per (operation, status), of one owner's index or everyone's.
-- A = {index, now}. Returns a flat list operation, status, count.
local now = tonumber(A.now)
local counts = {}
for _, m in ipairs(rcall("ZRANGE", P .. A.index, 0, -1)) do
  local f = rcall("HMGET", jk(string.sub(m, 19)), "operation", "status", "expires_at")
  if f[1] and (not f[3] or tonumber(f[3]) > now) then
    local k = f[1] .. "\0" .. f[2]
    counts[k] = (counts[k] or 0) + 1
  end
end
local out = {}
for k, n in pairs(counts) do out[#out + 1] = k; out[#out + 1] = n end
return out
