"""Submit routes (HTTP-CONTRACT §1, §6): one per operation with a `route`, and the generic
`POST {prefix}/jobs` for any operation by name.

The body is parsed here rather than by FastAPI because the idempotency fingerprint is the
canonical form of exactly what the client sent (method, path, body with sorted keys), and
because validation must go through `lro.submission.submit_jobs`, the same path the
library's `lro.submit` takes, so HTTP and Python callers get identical rules and errors.
The OpenAPI request bodies are declared with `openapi_extra` to match.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import math
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from lro.api.auth import Caller, Owner, authenticate
from lro.api.headers import Preferences, check_idempotency_key, parse_prefer
from lro.api.links import result_link
from lro.api.middleware import too_large
from lro.api.problems import problem_responses
from lro.api.quotas import check_submit, holds
from lro.api.routing import FastFn, fast_path
from lro.api.schemas import (
    GenericSubmit,
    JobResource,
    Reserved,
    inline_schema,
    operation_body_schema,
)
from lro.api.views import api_base, job_response, wait_for_job, while_connected
from lro.errors import (
    BadRequest,
    ServiceUnavailable,
    TooManyRequests,
    Unprocessable,
    UnsupportedMediaType,
)
from lro.models import Job
from lro.operations import INTERNAL_PREFIX, user_operations
from lro.resource import job_url
from lro.submission import (
    SubmitRequest,
    canonical_json,
    fingerprint,
    submit_jobs,
    validation_problem,
)

if TYPE_CHECKING:
    from lro.operations import Operation
    from lro.runtime import Runtime

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1-255 printable ASCII characters; the same key and request replay the "
        "original job instead of creating another.",
        # Documented only: `check_idempotency_key` is the rule (blanks around the key are
        # not part of it, so it also accepts them), and answers its own 400.
        json_schema_extra={"minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    ),
]
PreferHeader = Annotated[
    str | None,
    Header(
        alias="Prefer",
        description="RFC 7240. `wait=N` holds the request up to N seconds (capped by the "
        "server); a job that ends meanwhile is answered 200 with its final state. "
        "`respond-async` asks for the 202 at once, even for an operation that would "
        "otherwise answer quick jobs synchronously.",
    ),
]

_HEADER_SCHEMAS = {
    "Location": {"description": "The job's poll URL.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds until the next poll.", "schema": {"type": "integer"}},
    "ETag": {"description": "Validator of the job resource.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this answer replays an earlier request with the same key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Preference-Applied": {
        "description": "`respond-async` when that preference decided the answer.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": "What is left of the caller's submit rate (draft-ietf-httpapi-"
        'ratelimit-headers), e.g. `"submit";r=99;t=1`, when a per-principal limit applies.',
        "schema": {"type": "string"},
    },
}

SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobResource,
        "description": "Accepted: the job is queued (or replayed).",
        "headers": _HEADER_SCHEMAS,
    },
    200: {
        "model": JobResource,
        "description": "The job ended within the hold (`Prefer: wait=N`, or the operation's "
        "`respond_within`): its final state.",
        "headers": {
            "Preference-Applied": {"schema": {"type": "string"}},
            "ETag": _HEADER_SCHEMAS["ETag"],
        },
    },
    **problem_responses(400, 409, 413, 415, 422, 503),
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: valid grammar, but no number a double can hold
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite)


def parse_json(body: bytes) -> Any:
    """`json.loads(body, parse_constant=..., parse_float=...)`, step for step, with the
    decoder made once: `json.loads` with any option builds a new one per call."""
    text = body.decode(json.detect_encoding(body), "surrogatepass")
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
"""A `\\uD800`-`\\uDFFF` escape, or a surrogate encoded as UTF-8 (which `json.loads`
decodes with "surrogatepass"): the only ways a lone surrogate gets into the parsed body."""


def _check_unicode(body: bytes, value: Any) -> None:
    """Refuse unpaired surrogates (RFC 7493 §2.1, I-JSON). Python parses them into strings
    that cannot be encoded, so such a value would fail later, wherever it is written out:
    the idempotency fingerprint, a result, a log line. Paired escapes (an emoji written as
    two escapes) are fine; they parse into one character."""
    if not _SURROGATE.search(body):
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("it contains an unpaired UTF-16 surrogate, which is not text") from None


async def read_json(request: Request, limit: int) -> Any:
    """The parsed body; an empty body counts as `{}` so parameterless operations can be
    submitted without one. Malformed JSON is a 400: the request cannot even be read,
    which is different from a readable request with invalid fields (422). So are the
    texts that parse but that no JSON peer could read back the same: a number beyond a
    double's range (NaN and Infinity are refused as well) or an unpaired surrogate."""
    body = await request.body()
    # The ASGI middleware normally stops oversized bodies while they stream; this check
    # covers a router mounted in an app without that middleware.
    if len(body) > limit:
        raise too_large(limit)
    if not body.strip():
        return {}
    try:
        value = parse_json(body)
        _check_unicode(body, value)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(
            f"The request body is not valid JSON: {exc}",
            extensions={"errors": [{"pointer": "", "detail": "malformed JSON"}]},
        ) from None
    return value


