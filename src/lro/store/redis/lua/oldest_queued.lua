-- Per operation, the run_at of its oldest due queued job. A = {now}.
local now = tonumber(A.now)
local oldest = {}
local function see(op, run_at)
  if not oldest[op] or run_at < oldest[op] then oldest[op] = run_at end
end
for _, id in ipairs(rcall("ZRANGEBYSCORE", P .. "delayed", "-inf", now)) do
  local f = rcall("HMGET", jk(id), "operation", "run_at", "status")
  if f[1] and f[3] == "queued" then see(f[1], tonumber(f[2])) end
end
for _, op in ipairs(rcall("SMEMBERS", P .. "ops")) do
  for _, m in ipairs(rcall("ZRANGE", P .. "ready:" .. op, 0, -1)) do
    local run_at = tonumber(string.sub(m, 18, 34))
    if run_at <= now then see(op, run_at) end
  end
end
local out = {}
for op, t in pairs(oldest) do out[#out + 1] = op; out[#out + 1] = fmt(t) end
return out
