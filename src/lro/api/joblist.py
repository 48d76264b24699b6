"""The live job list: `GET /api/v1/jobs/events`, Server-Sent Events of the changes to the
jobs `GET /api/v1/jobs` would list with the same filters, scoped the same way.

There is no sequence over all of a caller's jobs to resume from (a job's event ids are
per job), so the stream does not pretend to resume: every connection starts with a
`sync` event, after which the client reads its page of the list (and may drop what it
held); every change committed after the `sync` arrives as a `job` event with the job's
latest state, or a `removed` event when a job the list may show leaves it. A job can come
both with the page and on the stream; the later `updated_at` wins. Changes are coalesced
per job and bounded per second by the process's fan-out (lro.listfeed); a storm is told
as another `sync`.

A list may stay open for hours, so its key is checked again on every wake-up (at least
every few seconds): a key taken out of LRO_API_KEYS ends the stream, and the client's
reconnection gets the 401. (An app with its own `principal` dependency is not asked
again: lro cannot re-run it outside a request.)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from sse_starlette import ServerSentEvent
from starlette.background import BackgroundTask
from starlette.responses import Response

from lro.api.auth import Caller, Owner, authenticate, principal
from lro.api.jobs import (
    CreatedAfter,
    CreatedBefore,
    OperationFilter,
    StatusFilter,
    TagFilter,
    TextFilter,
    check_filters,
    parse_instant,
    parse_statuses,
)
from lro.api.links import result_link
from lro.api.problems import problem_responses
from lro.api.quotas import holds
from lro.api.schemas import JobResource, inline_schema
from lro.api.stream import SEND_TIMEOUT_SECONDS, STREAM_HEADERS, StreamResponse
from lro.api.views import RECHECK_SECONDS, api_base
from lro.errors import Unauthorized
from lro.listfeed import ListFilter, ListSubscription
from lro.resource import job_resource

if TYPE_CHECKING:
    from lro.runtime import Runtime

RETRY_MS = 2000
"""The reconnection delay the stream asks for (`retry:`)."""

LIST_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One event of the live list: `sync` (read the list again: sent first "
    "on every connection, and instead of a storm of changes), `job` (the job as it is "
    'now, shaped like an item of GET /jobs) or `removed` (`{"job_id"}`: it left the list).',
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["sync", "job", "removed"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": 'For `job` the job resource; for `removed` `{"job_id"}`; for '
            '`sync` `{"reason": "connected" | "overflow"}`.',
            "contentSchema": {
                "anyOf": [
                    inline_schema(JobResource),
                    {
                        "type": "object",
                        "required": ["job_id"],
                        "properties": {"job_id": {"type": "string"}},
                    },
                    {
                        "type": "object",
                        "required": ["reason"],
                        "properties": {"reason": {"enum": ["connected", "overflow"]}},
                    },
                ]
            },
        },
    },
}


def still_allowed(lro: Runtime, request: Request, caller: Caller) -> Callable[[], bool]:
    """Whether the request's key still names `caller` (lro's own keys only)."""
    overrides = getattr(request.app, "dependency_overrides", {})
    if principal in overrides:
        return lambda: True

    def check() -> bool:
        try:
            return authenticate(lro, request) == caller
        except Unauthorized:
            return False

    return check


def _sync(reason: str) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps({"reason": reason}), event="sync", retry=RETRY_MS)


async def list_stream(
    lro: Runtime,
    flt: ListFilter,
    caller: Caller,
    release: Callable[[], None],
    base: str,
    allowed: Callable[[], bool],
) -> AsyncIterator[ServerSentEvent]:
    """`sync` first, then the list's changes until the client leaves, the hub stops or
    the caller's key stops being valid."""
    with contextlib.ExitStack() as stack:
        stack.callback(release)
        sub: ListSubscription = stack.enter_context(lro.hub.lists.subscribe(flt))
        yield _sync("connected")
        while True:
            batch = await sub.next(RECHECK_SECONDS)
            if not allowed():
                return
            if batch is None:  # quiet: sse-starlette's pings keep the connection alive
                continue
            if batch.closed:
                return
            if batch.resync:
                yield _sync("overflow")
            for item in batch.items:
                if isinstance(item, str):
                    yield ServerSentEvent(data=json.dumps({"job_id": item}), event="removed")
                    continue
                body = {
                    **job_resource(item, base),
                    "result_link": await result_link(lro, item, base),
                    **({"owner": item.owner} if caller.admin else {}),
                }
                sub.sent(item.id)
                yield ServerSentEvent(data=json.dumps(body, separators=(",", ":")), event="job")


def add_list_stream_routes(router: APIRouter, lro: Runtime) -> None:
    """Before the job routes: `/jobs/events` must not be taken for `/jobs/{job_id}`."""
    prefix = lro.settings.api_prefix

    @router.get(
        f"{prefix}/jobs/events",
        response_model=None,
        responses={
            200: {
                "description": "The list's changes, until the client leaves.",
                "content": {"text/event-stream": {"itemSchema": LIST_EVENT_SCHEMA}},
            },
            **problem_responses(400, 501, 503),
        },
        operation_id="job_list_events",
        summary="Follow the caller's job list with Server-Sent Events",
        description="Takes the filters of `GET /jobs` (not `limit` or `cursor`: the "
        "stream is not paged). Sends `sync` first; read the list then.",
        tags=["jobs"],
    )
    async def job_list_events(
        request: Request,
        caller: Owner,
        status: StatusFilter = None,
        operation: OperationFilter = None,
        tag: TagFilter = None,
        created_after: CreatedAfter = None,
        created_before: CreatedBefore = None,
        q: TextFilter = None,
    ) -> Response:
        check_filters(lro, tag, q, bool(created_after or created_before))
        flt = ListFilter(
            owner=caller.scope,
            statuses=frozenset(parse_statuses(status)),
            operation=operation or None,
            tags=tuple(t for t in tag or [] if t),
            created_after=parse_instant(created_after, "created_after"),
            created_before=parse_instant(created_before, "created_before"),
            text=q.lower() if q else None,
        )
        release = holds(lro).acquire(lro, caller)
        return StreamResponse(
            list_stream(
                lro,
                flt,
                caller,
                release,
                api_base(lro, request),
                still_allowed(lro, request, caller),
            ),
            headers=STREAM_HEADERS,
            ping=lro.settings.sse_heartbeat_seconds,
            send_timeout=SEND_TIMEOUT_SECONDS,
            background=BackgroundTask(release),
        )
