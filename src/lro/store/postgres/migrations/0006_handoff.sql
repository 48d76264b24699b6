-- 0006: direct hand-off. An idle worker parks here; a submit that finds a parked worker
-- alive writes its job already leased to that worker and sends it the job in a
-- notification, so the worker starts it without a claim round trip (store/postgres_handoff.py).
--
-- Liveness is PostgreSQL's own: the worker process's LISTEN session holds the advisory
-- lock (lro_handoff_lock_class, lock_key) for as long as it is connected, and a submitter
-- that can take that lock has found a dead or disconnected worker, so it queues the job
-- instead and deletes the row. A parked worker takes one job per park: the submit that
-- hands it one deletes its row in the same transaction.

CREATE TABLE lro_idle_workers (
    worker_id text PRIMARY KEY,
    lock_key integer NOT NULL,
    operations text[],
    lease_seconds float8 NOT NULL,
    parked_at timestamptz NOT NULL
);
