-- 0005: each delivery knows its target (host and port of its URL), so a dispatcher can
-- leave deliveries to a target it already keeps busy in the store instead of claiming
-- them. The job carries it from submit (computed by lro, not parsed in SQL).

ALTER TABLE jobs ADD COLUMN callback_target TEXT;
ALTER TABLE deliveries ADD COLUMN target TEXT NOT NULL DEFAULT '';

DROP TRIGGER jobs_outbox;
CREATE TRIGGER jobs_outbox AFTER UPDATE OF status ON jobs
WHEN new.status <> old.status
     AND new.status IN ('completed', 'failed', 'cancelled')
     AND new.callback_url IS NOT NULL
BEGIN
    INSERT INTO deliveries (id, job_id, event_type, url, event_at, next_attempt_at, created_at,
                            target)
    VALUES ('msg_' || lower(hex(randomblob(16))), new.id, 'job.' || new.status,
            new.callback_url, new.updated_at, new.updated_at, new.updated_at,
            coalesce(new.callback_target, ''));
END;

DROP TRIGGER jobs_outbox_progress;
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
    INSERT INTO deliveries (id, job_id, event_type, url, event_at, next_attempt_at, created_at,
                            target)
    SELECT 'msg_' || lower(hex(randomblob(16))), new.id, 'job.progress', new.callback_url,
           new.updated_at, new.updated_at, new.updated_at, coalesce(new.callback_target, '')
    WHERE NOT EXISTS (
        SELECT 1 FROM deliveries
        WHERE job_id = new.id AND event_type = 'job.progress' AND status = 'pending'
          AND attempts = 0
    );
END;
