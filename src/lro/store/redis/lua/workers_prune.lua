-- Delete the registry rows of workers last seen before A.before (dead ones): their hash
-- and their member of `workers`. One script, so a worker beating meanwhile either beat
-- before (and is kept: its score moved past the cutoff) or after (and writes it anew).
local ids = rcall("ZRANGEBYSCORE", P .. "workers", "-inf", "(" .. A.before)
for _, id in ipairs(ids) do
  rcall("DEL", P .. "worker:" .. id)
  rcall("ZREM", P .. "workers", id)
end
return #ids
