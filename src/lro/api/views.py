"""A job as its owner may see it, and job answers with their caching headers.

Shared by the submit and job routes so that visibility (404 for unknown or foreign jobs,
410 for expired ones), ETag and Retry-After follow one rule everywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

from lro.api.http import job_etag, job_retry_after
from lro.errors import Gone, NotFound
from lro.models import Job, utcnow
from lro.resource import job_resource, job_url, rfc3339

if TYPE_CHECKING:
    from lro.app import LRO


RECHECK_SECONDS = 5.0
"""A waiting request re-reads its job at least this often. Notifications are not
replayed after a lost LISTEN connection (or a missed poll), so without the re-read a
change made meanwhile would be noticed only at the wait's deadline."""


def not_found(job_id: str) -> NotFound:
    # One wording for "never existed" and "not yours": existence is not leaked.
    return NotFound(f"There is no job {job_id!r}.", extensions={"job_id": job_id})


def gone(job_id: str, expired_at: datetime | None) -> Gone:
    when = rfc3339(expired_at)
    return Gone(
        f"Job {job_id!r} expired at {when}; it and its result have been deleted.",
        extensions={"job_id": job_id, "expired_at": when},
    )


async def visible_job(lro: LRO, job_id: str, owner: str, now: datetime | None = None) -> Job:
    """The caller's job, or NotFound / Gone.

    An expired job is gone at once, whether or not the sweeper deleted its row yet; after
    the sweep its tombstone keeps answering 410 to its owner, then 404.
    """
    now = now or utcnow()
    job = await lro.store.get_job(job_id)
    if job is None:
        tomb = await lro.store.get_tombstone(job_id, now)
        if tomb is not None and tomb.owner == owner:
            raise gone(job_id, tomb.expired_at)
        raise not_found(job_id)
    if job.owner != owner:
        raise not_found(job_id)
    if job.is_expired(now):
        raise gone(job_id, job.expires_at)
    return job


def job_headers(
    job: Job, prefix: str, *, now: datetime | None = None, retry_after: bool | None = None
) -> dict[str, str]:
    """ETag always; Retry-After on non-terminal answers (or when forced, as on a 202)."""
    headers = {"ETag": job_etag(job, prefix), "Cache-Control": "no-cache"}
    if retry_after is None:
        retry_after = not job.is_terminal
    if retry_after:
        headers["Retry-After"] = str(job_retry_after(job, now or utcnow()))
    return headers


def job_response(
    job: Job,
    prefix: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    retry_after: bool | None = None,
) -> JSONResponse:
    all_headers = job_headers(job, prefix, retry_after=retry_after)
    all_headers["Content-Location"] = job_url(prefix, job.id)
    all_headers.update(headers or {})
    return JSONResponse(job_resource(job, prefix), status_code, headers=all_headers)


async def wait_for_job(
    lro: LRO,
    job_id: str,
    owner: str,
    timeout: float,
    *,
    done: Callable[[Job], bool],
) -> Job:
    """Re-read the job on every change notification until `done(job)` or the timeout.

    The waiter is registered before the first read, so a change committed between that
    read and the wait still wakes us (no lost wake-up), and the job is re-read every
    RECHECK_SECONDS in case a notification was lost with the store's connection. A job
    deleted or expired while we wait raises NotFound / Gone like any other read.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(timeout, 0.0)
    with lro.hub.job_waiter(job_id) as waiter:
        job = await visible_job(lro, job_id, owner)
        while not done(job):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await waiter.wait(min(remaining, RECHECK_SECONDS))
            job = await visible_job(lro, job_id, owner)
    return job
