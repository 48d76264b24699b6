"""Request body limit as a pure ASGI middleware.

The limit is enforced while the body streams in, not after it was buffered: a declared
`Content-Length` over the limit is refused before reading a byte, and a chunked body
(no length) is cut off as soon as the running count passes the limit. A pure ASGI
wrapper (not `BaseHTTPMiddleware`) keeps the app's streaming and exception flow intact.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lro.api.problems import PROBLEM_MEDIA_TYPE, problem_bytes
from lro.errors import PayloadTooLarge


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than the limit of {limit} bytes.",
        extensions={"max_body_bytes": limit},
        # The unread rest of the body is still on the wire: the connection cannot be reused.
        headers={"Connection": "close"},
    )


class BodyLimitMiddleware:
    """Answers 413 (problem+json) for bodies over `max_body_bytes`.

    Reading past the limit raises `PayloadTooLarge` inside the app, so an app with lro's
    problem handlers renders it like any other problem; if it escapes the app before a
    response started, this middleware sends the 413 itself.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._send_413(scope, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge:
            if started:
                raise
            await self._send_413(scope, send)

    async def _send_413(self, scope: Scope, send: Send) -> None:
        body = problem_bytes(too_large(self.limit), instance=scope.get("path"))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
