"""The HTTP API (HTTP-CONTRACT v1) as a FastAPI router.

`build_router(lro)` is what `lro.router` returns, for mounting in any FastAPI app;
`lro.api.application.create_app` wraps it in a ready app with problem+json errors, the
body limit, health routes and a lifespan. This package never imports `lro.worker`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request

from lro.api.auth import auth_dependencies, document_auth
from lro.api.deliveries import add_delivery_routes
from lro.api.jobs import add_job_routes, serve_result
from lro.api.links import add_link_routes
from lro.api.stats import add_stats_routes
from lro.api.stream import add_stream_routes
from lro.api.submit import add_submit_routes

if TYPE_CHECKING:
    from lro.app import LRO


def build_router(lro: LRO) -> APIRouter:
    """Submit routes (one per operation with a route, plus the generic one), job routes, job
    counts, the job event stream and webhook deliveries, under `lro.settings.api_prefix`.

    Every route first makes sure the LRO is started (store opened, change hub listening),
    so an app that only includes the router, without lro's lifespan, still works.
    """

    async def started(request: Request) -> None:
        request.state.lro = lro  # for lro.api.auth.principal, which may be overridden
        await lro.start()

    router = APIRouter(dependencies=[Depends(started)])
    # Every route that identifies its caller; with API keys, documented as needing one.
    secured = APIRouter(dependencies=auth_dependencies(lro))
    add_submit_routes(secured, lro)
    add_job_routes(secured, lro)
    add_stats_routes(secured, lro)
    add_stream_routes(secured, lro)
    add_delivery_routes(secured, lro)
    # Before the include: some FastAPI versions copy the routes' responses when including.
    document_auth(secured, lro)
    router.include_router(secured)
    # A signed link is its own credential: no Authorization header.
    add_link_routes(router, lro, serve_result)
    return router


__all__ = ["build_router"]
