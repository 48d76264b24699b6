-- Webhook outbox queries (lro.store.postgres.outbox).

-- name: claim_deliveries
-- SKIP LOCKED: concurrent dispatchers take disjoint deliveries without waiting.
WITH due AS (
    SELECT id FROM lro_deliveries
    WHERE status = 'pending' AND next_attempt_at <= :now
      AND target <> ALL(:skip::text[])
    ORDER BY next_attempt_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE lro_deliveries d
SET attempts = d.attempts + 1, next_attempt_at = :lease_until, in_flight_until = :lease_until
FROM due
WHERE d.id = due.id
RETURNING d.*

-- name: defer_deliveries
-- Hand claimed deliveries back unsent (their target is busy): each claim's attempt is
-- undone, fenced by the attempt number the claim gave it.
UPDATE lro_deliveries d
SET attempts = d.attempts - 1, next_attempt_at = :until, in_flight_until = NULL
FROM unnest(:ids::text[], :attempts::int[]) AS u(id, attempt)
WHERE d.id = u.id AND d.attempts = u.attempt AND d.status = 'pending'

-- name: record_attempt
-- One statement: the fenced update, and the attempt row only if the fence held. An
-- attempt recorded twice violates the attempts key, which fails the whole statement.
WITH upd AS (
    UPDATE lro_deliveries
    SET status = :status,
        next_attempt_at = :next_attempt_at,
        delivered_at = CASE WHEN :status = 'delivered' THEN :at ELSE delivered_at END,
        last_status_code = :status_code,
        last_error = :error,
        manual = false,
        in_flight_until = NULL
    WHERE id = :id AND attempts = :attempt AND status = 'pending'
    RETURNING id
),
att AS (
    INSERT INTO lro_delivery_attempts (delivery_id, attempt, at, status_code, duration_ms, error)
    SELECT id, :attempt, :at, :status_code, :duration_ms, :error FROM upd
)
SELECT count(*) FROM upd

-- name: job_deliveries
SELECT * FROM lro_deliveries WHERE job_id = :job_id ORDER BY created_at, id

-- name: job_delivery_attempts
SELECT a.delivery_id, a.attempt, a.at, a.status_code, a.duration_ms, a.error
FROM lro_delivery_attempts a JOIN lro_deliveries d ON d.id = a.delivery_id
WHERE d.job_id = :job_id
ORDER BY a.delivery_id, a.attempt

-- name: retry_delivery
-- Not while an attempt is in flight (see migration 0008): that attempt is the retry, and
-- the delivery is answered as it is. A claim holding the row's lock makes this UPDATE
-- wait and then see the claim's in_flight_until, so the two cannot both win.
WITH upd AS (
    UPDATE lro_deliveries
    SET next_attempt_at = :now,
        manual = CASE WHEN status = 'pending' THEN manual ELSE true END,
        status = 'pending'
    WHERE id = :id AND job_id = :job_id
      AND (in_flight_until IS NULL OR in_flight_until <= :now)
    RETURNING *
)
SELECT * FROM upd
UNION ALL
SELECT * FROM lro_deliveries
WHERE id = :id AND job_id = :job_id AND NOT EXISTS (SELECT 1 FROM upd)

-- name: shared_setting
-- When a concurrent insert of the same key wins, this statement's snapshot predates its
-- commit and returns no row; the caller then reads it with get_setting.
WITH ins AS (
    INSERT INTO lro_settings (key, value) VALUES (:key, :value)
    ON CONFLICT (key) DO NOTHING
    RETURNING value
)
SELECT value FROM ins
UNION ALL
SELECT value FROM lro_settings WHERE key = :key
LIMIT 1

-- name: get_setting
SELECT value FROM lro_settings WHERE key = :key

-- name: pending_deliveries
-- /metrics: deliveries not yet delivered or given up (the due index covers them).
SELECT count(*) FROM lro_deliveries WHERE status = 'pending'
