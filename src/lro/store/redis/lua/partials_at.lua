-- A job's partials written at some versions (event ids), in seq order. A = {id,
-- versions}. Writes nothing. Returns [[seq, element of `:partials`], ...].
local k = jk(A.id)
local seqs = {}
for _, v in ipairs(A.versions) do
  local seq = rcall("HGET", k .. ":partial_at", tostring(v))
  if seq then seqs[#seqs + 1] = tonumber(seq) end
end
table.sort(seqs)
local out = {}
local last = nil
for _, seq in ipairs(seqs) do
  if seq ~= last then
    local raw = rcall("LINDEX", k .. ":partials", seq - 1)
    if raw then out[#out + 1] = {seq, raw} end
    last = seq
  end
end
return out
