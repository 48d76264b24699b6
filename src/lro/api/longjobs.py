"""Long-job routes (HTTP-CONTRACT §14): a job's steps and partial results, the retry
(redrive) of an ended job, and bulk cancel / retry, which are jobs themselves.

Everything here rests on the store's long-jobs part; a store without it (`steps is
None`) answers `501` on each route, after the visibility check (a 404 stays a 404).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response

from lro.api.auth import Owner
from lro.api.problems import problem_responses
from lro.api.schemas import JobResource
from lro.api.submit import read_object, submit_and_answer
from lro.api.views import api_base, job_response, not_found, visible_job
from lro.errors import Conflict, NotSupported, Unprocessable
from lro.models import Status, utcnow
from lro.resource import job_url, rfc3339
from lro.store.capabilities import has_flows
from lro.store.steps import RetryOutcome, Steps
from lro.submission import SubmitRequest, validation_problem

if TYPE_CHECKING:
    from lro.runtime import Runtime

MAX_PARTIALS_PAGE = 1000

JobId = Annotated[str, Path(description="The job's id, as returned by the submit.")]


class StepItem(BaseModel):
    name: str
    status: Literal["completed", "failed", "running"]
    attempt: int
    started_at: str
    finished_at: str | None


class StepList(BaseModel):
    items: list[StepItem]


class PartialItem(BaseModel):
    seq: int
    data: Any
    created_at: str


class PartialList(BaseModel):
    items: list[PartialItem]
    next_after: int = Field(description="Pass as `after` to read the partials made since.")


class BulkFilter(BaseModel):
    """Which of the caller's jobs a bulk action takes (every field optional: all of them)."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    operation: str | None = Field(default=None, min_length=1, max_length=200)
    tag: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
        description="Only jobs carrying this tag (one tag, as in the job list's `tag`).",
    )
    created_before: datetime | None = None
    created_after: datetime | None = None

    def statuses(self) -> list[Status]:
        return [] if self.status is None else [self.status]


def steps_or_501(lro: Runtime) -> Steps:
    steps = lro.store.steps
    if steps is None:
        raise NotSupported(
            "This store backend does not keep steps, checkpoints, partial results or "
            "retries (HTTP-CONTRACT §14); run the server on SQLite or PostgreSQL for them."
        )
    return steps


def parse_filter(body: dict[str, Any]) -> BulkFilter:
    try:
        where = BulkFilter.model_validate(body)
    except ValidationError as exc:
        raise validation_problem(exc) from None
    for name in ("created_before", "created_after"):
        value = getattr(where, name)
        if value is not None and value.utcoffset() is None:
            raise Unprocessable(
                f"{name} needs a UTC offset (RFC 3339), e.g. 2026-12-01T10:00:00Z.",
                extensions={"errors": [{"pointer": f"/{name}", "detail": "no offset"}]},
            )
    return where


