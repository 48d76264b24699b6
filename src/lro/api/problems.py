"""RFC 9457 problem details: rendering, exception handlers, and their OpenAPI schema.

Every 4xx/5xx the service sends goes through `problem_response`, including the errors
FastAPI and Starlette raise on their own (unknown route, wrong method, request validation)
and exceptions nobody expected, so a client can parse every error the same way and never
sees a traceback.
"""

from __future__ import annotations

import http
import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from lro.api.headers import UNAVAILABLE_RETRY_AFTER
from lro.errors import PROBLEM_BASE, IdempotencyInProgress, ProblemError, StoreUnavailable

_log = logging.getLogger("lro.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    416: "range-not-satisfiable",
    422: "validation",
    429: "too-many-requests",
    500: "internal",
    501: "not-implemented",
    503: "unavailable",
}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_body(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    instance: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or _SLUGS.get(status, "error")),
        "title": title or _phrase(status),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions or {})
    return body


def problem_bytes(exc: ProblemError, instance: str | None = None) -> bytes:
    """The JSON document for `exc`, for pure ASGI code that sends bytes itself."""
    return json.dumps(exc.to_problem(instance), separators=(",", ":")).encode()


def problem_response(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> ProblemResponse:
    return ProblemResponse(problem_body(status, detail, **kwargs), status, headers=headers)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# -- handlers ------------------------------------------------------------------------------
async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    headers = dict(exc.headers)
    if exc.status == 503:
        headers.setdefault("Retry-After", str(UNAVAILABLE_RETRY_AFTER))
    elif isinstance(exc, IdempotencyInProgress):
        headers.setdefault("Retry-After", "1")
    return ProblemResponse(exc.to_problem(request.url.path), exc.status, headers=headers or None)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404 unknown route, 405 wrong method, ...) as problems; the
    headers they carry (such as `Allow` on 405) are kept."""
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status < 400:
        return Response(status_code=status, headers=exc.headers)
    phrase = _phrase(status)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    if detail is None:
        detail = {
            404: f"There is no resource at {request.url.path}.",
            405: f"{request.method} is not allowed on {request.url.path}.",
        }.get(status, phrase)
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
    return problem_response(status, detail, headers=headers, instance=request.url.path)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. Starlette's own `Allow` names only
    the first route that matched the path, but RFC 9110 §15.5.6 wants the full list (GET
    and POST on /jobs are two routes). Probing each method with the routes' own matching
    works for plain routes and included routers alike."""
    routes = getattr(request.app, "routes", ())
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def handle_validation(request: Request, exc: Exception) -> Response:
    """FastAPI's own validation. A bad query parameter or header is a malformed request
    (400); only an invalid body is "unprocessable content" (422), as the contract has it
    for submits. Both list the offending fields in `errors`."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(err.get("loc", ())),
            "pointer": "/" + "/".join(str(p) for p in err.get("loc", ())),
            "detail": str(err.get("msg", "invalid")),
            "type": str(err.get("type", "value_error")),
        }
        for err in exc.errors()
    ]
    in_body = any(e["loc"][:1] == ["body"] for e in errors)
    summary = "; ".join(f"{e['pointer']}: {e['detail']}" for e in errors[:5])
    return problem_response(
        422 if in_body else 400,
        f"The request is not valid: {summary}",
        slug="validation" if in_body else "bad-request",
        title="The request is not valid" if in_body else "Bad request",
        instance=request.url.path,
        extensions={"errors": errors},
    )


async def handle_store_unavailable(request: Request, exc: Exception) -> Response:
    _log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        503,
        "The job store cannot be reached right now; retry after the indicated delay.",
        slug="unavailable",
        title="Service unavailable",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        instance=request.url.path,
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Last resort: log the traceback on the server, tell the client only that it failed."""
    _log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500,
        "The server failed to handle this request; it has been logged.",
        slug="internal",
        title="Internal server error",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, handle_problem)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StoreUnavailable, handle_store_unavailable)
    app.add_exception_handler(Exception, handle_unexpected)


# -- OpenAPI -------------------------------------------------------------------------------
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Field-level validation errors (422).",
            "items": {
                "type": "object",
                "properties": {
                    "pointer": {"type": "string"},
                    "detail": {"type": "string"},
                    "loc": {"type": "array", "items": {}},
                    "type": {"type": "string"},
                },
                "additionalProperties": True,
            },
        },
        "job_status": {"type": "string", "description": "The job's status (409 answers)."},
        "expired_at": {
            "type": "string",
            "format": "date-time",
            "description": "When the job expired (410 answers).",
        },
    },
    "additionalProperties": True,
}
"""Inline (no `$ref`), so the schema is valid wherever the router is mounted."""

_RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}

_RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": "The submit-rate policy (draft-ietf-httpapi-ratelimit-headers), e.g. "
        '`"submit";q=100;w=5`.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it now, e.g. `"submit";r=0;t=1`.',
        "schema": {"type": "string"},
    },
}

_DESCRIPTIONS = {
    400: "Malformed request: bad header or query parameter.",
    401: "Missing or unknown API key (see WWW-Authenticate).",
    403: "The signed link is not valid or has expired.",
    404: "Unknown job, or one that belongs to someone else.",
    409: "The job's status does not allow this action.",
    410: "The job expired; the problem says when.",
    413: "Request body over the configured limit.",
    416: "The requested range does not overlap the artifact.",
    422: "The request is not valid; `errors` lists the fields.",
    429: "A per-principal limit was reached; Retry-After says when to try again.",
    503: "The store is unreachable, the service is shutting down, or it is overloaded "
    "(or the operation's queue is full: problem type `.../queue-full`).",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these problem statuses, plus a `default` one
    for anything else (unexpected 500s): every error is `application/problem+json`."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS.get(status, _phrase(status)),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
        }
        if status in (409, 429, 503):
            entry["headers"] = dict(_RETRY_AFTER_HEADER)
        if status == 429:
            entry["headers"] |= _RATE_LIMIT_HEADERS
        out[status] = entry
    out["default"] = {
        "description": "Any other error, as a problem document.",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
    }
    return out
