-- Schedules (lro.store.postgres.schedules, HTTP-CONTRACT §16).

-- name: create_schedule
INSERT INTO lro_schedules (
    owner, id, operation, params, cron, interval_seconds, timezone, overlap, paused, tags,
    callback_url, next_run_at, created_at, updated_at
) VALUES (
    :owner, :id, :operation, :params::jsonb, :cron, :interval_seconds, :timezone, :overlap,
    :paused, :tags::jsonb, :callback_url, :next_run_at, :now, :now
)
ON CONFLICT (owner, id) DO NOTHING
RETURNING *

-- name: replace_schedule
INSERT INTO lro_schedules (
    owner, id, operation, params, cron, interval_seconds, timezone, overlap, paused, tags,
    callback_url, next_run_at, created_at, updated_at
) VALUES (
    :owner, :id, :operation, :params::jsonb, :cron, :interval_seconds, :timezone, :overlap,
    :paused, :tags::jsonb, :callback_url, :next_run_at, :now, :now
)
ON CONFLICT (owner, id) DO UPDATE SET
    operation = excluded.operation, params = excluded.params, cron = excluded.cron,
    interval_seconds = excluded.interval_seconds, timezone = excluded.timezone,
    overlap = excluded.overlap, paused = excluded.paused, tags = excluded.tags,
    callback_url = excluded.callback_url, next_run_at = excluded.next_run_at,
    updated_at = excluded.updated_at
RETURNING *

-- name: get_schedule
SELECT * FROM lro_schedules WHERE owner = :owner AND id = :id

-- name: list_schedules
SELECT * FROM lro_schedules WHERE owner = :owner ORDER BY id COLLATE "C"

-- name: list_all_schedules
SELECT * FROM lro_schedules ORDER BY owner COLLATE "C", id COLLATE "C"

-- name: delete_schedule
WITH gone AS (
    DELETE FROM lro_schedules WHERE owner = :owner AND id = :id RETURNING id
),
firings AS (
    DELETE FROM lro_schedule_firings WHERE owner = :owner AND schedule_id = :id
)
SELECT count(*) AS n FROM gone

-- name: due_schedules
SELECT * FROM lro_schedules
WHERE NOT paused AND next_run_at <= :now
ORDER BY next_run_at
LIMIT :limit

-- name: advance
-- The compare-and-set of a firing: the row lock orders concurrent firers, and only the
-- one that still finds the due time it read moves the schedule on.
UPDATE lro_schedules SET next_run_at = :next_run_at, last_run_at = :due_at, updated_at = :now
WHERE owner = :owner AND id = :id AND next_run_at = :due_at AND NOT paused
RETURNING last_job_id, overlap

-- name: job_status
SELECT status FROM lro_jobs WHERE id = :id

-- name: record_firing
INSERT INTO lro_schedule_firings (owner, schedule_id, due_at, job_id)
VALUES (:owner, :id, :due_at, :job_id)
ON CONFLICT DO NOTHING

-- name: set_last_job
UPDATE lro_schedules SET last_job_id = :job_id, last_run_at = :due_at, updated_at = :now
WHERE owner = :owner AND id = :id
