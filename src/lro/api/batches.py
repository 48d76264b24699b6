"""Batch routes (HTTP-CONTRACT §17): `POST {prefix}/batches` submits up to 1,000 jobs in
one transaction, `GET {prefix}/batches/{batch_id}` shows their counts and overall
progress. The body is read as a submit's is (`api.submit.read_object`), so the
idempotency fingerprint is the canonical request and the same 400/413/415 rules apply;
validation is `lro.batches.submit_batch`, shared with `lro.submit_batch`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from lro.api.auth import Owner
from lro.api.headers import suggest_retry_after
from lro.api.problems import problem_responses
from lro.api.quotas import check_submit
from lro.api.schemas import JobResource
from lro.api.submit import IdempotencyKeyHeader, read_object, request_fingerprint
from lro.api.views import api_base
from lro.batches import MAX_BATCH_JOBS, BatchItem, BatchRequest, submit_batch
from lro.errors import BadRequest, Gone, NotFound, NotSupported, Unprocessable
from lro.models import utcnow
from lro.resource import batch_resource, batch_url, rfc3339
from lro.store import Batch, BatchQuery

if TYPE_CHECKING:
    from lro.runtime import Runtime


class BatchJobIn(BaseModel):
    """One job of a batch request."""

    model_config = ConfigDict(extra="forbid")

    operation: str = Field(description="A registered operation name.")
    params: dict[str, Any] = Field(default_factory=dict)
    ref: str | None = Field(None, description="A name for this job within the batch.")
    priority: int = Field(0, description="Higher runs first.")
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    depends_on: list[str] | None = Field(
        None, description="Refs of earlier jobs of this batch, or ids of your existing jobs."
    )
    dependency_policy: Literal["always"] | None = None


class BatchIn(BaseModel):
    """Body of `POST {prefix}/batches`."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[BatchJobIn] = Field(min_length=1, max_length=MAX_BATCH_JOBS)
    callback_url: str | None = Field(
        None, description="Gets one `batch.completed` webhook when the last job ends."
    )


class _BatchFields(BaseModel):
    """What the batch resource and a listed batch both say."""

    batch_id: str
    status: str = Field(description="`queued`, `processing` or `completed` (every job ended).")
    total: int
    counts: dict[str, int]
    progress_pct: float
    created_at: str
    finished_at: str | None
    expires_at: str | None
    poll_url: str


class BatchResource(_BatchFields):
    """The batch resource (HTTP-CONTRACT §17)."""

    jobs: list[JobResource]


class BatchSummary(_BatchFields):
    """An item of `GET {prefix}/batches`: the batch resource without its jobs (read
    those at its `poll_url`)."""

    owner: str | None = Field(None, description="Whose batch it is: in an admin's list only.")


