"""One webhook delivery attempt: check the target again, POST to the checked address, judge.

The URL was checked at submit, but DNS may answer differently now (rebinding), so every
attempt re-runs the SSRF guard and connects to the very address it approved: the request
goes to `http(s)://<checked ip>:<port>/...` while the `Host` header, and for https the TLS
SNI and certificate check (httpcore's `sni_hostname` request extension), use the name from
the URL. Redirects are never followed (they could point anywhere), the answer is read up to
a cap, and environment proxies are ignored (a proxy would connect elsewhere).

`send` never raises for a delivery problem: the outcome is an `AttemptResult` that the
dispatcher turns into "done", "retry later" or "give up".
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

import httpx

from lro.webhooks.ssrf import (
    ResolvedAddress,
    Resolver,
    TargetPolicy,
    TargetRefused,
    check_url,
    parse_numeric_host,
)

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
_EXCERPT_CHARS = 200


def _user_agent() -> str:
    try:
        return f"lro-webhooks/{metadata.version('lro')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "lro-webhooks/0"


USER_AGENT = _user_agent()


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt came to. `status_code` is None when no answer arrived (refused
    target, connection error, timeout); `permanent` means retrying cannot help (410 Gone,
    a refused address); `retry_after` is the receiver's wish on 429/503, in seconds."""

    status_code: int | None
    duration_ms: float
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        """Delivered: the receiver answered 2xx."""
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


async def send(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    policy: TargetPolicy,
    timeout: float,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | None = None,
) -> AttemptResult:
    """POST `body` to `url` once, within `timeout` seconds all told (DNS included).

    `headers` are the webhook headers (`signing.headers_for`); Content-Type defaults to
    application/json. `verify` replaces the default trust store (certifi, or
    SSL_CERT_FILE / SSL_CERT_DIR), e.g. with a context trusting a private CA.
    """
    started = time.perf_counter()
    deadline = asyncio.get_running_loop().time() + timeout

    def finish(
        status_code: int | None,
        error: str | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> AttemptResult:
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        return AttemptResult(status_code, elapsed, error, retry_after, permanent)

    try:
        async with asyncio.timeout_at(deadline):
            addresses = await check_url(url, policy, resolver)
    except TargetRefused as exc:
        return finish(None, error=exc.reason, permanent=not exc.transient)
    except TimeoutError:
        return finish(None, error=f"the callback_url host did not resolve within {timeout:g} s")
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return finish(None, error=f"callback_url cannot be sent: {exc}", permanent=True)
    request_headers = {
        "user-agent": USER_AGENT,
        "content-type": "application/json",
        "accept-encoding": "identity",  # the capped read counts raw bytes, no inflating
        **{k.lower(): v for k, v in headers.items()},
        "host": target.netloc.decode("ascii"),
    }
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        verify=verify or _default_tls(),
    )
    async with client:
        failures: list[str] = []
        for address in addresses:
            request = client.build_request(
                "POST",
                target.copy_with(host=str(address.ip), port=address.port),
                content=body,
                headers=request_headers,
                extensions=_sni(target, address),
            )
            try:
                async with asyncio.timeout_at(deadline):
                    response = await client.send(request, stream=True)
            except httpx.ConnectError as exc:
                # The next checked address of the same host may answer.
                failures.append(f"could not connect to {_where(address)}: {_text(exc)}")
                continue
            except (TimeoutError, httpx.TimeoutException):
                return finish(None, error=f"no answer from {_where(address)} within {timeout:g} s")
            except httpx.HTTPError as exc:
                return finish(None, error=f"request to {_where(address)} failed: {_text(exc)}")
            try:
                head = await _read_capped(response, max_response_bytes, deadline)
            finally:
                await response.aclose()
            return finish(response.status_code, *_judge(response, head))
        return finish(None, error="; ".join(failures))


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """Loading the CA bundle costs ~0.1 s, so attempts share one context."""
    return httpx.create_ssl_context()


def _sni(target: httpx.URL, address: ResolvedAddress) -> dict[str, str]:
    """TLS must name the host, not the IP we connect to, so the certificate is checked
    against the name (a literal IP in the URL needs nothing: it is what we connect to)."""
    if target.scheme != "https" or parse_numeric_host(address.host) is not None:
        return {}
    return {"sni_hostname": target.raw_host.decode("ascii")}


def _where(address: ResolvedAddress) -> str:
    ip = f"[{address.ip}]" if address.ip.version == 6 else str(address.ip)
    return f"{address.host} ({ip}:{address.port})"


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _read_capped(response: httpx.Response, cap: int, deadline: float) -> bytes:
    """Up to `cap` bytes of the body, best effort: the status already decided the attempt,
    so a body that breaks off or trickles past the deadline is merely cut short."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout_at(deadline):
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size >= cap:
                    break
    except (TimeoutError, httpx.HTTPError):
        pass
    return b"".join(chunks)[:cap]


def _judge(response: httpx.Response, head: bytes) -> tuple[str | None, float | None, bool]:
    """(error, retry_after, permanent) for an answer."""
    code = response.status_code
    if 200 <= code < 300:
        return None, None, False
    retry_after = None
    if code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    if 300 <= code < 400:
        where = response.headers.get("location", "")
        return f"receiver answered {code} (to {where!r}); redirects are not followed", None, False
    if code == 410:
        return "receiver answered 410 Gone: it wants no more deliveries", None, True
    excerpt = " ".join(head.decode("utf-8", "replace").split())[:_EXCERPT_CHARS]
    error = f"receiver answered {code} {response.reason_phrase or 'error'}"
    return error + (f": {excerpt}" if excerpt else ""), retry_after, False


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP-date), or None
    when absent or unreadable. A date in the past means "now": 0."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
