"""Server-Sent Events for one job (HTTP-CONTRACT §4).

Each event's id is the job's version, which the store bumps once per committed change, so
ids are strictly increasing per job and `Last-Event-ID` names an exact point in the job's
event log: a reconnecting client gets the changes after it, none lost or repeated. The
framing, heartbeat comments and disconnect detection are sse-starlette's; the stream is
fed by the job's feed (lro.feeds), so watchers of a job share one read per change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Message, Send

from lro.api.auth import Caller, Owner
from lro.api.problems import problem_responses
from lro.api.quotas import holds
from lro.api.schemas import JobResource, inline_schema
from lro.api.views import RECHECK_SECONDS, api_base, visible_job
from lro.feeds import Snapshot
from lro.models import TERMINAL, Job, Status, utcnow
from lro.resource import job_resource
from lro.store.base import JobEvent

if TYPE_CHECKING:
    from lro.runtime import Runtime

SEND_TIMEOUT_SECONDS = 30.0

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One event of the stream (`itemSchema`, as FastAPI documents its own SSE "
    "routes): its id, its name and the job resource as of that change.",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "Strictly increasing per job; send it back as Last-Event-ID.",
        },
        "event": {
            "type": "string",
            "enum": ["status", "progress", "partial", "completed", "failed", "cancelled"],
        },
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "The job resource as of that change; for `partial` events "
            '`{"seq", "data"}`: one of the job\'s partial results (HTTP-CONTRACT §14).',
            "contentSchema": inline_schema(JobResource),
        },
    },
}
"""What each event carries. Not a `schema` of the whole body: a client (or a fuzzer) reads
a stream event by event, and the body of an unfinished job's stream never ends."""


def parse_last_event_id(raw: str | None) -> int | None:
    """A malformed Last-Event-ID is treated as absent, as the contract says."""
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isdecimal() or len(raw) > 18:
        return None
    return int(raw)


def event_name(status: Status, kind: str) -> str:
    if kind == PARTIAL:
        return PARTIAL
    if status in TERMINAL:
        return status.value
    return "progress" if kind == "progress" else "status"


def resource_at(job: Job, event: JobEvent, prefix: str) -> dict[str, Any]:
    """The job resource as of `event`: the current resource with the event's own fields.

    Events record status, progress, step and attempt; what they do not record (result,
    error, finish time) belongs to the terminal state only, so it is cleared for the
    earlier events of a replay rather than shown before it happened.
    """
    body = job_resource(job, prefix)
    if event.version == job.version:
        return body
    body["status"] = event.status.value
    body["progress_pct"] = 100 if event.status is Status.COMPLETED else event.progress_pct
    body["step"] = event.step
    body["attempt"] = event.attempt
    body["updated_at"] = event.at.isoformat().replace("+00:00", "Z")
    if event.status not in TERMINAL:
        for key in ("finished_at", "expires_at", "result_url", "result", "error"):
            body[key] = None
    return body


class StreamResponse(EventSourceResponse):
    """sse-starlette's response, each send bounded by asyncio.timeout instead of an anyio
    cancel scope: entering and leaving that scope (with its task and library look-ups)
    cost more than the send itself, a third of an API process's CPU with 1,000 streams
    at 2,000 events a second. The same contract: a send that does not finish within
    `send_timeout` ends the stream with SendTimeoutError. (Where sse-starlette has no
    such hook, its own per-send timeout applies unchanged.)"""

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        try:
            async with asyncio.timeout(self.send_timeout):
                await send(message)
        except TimeoutError:
            self._send_interrupted = True
            raise SendTimeoutError() from None
        except BaseException:
            self._send_interrupted = True
            raise


PARTIAL = "partial"
"""The kind (and SSE event name) of a partial result's event: `data` is `{"seq", "data"}`."""


PING = b": ping\r\n\r\n"
"""The heartbeat comment, sent by the stream itself (not a ping task per stream)."""


def frame(version: int, name: str, data: str) -> bytes:
    """One encoded SSE event, as sse-starlette's ServerSentEvent would encode it. `data`
    is compact JSON, which never holds a line break (json.dumps escapes them)."""
    return f"id: {version}\r\nevent: {name}\r\ndata: {data}\r\n\r\n".encode()


async def _render_partials(lro: Runtime, snapshot: Snapshot, events: list[JobEvent]) -> None:
    """Read the partials these events name, once per snapshot for all followers."""
    steps = lro.store.steps
    wanted = [
        e.version
        for e in events
        if e.kind == PARTIAL and (e.version, PARTIAL, "") not in snapshot.rendered
    ]
    if steps is None or not wanted:
        return
    for p in await steps.partials_at(events[0].job_id, wanted):
        text = json.dumps({"seq": p.seq, "data": p.data}, separators=(",", ":"))
        snapshot.rendered[(p.version, PARTIAL, "")] = frame(p.version, PARTIAL, text)


