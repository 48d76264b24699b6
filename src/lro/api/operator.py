"""Routes for operators' tools, apart from the API itself: `/healthz` (liveness),
`/readyz` (the store answers), `/metrics` (Prometheus) and `/dashboard`.

They are `lro.operator_router`, so an application that includes `lro.router` in its own
FastAPI app adds them with one more `include_router` (the same prefix puts the dashboard
next to the API it reads), and `create_app` includes them too.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from lro.api.dashboard import add_dashboard_routes
from lro.api.headers import UNAVAILABLE_RETRY_AFTER
from lro.api.metrics import add_metrics_route
from lro.api.problems import problem_response, problem_responses

if TYPE_CHECKING:
    from lro.runtime import Runtime

_log = logging.getLogger("lro.api")


def add_operator_routes(router: APIRouter, lro: Runtime) -> None:
    _add_health_routes(router, lro)
    add_metrics_route(router, lro)
    add_dashboard_routes(router, lro)


def _add_health_routes(router: APIRouter, lro: Runtime) -> None:
    @router.get(
        "/healthz",
        response_model=None,
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
        operation_id="healthz",
        summary="Liveness: the process is up",
        tags=["health"],
    )
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @router.get(
        "/readyz",
        response_model=None,
        responses={
            200: {"content": {"application/json": {"example": {"status": "ready"}}}},
            **problem_responses(503),
        },
        operation_id="readyz",
        summary="Readiness: the store answers",
        tags=["health"],
    )
    async def readyz() -> Response:
        try:
            await lro.start()
            await lro.store.ping()
        except Exception as exc:
            # Readiness reports, it does not fail: any error here means "not ready".
            _log.warning("not ready: %s", exc)
            return problem_response(
                503,
                "The job store cannot be reached.",
                slug="unavailable",
                title="Service unavailable",
                headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
                instance="/readyz",
            )
        return JSONResponse({"status": "ready"})


__all__ = ["add_operator_routes"]
