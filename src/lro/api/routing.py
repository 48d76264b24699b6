"""The route class of every lro route: the contract travels with the routes themselves.

`app.include_router(lro.router)` in a user's `FastAPI()` gets none of the app-level
machinery `create_app` installs (exception handlers, middleware). A router cannot add
those to an app it does not own, so each lro route carries what the contract needs:

* errors: every exception a route raises becomes its problem+json answer inside the
  route's own handler, before any of the app's handlers could turn it into a plain-text
  500 or FastAPI's `{"detail": ...}` (RFC 9457, HTTP-CONTRACT §7, §20);
* HEAD: a GET route also answers HEAD, with the GET's status and headers and no body
  (RFC 9110 §9.3.2), without appearing in the OpenAPI document;
* the body limit, counted while the body streams in (413 before the handler sees it);
* the security headers every answer carries;
* where it is mounted: `scope["lro.root"]` is the path in front of lro's own route
  paths (a mount's root path plus an `include_router` prefix), computed from the request
  itself, so every URL lro returns can be followed as given however it is embedded;
* a fast path for the hottest route (the poll): FastAPI solves a route's dependencies
  and parameters on every request, about a fifth of a poll's cost, even when there is
  nothing to solve. An endpoint marked with `fast_path` is answered by its fast function
  when that can give exactly the answer FastAPI would: the route depends on nothing but
  calls marked `plain_dependency` (lro's own), the app overrides no dependency, and the
  fast function accepts the request (a poll without a query string); anything else takes
  FastAPI's path. The route, its OpenAPI entry and its validation stay FastAPI's.

How the root is found: an endpoint remembers the path lro declared it at (before any
prefix), and the request's route path ends in exactly that many segments. Path
parameters never contain "/" (their convertor refuses it), so counting segments is exact.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

import fastapi.routing
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from lro.api.middleware import (
    BOUNDED,
    LIMITED,
    REFUSE,
    body_plan,
    head_channels,
    limited,
    secured_send,
    send_too_large,
)
from lro.api.problems import (
    handle_http_exception,
    handle_problem,
    handle_store_unavailable,
    handle_unexpected,
    handle_validation,
)
from lro.errors import BadRequest, NotFound, ProblemError, StoreUnavailable

_log = logging.getLogger("lro.api")

NUL_OK = "__lro_nul_ok__"
"""Attribute of an endpoint that answers a NUL in its URL itself (see `accepts_nul`)."""

LRO_PATH = "__lro_path__"
"""Attribute of an endpoint: the path lro declared it at, before any include prefix."""

ROOT_KEY = "lro.root"
"""Scope key: the path in front of lro's route paths for this request."""

FAST = "__lro_fast__"
"""Attribute of an endpoint: its fast function (see `fast_path`)."""

PLAIN = "__lro_plain__"
"""Attribute of a dependency a fast function does the work of itself (`plain_dependency`)."""

F = TypeVar("F", bound=Callable[..., Any])
FastFn = Callable[[Request], Awaitable[Response | None]]


def accepts_nul(endpoint: F) -> F:
    """Mark a route that answers a URL holding U+0000 itself instead of with the shared
    404 / 400: a signed link's one uniform 403 must not tell a NUL from a forgery."""
    setattr(endpoint, NUL_OK, True)
    return endpoint


def fast_path(fast: FastFn) -> Callable[[F], F]:
    """Mark an endpoint as also answerable by `fast(request)`: the whole answer, or None
    to leave the request to FastAPI. `fast` must do everything the route's dependencies
    do (all of them `plain_dependency`) and give the answer the endpoint would."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, FAST, fast)
        return endpoint

    return mark


def plain_dependency(call: F) -> F:
    """Mark a dependency that every fast function of lro's does the work of itself."""
    setattr(call, PLAIN, True)
    return call


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _effective_dependant(route: APIRoute) -> Dependant | None:
    """The dependant FastAPI builds this route's handler with. Since FastAPI 0.165 an
    included route's handler is built per inclusion, with the include's dependencies
    added, and the route itself lacks them: the inclusion is in a context variable while
    `get_route_handler` runs. None when it cannot be known (then no fast path)."""
    var = getattr(fastapi.routing, "_effective_route_context_var", None)
    if var is None:
        return None
    context = var.get()
    if context is not None and getattr(context, "original_route", None) is route:
        dependant = getattr(context, "dependant", None)
        return dependant if isinstance(dependant, Dependant) else None
    return route.dependant


