"""Plans for the request/answer operations, and the retry loop they all share.

Every request the client sends may be repeated safely, which is what lets one loop retry
them all: reads are reads; a submit carries an Idempotency-Key (generated when the caller
gives none) so the server replays the first job instead of making a second; cancelling
twice has the effect of cancelling once, and so has deleting twice. The two places where a
repeat *answers* differently from the first try, a 409 on a re-sent cancel and a 404 on a
re-sent delete, are recognised below.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from lro.client._core import (
    RETRY_STATUSES,
    Close,
    Config,
    Deadline,
    Emit,
    Plan,
    Read,
    Send,
    Sleep,
    is_json,
    is_transient,
    job_path,
    retry_after,
)
from lro.client.errors import Conflict, ProtocolError, TransportFailure, error_from_response
from lro.client.models import JobPage, JobResource, OperationInfo, WorkerResource

_KEY_IN_PROGRESS = "/idempotency-in-progress"
"""Problem type suffix of the 409 a duplicate submit gets while the first is being stored."""


@dataclass(frozen=True)
class Exchange:
    response: httpx.Response
    retried: bool
    """True when an earlier try of this request may have reached the server."""


def _describe(request: httpx.Request) -> str:
    return f"{request.method} {request.url}"


def exchange(
    cfg: Config,
    request: httpx.Request,
    *,
    stream: bool = False,
    is_retryable: Callable[[httpx.Response], bool] | None = None,
    deadline: Deadline | None = None,
) -> Plan[Exchange]:
    """Send `request` until an answer is worth returning: transient network errors and
    429/502/503/504 are retried up to `cfg.max_retries` times, after the server's
    `Retry-After` or a jittered backoff. Returns the last answer, whatever its status; a
    `deadline` that a pause would cross ends the retries with WaitTimeout, and one that
    passes during a try has the driver cut it (`Expired`)."""
    failures = 0
    while True:
        within = None if deadline is None else deadline.remaining()
        try:
            response: httpx.Response = yield Send(request, stream, within)
        except httpx.HTTPError as exc:
            if not is_transient(exc):
                raise TransportFailure(f"{_describe(request)} failed: {exc!r}") from exc
            failures += 1
            delay = cfg.retry_delay(failures)
            if delay is None:
                raise TransportFailure(
                    f"{_describe(request)} failed {failures} times; last error: {exc!r}",
                    attempts=failures,
                ) from exc
            if deadline is not None and not deadline.allows(delay):
                raise deadline.exceeded() from exc
            yield Sleep(delay)
            continue
        if response.status_code in RETRY_STATUSES or (is_retryable and is_retryable(response)):
            delay = cfg.retry_delay(failures + 1, retry_after(response))
            if delay is not None and (deadline is None or deadline.allows(delay)):
                if stream:
                    yield Close(response)
                failures += 1
                yield Sleep(delay)
                continue
        return Exchange(response, retried=failures > 0)


def check(response: httpx.Response, *, streamed: bool = False) -> Plan[httpx.Response]:
    """The response when it is a success; else the error it stands for, raised."""
    if response.status_code < 400:
        return response
    if streamed:
        yield Read(response)
        yield Close(response)
    raise error_from_response(response, retry_after(response))


def call(cfg: Config, request: httpx.Request, **options: Any) -> Plan[httpx.Response]:
    """`exchange` then `check`: a successful answer or an ApiError."""
    ex = yield from exchange(cfg, request, **options)
    return (yield from check(ex.response, streamed=options.get("stream", False)))


def parse_job(response: httpx.Response) -> JobResource:
    try:
        return JobResource.model_validate_json(response.content)
    except ValidationError as exc:
        raise ProtocolError(
            f"{_describe(response.request)} answered {response.status_code} with a body "
            f"that is not a job resource: {exc.error_count()} problem(s), first: "
            f"{exc.errors()[0]['msg']}"
        ) from exc


def _key_in_progress(response: httpx.Response) -> bool:
    if response.status_code != 409 or not is_json(response):
        return False
    try:
        kind = response.json().get("type", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(kind, str) and kind.endswith(_KEY_IN_PROGRESS)


# -- the plans (their docstrings are the methods' documentation) -------------------------
def submit(
    cfg: Config,
    operation: str,
    params: Mapping[str, Any] | BaseModel | None = None,
    *,
    callback_url: str | None = None,
    priority: int | None = None,
    idempotency_key: str | None = None,
    wait: float | None = None,
    delay: float | None = None,
    respond_async: bool = False,
    tags: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    depends_on: Sequence[str] | None = None,
    dependency_policy: str | None = None,
) -> Plan[JobResource]:
    """Submit a job of `operation` with `params` (a mapping, or a pydantic model such as
    the operation's own params model); returns the job resource: queued (the server's
    `202`), or already terminal (its `200`) when the job ended before the server answered.
    That happens within `wait` seconds when you give one (`Prefer: wait`), and within the
    operation's own `respond_within` otherwise; `.is_terminal` tells which you got.
    `respond_async=True` asks for the immediate `202` whatever the operation declares
    (`Prefer: respond-async`), for callers that follow the job themselves from the start;
    giving it with `wait` is a ValueError, as the two ask for opposite things.

    Safe to retry: without an `idempotency_key` a random one is made for this call and
    sent with every attempt, so a submit whose answer was lost is replayed by the server
    rather than run twice. Pass your own key to make a submit safe across process
    restarts too. `delay` asks the server not to start the job before that many seconds.
    `tags` and `metadata` are kept with the job (HTTP-CONTRACT §15): `list(tag=...)`
    finds it by tag. With `depends_on` (your job ids) it waits queued until they
    completed (HTTP-CONTRACT §17); `dependency_policy="always"` runs it whatever they
    ended as.
    """
    if respond_async and wait is not None:
        raise ValueError("submit() takes wait or respond_async, not both: they contradict")
    if isinstance(params, BaseModel):
        params = params.model_dump(mode="json")
    body: dict[str, Any] = {"operation": operation, "params": dict(params or {})}
    if callback_url is not None:
        body["callback_url"] = callback_url
    if priority is not None:
        body["priority"] = priority
    if delay is not None:
        body["delay_seconds"] = delay
    if tags is not None:
        body["tags"] = list(tags)
    if metadata is not None:
        body["metadata"] = dict(metadata)
    if depends_on is not None:
        body["depends_on"] = list(depends_on)
    if dependency_policy is not None:
        body["dependency_policy"] = dependency_policy
    headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    timeout = cfg.timeout
    if wait is not None and wait > 0:
        headers["Prefer"] = f"wait={math.ceil(wait)}"
        timeout += math.ceil(wait)
    elif respond_async:
        headers["Prefer"] = "respond-async"
    request = cfg.request("POST", "/jobs", json=body, headers=headers, timeout=timeout)
    return parse_job((yield from call(cfg, request, is_retryable=_key_in_progress)))


def get(cfg: Config, job_id: str) -> Plan[JobResource]:
    """The job's current state."""
    return parse_job((yield from call(cfg, cfg.request("GET", job_path(job_id)))))


