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
from lro.client.models import JobPage, JobResource, WorkerResource

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


def _list_params(
    status: str | Sequence[str] | None, operation: str | None, limit: int | None, cursor: str | None
) -> dict[str, str | int]:
    params: dict[str, str | int] = {}
    if status is not None:
        params["status"] = status if isinstance(status, str) else ",".join(status)
    if operation is not None:
        params["operation"] = operation
    if limit is not None:
        params["limit"] = limit
    if cursor is not None:
        params["cursor"] = cursor
    return params


def list_jobs(
    cfg: Config,
    *,
    status: str | Sequence[str] | None = None,
    operation: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Plan[JobPage]:
    """One page of your jobs, newest first, optionally only those in `status` (one or
    several) or of `operation`. Pass `next_cursor` back as `cursor` for the next page."""
    params = _list_params(status, operation, limit, cursor)
    response = yield from call(cfg, cfg.request("GET", "/jobs", params=params))
    try:
        body = response.json()
        items = [JobResource.model_validate(item) for item in body["items"]]
        next_cursor = body.get("next_cursor")
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ProtocolError(f"the job list is not {{items, next_cursor}}: {exc}") from exc
    return JobPage(items=items, next_cursor=next_cursor if isinstance(next_cursor, str) else None)


def iter_jobs(
    cfg: Config,
    *,
    status: str | Sequence[str] | None = None,
    operation: str | None = None,
    page_size: int | None = None,
) -> Plan[None]:
    """Every job matching the filters, newest first, fetching pages as you go."""
    cursor: str | None = None
    while True:
        page = yield from list_jobs(
            cfg, status=status, operation=operation, limit=page_size, cursor=cursor
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


def delete(cfg: Config, job_id: str) -> Plan[None]:
    """Delete a finished job and its result. Raises Conflict while the job still runs."""
    ex = yield from exchange(cfg, cfg.request("DELETE", job_path(job_id)))
    if ex.retried and ex.response.status_code == 404:
        return None  # an earlier try whose answer we lost deleted it
    yield from check(ex.response)
    return None
