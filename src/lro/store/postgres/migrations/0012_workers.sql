-- The worker registry (HTTP-CONTRACT §18): one row per running worker process, upserted
-- by its heartbeat. A worker that stops heart-beating is not listed once its last_seen_at
-- is older than twice the lease, and its row is pruned by the next live worker's beat.
CREATE TABLE lro_workers (
    worker_id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    queues text[] NOT NULL,
    operations text[] NOT NULL,
    concurrency integer NOT NULL,
    busy integer NOT NULL,
    started_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX lro_workers_last_seen ON lro_workers (last_seen_at);