class BatchList(BaseModel):
    items: list[BatchSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


MAX_LIMIT = 200

BatchId = Annotated[str, Path(description="The batch's id, as returned by its submit.")]

_HEADERS = {
    "Location": {"description": "The batch's poll URL.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds until the next poll.", "schema": {"type": "integer"}},
}


def _retry_after(batch: Batch) -> str:
    elapsed = (utcnow() - batch.created_at).total_seconds()
    return str(
        suggest_retry_after(
            status=batch.status,
            estimate=batch.estimate_seconds,
            elapsed=elapsed,
            progress_pct=batch.progress_pct,
        )
    )


def _items(body: dict[str, Any]) -> list[BatchItem]:
    jobs = body.get("jobs")
    if not isinstance(jobs, list):
        raise Unprocessable(
            'The body must be {"jobs": [{"operation": ..., "params": {...}}, ...]}.',
            extensions={"errors": [{"pointer": "/jobs", "detail": "a list of jobs"}]},
        )
    errors = [
        {"pointer": f"/jobs/{i}", "detail": "a job is a JSON object"}
        for i, job in enumerate(jobs)
        if not isinstance(job, dict)
    ]
    unknown = [
        {"pointer": f"/jobs/{i}/{name}", "detail": "unknown field"}
        for i, job in enumerate(jobs)
        if isinstance(job, dict)
        for name in job
        if name not in BatchJobIn.model_fields
    ]
    extra = [
        {"pointer": f"/{k}", "detail": "unknown field"}
        for k in body
        if k not in BatchIn.model_fields
    ]
    if errors or unknown or extra:
        raise Unprocessable(
            "The batch is not valid, so none of its jobs was stored.",
            extensions={"errors": [*errors, *unknown, *extra]},
        )
    return [BatchItem.from_json(job) for job in jobs]


def add_batch_routes(router: APIRouter, lro: Runtime) -> None:
    prefix = lro.settings.api_prefix

    @router.post(
        f"{prefix}/batches",
        status_code=202,
        response_model=None,
        responses={
            202: {"model": BatchResource, "headers": _HEADERS, "description": "Accepted."},
            **problem_responses(400, 409, 413, 415, 422, 429, 501, 503),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": BatchIn.model_json_schema()}},
            }
        },
        operation_id="submit_batch",
        summary="Submit up to 1,000 jobs at once, all or none",
        tags=["batches"],
    )
    async def submit(
        request: Request, caller: Owner, idempotency_key: IdempotencyKeyHeader = None
    ) -> Response:
        read = await read_object(request, lro, 'The body must be {"jobs": [...]}.')
        items = _items(read.body)
        callback_url = read.body.get("callback_url")
        if callback_url is not None and not isinstance(callback_url, str):
            raise Unprocessable(
                "callback_url must be a URL string.",
                extensions={"errors": [{"pointer": "/callback_url", "detail": "not a string"}]},
            )
        await check_submit(lro, caller, len(items))
        inserted = await submit_batch(
            lro,
            BatchRequest(
                items=items,
                owner=caller.principal,
                callback_url=callback_url,
                idempotency_key=read.idempotency_key,
                fingerprint=request_fingerprint(request, read.idempotency_key, read.body),
            ),
        )
        base = _base(lro, request)
        headers = {"Location": batch_url(base, inserted.batch.id)}
        if not inserted.created:
            headers["Idempotent-Replayed"] = "true"
        headers["Retry-After"] = _retry_after(inserted.batch)
        body = batch_resource(inserted.batch, inserted.jobs, base)
        return JSONResponse(body, 202, headers=headers)

    @router.get(
        f"{prefix}/batches",
        response_model=None,
        responses={200: {"model": BatchList}, **problem_responses(400, 501, 503)},
        operation_id="list_batches",
        summary="List the caller's batches, newest first",
        tags=["batches"],
    )
    async def list_batches(
        request: Request,
        caller: Owner,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 50,
        cursor: Annotated[
            str | None, Query(description="`next_cursor` of the previous page.")
        ] = None,
    ) -> Response:
        batches = lro.store.batches
        if batches is None:
            raise NotSupported("This server's job store does not support batches.")
        try:
            page = await batches.list_batches(
                BatchQuery(owner=caller.scope, limit=limit, cursor=cursor or None), utcnow()
            )
        except (ValueError, OverflowError):  # as GET /jobs: a cursor that is not ours
            raise BadRequest(
                "The cursor is malformed; pass a next_cursor exactly as it was returned.",
                extensions={"errors": [{"pointer": "cursor", "detail": "malformed cursor"}]},
            ) from None
        base = _base(lro, request)
        items = []
        for batch in page.items:
            item = batch_resource(batch, [], base)
            del item["jobs"]
            if caller.admin:  # an admin's list mixes principals: say whose each is
                item["owner"] = batch.owner
            items.append(item)
        body = {"items": items, "next_cursor": page.next_cursor}
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})

    @router.get(
        f"{prefix}/batches/{{batch_id}}",
        response_model=None,
        responses={
            200: {"model": BatchResource, "headers": {"Retry-After": _HEADERS["Retry-After"]}},
            **problem_responses(404, 410, 501, 503),
        },
        operation_id="get_batch",
        summary="Poll a batch: its jobs counted, overall progress",
        tags=["batches"],
    )
    async def get_batch(request: Request, batch_id: BatchId, caller: Owner) -> Response:
        batches = lro.store.batches
        if batches is None:
            raise NotSupported("This server's job store does not support batches.")
        # No batch id holds U+0000, and PostgreSQL cannot compare text holding one.
        batch = None if "\x00" in batch_id else await batches.get_batch(batch_id)
        if batch is None or not caller.sees(batch.owner):
            raise NotFound(f"There is no batch {batch_id!r}.", extensions={"batch_id": batch_id})
        if batch.expires_at is not None and batch.expires_at <= utcnow():
            when = rfc3339(batch.expires_at)
            raise Gone(
                f"Batch {batch_id!r} expired at {when}.",
                extensions={"batch_id": batch_id, "expired_at": when},
            )
        jobs = await batches.batch_jobs(batch_id)
        headers = {"Cache-Control": "no-cache"}
        if batch.unfinished:
            headers["Retry-After"] = _retry_after(batch)
        return JSONResponse(batch_resource(batch, jobs, _base(lro, request)), headers=headers)


def _base(lro: Runtime, request: Request) -> str:
    return api_base(lro, request)
