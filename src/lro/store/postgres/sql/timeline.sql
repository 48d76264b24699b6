-- The finished-jobs timeline (lro.store.timeline), as sqlite/sql/timeline.sql.

-- name: buckets_all
-- On lro_jobs_finished (0013). :bucket is in seconds; durations come back in seconds.
WITH done AS (
    SELECT floor(extract(epoch FROM finished_at - :since::timestamptz)
                 / :bucket::integer)::bigint AS b,
           status,
           CASE WHEN status = 'completed' AND started_at IS NOT NULL
                THEN extract(epoch FROM finished_at - started_at)::float8 END AS d
    FROM lro_jobs
    WHERE finished_at >= :since::timestamptz AND finished_at < :until::timestamptz
), ranked AS (
    SELECT b, d, row_number() OVER (PARTITION BY b ORDER BY d) AS rn,
           count(*) OVER (PARTITION BY b) AS n
    FROM done WHERE d IS NOT NULL
), pct AS (
    SELECT b, min(CASE WHEN rn >= (n * 50 + 99) / 100 THEN d END) AS p50,
              min(CASE WHEN rn >= (n * 95 + 99) / 100 THEN d END) AS p95
    FROM ranked GROUP BY b
)
SELECT c.b, c.completed, c.failed, c.cancelled, pct.p50, pct.p95 FROM (
    SELECT b, count(*) FILTER (WHERE status = 'completed') AS completed,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'cancelled') AS cancelled
    FROM done GROUP BY b
) AS c LEFT JOIN pct ON pct.b = c.b
ORDER BY c.b

-- name: buckets_owner
-- On lro_jobs_owner_finished (0013). :bucket is in seconds; durations come back in seconds.
WITH done AS (
    SELECT floor(extract(epoch FROM finished_at - :since::timestamptz)
                 / :bucket::integer)::bigint AS b,
           status,
           CASE WHEN status = 'completed' AND started_at IS NOT NULL
                THEN extract(epoch FROM finished_at - started_at)::float8 END AS d
    FROM lro_jobs
    WHERE owner = :owner AND finished_at >= :since::timestamptz AND finished_at < :until::timestamptz
), ranked AS (
    SELECT b, d, row_number() OVER (PARTITION BY b ORDER BY d) AS rn,
           count(*) OVER (PARTITION BY b) AS n
    FROM done WHERE d IS NOT NULL
), pct AS (
    SELECT b, min(CASE WHEN rn >= (n * 50 + 99) / 100 THEN d END) AS p50,
              min(CASE WHEN rn >= (n * 95 + 99) / 100 THEN d END) AS p95
    FROM ranked GROUP BY b
)
SELECT c.b, c.completed, c.failed, c.cancelled, pct.p50, pct.p95 FROM (
    SELECT b, count(*) FILTER (WHERE status = 'completed') AS completed,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'cancelled') AS cancelled
    FROM done GROUP BY b
) AS c LEFT JOIN pct ON pct.b = c.b
ORDER BY c.b
