-- Delete a terminal job and everything of it (common.lua: delete_job). A = {id}.
-- Returns {job as it was | false, deleted}.
local j = load(A.id)
if not j then return {false, 0} end
if not TERMINAL[j.status] then return {flat_of(j), 0} end
delete_job(j)
return {flat_of(j), 1}
