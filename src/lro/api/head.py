"""HEAD for every GET route, as RFC 9110 §9.3.2 asks of a general-purpose server.

FastAPI routes answer only the methods they declare, so `HEAD /api/v1/jobs/{id}` was a
405. This pure ASGI middleware routes a HEAD as the GET it mirrors and sends the GET's
status and headers (Content-Length, ETag, Retry-After included) without its body.

A streamed answer (the SSE route) would otherwise keep a HEAD open for as long as the job
runs: once the headers are out, the app is told the client has gone, which ends a stream
at once; whatever it still sends is dropped. HEAD stays out of the OpenAPI document, as
it is implied by GET.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


class HeadMiddleware:
    """For an app's own routes; lro's routes answer HEAD themselves (api/routing.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        head_receive, head_send = head_channels(receive, send)
        await self.app({**scope, "method": "GET"}, head_receive, head_send)


__all__ = ["HeadMiddleware", "head_channels"]
