-- The finished-jobs timeline (lro.store.timeline): nearest-rank percentiles per bucket.

-- name: buckets_all
-- On jobs_finished (0012). Times are microseconds; :bucket too.
WITH done AS (
    SELECT (finished_at - :since) / :bucket AS b, status,
           CASE WHEN status = 'completed' AND started_at IS NOT NULL
                THEN finished_at - started_at END AS d
    FROM jobs WHERE finished_at >= :since AND finished_at < :until
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
    SELECT b, sum(status = 'completed') AS completed, sum(status = 'failed') AS failed,
           sum(status = 'cancelled') AS cancelled
    FROM done GROUP BY b
) AS c LEFT JOIN pct ON pct.b = c.b
ORDER BY c.b

-- name: buckets_owner
-- On jobs_owner_finished (0012).
WITH done AS (
    SELECT (finished_at - :since) / :bucket AS b, status,
           CASE WHEN status = 'completed' AND started_at IS NOT NULL
                THEN finished_at - started_at END AS d
    FROM jobs WHERE owner = :owner AND finished_at >= :since AND finished_at < :until
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
    SELECT b, sum(status = 'completed') AS completed, sum(status = 'failed') AS failed,
           sum(status = 'cancelled') AS cancelled
    FROM done GROUP BY b
) AS c LEFT JOIN pct ON pct.b = c.b
ORDER BY c.b
