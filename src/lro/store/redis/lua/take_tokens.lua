-- Token bucket. A = {key, rate, burst, cost, now}. Returns {1} when `cost` was taken,
-- {0, tokens available now} when not (the caller asks lro.store.rules how long to wait).
local key = P .. "bucket:" .. A.key
local now = tonumber(A.now)
local b = rcall("HMGET", key, "tokens", "at")
if not b[1] then
  rcall("HSET", key, "tokens", string.format("%.17g", A.burst - A.cost), "at", A.now)
  return {1}
end
local at = tonumber(b[2])
local have = math.min(A.burst, tonumber(b[1]) + math.max(0, now - at) / 1e6 * A.rate)
if have >= A.cost then
  rcall("HSET", key, "tokens", string.format("%.17g", have - A.cost), "at", fmt(math.max(at, now)))
  return {1}
end
return {0, string.format("%.17g", have)}
