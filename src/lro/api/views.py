"""A job as its owner may see it, and job answers with their caching headers.

Shared by the submit and job routes so that visibility (404 for unknown or foreign jobs,
410 for expired ones), ETag and Retry-After follow one rule everywhere.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from lro.api.auth import Caller
from lro.api.headers import job_etag, job_retry_after
from lro.api.routing import ClientGone, root_of
from lro.background import cancel_and_wait
from lro.errors import Gone, NotFound
from lro.models import Job, utcnow
from lro.resource import job_resource, job_url, rfc3339

if TYPE_CHECKING:
    from lro.runtime import Runtime


T = TypeVar("T")

RECHECK_SECONDS = 5.0
"""A waiting request re-reads its job at least this often. Notifications are not
replayed after a lost LISTEN connection (or a missed poll), so without the re-read a
change made meanwhile would be noticed only at the wait's deadline."""


def api_base(lro: Runtime, request: Request) -> str:
    """The path every URL in this answer starts with: where the router is mounted (root
    path and include prefix, found by lro's route class) plus `LRO_API_PREFIX`, so a
    client follows `poll_url`, `Location` and the rest exactly as given."""
    return root_of(request) + lro.settings.api_prefix


def not_found(job_id: str) -> NotFound:
    # One wording for "never existed" and "not yours": existence is not leaked.
    return NotFound(f"There is no job {job_id!r}.", extensions={"job_id": job_id})


def gone(job_id: str, expired_at: datetime | None) -> Gone:
    when = rfc3339(expired_at)
    return Gone(
        f"Job {job_id!r} expired at {when}; it and its result have been deleted.",
        extensions={"job_id": job_id, "expired_at": when},
    )


async def visible_job(
    lro: Runtime, job_id: str, caller: Caller, now: datetime | None = None
) -> Job:
    """The caller's job, or NotFound / Gone.

    An expired job is gone at once, whether or not the sweeper deleted its row yet; after
    the sweep its tombstone keeps answering 410 to its owner, then 404. An admin sees
    every job as its owner does.
    """
    return await check_visible(lro, job_id, caller, await lro.store.get_job(job_id), now)


async def check_visible(
    lro: Runtime, job_id: str, caller: Caller, job: Job | None, now: datetime | None = None
) -> Job:
    """`visible_job` for a job already read (a feed snapshot shares one read)."""
    now = now or utcnow()
    if job is None:
        tomb = await lro.store.get_tombstone(job_id, now)
        if tomb is not None and caller.sees(tomb.owner):
            raise gone(job_id, tomb.expired_at)
        raise not_found(job_id)
    if not caller.sees(job.owner):
        # The same reads as for an unknown id, so the answer's timing tells nothing either.
        await lro.store.get_tombstone(job_id, now)
        raise not_found(job_id)
    if job.is_expired(now):
        raise gone(job_id, job.expires_at)
    return job


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
"""Starlette's JSONResponse encoding, made once: `json.dumps` with these options builds a
new encoder per call, a few µs of every poll and submit answer."""


