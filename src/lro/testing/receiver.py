"""A real webhook receiver on a loopback port, for tests: every request lro's dispatcher
sends is recorded with its headers and its exact body, and answered `200 OK`.

Real HTTP rather than a stand-in, so a test sees what a production receiver would: the
Standard Webhooks headers, the signature over the bytes as sent, one request per attempt.
It runs in the test's own event loop (asyncio streams), so waiting for a delivery is
waiting on an event, never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from standardwebhooks import Webhook

HOST = "127.0.0.1"
MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReceivedWebhook:
    """One request as it arrived: `path` (with any query), lower-case `headers`, `body`."""

    path: str
    headers: dict[str, str]
    body: bytes
    secret: str
    """The secret the harness signs with, so `verify()` needs no argument."""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        """`webhook-id`: the same for every attempt of one delivery (receivers de-duplicate
        on it)."""
        return self.headers["webhook-id"]

    @property
    def type(self) -> str:
        """`job.completed`, `job.failed`, `job.cancelled` or `job.progress`."""
        return str(self.json()["type"])

    @property
    def data(self) -> dict[str, Any]:
        """The job resource as it stood when this attempt was sent."""
        data: dict[str, Any] = self.json()["data"]
        return data

    @property
    def job_id(self) -> str:
        return str(self.data["job_id"])

    def verify(self, secret: str | None = None) -> Any:
        """Check the signature as a receiver would, with the reference library; the
        payload when it holds, `standardwebhooks.WebhookVerificationError` when not."""
        return Webhook(secret or self.secret).verify(self.body, self.headers)


class WebhookReceiver:
    """The deliveries so far, in arrival order (`len`, iteration, indexing), and
    `wait_for(n)` to wait for more. Point callbacks at `url` (any path below it works)."""

    def __init__(self, timeout: float, secret: str = "") -> None:
        self.secret = secret
        """Put into every recorded delivery, for `ReceivedWebhook.verify()`."""
        self._timeout = timeout
        self._received: list[ReceivedWebhook] = []
        self._arrived = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/webhook"

    def __len__(self) -> int:
        return len(self._received)

    def __iter__(self) -> Iterator[ReceivedWebhook]:
        return iter(list(self._received))

    def __getitem__(self, index: int) -> ReceivedWebhook:
        return self._received[index]

    def for_job(self, job_id: str) -> list[ReceivedWebhook]:
        return [w for w in self._received if w.job_id == job_id]

    async def wait_for(self, n: int = 1, *, timeout: float | None = None) -> list[ReceivedWebhook]:
        """The first `n` deliveries, once that many have arrived; TimeoutError (saying
        what did arrive) when they do not within `timeout` seconds."""
        bound = self._timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        while len(self._received) < n:
            self._arrived.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                got = ", ".join(f"{w.type} for job {w.job_id}" for w in self._received)
                raise TimeoutError(
                    f"{len(self._received)} of {n} webhooks arrived within {bound:g} s"
                    f"{': ' + got if got else ''}. A job sends one only if it was submitted "
                    f"with callback_url={self.url!r} (or a path below it) and has ended."
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
        return self._received[:n]

    # -- serving ------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request per connection (answered `connection: close`), so there is no
        keep-alive state to get wrong; lro's sender opens a connection per attempt anyway."""
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            request_line, *lines = head.decode("latin-1").split("\r\n")
            parts = request_line.split(" ")
            headers: dict[str, str] = {}
            for line in lines:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = headers.get("content-length", "")
            if len(parts) != 3:
                status = 400
            elif not length.isdigit() or int(length) > MAX_BODY_BYTES:
                status = 411  # lro's sender always sends a Content-Length
            else:
                body = await reader.readexactly(int(length))
                self._received.append(ReceivedWebhook(parts[1], headers, body, self.secret))
                self._arrived.set()
                status = 200
            writer.write(_answer(status))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _answer(status: int) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 411: "Length Required"}[status]
    return f"HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
