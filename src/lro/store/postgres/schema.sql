-- The schema of a freshly migrated PostgreSQL database: every table, constraint, index,
-- function and trigger, as the migrations in migrations/ leave them (pg_dump
-- --schema-only). The one place to read the final triggers (the webhook outbox and the
-- NOTIFY of every event are written by them; lro.store.base says what each verb writes).
-- Generated: python -m tests.support.schema postgres; held equal to the migrations by
-- tests/postgres/test_schema.py. Edit a migration, then regenerate.

CREATE FUNCTION public.lro_batch_progress() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    left_ integer;
    b_url text;
    b_target text;
BEGIN
    IF NEW.status IN ('completed', 'failed', 'cancelled') THEN
        UPDATE lro_batches
        SET unfinished = unfinished - 1,
            finished_at = CASE WHEN unfinished = 1 THEN NEW.updated_at END,
            expires_at = CASE WHEN unfinished = 1 THEN NEW.expires_at END
        WHERE id = NEW.batch_id
        RETURNING unfinished, callback_url, callback_target INTO left_, b_url, b_target;
        IF FOUND AND left_ = 0 AND b_url IS NOT NULL THEN
            INSERT INTO lro_deliveries (id, job_id, event_type, url, event_at,
                                        next_attempt_at, created_at, target)
            VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id,
                    'batch.completed', b_url, NEW.updated_at, NEW.updated_at,
                    NEW.updated_at, coalesce(b_target, ''));
        END IF;
    ELSE
        -- A job that runs again after it ended (a retry, HTTP-CONTRACT §14).
        UPDATE lro_batches SET unfinished = unfinished + 1, finished_at = NULL,
                               expires_at = NULL
        WHERE id = NEW.batch_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.lro_index_dependencies() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO lro_job_dependencies (dependency_id, job_id)
    SELECT DISTINCT d, NEW.id FROM jsonb_array_elements_text(NEW.depends_on) d
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.lro_index_tags() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO lro_job_tags (owner, tag, created_at, job_id)
    SELECT DISTINCT NEW.owner, t, NEW.created_at, NEW.id
    FROM jsonb_array_elements_text(NEW.tags) t
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.lro_limit_delta() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.concurrency_key IS NOT NULL
       AND OLD.status IN ('queued', 'processing') THEN
        INSERT INTO lro_limit_deltas (operation, key, queued, running)
        VALUES (OLD.operation, OLD.concurrency_key, -(OLD.status = 'queued')::int,
                -(OLD.status = 'processing')::int);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.concurrency_key IS NOT NULL
       AND NEW.status IN ('queued', 'processing') THEN
        INSERT INTO lro_limit_deltas (operation, key, queued, running)
        VALUES (NEW.operation, NEW.concurrency_key, (NEW.status = 'queued')::int,
                (NEW.status = 'processing')::int);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.lro_notify_events() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    origin text := coalesce(current_setting('lro.origin', true), '');
    payload text;
BEGIN
    FOR payload IN
        SELECT string_agg(line, ';')
        FROM (
            SELECT line, sum(length(line) + 1) OVER (ROWS UNBOUNDED PRECEDING) / 7000 AS chunk
            FROM (
                SELECT job_id || ' ' || version || ' ' || status || ' '
                       || CASE WHEN cancel_requested THEN '1' ELSE '0' END AS line
                FROM new_events
            ) lines
        ) chunks
        GROUP BY chunk
    LOOP
        PERFORM pg_notify('lro_changes', origin || '|' || payload);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.lro_outbox() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO lro_deliveries (id, job_id, event_type, url, event_at, next_attempt_at,
                                created_at, target)
    VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.id,
            'job.' || NEW.status, NEW.callback_url, NEW.updated_at, NEW.updated_at,
            NEW.updated_at, coalesce(NEW.callback_target, ''));
    RETURN NULL;
END
$$;

