-- The filters of a job list (HTTP-CONTRACT §5, §15), shared by list_jobs, list_all_jobs
-- and the tag lists below. `created_before` needs no clause: the store folds it into the
-- keyset cursor, so it narrows the index range itself. :text is lower case.

-- name: list_filters
(j.expires_at IS NULL OR j.expires_at > :now)
  AND (:operation::text IS NULL OR j.operation = :operation::text)
  AND (:statuses::text[] IS NULL OR j.status = ANY(:statuses::text[]))
  AND (:created_after::timestamptz IS NULL OR j.created_at > :created_after::timestamptz)
  AND (:text::text IS NULL
       OR starts_with(j.id, :text::text)
       OR strpos(lower(j.step), :text::text) > 0
       OR strpos(lower(j.error ->> 'title'), :text::text) > 0)

-- name: list_tagged
-- A list by tag walks lro_job_tags' key (owner, tag, created_at, job_id) backwards from
-- the cursor, so it reads only rows carrying the first tag, newest first, and stops at
-- the page's end; the other tags and filters are checked on those rows.
SELECT j.* FROM lro_job_tags t JOIN lro_jobs j ON j.id = t.job_id
WHERE t.owner = :owner AND t.tag = :tag
  AND (t.created_at, t.job_id)
      < (coalesce(:after_created::timestamptz, 'infinity'::timestamptz), :after_id::text)
  AND {{list_filters}}
  AND (:more_tags::jsonb IS NULL OR j.tags @> :more_tags::jsonb)
ORDER BY t.created_at DESC, t.job_id DESC
LIMIT :limit

-- name: list_all_tagged
-- list_tagged for an admin: every owner, on lro_job_tags_all.
SELECT j.* FROM lro_job_tags t JOIN lro_jobs j ON j.id = t.job_id
WHERE t.tag = :tag
  AND (t.created_at, t.job_id)
      < (coalesce(:after_created::timestamptz, 'infinity'::timestamptz), :after_id::text)
  AND {{list_filters}}
  AND (:more_tags::jsonb IS NULL OR j.tags @> :more_tags::jsonb)
ORDER BY t.created_at DESC, t.job_id DESC
LIMIT :limit