def _frame(snapshot: Snapshot, job: Job, event: JobEvent | None, base: str) -> bytes:
    """The event's frame, rendered once per snapshot for all of the job's followers that
    reach the API under the same base path (nearly always all of them)."""
    if event is None:
        version, name = job.version, event_name(job.status, "status")
    else:
        version, name = event.version, event_name(event.status, event.kind)
    key = (version, name, base)
    encoded = snapshot.rendered.get(key)
    if encoded is None:
        body = job_resource(job, base) if event is None else resource_at(job, event, base)
        encoded = frame(version, name, json.dumps(body, separators=(",", ":")))
        snapshot.rendered[key] = encoded
    return encoded


async def job_stream(
    lro: Runtime,
    job_id: str,
    caller: Caller,
    cursor: int | None,
    release: Callable[[], None],
    prefix: str,
    heartbeat: float,
) -> AsyncIterator[bytes]:
    """Current state first (without a cursor), then every change after the cursor, until
    the terminal event; ends early when the job is deleted or expires meanwhile. `prefix`
    is the API's base path for this client (api_base). A heartbeat comment goes out every
    `heartbeat` seconds, from this loop: a ping task per stream (sse-starlette's) cost a
    task, a cancel scope and a lock of memory for each of thousands of open streams."""
    loop = asyncio.get_running_loop()
    with contextlib.ExitStack() as stack:
        stack.callback(release)  # the stream's place under the caps, however it ends
        sub = stack.enter_context(lro.hub.feeds.subscribe(job_id, cursor))
        next_ping = recheck_at = loop.time()
        next_ping += heartbeat
        recheck_at += RECHECK_SECONDS
        while True:
            now = loop.time()
            if now >= next_ping:
                next_ping = now + heartbeat
                yield PING
            if now >= recheck_at:  # no change heard for a while: make sure none was missed
                recheck_at = now + RECHECK_SECONDS
                sub.feed.refresh()
            snapshot = await sub.next(min(next_ping, recheck_at) - now)
            if snapshot is None:
                continue
            recheck_at = loop.time() + RECHECK_SECONDS
            job = snapshot.job
            if job is None or not caller.sees(job.owner) or job.is_expired(utcnow()):
                return
            if sub.cursor is None or sub.cursor > job.version:
                sub.cursor = job.version
                yield _frame(snapshot, job, None, prefix)
                if job.is_terminal:
                    return
                continue
            events = await sub.events_since_cursor(snapshot)
            await _render_partials(lro, snapshot, events)
            for event in events:
                sub.cursor = event.version
                if event.kind == PARTIAL:
                    encoded = snapshot.rendered.get((event.version, PARTIAL, ""))
                    if encoded is not None:  # None: deleted with its job meanwhile
                        yield encoded
                    continue
                yield _frame(snapshot, job, event, prefix)
                if event.status in TERMINAL:
                    return


async def _released(release: Callable[[], None]) -> None:
    release()


def add_stream_routes(router: APIRouter, lro: Runtime) -> None:
    prefix = lro.settings.api_prefix

    @router.get(
        f"{prefix}/jobs/{{job_id}}/events",
        response_model=None,
        responses={
            200: {
                "description": "A stream of the job's changes; closes after the terminal event.",
                "content": {"text/event-stream": {"itemSchema": EVENT_SCHEMA}},
            },
            204: {"description": "The client already has the job's terminal event."},
            **problem_responses(404, 410, 503),
        },
        operation_id="job_events",
        summary="Follow a job with Server-Sent Events",
        tags=["jobs"],
    )
    async def job_events(
        request: Request,
        job_id: Annotated[str, Path(description="The job's id, as returned by the submit.")],
        caller: Owner,
        last_event_id: Annotated[
            str | None,
            Header(
                alias="Last-Event-ID",
                description="Resume after this event id; a malformed one is ignored.",
            ),
        ] = None,
    ) -> Response:
        job = await visible_job(lro, job_id, caller)  # 404 / 410 as a problem, not a stream
        cursor = parse_last_event_id(last_event_id)
        if cursor is not None and cursor > job.version:
            cursor = None  # an id this job never had: start over with the current state
        if cursor is not None and job.is_terminal and cursor >= job.version:
            # Nothing is left to send. 204 also tells a browser EventSource to stop
            # reconnecting, where an empty 200 stream would be retried forever.
            return Response(status_code=204)
        release = holds(lro).acquire(lro, caller)
        return StreamResponse(
            job_stream(
                lro,
                job_id,
                caller,
                cursor,
                release,
                api_base(lro, request),
                lro.settings.sse_heartbeat_seconds,
            ),
            headers=STREAM_HEADERS,
            ping=0,  # the stream sends its own heartbeats (job_stream)
            # A client that stops reading must not pin the stream (and its memory) forever.
            send_timeout=SEND_TIMEOUT_SECONDS,
            # Also releases the hold when the generator never started (an early disconnect,
            # a HEAD request); release() is idempotent. Wrapped in a coroutine: starlette
            # runs a plain function in a worker thread, a thread hop per closed stream.
            background=BackgroundTask(_released, release),
        )
