"""A ready-to-serve FastAPI app around an LRO: what `lro serve` runs.

lro's routes keep the contract by themselves (api/routing.py); the app adds what only an
app can: problem+json for answers outside lro's routes too (an unknown path, a wrong
method), the body limit and security headers on every route, the operator routes
(`/healthz`, `/readyz`, `/metrics`, `/dashboard`), and a lifespan that opens the store and,
when asked, runs a worker in the same process. The worker is reached only
through `lro.worker()`, so this package never imports `lro.worker`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from lro import tracing
from lro.api.metrics import register_process_gauges
from lro.api.middleware import ContractMiddleware
from lro.api.problems import install_problem_handlers

if TYPE_CHECKING:
    from lro.app import LRO


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
        scheduler = lro.scheduler()
        await scheduler.start()
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
            await scheduler.stop()
            await dispatcher.stop()
            for remove in unregister:
                remove()
            await lro.stop()

    fastapi_kwargs.setdefault("title", "lro")
    fastapi_kwargs.setdefault(
        "description", "Long-running operations: submit, poll, download, cancel."
    )
    # lro.tracing owns OpenTelemetry here (the instrumentation's request spans, which the
    # jobs' spans join; Prometheus has the HTTP metrics): FastAPI's own telemetry is off
    # unless asked for, which also spares every request its provider look-ups (three
    # environment reads, about 7% of a poll's CPU).
    fastapi_kwargs.setdefault("telemetry", {"tracing": False, "metrics": False, "logs": False})
    app = FastAPI(lifespan=lifespan, **fastapi_kwargs)
    install_problem_handlers(app)
    app.add_middleware(ContractMiddleware, max_body_bytes=lro.settings.max_body_bytes)
    lro.router.serve_in(app.router)
    app.include_router(lro.operator_router)
    tracing.instrument_app(app)
    return app


__all__ = ["create_app"]
