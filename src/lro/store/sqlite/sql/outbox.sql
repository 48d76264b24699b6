-- Webhook outbox queries (lro.store.sqlite.outbox). Times are INTEGER microseconds.

-- name: claim_deliveries
-- Runs under BEGIN IMMEDIATE, so concurrent dispatchers take disjoint deliveries.
UPDATE deliveries
SET attempts = attempts + 1, next_attempt_at = :lease_until, in_flight_until = :lease_until
WHERE id IN (
    SELECT id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= :now
      AND target NOT IN (SELECT value FROM json_each(:skip))
    ORDER BY next_attempt_at
    LIMIT :limit
)
RETURNING *

-- name: defer_delivery
-- Hand a claimed delivery back unsent (its target is busy): the claim's attempt is undone.
UPDATE deliveries
SET attempts = attempts - 1, next_attempt_at = :until, in_flight_until = NULL
WHERE id = :id AND attempts = :attempt AND status = 'pending'

-- name: record_attempt
UPDATE deliveries
SET status = :status,
    next_attempt_at = :next_attempt_at,
    delivered_at = CASE WHEN :status = 'delivered' THEN :at ELSE delivered_at END,
    last_status_code = :status_code,
    last_error = :error,
    manual = 0,
    in_flight_until = NULL
WHERE id = :id AND attempts = :attempt AND status = 'pending'

-- name: insert_attempt
-- A plain INSERT: an attempt recorded twice violates the key and rolls the record back.
INSERT INTO delivery_attempts
    (delivery_id, attempt, at, status_code, duration_ms, error)
VALUES (:id, :attempt, :at, :status_code, :duration_ms, :error)

-- name: job_deliveries
SELECT * FROM deliveries WHERE job_id = :job_id ORDER BY created_at, id

-- name: job_delivery_attempts
SELECT a.delivery_id, a.attempt, a.at, a.status_code, a.duration_ms, a.error
FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
WHERE d.job_id = :job_id
ORDER BY a.delivery_id, a.attempt

-- name: retry_delivery
-- Not while an attempt is in flight (see migration 0007): that attempt is the retry.
UPDATE deliveries
SET next_attempt_at = :now,
    manual = CASE WHEN status = 'pending' THEN manual ELSE 1 END,
    status = 'pending'
WHERE id = :id AND job_id = :job_id
  AND (in_flight_until IS NULL OR in_flight_until <= :now)
RETURNING *

-- name: get_delivery
SELECT * FROM deliveries WHERE id = :id AND job_id = :job_id

-- name: put_setting
INSERT OR IGNORE INTO settings (key, value) VALUES (:key, :value)

-- name: get_setting
SELECT value FROM settings WHERE key = :key

-- name: pending_deliveries
-- /metrics: deliveries not yet delivered or given up (the due index covers them).
SELECT count(*) FROM deliveries WHERE status = 'pending'
