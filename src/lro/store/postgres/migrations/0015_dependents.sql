-- Ending a job calls lro_release_dependents only if it has dependents: a job gains
-- has_dependents when a job depending on it is inserted (lock_dependencies in
-- sql/dependencies.sql sets it, under the row lock that orders the insert with the
-- dependency's ending), so the trigger function no longer runs for every job that ends;
-- a trigger's WHEN cannot look into lro_job_dependencies itself.
ALTER TABLE lro_jobs ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;

UPDATE lro_jobs SET has_dependents = true
WHERE id IN (SELECT dependency_id FROM lro_job_dependencies);

DROP TRIGGER lro_jobs_dependents ON lro_jobs;

CREATE TRIGGER lro_jobs_dependents AFTER UPDATE OF status ON lro_jobs
FOR EACH ROW WHEN (
    NEW.has_dependents
    AND OLD.status IN ('queued', 'processing')
    AND NEW.status IN ('completed', 'failed', 'cancelled')
) EXECUTE FUNCTION lro_release_dependents();