CREATE FUNCTION public.lro_outbox_progress() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.lro_release_dependents() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    origin text := coalesce(current_setting('lro.origin', true), '');
BEGIN
    PERFORM set_config('lro.origin', '', true);
    IF NEW.status IN ('failed', 'cancelled') THEN
        WITH doomed AS (
            UPDATE lro_jobs j
            SET status = 'failed',
                error = jsonb_build_object(
                    'type', 'https://lro.dev/problems/dependency-failed',
                    'title', 'A job this one depends on did not complete',
                    'detail', 'Dependency ' || NEW.id || ' ended ' || NEW.status
                              || ', so this job did not run.',
                    'code', 'dependency_failed',
                    'retryable', false,
                    'attempts', j.attempt),
                finished_at = NEW.updated_at,
                updated_at = NEW.updated_at,
                expires_at = NEW.expires_at,
                waiting_on = NULL,
                version = j.version + 1
            FROM lro_job_dependencies e
            WHERE e.dependency_id = NEW.id AND j.id = e.job_id
              AND j.status = 'queued' AND j.waiting_on IS NOT NULL
              AND j.dependency_policy IS DISTINCT FROM 'always'
            RETURNING j.*
        )
        INSERT INTO lro_events (job_id, version, kind, status, progress_pct, step, attempt, at)
        SELECT id, version, 'failed', 'failed', progress_pct, step, attempt, NEW.updated_at
        FROM doomed;
    END IF;
    WITH released AS (
        UPDATE lro_jobs j
        SET waiting_on = nullif(j.waiting_on - NEW.id, '[]'::jsonb),
            run_at = CASE WHEN j.waiting_on - NEW.id = '[]'::jsonb
                          THEN NEW.updated_at ELSE j.run_at END,
            updated_at = NEW.updated_at,
            version = j.version + 1
        FROM lro_job_dependencies e
        WHERE e.dependency_id = NEW.id AND j.id = e.job_id
          AND j.status = 'queued' AND j.waiting_on ? NEW.id
          AND (NEW.status = 'completed' OR j.dependency_policy = 'always')
        RETURNING j.*
    )
    INSERT INTO lro_events (job_id, version, kind, status, progress_pct, step, attempt, at)
    SELECT id, version, 'progress', status, progress_pct, step, attempt, NEW.updated_at
    FROM released;
    PERFORM set_config('lro.origin', origin, true);
    RETURN NULL;
END
$$;

CREATE TABLE public.lro_batches (
    id text NOT NULL,
    owner text NOT NULL,
    total integer NOT NULL,
    unfinished integer NOT NULL,
    callback_url text,
    callback_target text,
    created_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone,
    expires_at timestamp with time zone,
    idempotency_key text,
    request_fingerprint text,
    idempotency_expires_at timestamp with time zone
);

CREATE TABLE public.lro_buckets (
    key text NOT NULL,
    tokens double precision NOT NULL,
    at timestamp with time zone NOT NULL
);

CREATE TABLE public.lro_checkpoints (
    job_id text NOT NULL,
    value jsonb NOT NULL,
    attempt integer NOT NULL,
    updated_at timestamp with time zone NOT NULL
);

CREATE TABLE public.lro_deliveries (
    id text NOT NULL,
    job_id text NOT NULL,
    event_type text NOT NULL,
    url text NOT NULL,
    event_at timestamp with time zone NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    delivered_at timestamp with time zone,
    last_status_code integer,
    last_error text,
    manual boolean DEFAULT false NOT NULL,
    target text DEFAULT ''::text NOT NULL,
    in_flight_until timestamp with time zone,
    CONSTRAINT lro_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text])))
);

CREATE TABLE public.lro_delivery_attempts (
    delivery_id text NOT NULL,
    attempt integer NOT NULL,
    at timestamp with time zone NOT NULL,
    status_code integer,
    duration_ms double precision NOT NULL,
    error text
);

CREATE TABLE public.lro_events (
    job_id text NOT NULL,
    version integer NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    progress_pct double precision NOT NULL,
    step text,
    attempt integer NOT NULL,
    cancel_requested boolean DEFAULT false NOT NULL,
    at timestamp with time zone NOT NULL
);

CREATE TABLE public.lro_idle_workers (
    worker_id text NOT NULL,
    lock_key integer NOT NULL,
    operations text[],
    lease_seconds double precision NOT NULL,
    parked_at timestamp with time zone NOT NULL
);

CREATE TABLE public.lro_job_dependencies (
    dependency_id text NOT NULL,
    job_id text NOT NULL
);

