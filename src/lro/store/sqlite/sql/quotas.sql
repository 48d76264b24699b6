-- Abuse-limit queries (lro.store.sqlite.quotas). Times are INTEGER microseconds.

-- name: take_tokens
-- Refill the bucket for the time since its last use (up to :burst), then take :cost if
-- that many are there. No row returned: not enough tokens (see bucket_tokens).
INSERT INTO buckets (key, tokens, at) VALUES (:key, :burst - :cost, :now)
ON CONFLICT (key) DO UPDATE
SET tokens = min(:burst, tokens + max(0, :now - at) / 1e6 * :rate) - :cost,
    at = max(at, :now)
WHERE min(:burst, tokens + max(0, :now - at) / 1e6 * :rate) >= :cost
RETURNING tokens

-- name: bucket_tokens
SELECT min(:burst, tokens + max(0, :now - at) / 1e6 * :rate) FROM buckets WHERE key = :key

-- name: active_jobs
SELECT count(*) FROM jobs WHERE owner = :owner AND status IN ('queued', 'processing') AND owner <> ''
