-- 0005: each delivery knows its target (host and port of its URL), so a dispatcher can
-- leave deliveries to a target it already keeps busy in the store instead of claiming
-- them. The job carries it from submit (computed by lro, not parsed in SQL).

ALTER TABLE lro_jobs ADD COLUMN callback_target text;
ALTER TABLE lro_deliveries ADD COLUMN target text NOT NULL DEFAULT '';

CREATE OR REPLACE FUNCTION lro_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lro_deliveries (id, job_id, event_type, url, event_at, next_attempt_at,
                                created_at, target)
    VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id,
            'job.' || NEW.status, NEW.callback_url, NEW.updated_at, NEW.updated_at,
            NEW.updated_at, coalesce(NEW.callback_target, ''));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lro_outbox_progress() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lro_deliveries SET event_at = NEW.updated_at
    WHERE job_id = NEW.id AND event_type = 'job.progress' AND status = 'pending'
      AND attempts = 0;
    IF NOT FOUND THEN
        INSERT INTO lro_deliveries (id, job_id, event_type, url, event_at, next_attempt_at,
                                    created_at, target)
        VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id, 'job.progress',
                NEW.callback_url, NEW.updated_at, NEW.updated_at, NEW.updated_at,
                coalesce(NEW.callback_target, ''));
    END IF;
    RETURN NULL;
END
$$;