FAST_TRIED = "lro.fast_tried"
"""Scope key: the route's fast function has had this request (see `LroRoute._answer_fast`)."""


def _building_own_handler(route: APIRoute) -> bool:
    """Whether `get_route_handler` is building the route's own handler, not one for an
    inclusion (see `_effective_dependant`)."""
    var = getattr(fastapi.routing, "_effective_route_context_var", None)
    if var is None:
        return False
    context = var.get()
    return context is None or getattr(context, "original_route", None) is not route


def _routed_directly(scope: Scope, route: APIRoute) -> bool:
    """Whether FastAPI routed this request to `route` itself rather than through an
    inclusion of it (which keeps its context in the scope). Unknown: no."""
    find = getattr(fastapi.routing, "_get_scope_effective_route_context", None)
    if find is None:
        return False
    context = find(scope)
    return context is None or getattr(context, "original_route", None) is not route


def _overrides(request: Request) -> bool:
    app = request.scope.get("app")
    return bool(getattr(app, "dependency_overrides", None))


def declared_path(endpoint: Callable[..., Any], path: str) -> str:
    """The path lro first declared `endpoint` at. Copying includes (older FastAPI) build
    a new route from the same endpoint with the prefix added, so the first path an
    endpoint was seen with is the one lro wrote."""
    known = getattr(endpoint, LRO_PATH, None)
    if known is None:
        try:
            setattr(endpoint, LRO_PATH, path)
        except (AttributeError, TypeError):  # a builtin or bound method: no prefix math
            return path
        return path
    return str(known)


def _segments(path: str) -> int:
    return len([part for part in path.split("/") if part])


def _route_path(scope: Scope) -> str:
    """The request path below the root path (ASGI: `path` includes `root_path`; a server
    behind a proxy that strips it may send a path without it, which is taken as is)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


def request_root(scope: Scope, depth: int) -> str:
    """The root path plus whatever prefix lies in front of a route `depth` segments deep."""
    route_path = _route_path(scope)
    parts = route_path.rstrip("/").split("/")
    kept = parts[: max(len(parts) - depth, 1)]
    root: str = scope.get("root_path", "")
    return root.rstrip("/") + "/".join(kept).rstrip("/")


def root_of(request: Request) -> str:
    """The path in front of lro's routes for this request ('' when not embedded)."""
    root = request.scope.get(ROOT_KEY)
    if root is None:
        root = str(request.scope.get("root_path", "")).rstrip("/")
    return str(root)


def _tail_of(path: str) -> tuple[str | None, ...]:
    """The segments a request path must end in to match `path`: literals, and None for a
    parameter (one non-empty segment). Empty when a parameter may span segments."""
    if ":path}" in path:
        return ()
    return tuple(None if "{" in seg else seg for seg in path.split("/") if seg)


def _tail_fits(tail: tuple[str | None, ...], scope: Scope) -> bool:
    """Whether the request path could match a route ending in `tail` (a necessary
    condition: the route's own match decides). An app routes a request by trying its
    routes in turn, and lro has dozens: this rejects most of them with a few string
    compares instead of FastAPI's per-candidate scope bookkeeping and a regex each.
    Whatever is in front of lro's paths (a mount, an include prefix) is left alone."""
    path: str = scope["path"]
    cached = scope.get(_SEGMENTS_KEY)
    if cached is None or cached[0] is not path:
        cached = (path, [seg for seg in path.split("/") if seg])
        scope[_SEGMENTS_KEY] = cached
    segments: list[str] = cached[1]
    if len(segments) < len(tail):
        return False
    for want, seg in zip(tail, segments[len(segments) - len(tail) :], strict=True):
        if want is not None and want != seg:
            return False
    return True


