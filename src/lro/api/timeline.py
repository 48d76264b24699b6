"""GET {prefix}/stats/timeline: the dashboard's throughput and duration charts (HTTP-
CONTRACT §18), from the store so every API process answers the same.

The window ends at the next bucket boundary of the clock (whole minutes for the default
60 s buckets), so two readers a second apart see the same buckets and the last one is the
minute in progress. Every bucket of the window is listed, empty ones with zeros, so a
chart needs no gap logic. Scoped like /stats: an admin's figures cover everyone, anyone
else's only their own jobs. Bad query parameters are a 400, as on the job list; a store
without the timeline part (Redis) answers 501.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from lro.api.auth import Owner
from lro.api.problems import problem_responses
from lro.errors import BadRequest, NotSupported
from lro.models import utcnow
from lro.resource import rfc3339
from lro.store.timeline import TimelineBucket, timeline_of

if TYPE_CHECKING:
    from lro.runtime import Runtime

MAX_BUCKETS = 1440


class Bucket(BaseModel):
    start: str = Field(description="RFC 3339: the bucket covers [start, start + bucket).")
    completed: int = Field(ge=0)
    failed: int = Field(ge=0)
    cancelled: int = Field(ge=0)
    p50_seconds: float | None = Field(description="Nearest-rank median of completed jobs.")
    p95_seconds: float | None


class Timeline(BaseModel):
    window_seconds: int
    bucket_seconds: int
    since: str
    until: str
    buckets: list[Bucket]


def window_end(now: datetime, bucket: int) -> datetime:
    epoch = now.timestamp()
    return datetime.fromtimestamp(math.floor(epoch / bucket) * bucket + bucket, UTC)


def timeline_body(
    since: datetime, until: datetime, bucket: int, found: list[TimelineBucket]
) -> dict[str, object]:
    by_index = {b.index: b for b in found}
    buckets = []
    for index in range(round((until - since).total_seconds()) // bucket):
        b = by_index.get(index, TimelineBucket(index, 0, 0, 0, None, None))
        buckets.append(
            {
                "start": rfc3339(since + timedelta(seconds=index * bucket)),
                "completed": b.completed,
                "failed": b.failed,
                "cancelled": b.cancelled,
                "p50_seconds": b.p50_seconds,
                "p95_seconds": b.p95_seconds,
            }
        )
    return {
        "window_seconds": round((until - since).total_seconds()),
        "bucket_seconds": bucket,
        "since": rfc3339(since),
        "until": rfc3339(until),
        "buckets": buckets,
    }


def add_timeline_routes(router: APIRouter, lro: Runtime) -> None:
    @router.get(
        f"{lro.settings.api_prefix}/stats/timeline",
        response_model=None,
        responses={200: {"model": Timeline}, **problem_responses(400, 501, 503)},
        operation_id="job_timeline",
        summary="Jobs finished per bucket, with p50/p95 durations, over a recent window",
        tags=["jobs"],
    )
    async def job_timeline(
        caller: Owner,
        window: Annotated[int, Query(ge=60, le=86_400, description="Seconds back.")] = 3600,
        bucket: Annotated[int, Query(ge=10, le=3600, description="Bucket seconds.")] = 60,
    ) -> JSONResponse:
        part = timeline_of(lro.store)
        if part is None:
            raise NotSupported(
                "This store backend keeps no timeline of finished jobs; run the server "
                "on SQLite or PostgreSQL for the throughput and duration charts."
            )
        if window % bucket:
            raise BadRequest(
                f"window ({window} s) must be a whole number of buckets ({bucket} s).",
                extensions={"errors": [{"pointer": "/query/window", "detail": "not a multiple"}]},
            )
        if window // bucket > MAX_BUCKETS:
            raise BadRequest(
                f"window / bucket is {window // bucket}; at most {MAX_BUCKETS} buckets.",
                extensions={"errors": [{"pointer": "/query/bucket", "detail": "too small"}]},
            )
        until = window_end(utcnow(), bucket)
        since = until - timedelta(seconds=window)
        found = await part.finished_buckets(caller.scope, since, until, bucket)
        return JSONResponse(
            timeline_body(since, until, bucket, found), headers={"Cache-Control": "no-cache"}
        )
