"""Webhook deliveries of a job (HTTP-CONTRACT §8): what was sent where, every attempt with
its status code, duration and error, and a way to send one again.

A delivery is reachable only through its job, so the job's visibility rules (404 for
unknown or foreign jobs, 410 for expired ones) cover deliveries too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from lro.api.auth import Owner
from lro.api.problems import problem_responses
from lro.api.views import visible_job
from lro.deliveries import Delivery, DeliveryStatus
from lro.errors import NotFound
from lro.models import utcnow
from lro.resource import rfc3339

if TYPE_CHECKING:
    from lro.runtime import Runtime


class AttemptView(BaseModel):
    attempt: int = Field(description="1-based attempt number.")
    at: str = Field(json_schema_extra={"format": "date-time"})
    status_code: int | None = Field(description="The receiver's HTTP status; null if none.")
    duration_ms: float
    error: str | None = Field(description="Why the attempt failed; null when delivered.")


class DeliveryView(BaseModel):
    """One webhook message of a job, sent until delivered or given up."""

    id: str = Field(description="The webhook-id header: the same on every attempt.")
    job_id: str
    type: str = Field(description="job.completed, job.failed or job.cancelled.")
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: str | None = Field(json_schema_extra={"format": "date-time"})
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    delivered_at: str | None = Field(json_schema_extra={"format": "date-time"})
    last_status_code: int | None
    last_error: str | None
    history: list[AttemptView]


class DeliveryList(BaseModel):
    items: list[DeliveryView]


def delivery_body(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "job_id": d.job_id,
        "type": d.event_type,
        "url": d.url,
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": (
            rfc3339(d.next_attempt_at) if d.status is DeliveryStatus.PENDING else None
        ),
        "created_at": rfc3339(d.created_at),
        "delivered_at": rfc3339(d.delivered_at),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "history": [
            {
                "attempt": a.attempt,
                "at": rfc3339(a.at),
                "status_code": a.status_code,
                "duration_ms": a.duration_ms,
                "error": a.error,
            }
            for a in d.history
        ],
    }


JobId = Annotated[str, Path(description="The job's id, as returned by the submit.")]


def add_delivery_routes(router: APIRouter, lro: Runtime) -> None:
    prefix = lro.settings.api_prefix

    @router.get(
        f"{prefix}/jobs/{{job_id}}/deliveries",
        response_model=None,
        responses={200: {"model": DeliveryList}, **problem_responses(404, 410, 503)},
        operation_id="list_deliveries",
        summary="A job's webhook deliveries and their attempts",
        tags=["webhooks"],
    )
    async def list_deliveries(job_id: JobId, caller: Owner) -> JSONResponse:
        await visible_job(lro, job_id, caller)
        items = await lro.store.outbox.list_deliveries(job_id)
        return JSONResponse(
            {"items": [delivery_body(d) for d in items]}, headers={"Cache-Control": "no-cache"}
        )

    @router.post(
        f"{prefix}/jobs/{{job_id}}/deliveries/{{delivery_id}}/retry",
        response_model=None,
        status_code=202,
        responses={202: {"model": DeliveryView}, **problem_responses(404, 410, 503)},
        operation_id="retry_delivery",
        summary="Send a webhook delivery again now",
        tags=["webhooks"],
    )
    async def retry_delivery(
        job_id: JobId,
        delivery_id: Annotated[str, Path(description="The delivery's id (its webhook-id).")],
        caller: Owner,
    ) -> JSONResponse:
        await visible_job(lro, job_id, caller)
        delivery = await lro.store.outbox.retry_delivery(job_id, delivery_id, utcnow())
        if delivery is None:
            raise NotFound(
                f"Job {job_id!r} has no webhook delivery {delivery_id!r}.",
                extensions={"job_id": job_id, "delivery_id": delivery_id},
            )
        lro.hub.wake_dispatchers()
        return JSONResponse(delivery_body(delivery), status_code=202)
