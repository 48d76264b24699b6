"""Job routes (HTTP-CONTRACT §2, §3, §5): poll (with ETag and long poll), result download,
cancel, delete and list. Every route is scoped to the caller's principal."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import JSONResponse, Response

from lro.api.auth import Caller, Owner, authenticate
from lro.api.download import result_response
from lro.api.headers import etag_matches, job_etag
from lro.api.links import result_link
from lro.api.problems import problem_responses
from lro.api.quotas import holds
from lro.api.routing import fast_path
from lro.api.schemas import JobList, JobResource
from lro.api.views import (
    JobRenders,
    api_base,
    job_response,
    not_found,
    not_modified,
    visible_job,
    wait_for_job,
    while_connected,
)
from lro.errors import BadRequest, Conflict, NotSupported
from lro.models import Job, ListQuery, Status, utcnow
from lro.resource import job_resource, job_url
from lro.store import CancelOutcome
from lro.store.capabilities import has_flows

if TYPE_CHECKING:
    from lro.runtime import Runtime

MAX_LIMIT = 200

JobId = Annotated[str, Path(description="The job's id, as returned by the submit.")]
IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", description="ETag(s) of a state the client already has."),
]
Wait = Annotated[
    float | None,
    Query(
        ge=0,
        allow_inf_nan=False,
        description="Long poll: hold up to this many seconds (capped by the server) until "
        "the job differs from If-None-Match, or from its state when the request arrived.",
    ),
]

# The job list's filters, shared with the live list (api/joblist.py) so both routes take
# and document exactly the same ones.
StatusFilter = Annotated[
    str | None, Query(description="Comma-separated statuses, e.g. `queued,processing`.")
]
OperationFilter = Annotated[str | None, Query(description="Operation name.")]
TagFilter = Annotated[
    list[str] | None,
    Query(description="Only jobs carrying this tag; repeat it for jobs carrying all."),
]
CreatedAfter = Annotated[
    str | None,
    Query(
        description="RFC 3339: only jobs created after it.",
        json_schema_extra={"format": "date-time"},
    ),
]
CreatedBefore = Annotated[
    str | None,
    Query(
        description="RFC 3339: only jobs created before it.",
        json_schema_extra={"format": "date-time"},
    ),
]
TextFilter = Annotated[
    str | None,
    Query(
        max_length=200,
        description="A job id prefix, or text in the step or the error title (any case).",
    ),
]

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_REDIRECT = {
    "description": "The artifact is in an object store that serves it itself (s3 result "
    "store with redirect=1): fetch it, Range included, from the short-lived Location.",
    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
}
_JOB_HEADERS = {
    "ETag": {"description": "Validator for If-None-Match.", "schema": {"type": "string"}},
    "Retry-After": {
        "description": "On non-terminal answers: seconds until the next poll is worthwhile.",
        "schema": {"type": "integer"},
    },
}


def _conflict(job: Job, action: str) -> Conflict:
    headers = {} if job.is_terminal else {"Retry-After": "1"}
    return Conflict(
        f"Cannot {action} job {job.id!r}: it is {job.status.value}.",
        extensions={"job_status": job.status.value, "job_id": job.id},
        headers=headers,
    )


def parse_statuses(raw: str | None) -> list[Status]:
    if raw is None or not raw.strip():
        return []
    statuses: list[Status] = []
    for part in raw.split(","):
        name = part.strip().lower()
        try:
            statuses.append(Status(name))
        except ValueError:
            raise BadRequest(
                f"Unknown status {part.strip()!r}; use a comma-separated list of "
                + ", ".join(s.value for s in Status)
                + ".",
                extensions={"errors": [{"pointer": "status", "detail": "unknown status"}]},
            ) from None
    return statuses


def parse_instant(raw: str | None, name: str) -> datetime | None:
    """An RFC 3339 time of a list filter; 400 when it is not one (an offset included)."""
    if raw is None or not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise BadRequest(
            f"{name} must be an RFC 3339 time with an offset, e.g. 2026-11-29T10:00:00Z.",
            extensions={"errors": [{"pointer": name, "detail": "not an RFC 3339 time"}]},
        )
    return value


def check_filters(lro: Runtime, tag: list[str] | None, q: str | None, created: bool) -> None:
    """The list filters' own refusals, shared by the list and its live stream: a NUL
    (400) and, on a store without flows, a tag, text or creation-time filter (501)."""
    for name, value in [("q", q or ""), *(("tag", t) for t in tag or [])]:
        if "\x00" in value:  # no job holds one, and PostgreSQL cannot compare it
            raise BadRequest(
                f"{name} must not contain U+0000 (NUL).",
                extensions={"errors": [{"pointer": name, "detail": "NUL"}]},
            )
    if (tag or q or created) and not has_flows(lro.store):
        raise NotSupported(
            "This server's job store cannot filter by tag, text or creation time "
            "(HTTP-CONTRACT §19)."
        )


def add_job_routes(router: APIRouter, lro: Runtime) -> None:
    prefix = lro.settings.api_prefix
    settings = lro.settings

    @router.get(
        f"{prefix}/jobs",
        response_model=None,
        responses={200: {"model": JobList}, **problem_responses(400, 501, 503)},
        operation_id="list_jobs",
        summary="List the caller's jobs, newest first",
        tags=["jobs"],
    )
    async def list_jobs(
        request: Request,
        caller: Owner,
        status: StatusFilter = None,
        operation: OperationFilter = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 50,
        cursor: Annotated[
            str | None, Query(description="`next_cursor` of the previous page.")
        ] = None,
        tag: TagFilter = None,
        created_after: CreatedAfter = None,
        created_before: CreatedBefore = None,
        q: TextFilter = None,
    ) -> Response:
        check_filters(lro, tag, q, bool(created_after or created_before))
        query = ListQuery(
            owner=caller.scope,
            statuses=parse_statuses(status),
            operation=operation or None,
            limit=limit,
            cursor=cursor or None,
            tags=[t for t in tag or [] if t],
            created_after=parse_instant(created_after, "created_after"),
            created_before=parse_instant(created_before, "created_before"),
            text=q or None,
        )
        try:
            page = await lro.store.list_jobs(query, utcnow())
        except (ValueError, OverflowError):
            # OverflowError: a well-formed cursor whose numbers no database column holds
            # (the SQLite driver refuses an integer past 64 bits); it is still not ours.
            raise BadRequest(
                "The cursor is malformed; pass a next_cursor exactly as it was returned.",
                extensions={"errors": [{"pointer": "cursor", "detail": "malformed cursor"}]},
            ) from None
        base = api_base(lro, request)
        body = {
            "items": [
                {
                    **job_resource(job, base),
                    "result_link": await result_link(lro, job, base),
                    # An admin's list mixes principals: say whose each job is.
                    **({"owner": job.owner} if caller.admin else {}),
                }
                for job in page.items
            ],
            "next_cursor": page.next_cursor,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})

    renders = JobRenders()  # polls of an unchanged job share its encoded body

    async def poll(request: Request, job_id: str, caller: Caller, wait: float | None) -> Response:
        # The raw list (ASGI names are lower case), not a Starlette Headers per poll.
        tags = [v.decode("latin-1") for k, v in request.scope["headers"] if k == b"if-none-match"]
        base = api_base(lro, request)
        if wait is not None and wait > 0:
            job = await _long_poll(
                lro, request, job_id, caller, tags, min(wait, settings.max_wait_seconds), base
            )
        else:
            job = await visible_job(lro, job_id, caller)
        if tags:
            etag = job_etag(job, base)
            if etag_matches(tags, etag):
                return not_modified(job, base, etag)
        link = await result_link(lro, job, base)
        return job_response(job, base, link=link, renders=renders)

    async def fast_poll(request: Request) -> Response | None:
        """A poll without query parameters, skipping FastAPI's dependency solving: the
        route's dependencies' work (the router's start, the caller), then `poll`. With a
        query string (`?wait=`, or anything FastAPI would validate) FastAPI answers."""
        if request.scope.get("query_string"):
            return None
        request.state.lro = lro
        await lro.start()
        return await poll(request, request.path_params["job_id"], authenticate(lro, request), None)

    @router.get(
        f"{prefix}/jobs/{{job_id}}",
        response_model=None,
        responses={
            200: {"model": JobResource, "headers": _JOB_HEADERS},
            304: {"description": "Not modified since the given ETag.", "headers": _JOB_HEADERS},
            **problem_responses(400, 404, 410, 503),
        },
        operation_id="get_job",
        summary="Poll a job",
        tags=["jobs"],
    )
    @fast_path(fast_poll)
    async def get_job(
        request: Request,
        job_id: JobId,
        caller: Owner,
        wait: Wait = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        return await poll(request, job_id, caller, wait)

    @router.get(
        f"{prefix}/jobs/{{job_id}}/result",
        response_model=None,
        responses={
            200: {
                "description": "The artifact with its own media type (e.g. text/csv), or "
                "the job's JSON result.",
                "content": {"application/json": {"schema": {}}, "*/*": _BINARY},
            },
            206: {
                "description": "The requested byte range(s) of the artifact.",
                "content": {"*/*": _BINARY},
                "headers": {"Content-Range": {"schema": {"type": "string"}}},
            },
            307: _REDIRECT,
            **problem_responses(404, 409, 410, 416, 503),
        },
        operation_id="get_job_result",
        summary="Download a completed job's result",
        tags=["jobs"],
    )
    async def get_result(
        job_id: JobId,
        caller: Owner,
        range_: Annotated[
            str | None, Header(alias="Range", description="A byte range of the artifact.")
        ] = None,
    ) -> Response:
        return await serve_result(lro, await visible_job(lro, job_id, caller))

    @router.post(
        f"{prefix}/jobs/{{job_id}}/cancel",
        status_code=202,
        response_model=None,
        responses={
            202: {"model": JobResource, "headers": _JOB_HEADERS},
            **problem_responses(404, 409, 410, 503),
        },
        operation_id="cancel_job",
        summary="Cancel a job",
        description="A queued job is cancelled at once; a processing one is asked to stop "
        "and ends `cancelled` when its handler notices. A terminal job answers 409.",
        tags=["jobs"],
    )
    async def cancel_job(request: Request, job_id: JobId, caller: Owner) -> Response:
        await visible_job(lro, job_id, caller)
        cancel = await lro.store.request_cancel(job_id, utcnow(), settings.retention_seconds)
        if cancel is None:
            raise not_found(job_id)
        if cancel.outcome is CancelOutcome.FINISHED:
            raise _conflict(cancel.job, "cancel")
        base = api_base(lro, request)
        location = {"Location": job_url(base, job_id)}
        return job_response(cancel.job, base, status_code=202, headers=location)

    @router.delete(
        f"{prefix}/jobs/{{job_id}}",
        status_code=204,
        response_class=Response,
        responses=problem_responses(404, 409, 410, 503),
        operation_id="delete_job",
        summary="Delete a finished job and its result",
        tags=["jobs"],
    )
    async def delete_job(job_id: JobId, caller: Owner) -> Response:
        await visible_job(lro, job_id, caller)
        deleted = await lro.store.delete_job(job_id)
        if deleted is None:
            raise not_found(job_id)
        if not deleted.deleted:
            raise _conflict(deleted.job, "delete")
        await lro.result_store.delete_job(job_id)
        return Response(status_code=204)


async def serve_result(lro: Runtime, job: Job) -> Response:
    """The result of a completed job: its artifact (Range-capable) or its JSON value."""
    if job.status is not Status.COMPLETED:
        raise _conflict(job, "download the result of")
    ref = job.result_ref
    if ref is None:
        return JSONResponse(job.result, headers={"ETag": job_etag(job, lro.settings.api_prefix)})
    return await result_response(lro.result_store, job, ref)


async def _long_poll(
    lro: Runtime,
    request: Request,
    job_id: str,
    caller: Caller,
    tags: list[str],
    timeout: float,
    base: str,
) -> Job:
    """Hold until the job differs from the client's ETag(s), or from the state at arrival
    when none was given. A terminal job cannot change any more, so it returns at once."""
    baseline: list[str] = list(tags)

    def done(job: Job) -> bool:
        etag = job_etag(job, base)
        if not baseline:
            baseline.append(etag)
        return job.is_terminal or not etag_matches(baseline, etag)

    with holds(lro).hold(lro, caller):
        return await while_connected(request, wait_for_job(lro, job_id, caller, timeout, done=done))
