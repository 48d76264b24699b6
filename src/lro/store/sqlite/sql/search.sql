-- The filters of a job list (HTTP-CONTRACT §5, §15), shared by list_jobs, list_all_jobs
-- and the tag lists below. `created_before` needs no clause: the store folds it into the
-- keyset cursor, so it narrows the index range itself. :text is lower case.

-- name: list_filters
(expires_at IS NULL OR expires_at > :now)
  AND (:operation IS NULL OR operation = :operation)
  AND (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))
  AND (:created_after IS NULL OR created_at > :created_after)
  AND (:text IS NULL
       OR substr(id, 1, length(:text)) = :text
       OR instr(lower(step), :text) > 0
       OR instr(lower(json_extract(error, '$.title')), :text) > 0)

-- name: more_tags
-- Every tag of :more_tags (a JSON array, or NULL) is one of the job's.
(:more_tags IS NULL OR NOT EXISTS (
    SELECT 1 FROM json_each(:more_tags) wanted
    WHERE NOT EXISTS (SELECT 1 FROM json_each(tags) has WHERE has.value = wanted.value)))

-- name: list_tagged
-- A list by tag walks job_tags' key (owner, tag, created_at, job_id) backwards from the
-- cursor, so it reads only rows carrying the first tag, newest first, and stops at the
-- page's end; the other tags and filters are checked on those rows. The sub-select
-- renames its columns so the job columns stay unambiguous (SQLite flattens it into the
-- join).
SELECT {{job_columns}} FROM (
    SELECT job_id AS tagged_id, created_at AS tagged_at FROM job_tags
    WHERE owner = :owner AND tag = :tag
      AND (created_at, job_id) < (:after_created, :after_id)
) JOIN jobs ON jobs.id = tagged_id
WHERE {{list_filters}}
  AND {{more_tags}}
ORDER BY tagged_at DESC, tagged_id DESC
LIMIT :limit

-- name: list_all_tagged
-- list_tagged for an admin: every owner, on job_tags_all.
SELECT {{job_columns}} FROM (
    SELECT job_id AS tagged_id, created_at AS tagged_at FROM job_tags INDEXED BY job_tags_all
    WHERE tag = :tag AND (created_at, job_id) < (:after_created, :after_id)
) JOIN jobs ON jobs.id = tagged_id
WHERE {{list_filters}}
  AND {{more_tags}}
ORDER BY tagged_at DESC, tagged_id DESC
LIMIT :limit
