-- A fenced step write (lro.store.steps.Steps: start_step, finish_step, fail_step).
-- A = {id, token, kind = "start" | "finish" | "fail", name, now, result? (JSON text)}.
-- `:steps` maps a step's name to [ord, status, attempt, result | false, started_at,
-- finished_at | false]; steps are never removed one by one, so a new one's ord is the
-- hash's length + 1. No version, no event: nobody follows steps. Returns 1, or 0 (and
-- nothing written) where the lease is not held.
local j = load(A.id)
if not (j and j.status == "processing" and j.lease_token == A.token) then return 0 end
local key = jk(j.id) .. ":steps"
local raw = rcall("HGET", key, A.name)
local s = raw and cjson.decode(raw)
if s and s[2] == "completed" then return 1 end  -- a completed step keeps its first result
local attempt = tonumber(j.attempt)
if A.kind == "start" then
  local ord = s and s[1] or rcall("HLEN", key) + 1
  s = {ord, "running", attempt, false, A.now, false}
elseif A.kind == "finish" then
  if s then
    s = {s[1], "completed", attempt, A.result, s[5], A.now}
  else
    s = {rcall("HLEN", key) + 1, "completed", attempt, A.result, A.now, A.now}
  end
else
  if not s or s[2] ~= "running" then return 1 end
  s = {s[1], "failed", attempt, s[4], s[5], A.now}
end
rcall("HSET", key, A.name, cjson.encode(s))
return 1