def _validate(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def read_headers(request: Request) -> tuple[str | None, Preferences]:
    """Idempotency-Key (validated: a malformed key is a 400 before anything else is
    looked at) and the `Prefer` preferences (malformed ones: ignored)."""
    key = check_idempotency_key(request.headers.getlist("idempotency-key"))
    return key, parse_prefer(request.headers.getlist("prefer"))


@dataclasses.dataclass(frozen=True, slots=True)
class Hold:
    """How long a submit is held for the job to finish before the 202, and why."""

    seconds: float
    applied: str | None = None
    """The `Preference-Applied` value of the answer, when a preference decided."""


def hold_for(lro: Runtime, op: Operation | None, job: Job, prefer: Preferences) -> Hold:
    """HTTP-CONTRACT §21: the client decides over the server. `wait=N` holds up to N
    (capped), also beside `respond-async`, which RFC 7240 §4.3 reads as "answer
    asynchronously, but wait this long first"; `respond-async` alone gets the 202 at
    once. Otherwise the operation's `respond_within` (default LRO_RESPOND_WITHIN_SECONDS)
    holds, unless the job's estimate already says it will take longer, in which case
    holding would only delay the 202."""
    if prefer.wait is not None:
        return Hold(min(float(prefer.wait), lro.settings.max_wait_seconds), f"wait={prefer.wait}")
    if prefer.respond_async:
        return Hold(0.0, "respond-async")
    within = lro.settings.respond_within_seconds
    if op is not None and op.respond_within is not None:
        within = op.respond_within
    estimate = job.estimated_duration_seconds
    if within <= 0 or (estimate is not None and estimate > within):
        return Hold(0.0)
    return Hold(within)


@dataclasses.dataclass(frozen=True, slots=True)
class SubmitBody:
    """A submit request as read once: its headers, then its JSON object body."""

    body: dict[str, Any]
    idempotency_key: str | None
    prefer: Preferences


async def submit_and_answer(
    lro: Runtime,
    request: Request,
    read: SubmitBody,
    req: SubmitRequest,
    caller: Caller,
) -> Response:
    """One insert (validated by submit_jobs), then the 202, the replay, or the 200 of a
    job that ended within the hold (`Prefer: wait`, or the operation's respond_within)."""
    key, prefer, body = read.idempotency_key, read.prefer, read.body
    req = dataclasses.replace(
        req,
        owner=caller.principal,
        idempotency_key=key,
        fingerprint=request_fingerprint(request, key, body),
    )
    rate_fields = await check_submit(lro, caller)
    [inserted] = await submit_jobs(lro, [req])
    base = api_base(lro, request)
    headers: dict[str, str] = {}
    if "RateLimit" in rate_fields:
        headers["RateLimit"] = rate_fields["RateLimit"]
    if not inserted.created:
        headers["Idempotent-Replayed"] = "true"
    job: Job = inserted.job
    hold = hold_for(lro, lro.operations.get(job.operation), job, prefer)
    if hold.seconds > 0:
        job = await _held(lro, request, job, caller, hold.seconds)
        if job.is_terminal:
            if hold.applied is not None:
                headers["Preference-Applied"] = hold.applied
            link = await result_link(lro, job, base)
            return job_response(job, base, headers=headers, link=link)
    elif hold.applied is not None:
        headers["Preference-Applied"] = hold.applied
    headers["Location"] = job_url(base, job.id)
    if job.version == inserted.job.version:
        job = inserted.accepted  # unchanged since the insert: the state that was accepted
    return job_response(job, base, status_code=202, headers=headers, retry_after=True)


def request_fingerprint(request: Request, key: str | None, body: dict[str, Any]) -> str | None:
    """What an idempotent replay must match (the method, the path, the body as canonical
    JSON); None without an Idempotency-Key, as nothing is ever compared with it then. A
    large batch body costs milliseconds to canonicalise."""
    if key is None:
        return None
    return fingerprint("POST", url_path(request), canonical_json(body))


def url_path(request: Request) -> str:
    """`request.url.path` (what the idempotency fingerprint has always used) without
    building the whole URL, a few µs of every submit. They are the same string unless
    the path holds a character Starlette escapes there; such a path takes the URL."""
    path: str = request.scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        return request.url.path
    return path


async def _held(lro: Runtime, request: Request, job: Job, caller: Caller, seconds: float) -> Job:
    """The job once it is terminal, or as it is after `seconds`. The job is already
    stored, so a hold that the caps refuse (too many open waits) is no error: the caller
    gets the 202 it would have had without the hold, never a problem for a stored job."""
    try:
        release = holds(lro).acquire(lro, caller)
    except (TooManyRequests, ServiceUnavailable):
        return job
    try:
        done = wait_for_job(lro, job.id, caller, seconds, done=lambda j: j.is_terminal)
        return await while_connected(request, done)
    finally:
        release()


def check_json_media_type(content_type: str | None) -> None:
    """A submit's body is JSON. Saying otherwise is a 415, not a guess: the media types a
    web page can send to another origin without asking first (a form's urlencoded or
    multipart body, text/plain) are all refused, so no site a user visits can submit
    jobs to a server running without keys on their machine. No Content-Type at all is
    read as JSON (no browser sends a body without one)."""
    if content_type is None:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise UnsupportedMediaType(
        f"A submit's body is JSON: send it with 'Content-Type: application/json', not {media!r}."
    )


async def read_object(request: Request, lro: Runtime, not_object: str) -> SubmitBody:
    """Headers checked first (a malformed Idempotency-Key is a 400 whatever the body),
    then the body, which must be a JSON object."""
    key, prefer = read_headers(request)
    check_json_media_type(request.headers.get("content-type"))
    body = await read_json(request, lro.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise Unprocessable(
            not_object,
            extensions={"errors": [{"pointer": "", "detail": "not a JSON object"}]},
        )
    return SubmitBody(body, key, prefer)


def _fast(lro: Runtime, submit: Callable[[Request, Caller], Awaitable[Response]]) -> FastFn:
    """The submit route's fast path (api/routing.py): its dependencies' work (the router's
    start, the caller), then the submit. Its header parameters are plain optional strings
    that FastAPI cannot refuse, and the body is read by lro itself, so nothing of
    FastAPI's validation is skipped. A request with a query string takes FastAPI's path."""

    async def fast(request: Request) -> Response | None:
        if request.scope.get("query_string"):
            return None
        request.state.lro = lro
        await lro.start()
        return await submit(request, authenticate(lro, request))

    return fast


def _operation_endpoint(lro: Runtime, op: Operation) -> Callable[..., Awaitable[Response]]:
    async def submit(request: Request, caller: Caller) -> Response:
        read = await read_object(
            request, lro, "The body must be a JSON object of the operation's parameters."
        )
        reserved = _validate(Reserved, read.body)
        params = {k: v for k, v in read.body.items() if k not in Reserved.model_fields}
        req = SubmitRequest(
            operation=op.name,
            params=params,
            callback_url=reserved.callback_url,
            priority=reserved.priority,
            callback_progress=reserved.callback_progress,
            tags=reserved.tags,
            metadata=reserved.metadata,
            depends_on=reserved.depends_on,
            dependency_policy=reserved.dependency_policy,
        )
        return await submit_and_answer(lro, request, read, req, caller)

    @fast_path(_fast(lro, submit))
    async def submit_operation(
        request: Request,
        caller: Owner,
        idempotency_key: IdempotencyKeyHeader = None,
        prefer: PreferHeader = None,
    ) -> Response:
        return await submit(request, caller)

    return submit_operation


def _generic_endpoint(lro: Runtime) -> Callable[..., Awaitable[Response]]:
    async def submit(request: Request, caller: Caller) -> Response:
        read = await read_object(
            request, lro, 'The body must be a JSON object: {"operation": ..., "params": {...}}.'
        )
        parsed: GenericSubmit = _validate(GenericSubmit, read.body)
        req = SubmitRequest(
            operation=parsed.operation,
            params=parsed.params,
            callback_url=parsed.callback_url,
            priority=parsed.priority,
            delay=parsed.delay_seconds,
            callback_progress=parsed.callback_progress,
            tags=parsed.tags,
            metadata=parsed.metadata,
            depends_on=parsed.depends_on,
            dependency_policy=parsed.dependency_policy,
        )
        return await submit_and_answer(lro, request, read, req, caller)

    @fast_path(_fast(lro, submit))
    async def submit_job(
        request: Request,
        caller: Owner,
        idempotency_key: IdempotencyKeyHeader = None,
        prefer: PreferHeader = None,
    ) -> Response:
        return await submit(request, caller)

    return submit_job


def _request_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": False, "content": {"application/json": {"schema": schema}}}}


class SubmitRoutes:
    """The generic submit route and one route per operation with a `route`, on `router`.

    `add` serves an operation registered after the routes were built: it gets its own
    route, and the generic route's documented list of names grows in place (the OpenAPI
    document refers to that very list)."""

    def __init__(self, router: APIRouter, lro: Runtime) -> None:
        self._router = router
        self._lro = lro
        self._names: list[str] = user_operations(lro.operations)
        generic = inline_schema(GenericSubmit)
        # The names this app registered are the only ones accepted (422 otherwise).
        generic["properties"]["operation"]["enum"] = self._names
        router.add_api_route(
            f"{lro.settings.api_prefix}/jobs",
            _generic_endpoint(lro),
            methods=["POST"],
            status_code=202,
            response_model=None,
            responses=SUBMIT_RESPONSES,
            openapi_extra=_request_body(generic),
            operation_id="submit_job",
            summary="Submit a job of any registered operation",
            tags=["jobs"],
        )
        for op in sorted(lro.operations.values(), key=lambda o: o.name):
            self._add_route(op)

    def add(self, op: Operation) -> None:
        if op.name not in self._names and not op.name.startswith(INTERNAL_PREFIX):
            bisect.insort(self._names, op.name)
        self._add_route(op)

    def _add_route(self, op: Operation) -> None:
        if op.route is None:
            return
        self._router.add_api_route(
            f"{self._lro.settings.api_prefix}{op.route}",
            _operation_endpoint(self._lro, op),
            methods=["POST"],
            status_code=202,
            response_model=None,
            responses=SUBMIT_RESPONSES,
            openapi_extra=_request_body(operation_body_schema(op.params_model)),
            operation_id="submit_" + re.sub(r"[^A-Za-z0-9_]", "_", op.name),
            summary=op.summary or f"Submit a {op.name} job",
            description=f"Queues a `{op.name}` job. The body is the operation's parameters "
            "plus the reserved `callback_url`, `callback_progress`, `priority`, `tags`, "
            "`metadata`, `depends_on` and `dependency_policy`.",
            tags=["operations"],
        )
