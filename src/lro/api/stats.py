"""GET {prefix}/stats: how many of the caller's jobs are in each status, per operation.

Scoped like the job list (an admin counts every principal's jobs, anyone else only their
own) and counting the same jobs the list shows (expired ones are left out), so the
dashboard's counts and its table never disagree about what exists. The answer also names
the caller, which is how the dashboard knows whom it signed in as and whether to show
the owner column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from lro.api.auth import Owner
from lro.api.problems import problem_responses
from lro.models import Status, utcnow
from lro.operations import user_operations
from lro.store import JobCount

if TYPE_CHECKING:
    from lro.runtime import Runtime

StatusCounts = dict[Status, int]


class OperationStats(BaseModel):
    operation: str
    total: int = Field(ge=0)
    by_status: StatusCounts = Field(description="Every status, zeros included.")


class Stats(BaseModel):
    """Counts of the unexpired jobs the caller may list."""

    principal: str = Field(description='The caller ("" while auth is off).')
    admin: bool = Field(description="Whether the counts cover every principal's jobs.")
    total: int = Field(ge=0)
    by_status: StatusCounts = Field(description="Every status, zeros included.")
    operations: list[OperationStats] = Field(
        description="Every registered operation, and any other that still has jobs, by name."
    )


def _zeros() -> dict[str, int]:
    return {status.value: 0 for status in Status}


def stats_body(
    principal: str, admin: bool, counts: list[JobCount], operations: list[str]
) -> dict[str, object]:
    """The Stats document from the store's counts; `operations` (the registered ones) are
    listed even without jobs, so a client can offer them as filters."""
    by_operation = {name: _zeros() for name in operations}
    totals = _zeros()
    for c in counts:
        by_operation.setdefault(c.operation, _zeros())[c.status.value] += c.count
        totals[c.status.value] += c.count
    return {
        "principal": principal,
        "admin": admin,
        "total": sum(totals.values()),
        "by_status": totals,
        "operations": [
            {"operation": name, "total": sum(by.values()), "by_status": by}
            for name, by in sorted(by_operation.items())
        ],
    }


def add_stats_routes(router: APIRouter, lro: Runtime) -> None:
    @router.get(
        f"{lro.settings.api_prefix}/stats",
        response_model=None,
        responses={200: {"model": Stats}, **problem_responses(503)},
        operation_id="job_stats",
        summary="Count the caller's jobs per status and operation",
        tags=["jobs"],
    )
    async def job_stats(caller: Owner) -> JSONResponse:
        counts = await lro.store.job_counts(caller.scope, utcnow())
        body = stats_body(caller.principal, caller.admin, counts, user_operations(lro.operations))
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})
