"""Who is calling: the one place the API asks for the caller's identity.

Every route takes its caller from `principal`, and the store scopes jobs, lists and
idempotency keys by `Caller.principal`. With LRO_API_KEYS empty, auth is off and everyone
is the anonymous principal "". With keys, every route needs `Authorization: Bearer <key>`
and answers 401 otherwise. Principals named in LRO_ADMIN_PRINCIPALS see every job.

An application with its own auth replaces the dependency, the FastAPI way:

    app.dependency_overrides[lro.api.auth.principal] = my_auth   # returns a lro.Caller
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from lro.api.problems import problem_responses
from lro.api.routing import plain_dependency
from lro.config import parse_api_keys
from lro.errors import Unauthorized

if TYPE_CHECKING:
    from lro.runtime import Runtime

ANONYMOUS = ""
REALM = 'Bearer realm="lro"'


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal. `admin` sees and manages every principal's jobs."""

    principal: str
    admin: bool = False

    def sees(self, owner: str) -> bool:
        return self.admin or owner == self.principal

    @property
    def scope(self) -> str | None:
        """The owner whose jobs a list shows: None (everyone's) for an admin."""
        return None if self.admin else self.principal

    @property
    def limited(self) -> bool:
        """Whether abuse limits apply: to every authenticated principal but admins (the
        anonymous principal exists only while auth is off, for local use)."""
        return not self.admin and self.principal != ANONYMOUS


class KeyRing:
    """LRO_API_KEYS parsed: `principal:key` pairs, comma-separated.

    Lookups compare SHA-256 digests of the presented and every configured key with
    `hmac.compare_digest`, all of them every time: the time taken says neither whether a
    key matched nor which one, and equal-length digests leak no length either. Keys never
    appear in logs or errors.
    """

    def __init__(self, spec: str, admins: str = "admin") -> None:
        self._entries = [(_digest(key), name) for name, key in parse_api_keys(spec)]
        self.admins = frozenset(a.strip() for a in admins.split(",") if a.strip())

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def lookup(self, presented: str) -> Caller | None:
        digest = _digest(presented)
        found: str | None = None
        for key, name in self._entries:
            if hmac.compare_digest(digest, key):
                found = name
        if found is None:
            return None
        return Caller(found, admin=found in self.admins)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


@lru_cache(maxsize=8)
def key_ring(spec: str, admins: str) -> KeyRing:
    return KeyRing(spec, admins)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(lro: Runtime, request: Request) -> Caller:
    """The caller per LRO_API_KEYS (anonymous when none are configured), else 401."""
    ring = key_ring(lro.settings.api_keys, lro.settings.admin_principals)
    if not ring.enabled:
        return Caller(ANONYMOUS)
    token = bearer_token(request)
    caller = ring.lookup(token) if token is not None else None
    if caller is None:
        raise Unauthorized(
            "Send a valid API key as 'Authorization: Bearer <key>'."
            if token is None
            else "The API key is not valid.",
            headers={"WWW-Authenticate": REALM},
        )
    return caller


@plain_dependency
async def principal(request: Request) -> Caller:
    """The caller of this request (see the module docstring to plug in your own auth)."""
    lro: Runtime = request.state.lro  # set by the router's first dependency (lro.api)
    return authenticate(lro, request)


Owner = Annotated[Caller, Depends(principal)]

BEARER = plain_dependency(
    HTTPBearer(
        auto_error=False,
        scheme_name="apiKey",
        description="An API key from LRO_API_KEYS, as `Authorization: Bearer <key>`.",
    )
)
"""Only documents the scheme: `principal` reads and checks the header itself."""


def auth_dependencies(lro: Runtime) -> list[params.Depends]:
    """With API keys configured, the routes that identify their caller declare the bearer
    scheme, so the OpenAPI document says which header to send (and generated clients
    send it); with auth off they declare none, as none is needed."""
    if not key_ring(lro.settings.api_keys, lro.settings.admin_principals).enabled:
        return []
    return [Depends(BEARER)]


RATE_LIMITED = ("submit_", "get_job", "job_events", "job_list_events")
"""Operation ids (or their prefix) that answer 429 under the per-principal limits."""


def unauthorized_response() -> dict[str, Any]:
    """The OpenAPI entry of a 401: a problem, with the WWW-Authenticate header it carries."""
    unauthorized = problem_responses(401)[401]
    unauthorized["headers"] = {
        "WWW-Authenticate": {"description": "How to authenticate.", "schema": {"type": "string"}}
    }
    return unauthorized


def document_auth(router: APIRouter, lro: Runtime) -> None:
    """With API keys configured, every route that identifies its caller can answer 401,
    and the submit, long-poll and stream routes 429: say so in the OpenAPI document."""
    if not key_ring(lro.settings.api_keys, lro.settings.admin_principals).enabled:
        return
    unauthorized = unauthorized_response()
    limited = problem_responses(429)[429]
    for route in router.routes:
        if not isinstance(route, APIRoute) or not _uses(route.dependant, principal):
            continue
        route.responses.setdefault(401, unauthorized)
        if (route.operation_id or "").startswith(RATE_LIMITED):
            route.responses.setdefault(429, limited)


def _uses(dependant: Dependant, call: object) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)
