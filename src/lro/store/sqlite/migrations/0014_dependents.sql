-- Ending a job looks for dependents to release only if it has any: a job gains
-- has_dependents when a job depending on it is inserted (the insert trigger sets it), so
-- the release trigger's two UPDATE programs no longer run for every job that ends (12%
-- of a no-op job's claim-and-complete cost when measured; docs/benchmarks.md).
ALTER TABLE jobs ADD COLUMN has_dependents INTEGER NOT NULL DEFAULT 0;

UPDATE jobs SET has_dependents = 1
WHERE id IN (SELECT dependency_id FROM job_dependencies);

DROP TRIGGER jobs_dependencies_insert;

CREATE TRIGGER jobs_dependencies_insert AFTER INSERT ON jobs
WHEN new.depends_on IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO job_dependencies (dependency_id, job_id)
    SELECT value, new.id FROM json_each(new.depends_on);
    UPDATE jobs SET has_dependents = 1
    WHERE id IN (SELECT value FROM json_each(new.depends_on)) AND has_dependents = 0;
END;

DROP TRIGGER jobs_dependencies_release;

CREATE TRIGGER jobs_dependencies_release AFTER UPDATE OF status ON jobs
WHEN old.status IN ('queued', 'processing')
     AND new.status IN ('completed', 'failed', 'cancelled')
     AND new.has_dependents = 1
BEGIN
    UPDATE jobs
    SET status = 'failed',
        error = json_object(
            'type', 'https://lro.dev/problems/dependency-failed',
            'title', 'A job this one depends on did not complete',
            'detail', 'Dependency ' || new.id || ' ended ' || new.status
                      || ', so this job did not run.',
            'code', 'dependency_failed',
            'retryable', json('false'),
            'attempts', attempt),
        finished_at = new.updated_at,
        updated_at = new.updated_at,
        expires_at = new.expires_at,
        waiting_on = NULL,
        version = version + 1
    WHERE new.status IN ('failed', 'cancelled')
      AND id IN (SELECT job_id FROM job_dependencies WHERE dependency_id = new.id)
      AND status = 'queued'
      AND waiting_on IS NOT NULL
      AND dependency_policy IS NOT 'always';
    UPDATE jobs
    SET waiting_on = CASE
            WHEN (SELECT count(*) FROM json_each(jobs.waiting_on) WHERE value <> new.id) = 0
            THEN NULL
            ELSE (SELECT json_group_array(value) FROM json_each(jobs.waiting_on)
                  WHERE value <> new.id)
        END,
        run_at = CASE
            WHEN (SELECT count(*) FROM json_each(jobs.waiting_on) WHERE value <> new.id) = 0
            THEN new.updated_at
            ELSE run_at
        END,
        updated_at = new.updated_at,
        version = version + 1
    WHERE id IN (SELECT job_id FROM job_dependencies WHERE dependency_id = new.id)
      AND status = 'queued'
      AND waiting_on IS NOT NULL
      AND EXISTS (SELECT 1 FROM json_each(jobs.waiting_on) WHERE value = new.id)
      AND (new.status = 'completed' OR dependency_policy = 'always');
END;