CREATE TABLE public.lro_job_tags (
    owner text NOT NULL,
    tag text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    job_id text NOT NULL
);

CREATE TABLE public.lro_jobs (
    seq bigint NOT NULL,
    id text NOT NULL,
    operation text NOT NULL,
    status text NOT NULL,
    params jsonb NOT NULL,
    owner text NOT NULL,
    priority integer NOT NULL,
    progress_pct double precision DEFAULT 0 NOT NULL,
    step text,
    attempt integer DEFAULT 0 NOT NULL,
    max_attempts integer NOT NULL,
    timeout_seconds double precision,
    run_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    expires_at timestamp with time zone,
    estimated_duration_seconds double precision,
    version integer NOT NULL,
    cancel_requested boolean DEFAULT false NOT NULL,
    result jsonb,
    result_ref jsonb,
    error jsonb,
    callback_url text,
    idempotency_key text,
    request_fingerprint text,
    idempotency_expires_at timestamp with time zone,
    lease_token text,
    lease_expires_at timestamp with time zone,
    worker_id text,
    callback_progress boolean DEFAULT false NOT NULL,
    callback_target text,
    queue text DEFAULT 'default'::text NOT NULL,
    concurrency_key text,
    tags jsonb,
    metadata jsonb,
    batch_id text,
    depends_on jsonb,
    waiting_on jsonb,
    dependency_policy text,
    trace_context text,
    has_dependents boolean DEFAULT false NOT NULL,
    CONSTRAINT lro_jobs_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'processing'::text, 'completed'::text, 'failed'::text, 'cancelled'::text])))
)
WITH (fillfactor='90', autovacuum_vacuum_scale_factor='0.02', autovacuum_analyze_scale_factor='0.02', autovacuum_vacuum_insert_scale_factor='0.02');

ALTER TABLE public.lro_jobs ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.lro_jobs_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.lro_limit_deltas (
    id bigint NOT NULL,
    operation text NOT NULL,
    key text NOT NULL,
    queued integer NOT NULL,
    running integer NOT NULL
);

CREATE SEQUENCE public.lro_limit_deltas_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.lro_limit_deltas_id_seq OWNED BY public.lro_limit_deltas.id;

CREATE TABLE public.lro_limit_keys (
    operation text NOT NULL,
    key text NOT NULL,
    queued integer DEFAULT 0 NOT NULL,
    running integer DEFAULT 0 NOT NULL,
    served bigint DEFAULT 0 NOT NULL
);

CREATE TABLE public.lro_limit_starts (
    operation text NOT NULL,
    at timestamp with time zone NOT NULL,
    n integer NOT NULL
);

CREATE TABLE public.lro_partials (
    job_id text NOT NULL,
    seq integer NOT NULL,
    version integer NOT NULL,
    data jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL
);

CREATE TABLE public.lro_result_blobs (
    job_id text NOT NULL,
    key text NOT NULL,
    size bigint NOT NULL,
    chunk_bytes integer NOT NULL,
    created_at timestamp with time zone NOT NULL
);

CREATE TABLE public.lro_result_chunks (
    job_id text NOT NULL,
    key text NOT NULL,
    n integer NOT NULL,
    data bytea NOT NULL
);

CREATE TABLE public.lro_schedule_firings (
    owner text NOT NULL,
    schedule_id text NOT NULL,
    due_at timestamp with time zone NOT NULL,
    job_id text NOT NULL
);

CREATE TABLE public.lro_schedules (
    owner text NOT NULL,
    id text NOT NULL,
    operation text NOT NULL,
    params jsonb NOT NULL,
    cron text,
    interval_seconds double precision,
    timezone text NOT NULL,
    overlap text NOT NULL,
    paused boolean DEFAULT false NOT NULL,
    tags jsonb,
    callback_url text,
    next_run_at timestamp with time zone NOT NULL,
    last_run_at timestamp with time zone,
    last_job_id text,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    CONSTRAINT lro_schedules_overlap_check CHECK ((overlap = ANY (ARRAY['skip'::text, 'allow'::text])))
);

