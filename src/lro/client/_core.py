"""The sans-IO core: configuration, request building, backoff, and the actions a plan asks
its driver to perform.

Every client operation is written once, as a *plan*: a generator that yields actions
(`Send` this request, `Sleep` this long, give me the `Next` event of that stream, ...)
and receives their outcomes, or has the I/O error thrown into it at the `yield`. The plan
holds all the logic: retries, backoff, idempotency, resumption, fallbacks. `Client` and
`AsyncClient` are thin drivers that perform the actions with blocking or async I/O, so the
two cannot drift apart and every rule is written (and tested) once.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from lro.client.errors import WaitTimeout
from lro.client.models import JobResource

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that mean "not now" rather than "no": the request had no effect and may be sent
again. 500 is not among them: it usually means a bug, which repeating does not fix."""


# -- actions -----------------------------------------------------------------------------
# `within` on the actions that wait for the network: the most seconds the driver may spend
# on the action before it gives up and throws `Expired` into the plan at the `yield`. It
# is how a plan makes a deadline hold whatever the server does: httpx's own timeouts
# restart with every byte received, so a stream of events and heartbeats would outlive
# any of them. None: no limit beyond the request's timeouts.
@dataclass(frozen=True, slots=True)
class Send:
    """Send the request; the outcome is the response. With `stream`, only the headers have
    been read and the driver keeps the response open until `Close` or the end of the plan.
    A `within` is enforced exactly by the async driver; the blocking one has only httpx's
    per-phase timeouts for this step, so the plan clips those to the same limit too."""

    request: httpx.Request
    stream: bool = False
    within: float | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Read:
    """Read a streamed response's whole body (to build an error from it)."""

    response: httpx.Response
    within: float | None = None


@dataclass(frozen=True, slots=True)
class Next:
    """The next item of a streamed response's body: a `ServerSentEvent` (kind "sse") or a
    chunk of bytes (kind "bytes"); None at the end of the body. A read that would outlast
    `within` is cut: the driver ends it at that time and throws `Expired`."""

    response: httpx.Response
    kind: Literal["sse", "bytes"]
    within: float | None = None


@dataclass(frozen=True, slots=True)
class Close:
    response: httpx.Response


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand an item to the caller of an iterator method (`events`, `iter_jobs`)."""

    item: object


@dataclass(frozen=True, slots=True)
class Call:
    """Call a user callback with the job, or a partial result (awaited by the async driver
    if it is a coroutine)."""

    callback: Callable[[Any], object]
    job: Any


class Expired(Exception):
    """Thrown into a plan at the `yield` of an action that ran out of its `within`. A stream
    being read is left unusable but open: the plan still `Close`s it (or the driver does,
    at the end of the run)."""


Action = Send | Sleep | Read | Next | Close | Emit | Call
Plan = Generator[Action, Any, T]
"""A generator of actions that returns the operation's result."""


