-- 0004: webhooks on progress, for jobs submitted with callback_progress.
--
-- Progress changes can come many times a second, so they coalesce: while a progress
-- delivery of a job has not been attempted yet, later progress only moves its timestamp
-- (the payload is the job as it is when sent). Terminal deliveries are never merged.

ALTER TABLE jobs ADD COLUMN callback_progress INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER jobs_outbox_progress AFTER UPDATE OF version ON jobs
WHEN new.callback_progress = 1
     AND new.callback_url IS NOT NULL
     AND new.status = 'processing'
     AND old.status = 'processing'
     AND (new.progress_pct <> old.progress_pct OR new.step IS NOT old.step)
BEGIN
    UPDATE deliveries SET event_at = new.updated_at
    WHERE job_id = new.id AND event_type = 'job.progress' AND status = 'pending'
      AND attempts = 0;
    INSERT INTO deliveries (id, job_id, event_type, url, event_at, next_attempt_at, created_at)
    SELECT 'msg_' || lower(hex(randomblob(16))), new.id, 'job.progress', new.callback_url,
           new.updated_at, new.updated_at, new.updated_at
    WHERE NOT EXISTS (
        SELECT 1 FROM deliveries
        WHERE job_id = new.id AND event_type = 'job.progress' AND status = 'pending'
          AND attempts = 0
    );
END;
