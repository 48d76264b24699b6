"""A ready-to-serve FastAPI app around an LRO: what `lro serve` runs.

It adds what a bare router cannot: problem+json for every error (including FastAPI's
own 404/405/validation answers and unexpected exceptions), the streaming body limit,
`/healthz` and `/readyz`, the web dashboard at `/dashboard`, and a lifespan that opens
the store and, when asked, runs a worker in the same process. The worker is reached only
through `lro.worker()`, so this package never imports `lro.worker`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response

from lro.api.dashboard import add_dashboard_routes
from lro.api.head import HeadMiddleware
from lro.api.headers import SecurityHeadersMiddleware
from lro.api.http import UNAVAILABLE_RETRY_AFTER
from lro.api.limits import BodyLimitMiddleware
from lro.api.metrics import add_metrics_route, register_process_gauges
from lro.api.problems import install_problem_handlers, problem_response, problem_responses

if TYPE_CHECKING:
    from lro.app import LRO

_log = logging.getLogger("lro.api")


def create_app(lro: LRO, *, embedded_worker: bool = False, **fastapi_kwargs: Any) -> FastAPI:
    """The API app. A `lifespan` passed in `fastapi_kwargs` runs inside lro's own, so the
    store is open for the whole of the caller's start-up and shutdown code."""
    user_lifespan = fastapi_kwargs.pop("lifespan", None)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await lro.start()
        unregister = register_process_gauges(lro)
        worker = None
        dispatcher = lro.dispatcher()
        await dispatcher.start()
        try:
            if embedded_worker:
                worker = lro.worker()
                await worker.start()
            if user_lifespan is None:
                yield
            else:
                async with user_lifespan(app):
                    yield
        finally:
            if worker is not None:
                await worker.stop()
            await dispatcher.stop()
            for remove in unregister:
                remove()
            await lro.stop()

    fastapi_kwargs.setdefault("title", "lro")
    fastapi_kwargs.setdefault(
        "description", "Long-running operations: submit, poll, download, cancel."
    )
    app = FastAPI(lifespan=lifespan, **fastapi_kwargs)
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=lro.settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(HeadMiddleware)  # outermost: everything inside sees the GET
    app.include_router(lro.router)
    _add_health_routes(app, lro)
    add_metrics_route(app, lro)
    add_dashboard_routes(app, lro)
    return app


def _add_health_routes(app: FastAPI, lro: LRO) -> None:
    @app.get(
        "/healthz",
        response_model=None,
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
        operation_id="healthz",
        summary="Liveness: the process is up",
        tags=["health"],
    )
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get(
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


__all__ = ["create_app"]
