"""Shared pieces of the API tests: a small app with three operations, and helpers that
play the worker's part through the store's own verbs (claim, progress, complete, fail), so
job state moves deterministically without a real worker."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field

from lro import LRO, JobContext, Settings
from lro.models import (
    Completion,
    ErrorDetail,
    Failure,
    Job,
    Lease,
    ListQuery,
    ProgressUpdate,
    utcnow,
)
from lro.store import ClaimParams

PREFIX = "/api/v1"


class EchoParams(BaseModel):
    text: str
    count: int = Field(1, ge=1, le=10)


class Address(BaseModel):
    city: str


class ShipParams(BaseModel):
    to: Address
    weight_kg: float = Field(gt=0)


async def echo(ctx: JobContext, params: EchoParams) -> dict[str, Any]:
    """Echo the text back."""
    return {"text": params.text * params.count}


async def ship(ctx: JobContext, params: ShipParams) -> None:
    """Ship a parcel (nested params model, for the OpenAPI test)."""


async def ping(ctx: JobContext) -> str:
    return "pong"


def make_lro(tmp_path: Path, **overrides: Any) -> LRO:
    settings = Settings(
        store_url=overrides.pop("store_url", f"sqlite:///{tmp_path / 'lro.db'}"),
        result_dir=str(tmp_path / "results"),
        max_wait_seconds=overrides.pop("max_wait_seconds", 5),
        max_body_bytes=overrides.pop("max_body_bytes", 4096),
        # Callbacks go to loopback receivers in tests (no DNS in the sandbox).
        webhook_allow_private=overrides.pop("webhook_allow_private", True),
        **overrides,
    )
    app = LRO(settings=settings)
    app.operation("echo", route="/echo", estimated_duration=30)(echo)
    app.operation("ship", route="/ship", estimated_duration=600)(ship)
    app.operation("ping")(ping)
    return app


# -- playing the worker ------------------------------------------------------------------
async def claim(lro: LRO, now: datetime | None = None) -> Job:
    [job] = await lro.store.claim_jobs(
        ClaimParams(worker_id="test-worker", limit=1, lease_seconds=60, now=now or utcnow())
    )
    return job


def lease(job: Job) -> Lease:
    assert job.lease_token is not None
    return Lease(job.id, job.lease_token)


async def progress(lro: LRO, job: Job, pct: float, step: str | None = None) -> None:
    [held] = await lro.store.set_progress([ProgressUpdate(lease(job), pct, step)], utcnow())
    assert held


async def complete(
    lro: LRO, job: Job, result: Any = None, *, retention: float = 3600, **kw: Any
) -> Job:
    [done] = await lro.store.complete_jobs(
        [Completion(lease(job), result=result, **kw)], utcnow(), retention
    )
    assert done is not None
    return done


async def fail(lro: LRO, job: Job, *, retention: float = 3600) -> Job:
    error = ErrorDetail(
        type="https://lro.dev/problems/job-error",
        title="The job failed",
        detail="bad input",
        code="bad_input",
        retryable=False,
        attempts=job.attempt,
    )
    [failed] = await lro.store.fail_jobs([Failure(lease(job), error)], utcnow(), retention)
    assert failed is not None
    return failed


async def count_jobs(lro: LRO) -> int:
    page = await lro.store.list_jobs(ListQuery(limit=200), utcnow())
    return len(page.items)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for key in ("type", "title", "detail"):
        assert isinstance(body[key], str) and body[key]
    return body