class JobJSONResponse(Response):
    """A job answer made from its encoded body and its headers as the raw list ASGI sends:
    Starlette's Response would build the list again from a dict (and JSONResponse encode
    with a new encoder per call), a few µs of every poll. `body` None: a 304, which has
    neither a body nor its headers."""

    media_type = "application/json"

    def __init__(
        self, body: bytes | None, status_code: int, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.status_code = status_code
        self.background = None
        if body is None:
            self.body = b""
        else:
            self.body = body
            headers.append((b"content-length", str(len(body)).encode()))
            headers.append((b"content-type", b"application/json"))
        self.raw_headers = headers


def _raw_headers(
    job: Job, prefix: str, retry_after: bool | None, etag: str | None = None
) -> list[tuple[bytes, bytes]]:
    """ETag always; Retry-After on non-terminal answers (or when forced, as on a 202)."""
    etag = etag or job_etag(job, prefix)
    raw = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
    if retry_after is None:
        retry_after = not job.is_terminal
    if retry_after:
        raw.append((b"retry-after", str(job_retry_after(job, utcnow())).encode()))
    return raw


def not_modified(job: Job, prefix: str, etag: str) -> JobJSONResponse:
    """304 to a poll whose If-None-Match names the job's current state (`etag`)."""
    return JobJSONResponse(None, 304, _raw_headers(job, prefix, None, etag))


def job_response(
    job: Job,
    prefix: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    retry_after: bool | None = None,
    link: str | None = None,
    renders: JobRenders | None = None,
) -> JobJSONResponse:
    """The job resource with its caching headers; `link` is its signed result link and
    `headers` are added to those set here (never the same names). With `renders`, an
    unchanged job's body is encoded once, not once per poll."""
    raw = _raw_headers(job, prefix, retry_after)
    raw.append((b"content-location", job_url(prefix, job.id).encode()))
    if headers:
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    if link is None and renders is not None:
        body = renders.body(job, prefix)
    else:
        resource = job_resource(job, prefix)
        if link is not None:
            resource["result_link"] = link
        body = _ENCODER.encode(resource).encode()
    return JobJSONResponse(body, status_code, raw)


RENDERS_BYTES = 4 * 1024 * 1024
"""What a `JobRenders` keeps at most, in encoded bytes (about 4,000 typical bodies)."""


class JobRenders:
    """Encoded job bodies by (job id, version, base path), the most recently used kept.

    A job is polled far more often than it changes (a client polls every Retry-After
    seconds; a queued or long-running job's row stays as it is), and every committed
    change bumps `version`: the same key is the same body, the rule the ETag already
    relies on. The row is still read on every poll, so a change is seen at once; only
    its rendering is shared. Answers that carry a signed link are never kept, and the
    bodies kept are bounded by their bytes (a job's metadata can be large), a body
    larger than a sixty-fourth of the bound not kept at all."""

    def __init__(self, max_bytes: int = RENDERS_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._bodies: OrderedDict[tuple[str, int, str], bytes] = OrderedDict()

    def body(self, job: Job, prefix: str) -> bytes:
        key = (job.id, job.version, prefix)
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
            return body
        body = _ENCODER.encode(job_resource(job, prefix)).encode()
        if len(body) * 64 <= self._max_bytes:
            self._bodies[key] = body
            self._bytes += len(body)
            while self._bytes > self._max_bytes:
                self._bytes -= len(self._bodies.popitem(last=False)[1])
        return body

    def __len__(self) -> int:
        return len(self._bodies)


async def while_connected(request: Request, waiting: Awaitable[T]) -> T:
    """Await `waiting` unless the client disconnects first, then cancel it and raise
    ClientGone. A request that only waits does not notice a client that left on its own
    (nothing is sent until the wait ends), so without this a long poll whose client
    vanished would keep its place under the per-principal caps until its full wait ran
    out: 100 reset connections locked their principal out for half a minute."""
    work = asyncio.ensure_future(waiting)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not work.done():
            await cancel_and_wait([work])
        await cancel_and_wait([gone])
    if work.cancelled():
        raise ClientGone()
    return work.result()


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def wait_for_job(
    lro: Runtime,
    job_id: str,
    caller: Caller,
    timeout: float,
    *,
    done: Callable[[Job], bool],
) -> Job:
    """Follow the job's feed until `done(job)` or the timeout; return the last state seen.

    Subscribing reads the job at once, and every change notification shares one read among
    all the job's followers. The feed is refreshed at least every RECHECK_SECONDS in case
    a notification was lost with the store's connection. A job deleted or expired while
    we wait raises NotFound / Gone like any other read.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(timeout, 0.0)
    job: Job | None = None
    with lro.hub.feeds.subscribe(job_id) as sub:
        while True:
            remaining = deadline - loop.time()
            if job is not None and remaining <= 0:
                return job
            snapshot = await sub.next(max(min(remaining, RECHECK_SECONDS), 0.0))
            if snapshot is None:
                if job is None and remaining <= 0:  # not even the first read came back
                    return await visible_job(lro, job_id, caller)
                sub.feed.refresh()
                continue
            job = await check_visible(lro, job_id, caller, snapshot.job)
            if done(job):
                return job
