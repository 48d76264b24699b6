-- The finished-jobs timeline (HTTP-CONTRACT §18, lro.store.timeline): the dashboard's
-- charts read the jobs that ended in the last hour, everyone's or one owner's.
CREATE INDEX lro_jobs_finished ON lro_jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX lro_jobs_owner_finished ON lro_jobs (owner, finished_at)
    WHERE finished_at IS NOT NULL;
