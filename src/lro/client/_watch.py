"""Plans that follow a job to its end: `events` (the SSE stream, resumed across broken
connections), `wait` (the stream while it works, polling when it does not) and
`iter_partials` (the job's partial results, HTTP-CONTRACT §14).

Partial results arrive as SSE `partial` events in the job's one event sequence. A
follower that wants them starts the stream from the beginning (`Last-Event-ID: 0`), so
none made before it connected is missed, and counts them by `seq`, so none is delivered
twice across reconnections or the polling fallback (which reads `/partials?after=`).

`wait` never reports a job that is not terminal: the only ways out are a terminal job,
WaitTimeout, or an error about the job itself (404, 410, auth) or about the service being
unreachable after the retries ran out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from lro.client._calls import call, get, parse_job
from lro.client._core import (
    RETRY_STATUSES,
    Action,
    Call,
    Close,
    Config,
    Deadline,
    Emit,
    Expired,
    Next,
    Plan,
    Read,
    Send,
    Sleep,
    header,
    is_transient,
    job_path,
    media_type,
    retry_after,
)
from lro.client.errors import ClientError, ProtocolError, TransportFailure, error_from_response
from lro.client.models import JobEvent, JobResource, Partial

EVENT_TYPES = frozenset({"status", "progress", "completed", "failed", "cancelled"})

SSE_READ_TIMEOUT = 45.0
"""The server sends a heartbeat at least every 15 s, so this much silence means the
connection is dead even when no error reached us (a NAT or proxy dropped it)."""

STREAM_TRIES = 3
"""`wait()` gives the event stream this many failed connections in a row (each resumed
from the last event) before it polls instead."""

MIN_POLL = 0.05
"""The shortest pause between polls, whatever the server suggests."""

Notify = Callable[[JobEvent], Action | None]
PartialSink = Callable[[Partial], Action]

PARTIALS_PAGE = 1000


@dataclass
class _Cursor:
    last_id: int | None
    retry_hint: float | None = None
    """The stream's `retry:` field in seconds: its own advice on reconnecting."""
    partials: PartialSink | None = None
    """Where partial results go; None skips them."""
    last_seq: int = 0
    """The last partial delivered."""


class _Refused(Exception):
    """The events route answered, but not with an event stream."""

    def __init__(self, response: httpx.Response, error: ClientError) -> None:
        super().__init__(str(error))
        self.response = response
        self.error = error


def _parse(sse: ServerSentEvent) -> JobEvent | None:
    # Heartbeats and kinds this client does not know are skipped (httpx-sse turns the
    # blank line after a heartbeat comment into a "message" event with no data).
    if sse.event not in EVENT_TYPES:
        return None
    try:
        return JobEvent(
            id=int(sse.id), event=sse.event, job=JobResource.model_validate_json(sse.data)
        )
    except ValueError as exc:
        raise ProtocolError(f"unreadable {sse.event!r} event (id {sse.id!r}): {exc}") from exc


def _parse_partial(sse: ServerSentEvent) -> Partial:
    try:
        int(sse.id)
        return Partial.model_validate_json(sse.data)
    except ValueError as exc:
        raise ProtocolError(f"unreadable partial event (id {sse.id!r}): {exc}") from exc


