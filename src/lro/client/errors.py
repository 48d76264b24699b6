"""What the client raises, and how an HTTP error answer becomes an exception.

    ClientError                      anything lro.client raises on purpose
    ├── ApiError                     the server answered with an error status (RFC 9457 body)
    │   ├── BadRequest               400  malformed header, query or cursor
    │   ├── Unauthorized             401  missing or wrong API key
    │   ├── NotFound                 404  unknown job (or someone else's)
    │   ├── Conflict                 409  wrong status for the action (e.g. cancel a finished job)
    │   ├── Gone                     410  the job expired with its result
    │   ├── Unprocessable            422  invalid params, unknown operation, key reused
    │   ├── RateLimited              429  still limited after the retries ran out
    │   └── ServiceUnavailable       503  still unavailable after the retries ran out
    ├── TransportFailure             no answer at all after the retries ran out
    ├── ProtocolError                an answer that breaks the contract (not a job, not SSE)
    └── WaitTimeout (TimeoutError)   wait(timeout=...) ran out before the job ended

Other statuses (413, 416, 500, 502, 504, ...) raise a plain `ApiError`. Every class keeps
the server's problem document, so callers can show its `detail` or read extension members
such as `errors` (field-level validation) or `job_status` (on 409).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from lro.client.models import JobResource

_DETAIL_CHARS = 300
"""Enough of a non-problem error body (a proxy's HTML page) to recognise it in a log."""


class ClientError(Exception):
    """Base of every error lro.client raises on purpose."""


class ApiError(ClientError):
    """The server answered with a 4xx/5xx status; `problem` is its RFC 9457 document."""

    def __init__(
        self,
        status: int,
        problem: dict[str, Any],
        *,
        retry_after: float | None = None,
        request: str | None = None,
    ) -> None:
        self.status = status
        self.problem = problem
        self.retry_after = retry_after
        self.request = request
        """`METHOD url` of the request that failed, for logs."""
        super().__init__(str(self))

    @property
    def title(self) -> str:
        return str(self.problem.get("title") or _reason(self.status))

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or "")

    @property
    def type(self) -> str:
        return str(self.problem.get("type") or "about:blank")

    def __str__(self) -> str:
        text = f"{self.status} {self.title}"
        if self.detail:
            text += f": {self.detail}"
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:g}s)"
        return " ".join(text.split())


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    @property
    def job_status(self) -> str | None:
        """The job's status that made the action impossible, when the server said it."""
        value = self.problem.get("job_status")
        return value if isinstance(value, str) else None


class Gone(ApiError):
    pass


class Unprocessable(ApiError):
    @property
    def errors(self) -> list[dict[str, Any]]:
        """Field-level validation errors (`pointer`, `detail`), when the server sent them."""
        value = self.problem.get("errors")
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


class RateLimited(ApiError):
    pass


class ServiceUnavailable(ApiError):
    pass


class TransportFailure(ClientError):
    """No usable answer: connection refused or reset, timeouts, broken streams, after
    `attempts` tries. The original httpx exception is the `__cause__`."""

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class ProtocolError(ClientError):
    """The server answered 2xx with something the contract does not allow (a body that is
    not a job resource, an events route that is not an event stream). Usually a proxy or a
    server of another kind at the configured URL."""


class WaitTimeout(ClientError, TimeoutError):
    """`wait()` gave up after `timeout` seconds; `last` is the newest state it saw."""

    def __init__(self, job_id: str, timeout: float | None, last: JobResource | None) -> None:
        self.job_id = job_id
        self.timeout = timeout
        self.last = last
        within = f" within {timeout:g}s" if timeout is not None else ""
        seen = f"; last seen {last.status} at {last.progress_pct:g}%" if last else ""
        super().__init__(f"job {job_id} did not finish{within}{seen}")


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Unprocessable,
    429: RateLimited,
    503: ServiceUnavailable,
}


def _reason(status: int) -> str:
    return httpx.codes.get_reason_phrase(status) or "Error"


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The response's problem document; a body that is not one (a proxy's error page)
    becomes a minimal problem whose detail is the start of that body."""
    content_type = response.headers.get("content-type", "").partition(";")[0].strip()
    if content_type.endswith("json"):
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body
    text = response.content[:_DETAIL_CHARS].decode("utf-8", "replace").strip()
    return {"status": response.status_code, "title": _reason(response.status_code), "detail": text}


def error_from_response(response: httpx.Response, retry_after: float | None) -> ApiError:
    """The exception for an error answer whose body has been read."""
    cls = _BY_STATUS.get(response.status_code, ApiError)
    request = f"{response.request.method} {response.request.url}"
    return cls(response.status_code, problem_of(response), retry_after=retry_after, request=request)
