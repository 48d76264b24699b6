-- The worker registry (HTTP-CONTRACT §18): one row per running worker process, upserted
-- by its heartbeat. A worker that stops heart-beating is not listed once its last_seen_at
-- is older than twice the lease, and its row is pruned by the next live worker's beat.
-- Times are INTEGER microseconds; queues and operations are JSON arrays of names.
CREATE TABLE workers (
    worker_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues TEXT NOT NULL,
    operations TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    busy INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX workers_last_seen ON workers (last_seen_at);
