"""The HTTP API (HTTP-CONTRACT v1 and §20) as FastAPI routers.

`build_router(lro)` is what `lro.router` returns: everything a client of the contract
calls, complete by itself in any FastAPI app (its routes answer problem+json, HEAD and
the body limit themselves, and build every URL from where they are mounted: see
api/routing.py). `build_operator_router(lro)` is `lro.operator_router`: health,
readiness, metrics and the dashboard. `lro.serving.create_app` puts both in a
ready app. This package never imports `lro.worker`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request, params
from starlette.routing import BaseRoute

from lro.api.auth import auth_dependencies, document_auth
from lro.api.batches import add_batch_routes
from lro.api.deliveries import add_delivery_routes
from lro.api.joblist import add_list_stream_routes
from lro.api.jobs import add_job_routes, serve_result
from lro.api.links import add_link_routes
from lro.api.longjobs import add_long_job_routes
from lro.api.operations import add_operations_routes
from lro.api.operator import add_operator_routes
from lro.api.params import add_params_routes
from lro.api.routing import plain_dependency, route_class
from lro.api.schedules import add_schedule_routes
from lro.api.stats import add_stats_routes
from lro.api.stream import add_stream_routes
from lro.api.submit import SubmitRoutes
from lro.api.timeline import add_timeline_routes
from lro.api.workers import add_worker_routes

if TYPE_CHECKING:
    from lro.operations import Operation
    from lro.runtime import Runtime


class _Secured(APIRouter):
    """Adds every route declared on it to `target`, with `dependencies` in front of the
    route's own: the routes that identify their caller, in lro's one router.

    Not an included router of its own: FastAPI (0.165) matches a request against every
    route of an included router to pick the router, then again to pick the route, so one
    level of nesting fewer is about a third less routing work per request. The routes,
    their order, their dependencies (lro's start, then auth, then the route's) and the
    OpenAPI document are what the nested router gave."""

    def __init__(self, target: APIRouter, dependencies: list[params.Depends], **kw: Any) -> None:
        super().__init__(**kw)
        self._target = target
        self._extra = dependencies

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kw: Any) -> None:
        kw["dependencies"] = [*self._extra, *(kw.get("dependencies") or [])]
        self._target.add_api_route(path, endpoint, **kw)


def _poll_first(routes: list[BaseRoute]) -> list[BaseRoute]:
    """The routes in the order a request tries them, the poll (`GET /jobs/{job_id}`, the
    hottest route) moved to the front behind only the literal `GET /jobs/<name>` routes
    it would otherwise shadow (`/jobs/events`); the rest keep their order. A router tries
    its routes in turn, and each candidate costs FastAPI a few µs of bookkeeping: the
    poll was the tenth, 14 of a poll's 112 µs (bench/asgi_cost.py). Only the order of the
    paths in the OpenAPI document changes."""

    def rank(route: BaseRoute) -> int:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if not isinstance(path, str) or not methods or "GET" not in methods:
            return 2
        head, _, last = path.rpartition("/")
        if not head.endswith("/jobs"):
            return 2
        if last == "{job_id}":
            return 1
        return 2 if "{" in last else 0

    return sorted(routes, key=rank)


class LroRouter(APIRouter):
    """The API router; `add_operation` gives an operation registered after the router was
    built its submit route, so an app that already included the router serves it too
    (FastAPI includes routers by reference) and lists it in its OpenAPI document."""

    def __init__(self, lro: Runtime) -> None:
        cls = route_class(lro.settings.max_body_bytes)

        @plain_dependency  # fast paths (api/routing.py) do this work themselves
        async def started(request: Request) -> None:
            request.state.lro = lro  # for lro.api.auth.principal, which may be overridden
            await lro.start()

        super().__init__(dependencies=[Depends(started)], route_class=cls)
        self._lro = lro
        # Every route that identifies its caller; with API keys, documented as needing one.
        self._secured = _Secured(self, auth_dependencies(lro), route_class=cls)
        self._submits = SubmitRoutes(self._secured, lro)
        add_long_job_routes(self._secured, lro)  # before /jobs/{id}/...: /jobs/bulk/...
        add_list_stream_routes(self._secured, lro)  # before /jobs/{id}: /jobs/events
        add_job_routes(self._secured, lro)
        add_params_routes(self._secured, lro)
        add_stats_routes(self._secured, lro)
        add_timeline_routes(self._secured, lro)
        add_operations_routes(self._secured, lro)
        add_stream_routes(self._secured, lro)
        add_delivery_routes(self._secured, lro)
        add_batch_routes(self._secured, lro)
        add_schedule_routes(self._secured, lro)
        add_worker_routes(self._secured, lro)
        document_auth(self, lro)
        # A signed link is its own credential: no Authorization header.
        add_link_routes(self, lro, serve_result)
        self.routes[:] = _poll_first(self.routes)
        self._hosts: list[APIRouter] = []

    def add_operation(self, op: Operation) -> None:
        self._submits.add(op)
        document_auth(self, self._lro)
        for host in self._hosts:
            self._extend(host)

    def serve_in(self, host: APIRouter) -> None:
        """Put these routes into `host` itself (an app's own router), in front of its
        own, instead of `host.include_router(self)`: FastAPI (0.165) matches a request
        against every route of an included router to pick the router, then again to
        pick the route, with a few µs of bookkeeping per candidate each time; routes of
        the app's router are matched once. The route objects are shared (the router's
        dependencies are already part of each), and an operation registered later gets
        its route in every host too, as an included router would give it. For an app
        with no prefix of its own for lro (`lro.serving.create_app`)."""
        host.routes[:0] = self.routes
        self._hosts.append(host)

    def _extend(self, host: APIRouter) -> None:
        """Routes added since `serve_in` go into `host` right after the ones it has, in
        this router's order."""
        present = {id(r) for r in host.routes}
        new = [r for r in self.routes if id(r) not in present]
        if not new:
            return
        mine = {id(r) for r in self.routes}
        last = max((i for i, r in enumerate(host.routes) if id(r) in mine), default=-1)
        host.routes[last + 1 : last + 1] = new


def build_router(lro: Runtime) -> LroRouter:
    """Submit routes (one per operation with a route, plus the generic one), job routes, job
    counts, the job event stream and webhook deliveries, under `lro.settings.api_prefix`.

    Every route first makes sure the runtime is started (store opened, change hub listening),
    so an app that only includes the router, without lro's lifespan, still works.
    """
    return LroRouter(lro)


def build_operator_router(lro: Runtime) -> APIRouter:
    """`/healthz`, `/readyz`, `/metrics` and `/dashboard` for an operator's tools."""
    router = APIRouter(route_class=route_class(lro.settings.max_body_bytes))
    add_operator_routes(router, lro)
    return router


__all__ = ["LroRouter", "build_operator_router", "build_router"]
