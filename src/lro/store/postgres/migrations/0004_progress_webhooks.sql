-- 0004: webhooks on progress, for jobs submitted with callback_progress.
--
-- Progress changes can come many times a second, so they coalesce: while a progress
-- delivery of a job has not been attempted yet, later progress only moves its timestamp
-- (the payload is the job as it is when sent). Terminal deliveries are never merged.

ALTER TABLE lro_jobs ADD COLUMN callback_progress boolean NOT NULL DEFAULT false;

CREATE FUNCTION lro_outbox_progress() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lro_deliveries SET event_at = NEW.updated_at
    WHERE job_id = NEW.id AND event_type = 'job.progress' AND status = 'pending'
      AND attempts = 0;
    IF NOT FOUND THEN
        INSERT INTO lro_deliveries (id, job_id, event_type, url, event_at, next_attempt_at,
                                    created_at)
        VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id, 'job.progress',
                NEW.callback_url, NEW.updated_at, NEW.updated_at, NEW.updated_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER lro_jobs_outbox_progress
    AFTER UPDATE OF version ON lro_jobs
    FOR EACH ROW
    WHEN (NEW.callback_progress
          AND NEW.callback_url IS NOT NULL
          AND NEW.status = 'processing'
          AND OLD.status = 'processing'
          AND (NEW.progress_pct, NEW.step) IS DISTINCT FROM (OLD.progress_pct, OLD.step))
    EXECUTE FUNCTION lro_outbox_progress();
