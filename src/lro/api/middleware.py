"""ASGI middleware for a whole app (what `create_app` wraps around every route), and the
pieces lro's own route class reuses to keep the same rules in any app (api/routing.py).

    HEAD                for every GET route (RFC 9110 §9.3.2)
    security headers    nosniff, no-referrer; no framing for HTML
    body limit          413 for bodies over the limit, counted while they stream

`ContractMiddleware` does all three in one layer. It is pure ASGI (no
`BaseHTTPMiddleware`): no body buffering, so streams and file downloads pass through
untouched, and the app's exception flow stays intact.

HEAD. FastAPI routes answer only the methods they declare, so `HEAD /api/v1/jobs/{id}`
was a 405. A HEAD is routed as the GET it mirrors and answered with the GET's status and
headers (Content-Length, ETag, Retry-After included) without its body. A streamed answer
(the SSE route) would otherwise keep a HEAD open for as long as the job runs: once the
headers are out, the app is told the client has gone, which ends a stream at once.

Security headers. JSON and problem answers get `nosniff` and `no-referrer` (signed result
links must not leak through a Referer). HTML pages (the interactive docs) also refuse to
be framed.

Body limit. A declared `Content-Length` over the limit is refused before reading a byte,
and a chunked body (no length) is cut off as soon as the running count passes the limit.
A body the framing already bounds (HTTP/1.x: a Content-Length within the limit, or no
body at all) is passed through uncounted, without wrapping the channels (`body_plan`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lro.api.problems import PROBLEM_MEDIA_TYPE, problem_bytes
from lro.errors import PayloadTooLarge


# -- HEAD ---------------------------------------------------------------------------------
def head_channels(receive: Receive, send: Send) -> tuple[Receive, Send]:
    """The channels a GET handler runs with to answer a HEAD: the status and headers go
    out, the body does not, and once they are out the handler hears the client leave."""
    answered = False

    async def receive_until_answered() -> Message:
        if answered:
            return {"type": "http.disconnect"}
        return await receive()

    async def send_head(message: Message) -> None:
        nonlocal answered
        if message["type"] == "http.response.start":
            await send(message)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            answered = True
        # Bodies (and anything after the answer) are not sent for a HEAD.

    return receive_until_answered, send_head


# -- security headers ---------------------------------------------------------------------
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
HTML = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}


_ALWAYS_RAW = [(name.lower().encode(), value.encode()) for name, value in ALWAYS.items()]
_HTML_RAW = [(name.lower().encode(), value.encode()) for name, value in HTML.items()]
_SECURITY_NAMES = frozenset(name for name, _ in _ALWAYS_RAW + _HTML_RAW)

SECURED = "lro.secured"
"""Scope key: `ContractMiddleware` adds the headers to every answer of this request,
so a route need not wrap its `send` a second time (`secured_send`)."""


def add_security_headers(message: Message) -> None:
    """Add to an `http.response.start` message the security headers it lacks (never
    overriding its own). On the raw header list, in one pass over it: every answer
    passes here, and Starlette's MutableHeaders cost a poll a few µs more."""
    raw = message.get("headers") or ()
    present: set[bytes] = set()
    html = False
    for name, value in raw:
        lower = name.lower()
        if lower in _SECURITY_NAMES:
            present.add(lower)
        elif lower == b"content-type" and value[:9].lower() == b"text/html":
            html = True
    added = [(n, v) for n, v in _ALWAYS_RAW if n not in present]
    if html:
        added += [(n, v) for n, v in _HTML_RAW if n not in present]
    if added:
        message["headers"] = [*raw, *added]


def with_security_headers(send: Send) -> Send:
    """`send` that adds the security headers an answer lacks (never overriding its own)."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            add_security_headers(message)
        await send(message)

    return send_with_headers


def secured_send(scope: Scope, send: Send) -> Send:
    """`send` with the security headers, unless the app's middleware adds them already."""
    return send if scope.get(SECURED) else with_security_headers(send)


# -- body limit -----------------------------------------------------------------------------
def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than the limit of {limit} bytes.",
        extensions={"max_body_bytes": limit},
        # The unread rest of the body is still on the wire: the connection cannot be reused.
        headers={"Connection": "close"},
    )


LIMITED = "lro.body_limit"
"""Scope key: the body limit `ContractMiddleware` already enforces on this request, so a
route with the same limit (or a larger one) need not plan and count the body again."""

REFUSE, COUNT, BOUNDED = "refuse", "count", "bounded"
"""What a request's framing says of its body against the limit (`body_plan`)."""


def body_plan(scope: Scope, limit: int) -> str:
    """REFUSE: a declared `Content-Length` over `limit` (refused unread). BOUNDED: the
    body cannot pass the limit, so nobody need count it: HTTP/1.x frames a body by its
    Content-Length (within the limit) or, with neither that nor Transfer-Encoding,
    there is none (RFC 9112 §6.3); most requests are GETs without a body. COUNT: a
    chunked body, or a protocol whose framing this does not know."""
    length: int | None = None
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name == b"transfer-encoding":
            return COUNT
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return COUNT
    if length is not None and length > limit:
        return REFUSE
    return BOUNDED if scope.get("http_version") in ("1.0", "1.1") else COUNT


def limited(receive: Receive, limit: int) -> Receive:
    """`receive` that raises PayloadTooLarge once the body read so far passes `limit`."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(limit)
        return message

    return limited_receive


async def send_too_large(scope: Scope, send: Send, limit: int) -> None:
    """The 413 problem, sent directly (nothing of the app has answered yet)."""
    body = problem_bytes(too_large(limit), instance=scope.get("path"))
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *((k.lower().encode(), v.encode()) for k, v in ALWAYS.items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- the app's middleware --------------------------------------------------------------------
class ContractMiddleware:
    """HEAD, the security headers and the body limit for every route of an app
    (`create_app`), lro's and the app's own: one layer, where three middlewares cost
    every request two more calls and a wrapped `send`. lro's routes keep the same rules
    themselves wherever they are (api/routing.py), and skip what this already did (the
    scope flags `SECURED` and `LIMITED`; a HEAD reaches them as the GET).

    HEAD is answered as the GET with `head_channels`. Reading past `max_body_bytes`
    raises `PayloadTooLarge` inside the app, so an app with lro's problem handlers renders
    it like any other problem; if it escapes the app before a response started, this
    sends the 413 itself.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}  # everything inside sees the GET
            receive, send = head_channels(receive, send)
        scope[SECURED] = True
        scope[LIMITED] = self.limit
        send = with_security_headers(send)
        plan = body_plan(scope, self.limit)
        if plan == REFUSE:
            await send_too_large(scope, send, self.limit)
            return
        if plan == BOUNDED:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited(receive, self.limit), tracking_send)
        except PayloadTooLarge:
            if started:
                raise
            await send_too_large(scope, send, self.limit)


__all__ = [
    "ALWAYS",
    "BOUNDED",
    "COUNT",
    "HTML",
    "LIMITED",
    "REFUSE",
    "ContractMiddleware",
    "body_plan",
    "head_channels",
    "limited",
    "secured_send",
    "send_too_large",
    "too_large",
    "with_security_headers",
]