CREATE TABLE public.lro_schema_version (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.lro_settings (
    key text NOT NULL,
    value text NOT NULL
);

CREATE TABLE public.lro_steps (
    job_id text NOT NULL,
    name text NOT NULL,
    ord integer NOT NULL,
    status text NOT NULL,
    attempt integer NOT NULL,
    result jsonb,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone,
    CONSTRAINT lro_steps_status_check CHECK ((status = ANY (ARRAY['running'::text, 'completed'::text, 'failed'::text])))
);

CREATE TABLE public.lro_tombstones (
    job_id text NOT NULL,
    owner text NOT NULL,
    expired_at timestamp with time zone NOT NULL,
    keep_until timestamp with time zone NOT NULL
);

CREATE TABLE public.lro_workers (
    worker_id text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    queues text[] NOT NULL,
    operations text[] NOT NULL,
    concurrency integer NOT NULL,
    busy integer NOT NULL,
    started_at timestamp with time zone NOT NULL,
    last_seen_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.lro_limit_deltas ALTER COLUMN id SET DEFAULT nextval('public.lro_limit_deltas_id_seq'::regclass);

ALTER TABLE ONLY public.lro_batches
    ADD CONSTRAINT lro_batches_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.lro_buckets
    ADD CONSTRAINT lro_buckets_pkey PRIMARY KEY (key);

ALTER TABLE ONLY public.lro_checkpoints
    ADD CONSTRAINT lro_checkpoints_pkey PRIMARY KEY (job_id);

ALTER TABLE ONLY public.lro_deliveries
    ADD CONSTRAINT lro_deliveries_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.lro_delivery_attempts
    ADD CONSTRAINT lro_delivery_attempts_pkey PRIMARY KEY (delivery_id, attempt);

ALTER TABLE ONLY public.lro_events
    ADD CONSTRAINT lro_events_pkey PRIMARY KEY (job_id, version);

ALTER TABLE ONLY public.lro_idle_workers
    ADD CONSTRAINT lro_idle_workers_pkey PRIMARY KEY (worker_id);

ALTER TABLE ONLY public.lro_job_dependencies
    ADD CONSTRAINT lro_job_dependencies_pkey PRIMARY KEY (dependency_id, job_id);

ALTER TABLE ONLY public.lro_job_tags
    ADD CONSTRAINT lro_job_tags_pkey PRIMARY KEY (owner, tag, created_at, job_id);

ALTER TABLE ONLY public.lro_jobs
    ADD CONSTRAINT lro_jobs_id_key UNIQUE (id);

ALTER TABLE ONLY public.lro_jobs
    ADD CONSTRAINT lro_jobs_pkey PRIMARY KEY (seq);

ALTER TABLE ONLY public.lro_limit_deltas
    ADD CONSTRAINT lro_limit_deltas_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.lro_limit_keys
    ADD CONSTRAINT lro_limit_keys_pkey PRIMARY KEY (operation, key);

ALTER TABLE ONLY public.lro_partials
    ADD CONSTRAINT lro_partials_pkey PRIMARY KEY (job_id, seq);

ALTER TABLE ONLY public.lro_result_blobs
    ADD CONSTRAINT lro_result_blobs_pkey PRIMARY KEY (job_id, key);

ALTER TABLE ONLY public.lro_result_chunks
    ADD CONSTRAINT lro_result_chunks_pkey PRIMARY KEY (job_id, key, n);

ALTER TABLE ONLY public.lro_schedule_firings
    ADD CONSTRAINT lro_schedule_firings_pkey PRIMARY KEY (owner, schedule_id, due_at);

ALTER TABLE ONLY public.lro_schedules
    ADD CONSTRAINT lro_schedules_pkey PRIMARY KEY (owner, id);

ALTER TABLE ONLY public.lro_schema_version
    ADD CONSTRAINT lro_schema_version_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.lro_settings
    ADD CONSTRAINT lro_settings_pkey PRIMARY KEY (key);

ALTER TABLE ONLY public.lro_steps
    ADD CONSTRAINT lro_steps_pkey PRIMARY KEY (job_id, name);

ALTER TABLE ONLY public.lro_tombstones
    ADD CONSTRAINT lro_tombstones_pkey PRIMARY KEY (job_id);

ALTER TABLE ONLY public.lro_workers
    ADD CONSTRAINT lro_workers_pkey PRIMARY KEY (worker_id);

CREATE INDEX lro_batches_expiry ON public.lro_batches USING btree (expires_at) WHERE (expires_at IS NOT NULL);

CREATE UNIQUE INDEX lro_batches_idempotency ON public.lro_batches USING btree (owner, idempotency_key) WHERE (idempotency_key IS NOT NULL);

CREATE INDEX lro_deliveries_due ON public.lro_deliveries USING btree (next_attempt_at) WHERE (status = 'pending'::text);

CREATE INDEX lro_deliveries_job ON public.lro_deliveries USING btree (job_id);

CREATE INDEX lro_job_dependencies_job ON public.lro_job_dependencies USING btree (job_id);

CREATE INDEX lro_job_tags_all ON public.lro_job_tags USING btree (tag, created_at, job_id);

CREATE INDEX lro_job_tags_job ON public.lro_job_tags USING btree (job_id);

CREATE INDEX lro_jobs_batch ON public.lro_jobs USING btree (batch_id, seq) WHERE (batch_id IS NOT NULL);

CREATE INDEX lro_jobs_claim ON public.lro_jobs USING btree (priority DESC, run_at, seq) WHERE ((status = 'queued'::text) AND (concurrency_key IS NULL));

CREATE INDEX lro_jobs_created ON public.lro_jobs USING btree (created_at DESC, id DESC);

CREATE INDEX lro_jobs_durations ON public.lro_jobs USING btree (operation, finished_at DESC) WHERE (status = 'completed'::text);

CREATE INDEX lro_jobs_expiry ON public.lro_jobs USING btree (expires_at) WHERE (expires_at IS NOT NULL);

CREATE INDEX lro_jobs_finished ON public.lro_jobs USING btree (finished_at) WHERE (finished_at IS NOT NULL);

CREATE UNIQUE INDEX lro_jobs_idempotency ON public.lro_jobs USING btree (owner, idempotency_key) WHERE (idempotency_key IS NOT NULL);

CREATE INDEX lro_jobs_idempotency_expiry ON public.lro_jobs USING btree (idempotency_expires_at) WHERE (idempotency_key IS NOT NULL);

CREATE INDEX lro_jobs_lease ON public.lro_jobs USING btree (lease_expires_at) WHERE (status = 'processing'::text);

CREATE INDEX lro_jobs_limited ON public.lro_jobs USING btree (operation, concurrency_key, priority DESC, run_at, seq) WHERE ((status = 'queued'::text) AND (concurrency_key IS NOT NULL));

CREATE INDEX lro_jobs_limited_running ON public.lro_jobs USING btree (operation, concurrency_key) WHERE ((status = 'processing'::text) AND (concurrency_key IS NOT NULL));

CREATE INDEX lro_jobs_owner_active ON public.lro_jobs USING btree (owner) WHERE ((status = ANY (ARRAY['queued'::text, 'processing'::text])) AND (owner <> ''::text));

CREATE INDEX lro_jobs_owner_created ON public.lro_jobs USING btree (owner, created_at DESC, id DESC);

CREATE INDEX lro_jobs_owner_finished ON public.lro_jobs USING btree (owner, finished_at) WHERE (finished_at IS NOT NULL);

CREATE INDEX lro_limit_deltas_op ON public.lro_limit_deltas USING btree (operation, id);

CREATE INDEX lro_limit_keys_free ON public.lro_limit_keys USING btree (operation, served, key) WHERE ((queued > 0) AND (running = 0));

CREATE INDEX lro_limit_keys_turns ON public.lro_limit_keys USING btree (operation, served, key) WHERE (queued > 0);

CREATE INDEX lro_limit_starts_op ON public.lro_limit_starts USING btree (operation, at);

CREATE UNIQUE INDEX lro_partials_version ON public.lro_partials USING btree (job_id, version);

CREATE INDEX lro_schedules_due ON public.lro_schedules USING btree (next_run_at) WHERE (NOT paused);

CREATE INDEX lro_steps_order ON public.lro_steps USING btree (job_id, ord);

CREATE INDEX lro_tombstones_keep_until ON public.lro_tombstones USING btree (keep_until);

CREATE INDEX lro_workers_last_seen ON public.lro_workers USING btree (last_seen_at);

CREATE TRIGGER lro_events_notify AFTER INSERT ON public.lro_events REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION public.lro_notify_events();

CREATE TRIGGER lro_jobs_batch AFTER UPDATE OF status ON public.lro_jobs FOR EACH ROW WHEN (((new.batch_id IS NOT NULL) AND ((old.status = ANY (ARRAY['queued'::text, 'processing'::text])) <> (new.status = ANY (ARRAY['queued'::text, 'processing'::text]))))) EXECUTE FUNCTION public.lro_batch_progress();

CREATE TRIGGER lro_jobs_dependencies AFTER INSERT ON public.lro_jobs FOR EACH ROW WHEN ((new.depends_on IS NOT NULL)) EXECUTE FUNCTION public.lro_index_dependencies();

CREATE TRIGGER lro_jobs_dependents AFTER UPDATE OF status ON public.lro_jobs FOR EACH ROW WHEN ((new.has_dependents AND (old.status = ANY (ARRAY['queued'::text, 'processing'::text])) AND (new.status = ANY (ARRAY['completed'::text, 'failed'::text, 'cancelled'::text])))) EXECUTE FUNCTION public.lro_release_dependents();

CREATE TRIGGER lro_jobs_limit_delete AFTER DELETE ON public.lro_jobs FOR EACH ROW WHEN (((old.concurrency_key IS NOT NULL) AND (old.status = ANY (ARRAY['queued'::text, 'processing'::text])))) EXECUTE FUNCTION public.lro_limit_delta();

CREATE TRIGGER lro_jobs_limit_insert AFTER INSERT ON public.lro_jobs FOR EACH ROW WHEN ((new.concurrency_key IS NOT NULL)) EXECUTE FUNCTION public.lro_limit_delta();

CREATE TRIGGER lro_jobs_limit_update AFTER UPDATE OF status, concurrency_key ON public.lro_jobs FOR EACH ROW WHEN ((((old.concurrency_key IS NOT NULL) OR (new.concurrency_key IS NOT NULL)) AND ((old.status IS DISTINCT FROM new.status) OR (old.concurrency_key IS DISTINCT FROM new.concurrency_key)))) EXECUTE FUNCTION public.lro_limit_delta();

CREATE TRIGGER lro_jobs_outbox AFTER UPDATE OF status ON public.lro_jobs FOR EACH ROW WHEN (((new.status IS DISTINCT FROM old.status) AND (new.status = ANY (ARRAY['completed'::text, 'failed'::text, 'cancelled'::text])) AND (new.callback_url IS NOT NULL))) EXECUTE FUNCTION public.lro_outbox();

CREATE TRIGGER lro_jobs_outbox_progress AFTER UPDATE OF version ON public.lro_jobs FOR EACH ROW WHEN ((new.callback_progress AND (new.callback_url IS NOT NULL) AND (new.status = 'processing'::text) AND (old.status = 'processing'::text) AND ((new.progress_pct IS DISTINCT FROM old.progress_pct) OR (new.step IS DISTINCT FROM old.step)))) EXECUTE FUNCTION public.lro_outbox_progress();

CREATE TRIGGER lro_jobs_tags AFTER INSERT ON public.lro_jobs FOR EACH ROW WHEN ((new.tags IS NOT NULL)) EXECUTE FUNCTION public.lro_index_tags();

ALTER TABLE ONLY public.lro_checkpoints
    ADD CONSTRAINT lro_checkpoints_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.lro_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lro_deliveries
    ADD CONSTRAINT lro_deliveries_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.lro_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lro_delivery_attempts
    ADD CONSTRAINT lro_delivery_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES public.lro_deliveries(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lro_job_dependencies
    ADD CONSTRAINT lro_job_dependencies_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.lro_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lro_job_tags
    ADD CONSTRAINT lro_job_tags_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.lro_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lro_partials
    ADD CONSTRAINT lro_partials_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.lro_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lro_result_blobs
    ADD CONSTRAINT lro_result_blobs_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.lro_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lro_result_chunks
    ADD CONSTRAINT lro_result_chunks_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.lro_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lro_steps
    ADD CONSTRAINT lro_steps_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.lro_jobs(id) ON DELETE CASCADE;
