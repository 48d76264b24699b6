-- Row shapes shared by the statements of several files (a column list, never a value).

-- name: event_columns
(job_id, version, kind, status, progress_pct, step, attempt, at)
