"""GET {prefix}/workers: the live worker processes (HTTP-CONTRACT §18).

Read from the store's worker registry, so every API process lists the same workers,
those of other machines included. With API keys configured it needs an admin's key, as
`/metrics` does: hosts, pids and what each worker runs describe the whole deployment,
not the caller's jobs. A worker that stops heart-beating drops out within 2 x the lease
(`rules.workers_seen_after`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from lro.api.auth import ANONYMOUS, Owner
from lro.api.problems import problem_responses
from lro.errors import Forbidden, NotSupported
from lro.models import utcnow
from lro.resource import rfc3339
from lro.store.base import WorkerInfo
from lro.store.rules import workers_seen_after

if TYPE_CHECKING:
    from lro.runtime import Runtime


class WorkerItem(BaseModel):
    worker_id: str
    host: str
    pid: int
    queues: list[str] = Field(description="The queues it serves.")
    operations: list[str] = Field(description="The operations it runs.")
    concurrency: int = Field(ge=1, description="Its job slots.")
    busy: int = Field(ge=0, description="Slots running a job at its last heartbeat.")
    started_at: datetime
    last_seen_at: datetime = Field(description="Its last heartbeat.")


class WorkerList(BaseModel):
    items: list[WorkerItem] = Field(description="Live workers, oldest first.")


def worker_item(worker: WorkerInfo) -> dict[str, object]:
    return {
        "worker_id": worker.worker_id,
        "host": worker.host,
        "pid": worker.pid,
        "queues": list(worker.queues),
        "operations": list(worker.operations),
        "concurrency": worker.concurrency,
        "busy": worker.busy,
        "started_at": rfc3339(worker.started_at),
        "last_seen_at": rfc3339(worker.last_seen_at),
    }


def add_worker_routes(router: APIRouter, lro: Runtime) -> None:
    @router.get(
        f"{lro.settings.api_prefix}/workers",
        response_model=None,
        responses={200: {"model": WorkerList}, **problem_responses(403, 404, 503)},
        operation_id="list_workers",
        summary="List the live worker processes (an admin's view)",
        tags=["operator"],
    )
    async def list_workers(caller: Owner) -> JSONResponse:
        if not caller.admin and caller.principal != ANONYMOUS:
            raise Forbidden("The worker list describes the whole deployment: use an admin's key.")
        registry = lro.store.workers
        if registry is None:
            raise NotSupported(
                "This server's job store keeps no worker registry (HTTP-CONTRACT §19)."
            )
        now = utcnow()
        workers = await registry.live(workers_seen_after(now, lro.settings.lease_seconds))
        body = {"items": [worker_item(w) for w in workers]}
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})