@dataclass(frozen=True)
class ListFilters:
    """The filters of a job list (HTTP-CONTRACT §5, §15) as query parameters."""

    status: str | Sequence[str] | None = None
    operation: str | None = None
    tag: str | Sequence[str] | None = None
    created_after: datetime | str | None = None
    created_before: datetime | str | None = None
    q: str | None = None

    def params(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.status is not None:
            status = self.status
            out.append(("status", status if isinstance(status, str) else ",".join(status)))
        if self.operation is not None:
            out.append(("operation", self.operation))
        tags = [self.tag] if isinstance(self.tag, str) else list(self.tag or [])
        out.extend(("tag", t) for t in tags)
        for name, when in (
            ("created_after", self.created_after),
            ("created_before", self.created_before),
        ):
            if when is not None:
                out.append((name, when if isinstance(when, str) else when.isoformat()))
        if self.q is not None:
            out.append(("q", self.q))
        return out


def list_jobs(
    cfg: Config,
    *,
    status: str | Sequence[str] | None = None,
    operation: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    tag: str | Sequence[str] | None = None,
    created_after: datetime | str | None = None,
    created_before: datetime | str | None = None,
    q: str | None = None,
) -> Plan[JobPage]:
    """One page of your jobs, newest first, optionally only those in `status` (one or
    several), of `operation`, carrying every `tag`, created after / before a time
    (an aware datetime or RFC 3339 text), or matching `q` (a job id prefix, or text in
    the step or error title). Pass `next_cursor` back as `cursor` for the next page."""
    filters = ListFilters(status, operation, tag, created_after, created_before, q)
    pairs = filters.params()
    if limit is not None:
        pairs.append(("limit", str(limit)))
    if cursor is not None:
        pairs.append(("cursor", cursor))
    params = httpx.QueryParams(tuple(pairs))
    response = yield from call(cfg, cfg.request("GET", "/jobs", params=params))
    try:
        body = response.json()
        items = [JobResource.model_validate(item) for item in body["items"]]
        next_cursor = body.get("next_cursor")
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ProtocolError(f"the job list is not {{items, next_cursor}}: {exc}") from exc
    return JobPage(items=items, next_cursor=next_cursor if isinstance(next_cursor, str) else None)


def list_operations(cfg: Config) -> Plan[list[OperationInfo]]:
    """The service's operations, each with its queue, its limits and how many of your
    jobs are queued and processing (an admin's: everyone's)."""
    response = yield from call(cfg, cfg.request("GET", "/operations"))
    try:
        return [OperationInfo.model_validate(item) for item in response.json()["items"]]
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ProtocolError(f"the operation list is not {{items}}: {exc}") from exc


def iter_jobs(
    cfg: Config,
    *,
    status: str | Sequence[str] | None = None,
    operation: str | None = None,
    page_size: int | None = None,
    tag: str | Sequence[str] | None = None,
    created_after: datetime | str | None = None,
    created_before: datetime | str | None = None,
    q: str | None = None,
) -> Plan[None]:
    """Every job matching the filters (as `list`), newest first, fetching pages as you go."""
    cursor: str | None = None
    while True:
        page = yield from list_jobs(
            cfg,
            status=status,
            operation=operation,
            limit=page_size,
            cursor=cursor,
            tag=tag,
            created_after=created_after,
            created_before=created_before,
            q=q,
        )
        for job in page.items:
            yield Emit(job)
        if page.next_cursor is None or not page.items:
            return
        cursor = page.next_cursor


def workers(cfg: Config) -> Plan[list[WorkerResource]]:
    """The live worker processes, oldest first (an admin's key when the server has keys)."""
    response = yield from call(cfg, cfg.request("GET", "/workers"))
    try:
        return [WorkerResource.model_validate(item) for item in response.json()["items"]]
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ProtocolError(f"the worker list is not {{items}}: {exc}") from exc


def cancel(cfg: Config, job_id: str) -> Plan[JobResource]:
    """Cancel the job: a queued one at once, a running one as soon as its handler notices
    (the answer then says `cancel_requested`; `wait()` for the end). Raises Conflict when
    the job had already finished."""
    ex = yield from exchange(cfg, cfg.request("POST", job_path(job_id, "cancel")))
    response = ex.response
    if ex.retried and response.status_code == 409:
        error = error_from_response(response, None)
        # An earlier try whose answer we lost did the cancel: the job is as we wanted it.
        if isinstance(error, Conflict) and error.job_status == "cancelled":
            return (yield from get(cfg, job_id))
    return parse_job((yield from check(response)))


def retry(cfg: Config, job_id: str) -> Plan[JobResource]:
    """Run a failed or cancelled job again under its id (one more attempt; its completed
    steps are kept, so it resumes after them) and return it, queued. Raises Conflict when
    the job is queued, processing or completed."""
    ex = yield from exchange(cfg, cfg.request("POST", job_path(job_id, "retry")))
    response = ex.response
    if ex.retried and response.status_code == 409:
        error = error_from_response(response, None)
        # An earlier try whose answer we lost did the retry: the job runs again.
        if isinstance(error, Conflict) and error.job_status in ("queued", "processing"):
            return (yield from get(cfg, job_id))
    return parse_job((yield from check(response)))


def delete(cfg: Config, job_id: str) -> Plan[None]:
    """Delete a finished job and its result. Raises Conflict while the job still runs."""
    ex = yield from exchange(cfg, cfg.request("DELETE", job_path(job_id)))
    if ex.retried and ex.response.status_code == 404:
        return None  # an earlier try whose answer we lost deleted it
    yield from check(ex.response)
    return None
