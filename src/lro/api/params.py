"""GET {prefix}/jobs/{job_id}/params: the params a job was submitted with.

The job resource (HTTP-CONTRACT §2) leaves params out on purpose: a poll answers many
times per job, and params can be large. Yet the operator looking at one job (the
dashboard's job page) and the client that lost its copy both need them, so they get a
route of their own, read once. Scoped exactly like the poll (404 for another principal's
job, 410 after expiry); params never change, so there is no ETag logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from lro.api.auth import Owner
from lro.api.problems import problem_responses
from lro.api.views import visible_job

if TYPE_CHECKING:
    from lro.runtime import Runtime


class JobParams(BaseModel):
    job_id: str
    operation: str
    params: Any = Field(description="The params as stored: validated by the operation's model.")


def add_params_routes(router: APIRouter, lro: Runtime) -> None:
    @router.get(
        f"{lro.settings.api_prefix}/jobs/{{job_id}}/params",
        response_model=None,
        responses={200: {"model": JobParams}, **problem_responses(404, 410, 503)},
        operation_id="get_job_params",
        summary="The params a job was submitted with",
        tags=["jobs"],
    )
    async def get_params(
        job_id: Annotated[str, Path(description="The job's id, as returned by the submit.")],
        caller: Owner,
    ) -> JSONResponse:
        job = await visible_job(lro, job_id, caller)
        body = {"job_id": job.id, "operation": job.operation, "params": job.params}
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})