# -- configuration -----------------------------------------------------------------------
@dataclass(frozen=True)
class Backoff:
    """How long to wait between retries: "full jitter" exponential backoff, drawn uniformly
    from 0 to min(cap, base * 2**(failures-1)), so many clients failing together do not
    retry together. A server's `Retry-After` wins, up to `max_retry_after`: a server that
    asks for a longer pause gets an error back at once, so the caller decides whether to
    wait that long rather than a library call blocking for minutes."""

    base: float = 0.5
    cap: float = 10.0
    max_retry_after: float = 60.0

    def ceiling(self, failures: int) -> float:
        exponent = min(max(failures, 1) - 1, 62)
        return max(0.0, min(self.cap, self.base * 2.0**exponent))

    def delay(
        self,
        failures: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds before the next try after `failures` consecutive failures, or None when
        the server's `Retry-After` is beyond `max_retry_after`."""
        if retry_after is None:
            return self.ceiling(failures) * rand()
        if retry_after > self.max_retry_after:
            return None
        # Many clients told the same Retry-After would come back in the same instant: add
        # up to a tenth more, never less than the server asked for.
        return retry_after * (1 + 0.1 * rand())


def _user_agent() -> str:
    try:
        version = metadata.version("lro")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "0"
    return f"lro-client/{version} httpx/{httpx.__version__}"


QueryParams = Mapping[str, str | int] | httpx.QueryParams
"""Query parameters; `httpx.QueryParams` when a name repeats (`tag=a&tag=b`)."""


@dataclass(frozen=True)
class Config:
    """Everything a plan needs to know about the server and the retry policy."""

    base_url: str
    prefix: str
    timeout: float
    max_retries: int
    backoff: Backoff
    headers: Mapping[str, str]
    clock: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def create(
        cls,
        url: str,
        *,
        api_key: str | None,
        prefix: str,
        timeout: float,
        max_retries: int,
        backoff: Backoff | None,
        headers: Mapping[str, str] | None,
    ) -> Config:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"url must be an absolute http(s) URL, got {url!r}")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        all_headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
        all_headers.update(headers or {})
        if api_key is not None:
            all_headers["Authorization"] = f"Bearer {api_key}"
        clean_prefix = "/" + prefix.strip("/")
        return cls(
            base_url=url.rstrip("/"),
            prefix="" if clean_prefix == "/" else clean_prefix,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff or Backoff(),
            headers=all_headers,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> httpx.Request:
        """A complete request for `{url}{prefix}{path}`. The timeout travels with the request
        (httpx's transports read it from there), so a long poll can get a longer one."""
        return self.request_to(
            method, self.url(path), params=params, json=json, headers=headers, timeout=timeout
        )

    def url(self, path: str) -> httpx.URL:
        return httpx.URL(self.base_url + self.prefix + path)

    def request_to(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> httpx.Request:
        """A request for any absolute URL (a redirect's target). The configured headers,
        the API key among them, go only to the service's own origin: another one, such as
        the object store behind a presigned URL, gets just the request's own headers and
        the User-Agent, so it never sees a credential meant for the service."""
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(self.timeout if timeout is None else timeout)
        if same_origin(url, httpx.URL(self.base_url)):
            common: Mapping[str, str] = self.headers
        else:
            common = {k: v for k, v in self.headers.items() if k.lower() == "user-agent"}
        return httpx.Request(
            method,
            url,
            params=params,
            json=json,
            headers={**common, **(headers or {})},
            extensions={"timeout": timeout.as_dict()},
        )

    def retry_delay(self, failures: int, retry_after: float | None = None) -> float | None:
        """The pause before retry number `failures`, or None when no retry is left."""
        if failures > self.max_retries:
            return None
        return self.backoff.delay(failures, retry_after)


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """RFC 6454: same scheme, host and port (an absent port is the scheme's default)."""
    defaults = {"http": 80, "https": 443}

    def origin(url: httpx.URL) -> tuple[str, str, int | None]:
        return url.scheme, url.host, url.port or defaults.get(url.scheme)

    return origin(a) == origin(b)


def job_path(job_id: str, *rest: str) -> str:
    if not job_id:
        raise ValueError("job_id must not be empty")
    return "/".join(("/jobs", quote(job_id, safe=""), *rest))


# -- reading answers ---------------------------------------------------------------------
def is_transient(exc: BaseException) -> bool:
    """Network trouble that a new attempt may not meet: timeouts, refused or reset
    connections, a peer that closed mid-answer. Not: bad URLs, TLS or proxy setup."""
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def header(response: httpx.Response, name: str) -> str | None:
    value: str | None = response.headers.get(name)
    return value


def media_type(response: httpx.Response) -> str:
    """`text/csv` for `Content-Type: text/csv; charset=utf-8`; "" when absent."""
    return (header(response, "content-type") or "").partition(";")[0].strip().lower()


def retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(header(response, "retry-after"))


def is_json(response: httpx.Response) -> bool:
    media = media_type(response)
    return media == "application/json" or media.endswith("+json")


# -- deadlines ---------------------------------------------------------------------------
@dataclass
class Deadline:
    """The end of a `wait(timeout=...)`; remembers the last job seen for the error."""

    job_id: str
    timeout: float | None
    clock: Callable[[], float]
    last: JobResource | None = None
    at: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.at = None if self.timeout is None else self.clock() + max(self.timeout, 0.0)

    def remaining(self) -> float | None:
        """Seconds left (negative once past), or None without a timeout: what a plan puts
        in an action's `within`."""
        return None if self.at is None else self.at - self.clock()

    def clip(self, seconds: float) -> float:
        """`seconds`, shortened to end no later than the deadline."""
        left = self.remaining()
        return seconds if left is None else max(min(seconds, left), 0.0)

    def request_timeout(self, seconds: float, *, read: float | None = None) -> httpx.Timeout:
        """httpx timeouts of `seconds` per phase (`read` for reads), none beyond the
        deadline. Not zero: httpx would make that a non-blocking socket, failing at once."""

        def clipped(value: float) -> float:
            return max(self.clip(value), 0.001)

        return httpx.Timeout(clipped(seconds), read=clipped(seconds if read is None else read))

    def allows(self, seconds: float) -> bool:
        left = self.remaining()
        return left is None or seconds < left

    def exceeded(self) -> WaitTimeout:
        return WaitTimeout(self.job_id, self.timeout, self.last)
