"""GET {prefix}/operations: every registered operation with its limits and live counts
(HTTP-CONTRACT §13).

Why it is here and not in /stats: a client choosing when to submit (or an operator
reading the dashboard) needs the declared limits beside the queue they shape. Counts are
scoped like /stats (an admin's cover everyone, anyone else's only their own jobs), and
`limits_enforced` says whether this store enforces the limits at all: on a store without
`Store.workload` an app that declares them does not start, so it is false only for
operations without limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from lro.api.auth import Owner
from lro.api.problems import problem_responses
from lro.api.views import api_base
from lro.models import Status, utcnow
from lro.store.base import workload_of

if TYPE_CHECKING:
    from lro.operations import Operation
    from lro.runtime import Runtime


class RateLimit(BaseModel):
    limit: int = Field(ge=1, description="Starts allowed per period.")
    period_seconds: float = Field(gt=0)


class OperationInfo(BaseModel):
    operation: str
    queue: str
    route: str | None = Field(description="Its submit route, if it has one.")
    estimated_duration_seconds: float | None
    max_attempts: int
    timeout_seconds: float | None
    concurrency: int | None
    key_concurrency: int | None
    rate_limit: RateLimit | None
    fair: bool
    max_queued: int | None
    queued: int = Field(ge=0)
    processing: int = Field(ge=0)
    oldest_queued_age_seconds: float | None = Field(
        description="How long the oldest due, queued job has waited (null: none)."
    )
    limits_enforced: bool = Field(
        description="Whether this store enforces workload limits in its claim."
    )


class Operations(BaseModel):
    items: list[OperationInfo]


def _item(
    op: Operation, route: str | None, counts: dict[str, int], age: float | None, enforced: bool
) -> dict[str, object]:
    limits = op.limits
    rate = limits.rate_limit
    return {
        "operation": op.name,
        "queue": limits.queue,
        "route": route,
        "estimated_duration_seconds": op.estimated_duration,
        "max_attempts": op.max_attempts,
        "timeout_seconds": op.timeout,
        "concurrency": limits.concurrency,
        "key_concurrency": limits.key_concurrency,
        "rate_limit": None if rate is None else {"limit": rate[0], "period_seconds": rate[1]},
        "fair": limits.fair,
        "max_queued": limits.max_queued,
        "queued": counts.get(Status.QUEUED.value, 0),
        "processing": counts.get(Status.PROCESSING.value, 0),
        "oldest_queued_age_seconds": age,
        "limits_enforced": enforced,
    }


def add_operations_routes(router: APIRouter, lro: Runtime) -> None:
    @router.get(
        f"{lro.settings.api_prefix}/operations",
        response_model=None,
        responses={200: {"model": Operations}, **problem_responses(503)},
        operation_id="list_operations",
        summary="List the operations with their limits and the caller's live counts",
        tags=["operations"],
    )
    async def list_operations(request: Request, caller: Owner) -> JSONResponse:
        now = utcnow()
        store = lro.store
        counts: dict[str, dict[str, int]] = {}
        for c in await store.job_counts(caller.scope, now):
            counts.setdefault(c.operation, {})[c.status.value] = c.count
        workload = workload_of(store)
        if workload is not None:
            oldest = await workload.oldest_queued(caller.scope, now)
        elif caller.scope is None:
            oldest = await store.oldest_queued(now)
        else:
            oldest = {}  # no scoped figure on this store: null rather than someone else's
        base = api_base(lro, request)
        items = []
        for name, op in sorted(lro.operations.items()):
            due = oldest.get(name)
            age = None if due is None else max(0.0, (now - due).total_seconds())
            route = None if op.route is None else base + op.route
            items.append(_item(op, route, counts.get(name, {}), age, workload is not None))
        return JSONResponse({"items": items}, headers={"Cache-Control": "no-cache"})
