-- Schedules (lro.store.sqlite.schedules, HTTP-CONTRACT §16).

-- name: schedule_columns
owner, id, operation, params, cron, interval_seconds, timezone, overlap, paused, tags,
callback_url, next_run_at, last_run_at, last_job_id, created_at, updated_at

-- name: create_schedule
INSERT OR IGNORE INTO schedules (
    owner, id, operation, params, cron, interval_seconds, timezone, overlap, paused, tags,
    callback_url, next_run_at, created_at, updated_at
) VALUES (
    :owner, :id, :operation, :params, :cron, :interval_seconds, :timezone, :overlap, :paused,
    :tags, :callback_url, :next_run_at, :now, :now
)

-- name: replace_schedule
INSERT INTO schedules (
    owner, id, operation, params, cron, interval_seconds, timezone, overlap, paused, tags,
    callback_url, next_run_at, created_at, updated_at
) VALUES (
    :owner, :id, :operation, :params, :cron, :interval_seconds, :timezone, :overlap, :paused,
    :tags, :callback_url, :next_run_at, :now, :now
)
ON CONFLICT (owner, id) DO UPDATE SET
    operation = excluded.operation, params = excluded.params, cron = excluded.cron,
    interval_seconds = excluded.interval_seconds, timezone = excluded.timezone,
    overlap = excluded.overlap, paused = excluded.paused, tags = excluded.tags,
    callback_url = excluded.callback_url, next_run_at = excluded.next_run_at,
    updated_at = excluded.updated_at

-- name: get_schedule
SELECT {{schedule_columns}} FROM schedules WHERE owner = :owner AND id = :id

-- name: list_schedules
SELECT {{schedule_columns}} FROM schedules WHERE owner = :owner ORDER BY id

-- name: list_all_schedules
SELECT {{schedule_columns}} FROM schedules ORDER BY owner, id

-- name: delete_schedule
DELETE FROM schedules WHERE owner = :owner AND id = :id

-- name: delete_firings
DELETE FROM schedule_firings WHERE owner = :owner AND schedule_id = :id

-- name: due_schedules
SELECT {{schedule_columns}} FROM schedules
WHERE paused = 0 AND next_run_at <= :now
ORDER BY next_run_at
LIMIT :limit

-- name: advance
-- The compare-and-set of a firing: only the caller that finds the due time it read
-- moves the schedule on; any other finds no row.
UPDATE schedules SET next_run_at = :next_run_at, last_run_at = :due_at, updated_at = :now
WHERE owner = :owner AND id = :id AND next_run_at = :due_at AND paused = 0
RETURNING last_job_id, overlap

-- name: job_status
SELECT status FROM jobs WHERE id = :id

-- name: record_firing
INSERT INTO schedule_firings (owner, schedule_id, due_at, job_id)
VALUES (:owner, :id, :due_at, :job_id)

-- name: set_last_job
UPDATE schedules SET last_job_id = :job_id, last_run_at = :due_at, updated_at = :now
WHERE owner = :owner AND id = :id

-- name: record_trigger
-- A run asked for by hand at the very microsecond of a due time shares its identity.
INSERT OR IGNORE INTO schedule_firings (owner, schedule_id, due_at, job_id)
VALUES (:owner, :id, :due_at, :job_id)
