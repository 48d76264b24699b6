-- The cross-process change feed (lro.store.sqlite.poll): other processes' changes are
-- found by tailing the events table by its AUTOINCREMENT id.

-- name: last_event_id
SELECT coalesce(max(id), 0) FROM events

-- name: events_since
SELECT id, job_id, version, status, cancel_requested FROM events
WHERE id > :after
ORDER BY id
LIMIT :limit
