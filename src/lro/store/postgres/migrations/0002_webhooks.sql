-- 0002: the webhook outbox (deliveries and their attempts) and shared settings.
--
-- A delivery row is written by a trigger in the same transaction as the change that ends
-- its job, so no code path can finish a job with a callback_url and forget its webhook.
-- The trigger's WHEN clause is evaluated without calling the function, so jobs without a
-- callback pay nothing. Foreign keys delete deliveries and attempts with their job.

CREATE TABLE lro_deliveries (
    id text PRIMARY KEY,                   -- the webhook-id: stable across retries
    job_id text NOT NULL REFERENCES lro_jobs (id) ON DELETE CASCADE,
    event_type text NOT NULL,              -- job.completed | job.failed | job.cancelled
    url text NOT NULL,
    event_at timestamptz NOT NULL,         -- when the job ended: the payload's timestamp
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,   -- attempts started (the claim counts one)
    next_attempt_at timestamptz,           -- due time while pending (an in-flight lease too)
    created_at timestamptz NOT NULL,
    delivered_at timestamptz,
    last_status_code integer,
    last_error text,
    manual boolean NOT NULL DEFAULT false  -- a re-send asked for by hand: one attempt
);
CREATE INDEX lro_deliveries_due ON lro_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX lro_deliveries_job ON lro_deliveries (job_id);

CREATE TABLE lro_delivery_attempts (
    delivery_id text NOT NULL REFERENCES lro_deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    at timestamptz NOT NULL,
    status_code integer,
    duration_ms double precision NOT NULL,
    error text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Values every process must agree on, e.g. the generated webhook secret.
CREATE TABLE lro_settings (
    key text PRIMARY KEY,
    value text NOT NULL
);

CREATE FUNCTION lro_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lro_deliveries (id, job_id, event_type, url, event_at, next_attempt_at,
                                created_at)
    VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id,
            'job.' || NEW.status, NEW.callback_url, NEW.updated_at, NEW.updated_at,
            NEW.updated_at);
    RETURN NULL;
END
$$;

CREATE TRIGGER lro_jobs_outbox
    AFTER UPDATE OF status ON lro_jobs
    FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status
          AND NEW.status IN ('completed', 'failed', 'cancelled')
          AND NEW.callback_url IS NOT NULL)
    EXECUTE FUNCTION lro_outbox();
