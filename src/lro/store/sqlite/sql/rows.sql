-- The job row as every job query selects it (`SELECT {{job_columns}}`, `RETURNING
-- {{job_columns}}`): lro.store.sqlite.rows decodes it by these names.

-- name: job_columns
seq, id, operation, status, params, owner, priority, progress_pct, step, attempt,
max_attempts, timeout_seconds, run_at, created_at, updated_at, started_at, finished_at,
expires_at, estimated_duration_seconds, version, cancel_requested, result, result_ref,
error, callback_url, idempotency_key, request_fingerprint, idempotency_expires_at,
lease_token, lease_expires_at, worker_id, tags, metadata, batch_id, depends_on, waiting_on,
dependency_policy, trace_context