def _read_partials(cfg: Config, job_id: str, cursor: _Cursor, deadline: Deadline) -> Plan[None]:
    """Deliver the partials after `cursor.last_seq` by polling `/partials` to the end."""
    sink = cursor.partials
    if sink is None:
        return
    while True:
        params: dict[str, Any] = {"after": cursor.last_seq, "limit": PARTIALS_PAGE}
        timeout = deadline.request_timeout(cfg.timeout)
        request = cfg.request("GET", job_path(job_id, "partials"), params=params, timeout=timeout)
        response = yield from call(cfg, request, deadline=deadline)
        try:
            items = [Partial.model_validate(item) for item in response.json()["items"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(f"the partials of job {job_id} are not {{items}}: {exc}") from exc
        for partial in items:
            if partial.seq > cursor.last_seq:
                cursor.last_seq = partial.seq
                yield sink(partial)
        if len(items) < PARTIALS_PAGE:
            return


def _refusal(response: httpx.Response) -> _Refused:
    if response.status_code >= 400:
        return _Refused(response, error_from_response(response, retry_after(response)))
    kind = media_type(response) or "no content type"
    return _Refused(
        response,
        ProtocolError(
            f"{response.request.url} answered {response.status_code} with {kind}, "
            "not a text/event-stream"
        ),
    )


def _connect(
    cfg: Config, job_id: str, cursor: _Cursor, deadline: Deadline, notify: Notify
) -> Plan[JobResource | None]:
    """One connection: emits its new events, returns the terminal job, or None when the
    stream ended before it. Transport errors propagate from the `yield`s."""
    if deadline.clip(SSE_READ_TIMEOUT) <= 0:
        raise deadline.exceeded()
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if cursor.last_id is not None:
        headers["Last-Event-ID"] = str(cursor.last_id)
    timeout = deadline.request_timeout(cfg.timeout, read=SSE_READ_TIMEOUT)
    request = cfg.request("GET", job_path(job_id, "events"), headers=headers, timeout=timeout)
    # Every action on the stream carries the time left: the read timeout above restarts
    # with each event and heartbeat, so only `within` makes the deadline hold.
    response: httpx.Response = yield Send(request, stream=True, within=deadline.remaining())
    if response.status_code == 204:
        # The server's "you already have the terminal event" (a resume after it).
        yield Close(response)
        job = yield from get(cfg, job_id)
        return job if job.is_terminal else None
    if response.status_code != 200 or media_type(response) != "text/event-stream":
        yield Read(response, within=deadline.remaining())
        yield Close(response)
        raise _refusal(response)
    try:
        while (sse := (yield Next(response, "sse", within=deadline.remaining()))) is not None:
            if sse.retry is not None:
                cursor.retry_hint = sse.retry / 1000
            if sse.event == "partial" and cursor.partials is not None:
                partial = _parse_partial(sse)
                if cursor.last_id is None or int(sse.id) > cursor.last_id:
                    cursor.last_id = int(sse.id)
                if partial.seq > cursor.last_seq:
                    cursor.last_seq = partial.seq
                    yield cursor.partials(partial)
                continue
            event = _parse(sse)
            # Ids only grow; an older one would be a replay, which the contract rules out.
            if event is None or (cursor.last_id is not None and event.id <= cursor.last_id):
                continue
            cursor.last_id = event.id
            deadline.last = event.job
            action = notify(event)
            if action is not None:
                yield action
            if event.job.is_terminal:
                yield Close(response)
                return event.job
    except Exception:
        yield Close(response)
        raise
    yield Close(response)
    return None


def _follow(
    cfg: Config,
    job_id: str,
    cursor: _Cursor,
    deadline: Deadline,
    notify: Notify,
    *,
    tries: int | None,
) -> Plan[JobResource | None]:
    """Follow the stream across reconnections (each resumed with Last-Event-ID) to the
    terminal event. With `tries` (wait), returns None as soon as the stream proves
    unusable, refused or failing `tries` times in a row; without (events), raises."""
    failures = 0
    while True:
        before = cursor.last_id
        hint: float | None = None
        try:
            job = yield from _connect(cfg, job_id, cursor, deadline, notify)
            if job is not None:
                return job
            error: ClientError = TransportFailure(
                f"the event stream of job {job_id} closed before the job ended"
            )
        except (_Refused, ProtocolError) as exc:
            if tries is not None:
                return None  # polling will do better, or say exactly what is wrong
            if isinstance(exc, ProtocolError):
                raise
            if exc.response.status_code not in RETRY_STATUSES:
                raise exc.error from None
            error, hint = exc.error, retry_after(exc.response)
        except httpx.HTTPError as exc:
            error = TransportFailure(f"the event stream of job {job_id} broke: {exc!r}")
            error.__cause__ = exc
            if not is_transient(exc):
                if tries is not None:
                    return None
                raise error from exc
        failures = 1 if cursor.last_id != before else failures + 1
        # A refusal's Retry-After, else the stream's own `retry:` advice, else backoff.
        delay = cfg.retry_delay(failures, hint if hint is not None else cursor.retry_hint)
        if tries is not None and (failures >= tries or delay is None):
            return None
        if delay is None:
            raise error
        if not deadline.allows(delay):
            raise deadline.exceeded() from error
        yield Sleep(delay)


def events(cfg: Config, job_id: str, *, last_event_id: int | None = None) -> Plan[None]:
    """The job's Server-Sent Events: its current state first (or, with `last_event_id`,
    only what changed after that event), then each change, ending after the terminal
    event. A broken connection is resumed from the last event received, so no event is
    lost or repeated; TransportFailure when that keeps failing."""
    cursor = _Cursor(last_event_id)
    deadline = Deadline(job_id, None, cfg.clock)
    yield from _follow(cfg, job_id, cursor, deadline, Emit, tries=None)


def iter_partials(cfg: Config, job_id: str, *, after: int = 0) -> Plan[None]:
    """The job's partial results (`Partial`: `seq`, `data`), oldest first, as they are
    made, from the first one after `after`, ending when the job has ended and every
    partial was delivered (all are stored before the job's terminal state). Follows the
    event stream, resumed across broken connections; none is lost or repeated."""
    cursor = _Cursor(0, partials=Emit, last_seq=after)
    deadline = Deadline(job_id, None, cfg.clock)
    yield from _follow(cfg, job_id, cursor, deadline, lambda _: None, tries=None)


def wait(
    cfg: Config,
    job_id: str,
    *,
    on_progress: Callable[[JobResource], object] | None = None,
    on_partial: Callable[[Partial], object] | None = None,
    timeout: float | None = None,
) -> Plan[JobResource]:
    """Block until the job is completed, failed or cancelled, and return it; a failed job
    is returned, not raised (look at `.status` and `.error`). `on_progress` is called with
    each new state on the way. Raises WaitTimeout once `timeout` seconds have passed,
    however busy the event stream is (the job goes on; `.last` is its newest state seen).
    `on_partial` is called with each of the job's partial results in order, from the
    first (made before the call too), each once.

    Follows the event stream; when it is unavailable or keeps breaking, polls the job
    instead, as often as its `Retry-After` suggests.
    """
    deadline = Deadline(job_id, timeout, cfg.clock)

    def notify(event: JobEvent) -> Action | None:
        return None if on_progress is None else Call(on_progress, event.job)

    cursor = _Cursor(None)
    if on_partial is not None:
        cursor = _Cursor(0, partials=lambda p: Call(on_partial, p))
    try:
        job = yield from _follow(cfg, job_id, cursor, deadline, notify, tries=STREAM_TRIES)
        if job is None:
            job = yield from _poll(cfg, job_id, deadline, on_progress, cursor)
    except Expired:
        # The driver cut a request or a read of the stream at the deadline.
        raise deadline.exceeded() from None
    return job


def _poll(
    cfg: Config,
    job_id: str,
    deadline: Deadline,
    on_progress: Callable[[JobResource], object] | None,
    cursor: _Cursor,
) -> Plan[JobResource]:
    etag: str | None = None
    unchanged = 0
    while True:
        headers = {"If-None-Match": etag} if etag else None
        timeout = deadline.request_timeout(cfg.timeout)
        request = cfg.request("GET", job_path(job_id), headers=headers, timeout=timeout)
        response = yield from call(cfg, request, deadline=deadline)
        job = deadline.last
        if response.status_code == 304 and job is not None:
            unchanged += 1
        else:
            job, etag, unchanged = parse_job(response), header(response, "etag"), 0
            if job != deadline.last and on_progress is not None:
                yield Call(on_progress, job)
            deadline.last = job
        # After the job's state: a job seen terminal has every partial stored already.
        yield from _read_partials(cfg, job_id, cursor, deadline)
        if job.is_terminal:
            return job
        left = deadline.remaining()
        if left is not None and left <= 0:
            raise deadline.exceeded()
        pause = retry_after(response)
        if pause is None:
            pause = cfg.backoff.ceiling(unchanged + 1)
        pause = min(max(pause, MIN_POLL), cfg.backoff.max_retry_after)
        yield Sleep(deadline.clip(pause))