_SEGMENTS_KEY = "lro.segments"
"""Scope key: the request path and its non-empty segments, split once per request."""


class ClientGone(Exception):
    """The client of a waiting request disconnected; nobody is left to answer."""


CLIENT_GONE = 499
"""The status logged for a request whose client left first (nginx's convention): the
answer is never sent, the number only tells the access log what happened."""


async def problem_for(request: Request, exc: Exception) -> Response:
    """The problem answer for an exception escaping a route (see problems.py)."""
    if isinstance(exc, ClientGone):
        return Response(status_code=CLIENT_GONE)
    if isinstance(exc, ProblemError):
        return await handle_problem(request, exc)
    if isinstance(exc, RequestValidationError):
        return await handle_validation(request, exc)
    if isinstance(exc, StarletteHTTPException):
        return await handle_http_exception(request, exc)
    if isinstance(exc, StoreUnavailable):
        return await handle_store_unavailable(request, exc)
    return await handle_unexpected(request, exc)


_SERVING_APP: ContextVar[object] = ContextVar("lro.serving_app", default=None)
"""The app serving the current request (`scope["app"]`), set by `LroRoute.handle`."""


class _ServingAppOverrides:
    """The dependency-overrides provider of lro's routes: the overrides of whichever app
    is serving the request. A FastAPI route reads overrides from the provider its router
    gave it when it was built; an included router's routes get the including app's at
    request time, but lro's routes also sit directly in apps' own routers
    (`LroRouter.serve_in`, one route object in several apps), where no one app may be
    baked in. `app.dependency_overrides` then works as for any route of the app."""

    @property
    def dependency_overrides(self) -> dict[Any, Any]:
        overrides = getattr(_SERVING_APP.get(), "dependency_overrides", None)
        return overrides if isinstance(overrides, dict) else {}


_OVERRIDES = _ServingAppOverrides()


