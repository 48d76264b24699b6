"""Signed, expiring result links: a URL a browser or a download tool can fetch without
sending an Authorization header (HTTP-CONTRACT §9 keeps every other route behind keys).

A link is `{prefix}/signed/jobs/{job_id}/result?expires=<unix>&sig=<mac>`, where the mac
is HMAC-SHA256 over the job id and the expiry with a key every API process shares
(LRO_RESULT_LINK_SECRET, else one generated once and kept in the store). The link only
ever opens that one job's result until it expires. A tampered, foreign or expired link
answers one and the same 403, whether or not the job exists, so links cannot be used to
probe for jobs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import time
import weakref
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from lro.api.problems import problem_responses
from lro.api.routing import accepts_nul
from lro.errors import Forbidden
from lro.models import Job, Status, utcnow

if TYPE_CHECKING:
    from lro.runtime import Runtime

SECRET_KEY = "result_link_secret"
_CANONICAL = re.compile(r"[1-9][0-9]{0,14}")
_KEYS: weakref.WeakKeyDictionary[Runtime, bytes] = weakref.WeakKeyDictionary()


async def link_key(lro: Runtime) -> bytes:
    key = _KEYS.get(lro)
    if key is None:
        secret = lro.settings.result_link_secret or await lro.store.outbox.shared_setting(
            SECRET_KEY, secrets.token_urlsafe(32)
        )
        key = _KEYS[lro] = hashlib.sha256(secret.encode()).digest()
    return key


def signature(key: bytes, job_id: str, expires: int) -> str:
    mac = hmac.new(key, f"result\n{job_id}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


async def result_link(lro: Runtime, job: Job, base: str) -> str | None:
    """A signed link to a completed job's result, valid for LRO_RESULT_LINK_SECONDS (never
    past the job's own expiry), under the API's `base` path; None for jobs that have no
    result."""
    if job.status is not Status.COMPLETED:
        return None
    expires = math.floor(time.time() + lro.settings.result_link_seconds)
    if job.expires_at is not None:
        expires = min(expires, math.floor(job.expires_at.timestamp()))
    sig = signature(await link_key(lro), job.id, expires)
    return f"{base}/signed/jobs/{job.id}/result?expires={expires}&sig={sig}"


def _refused() -> Forbidden:
    return Forbidden("This result link is not valid or has expired; ask for a new one.")


def add_link_routes(router: APIRouter, lro: Runtime, serve: Any) -> None:
    """`serve(lro, job)` answers with the job's result (lro.api.jobs.serve_result)."""

    @router.get(
        f"{lro.settings.api_prefix}/signed/jobs/{{job_id}}/result",
        response_model=None,
        responses={
            200: {"description": "The result, as from GET /jobs/{job_id}/result."},
            206: {"description": "A byte range of it, as from GET /jobs/{job_id}/result."},
            307: {"description": "Fetch it from the object store, as GET /jobs/{job_id}/result."},
            **problem_responses(403, 409, 416, 503),
        },
        operation_id="get_signed_result",
        summary="Download a result with a signed link (no Authorization header)",
        tags=["jobs"],
    )
    @accepts_nul  # never reaches the store: a link with a NUL fails its signature first
    async def get_signed_result(
        job_id: Annotated[str, Path(description="The job's id.")],
        expires: Annotated[
            str | None, Query(description="Unix time the link stops working.")
        ] = None,
        sig: Annotated[str | None, Query(description="The link's signature.")] = None,
    ) -> Response:
        # Parsed here, not by FastAPI: a missing, mangled or re-spelled part gets the same
        # 403 as a forged link. Only the spelling lro writes counts (no sign, no leading
        # zero, ASCII digits only), so one link has exactly one valid form.
        when = int(expires) if expires is not None and _CANONICAL.fullmatch(expires) else 0
        expected = signature(await link_key(lro), job_id, when)
        given = (sig or "").encode("ascii", "replace")
        if not hmac.compare_digest(expected.encode(), given) or when < time.time():
            raise _refused()
        job = await lro.store.get_job(job_id)
        if job is None or job.is_expired(utcnow()):
            raise _refused()  # the link was real, the job is gone: say no more than that
        response: Response = await serve(lro, job)
        return response
