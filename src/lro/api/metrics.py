"""`GET /metrics`: Prometheus's text format (HTTP-CONTRACT §10; what is in it: lro.metrics).

With API keys configured it needs an admin principal's key (Prometheus sends it with
`authorization: {credentials: <key>}` in the scrape config): the store's figures cover
every principal's jobs. Without keys it is open, like the rest of a local server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from lro.api.auth import ANONYMOUS, auth_dependencies, authenticate, unauthorized_response
from lro.api.problems import problem_responses
from lro.api.quotas import holds
from lro.errors import Forbidden
from lro.models import utcnow
from lro.operations import user_operations

if TYPE_CHECKING:
    from lro.runtime import Runtime

_log = logging.getLogger("lro.api")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The classic text format, which every Prometheus (and scraper) reads; what
prometheus_client writes by default is compatible with it."""

EXAMPLE = """# HELP lro_jobs Jobs in the store by operation and status (all processes).
# TYPE lro_jobs gauge
lro_jobs{operation="reports.generate",status="queued"} 3.0
"""


def add_metrics_route(app: APIRouter, lro: Runtime) -> None:
    responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/plain": {"schema": {"type": "string"}, "example": EXAMPLE}}},
    }
    dependencies = auth_dependencies(lro)
    if dependencies:  # keys configured: say which header to send, and what else can come
        responses.update({401: unauthorized_response(), **problem_responses(403)})

    @app.get(
        "/metrics",
        response_model=None,
        response_class=PlainTextResponse,
        dependencies=dependencies,
        responses=responses,
        operation_id="metrics",
        summary="Prometheus metrics: this process's work and the store's figures",
        tags=["health"],
    )
    async def metrics(request: Request) -> Response:
        caller = authenticate(lro, request)
        if not caller.admin and caller.principal != ANONYMOUS:
            raise Forbidden("Metrics cover every principal's jobs: use an admin's key.")
        try:
            await lro.start()
            await lro.metrics.refresh_store(
                lro.store,
                utcnow(),
                user_operations(lro.operations),
                limits={name: op.limits for name, op in lro.operations.items()},
                lease_seconds=lro.settings.lease_seconds,
            )
        except Exception as exc:
            # Reported in the body as lro_store_up 0: a scrape must still show what this
            # process itself did while the store is away.
            _log.debug("metrics: the store's figures are unavailable: %s", exc)
        return Response(lro.metrics.render(), media_type=CONTENT_TYPE)


def register_process_gauges(lro: Runtime) -> list[Callable[[], None]]:
    """Gauges of the API process, registered for the lifetime of a served app."""
    return [
        lro.metrics.gauge(
            "lro_streams_open",
            "Event streams and waiting requests this process holds open.",
            lambda: [({}, holds(lro).total)],
        )
    ]


__all__ = ["add_metrics_route", "register_process_gauges"]
