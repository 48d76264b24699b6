-- Abuse-limit queries (lro.store.postgres.quotas).

-- name: take_tokens
-- Refill the bucket for the time since its last use (up to :burst), then take :cost if
-- that many are there; the row lock makes concurrent takers queue, so one budget holds
-- across every API process. No row returned: not enough tokens.
INSERT INTO lro_buckets AS b (key, tokens, at)
VALUES (:key, :burst::float8 - :cost::float8, :now)
ON CONFLICT (key) DO UPDATE
SET tokens = least(
        :burst::float8,
        b.tokens + greatest(0, extract(epoch FROM :now::timestamptz - b.at))::float8 * :rate::float8
    ) - :cost::float8,
    at = greatest(b.at, :now::timestamptz)
WHERE least(
        :burst::float8,
        b.tokens + greatest(0, extract(epoch FROM :now::timestamptz - b.at))::float8 * :rate::float8
    ) >= :cost::float8
RETURNING tokens

-- name: bucket_tokens
SELECT least(
    :burst::float8,
    tokens + greatest(0, extract(epoch FROM :now::timestamptz - at))::float8 * :rate::float8
)
FROM lro_buckets WHERE key = :key

-- name: active_jobs
SELECT count(*) FROM lro_jobs
WHERE owner = :owner AND status IN ('queued', 'processing') AND owner <> ''
