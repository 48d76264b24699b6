"""The HTTP/1.1 protocol `lro serve` runs under uvicorn: uvicorn's own, with two holes closed.

* **Bytes no parser accepts** (a header with a byte HTTP forbids, a broken request line)
  are answered before any app sees them, and uvicorn answers them `text/plain`. Every
  other error lro sends is `application/problem+json` (RFC 9457); this one is too.
* **Slow headers.** uvicorn times out idle keep-alive connections, but not a request whose
  headers never finish: a client that connects and sends nothing, or one header byte a
  second, held its socket (and a file descriptor) for as long as it liked ("slow loris").
  A connection now has `LRO_HEADERS_TIMEOUT_SECONDS` from its first byte of a request (or
  from connecting) to the end of that request's headers, and is closed when it runs out.
  Bodies and answers are not limited by it: a long upload or an event stream is fine.

The classes are passed to uvicorn as its `http` protocol (see `protocol_class`), so an
application served by its own uvicorn can use them the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from lro.api.middleware import ALWAYS
from lro.api.problems import PROBLEM_MEDIA_TYPE, problem_body

log = logging.getLogger("lro.http")

DEFAULT_HEADERS_TIMEOUT = 10.0


def _problem_400(detail: str) -> bytes:
    body = json.dumps(problem_body(400, detail), separators=(",", ":")).encode()
    head = [
        b"HTTP/1.1 400 Bad Request",
        b"content-type: " + PROBLEM_MEDIA_TYPE.encode(),
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
        *(name.lower().encode() + b": " + value.encode() for name, value in ALWAYS.items()),
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


REFUSED = (
    "The request could not be read as HTTP/1.1 (a malformed request line, or a header with "
    "bytes HTTP does not allow)."
)


class _HeadersDeadline:
    """The timer of one connection: armed while a request's headers are unfinished."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self._loop = loop
        self._seconds = seconds
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, transport: asyncio.BaseTransport) -> None:
        if self._timer is None and self._seconds > 0:
            self._timer = self._loop.call_later(self._seconds, _expire, transport, self._seconds)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _expire(transport: asyncio.BaseTransport, seconds: float) -> None:
    if not transport.is_closing():
        log.info("closing a connection whose request headers took over %g s", seconds)
        transport.close()


class LroH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with problem+json 400s and the headers deadline."""

    headers_timeout: float = DEFAULT_HEADERS_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline = _HeadersDeadline(self.loop, self.headers_timeout)
        self._deadline.arm(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Until a request's headers are complete, h11 keeps its client side in IDLE.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._deadline.arm(self.transport)
        else:
            self._deadline.disarm()

    def send_400_response(self, msg: str) -> None:
        self.transport.write(_problem_400(REFUSED))
        self.transport.close()


def _httptools_class() -> type[Any] | None:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is optional in uvicorn; h11 is always there
        return None

    class LroHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with problem+json 400s and the headers deadline."""

        headers_timeout: float = DEFAULT_HEADERS_TIMEOUT

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._deadline = _HeadersDeadline(self.loop, self.headers_timeout)
            self._deadline.arm(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            self._deadline.disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._deadline.arm(self.transport)

        def on_headers_complete(self) -> None:
            self._deadline.disarm()
            super().on_headers_complete()

        def send_400_response(self, msg: str) -> None:
            self.transport.write(_problem_400(REFUSED))
            self.transport.close()

    return LroHttpToolsProtocol


def protocol_class(headers_timeout: float = DEFAULT_HEADERS_TIMEOUT) -> type[Any]:
    """The protocol class for uvicorn's `http=` setting: httptools when installed (what
    uvicorn's "auto" picks), else h11; with this headers deadline (0 turns it off)."""
    base = _httptools_class() or LroH11Protocol
    return type(base.__name__, (base,), {"headers_timeout": headers_timeout})


__all__ = ["DEFAULT_HEADERS_TIMEOUT", "LroH11Protocol", "protocol_class"]
