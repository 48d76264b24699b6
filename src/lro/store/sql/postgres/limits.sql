-- Abuse-limit queries (lro.store.postgres_limits).

-- name: take_tokens
-- Refill the bucket for the time since its last use (up to $3 = burst), then take $5 =
-- cost if that many are there; the row lock makes concurrent takers queue, so one budget
-- holds across every API process. No row returned: not enough tokens.
INSERT INTO lro_buckets AS b (key, tokens, at) VALUES ($1, $3::float8 - $5::float8, $4)
ON CONFLICT (key) DO UPDATE
SET tokens = least(
        $3::float8,
        b.tokens + greatest(0, extract(epoch FROM $4::timestamptz - b.at))::float8 * $2::float8
    ) - $5::float8,
    at = greatest(b.at, $4::timestamptz)
WHERE least(
        $3::float8,
        b.tokens + greatest(0, extract(epoch FROM $4::timestamptz - b.at))::float8 * $2::float8
    ) >= $5::float8
RETURNING tokens

-- name: bucket_tokens
SELECT least(
    $3::float8,
    tokens + greatest(0, extract(epoch FROM $4::timestamptz - at))::float8 * $2::float8
)
FROM lro_buckets WHERE key = $1

-- name: active_jobs
SELECT count(*) FROM lro_jobs WHERE owner = $1 AND status IN ('queued', 'processing') AND owner <> ''