class LroRoute(APIRoute):
    """An APIRoute that keeps the whole HTTP contract wherever it is included.

    `max_body_bytes` is set per LRO by `route_class` (a subclass per limit), because an
    include copies a route by its class, not by its instance.
    """

    max_body_bytes: ClassVar[int] = 1_048_576
    _own_fast: FastFn | None = None
    """The fast function of the route's own handler (the one not built for an inclusion)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.lro_depth = _segments(declared_path(endpoint, path))
        if kwargs.get("dependency_overrides_provider") is None:
            kwargs["dependency_overrides_provider"] = _OVERRIDES
        super().__init__(path, endpoint, **kwargs)
        checks = not getattr(endpoint, NUL_OK, False)
        # A NUL can only reach the store through a path or query parameter the route
        # reads: a path holding one names no resource (404, as for any unknown id), a
        # query parameter holding one is malformed (400); others are never read.
        self._nul_in_path = checks and bool(self.dependant.path_params)
        self._nul_in_query = checks and bool(self.dependant.query_params)
        self._serves_get = "GET" in (self.methods or ())
        self._tail = _tail_of(path)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        fast: FastFn | None = getattr(self.endpoint, FAST, None)
        dependant = _effective_dependant(self) if fast is not None else None
        if dependant is None or not all(getattr(c, PLAIN, False) for c in _calls(dependant)):
            fast = None

        if _building_own_handler(self):
            self._own_fast = fast

        async def answer(request: Request) -> Response:
            try:
                if fast is not None and not _overrides(request) and FAST_TRIED not in request.scope:
                    response = await fast(request)
                    if response is not None:
                        return response
                return await handler(request)
            except Exception as exc:
                return await problem_for(request, exc)

        return answer

    async def _answer_fast(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer with the fast function straight from `handle`, when this route was
        routed to directly (an app's own router, not an inclusion: that one's
        dependencies may differ) and the app overrides nothing. This skips FastAPI's
        request wrapper as well as its dependency solving: two exit stacks, exception
        wrapping and a second Request, a tenth of a poll. False: FastAPI answers (the
        route's handler then does not try the fast function again)."""
        fast = self._own_fast
        # A router hands a route a request of another method too (a partial match), for
        # the route's own 405.
        if fast is None or scope["method"] not in (self.methods or ()):
            return False
        if not _routed_directly(scope, self):
            return False
        request = Request(scope, receive, send)
        if _overrides(request):
            return False
        scope[FAST_TRIED] = True
        try:
            response = await fast(request)
        except Exception as exc:
            response = await problem_for(request, exc)
        if response is None:
            return False
        await response(scope, receive, send)
        return True

    def _nul_problem(self, scope: Scope) -> ProblemError | None:
        if self._nul_in_path and "\x00" in scope["path"]:
            return NotFound(
                f"There is no resource at {scope['path']!r}: no id holds U+0000 (NUL).",
                extensions={"errors": [{"pointer": "", "detail": "U+0000 in the path"}]},
            )
        if self._nul_in_query and _query_has_nul(scope):
            return _NUL_IN_QUERY
        return None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self._tail and scope.get("type") == "http" and not _tail_fits(self._tail, scope):
            return Match.NONE, {}
        if scope.get("method") == "HEAD" and self._serves_get:
            return super().matches({**scope, "method": "GET"})
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().handle(scope, receive, send)
            return
        token = _SERVING_APP.set(scope.get("app"))
        try:
            await self._handle_http(scope, receive, send)
        finally:
            _SERVING_APP.reset(token)

    async def _handle_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[ROOT_KEY] = request_root(scope, self.lro_depth)
        nul = self._nul_problem(scope)
        if nul is not None:
            response = await handle_problem(Request(scope, receive), nul)
            await response(scope, receive, secured_send(scope, send))
            return
        limit = self.max_body_bytes
        # The app's middleware may have refused or counted the body already.
        plan = BOUNDED if scope.get(LIMITED, limit + 1) <= limit else body_plan(scope, limit)
        if plan == REFUSE:
            await send_too_large(scope, send, limit)
            return
        inner_receive = receive if plan == BOUNDED else limited(receive, limit)
        inner_send = secured_send(scope, send)
        if scope["method"] == "HEAD" and self._serves_get:
            scope = {**scope, "method": "GET"}
            inner_receive, inner_send = head_channels(inner_receive, inner_send)
        if await self._answer_fast(scope, inner_receive, inner_send):
            return
        try:
            await super().handle(scope, inner_receive, inner_send)
        except StarletteHTTPException as exc:
            # The route's own method check (405), raised before its handler runs.
            response = await handle_http_exception(Request(scope, receive), exc)
            await response(scope, inner_receive, inner_send)


_NUL_IN_QUERY = BadRequest(
    "A query parameter contains U+0000 (NUL), which no operation, status or cursor holds.",
    extensions={"errors": [{"pointer": "", "detail": "U+0000 in the query"}]},
)
"""Refused before the route reads it: PostgreSQL cannot even compare such text (lro.text)."""


def _query_has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return b"%00" in query or b"\x00" in query


def route_class(max_body_bytes: int) -> type[LroRoute]:
    """LroRoute with this body limit (one class per limit: see LroRoute)."""
    return type("LroRoute", (LroRoute,), {"max_body_bytes": max_body_bytes})


__all__ = [
    "CLIENT_GONE",
    "ROOT_KEY",
    "ClientGone",
    "FastFn",
    "LroRoute",
    "accepts_nul",
    "fast_path",
    "plain_dependency",
    "problem_for",
    "request_root",
    "root_of",
    "route_class",
]