def add_long_job_routes(router: APIRouter, lro: Runtime) -> None:
    """Register before the job routes: `/jobs/bulk/cancel` must not be read as the
    cancel route of a job called `bulk`."""
    prefix = lro.settings.api_prefix

    for action in ("cancel", "retry"):
        router.add_api_route(
            f"{prefix}/jobs/bulk/{action}",
            _bulk_endpoint(lro, action),
            methods=["POST"],
            status_code=202,
            response_model=None,
            responses={
                202: {"model": JobResource},
                **problem_responses(400, 409, 413, 415, 422, 429, 501, 503),
            },
            operation_id=f"bulk_{action}",
            summary=f"Bulk {action} of the caller's jobs that fit a filter, as a job",
            description=f"Answers 202 with a job of operation `lro.bulk.{action}`: its progress "
            f'counts the jobs handled and its result is `{{"matched", "changed"}}`. '
            "An admin's bulk action takes every principal's jobs.",
            tags=["jobs"],
            openapi_extra={
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": BulkFilter.model_json_schema()}},
                }
            },
        )

    @router.get(
        f"{prefix}/jobs/{{job_id}}/steps",
        response_model=None,
        responses={200: {"model": StepList}, **problem_responses(404, 410, 501, 503)},
        operation_id="job_steps",
        summary="A job's durable steps, in the order first started",
        tags=["jobs"],
    )
    async def job_steps(job_id: JobId, caller: Owner) -> Response:
        await visible_job(lro, job_id, caller)
        records = await steps_or_501(lro).list_steps(job_id)
        items = [
            {
                "name": r.name,
                "status": r.status,
                "attempt": r.attempt,
                "started_at": rfc3339(r.started_at),
                "finished_at": rfc3339(r.finished_at),
            }
            for r in records
        ]
        return JSONResponse({"items": items}, headers={"Cache-Control": "no-cache"})

    @router.get(
        f"{prefix}/jobs/{{job_id}}/partials",
        response_model=None,
        responses={200: {"model": PartialList}, **problem_responses(400, 404, 410, 501, 503)},
        operation_id="job_partials",
        summary="A job's partial results, oldest first",
        tags=["jobs"],
    )
    async def job_partials(
        job_id: JobId,
        caller: Owner,
        after: Annotated[
            int, Query(ge=0, le=2**31 - 1, description="Only partials with a higher seq.")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PARTIALS_PAGE, description="Page size.")] = 100,
    ) -> Response:
        await visible_job(lro, job_id, caller)
        found = await steps_or_501(lro).partials(job_id, after, limit)
        items = [{"seq": p.seq, "data": p.data, "created_at": rfc3339(p.created_at)} for p in found]
        next_after = found[-1].seq if found else after
        body = {"items": items, "next_after": next_after}
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})

    @router.post(
        f"{prefix}/jobs/{{job_id}}/retry",
        status_code=202,
        response_model=None,
        responses={202: {"model": JobResource}, **problem_responses(404, 409, 410, 501, 503)},
        operation_id="retry_job",
        summary="Run a failed or cancelled job again under its id",
        description="The job is queued again with one more attempt; its completed steps "
        "are kept, so it resumes after the last of them. Any other status answers 409.",
        tags=["jobs"],
    )
    async def retry_job(request: Request, job_id: JobId, caller: Owner) -> Response:
        await visible_job(lro, job_id, caller)
        retried = await steps_or_501(lro).retry_job(job_id, utcnow())
        if retried is None:
            raise not_found(job_id)
        job = retried.job
        if retried.outcome is RetryOutcome.CONFLICT:
            raise Conflict(
                f"Cannot retry job {job_id!r}: it is {job.status.value}; only failed or "
                f"cancelled jobs are retried.",
                extensions={"job_status": job.status.value, "job_id": job.id},
                headers={} if job.is_terminal else {"Retry-After": "1"},
            )
        base = api_base(lro, request)
        headers = {"Location": job_url(base, job_id)}
        return job_response(job, base, status_code=202, headers=headers, retry_after=True)


def _bulk_endpoint(lro: Runtime, action: str) -> Any:
    async def bulk(request: Request, caller: Owner) -> Response:
        steps_or_501(lro)
        flows = has_flows(lro.store)
        # An empty body is `{}`: every job of the caller.
        read = await read_object(request, lro, "The body must be a JSON object (a filter).")
        where = parse_filter(read.body)
        if where.tag is not None and not flows:
            raise NotSupported(
                "This server's job store keeps no tags (HTTP-CONTRACT §19): filter by "
                "status, operation, created_before or created_after."
            )
        params = {
            "statuses": [s.value for s in where.statuses()],
            "operation": where.operation,
            "created_before": rfc3339(where.created_before),
            "created_after": rfc3339(where.created_after),
            "tag": where.tag,
            "all_owners": caller.admin,
        }
        req = SubmitRequest(operation=f"lro.bulk.{action}", params=params, internal=True)
        return await submit_and_answer(lro, request, read, req, caller)

    bulk.__name__ = f"bulk_{action}"
    return bulk
