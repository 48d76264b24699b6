"""An HTTP/1.1 proxy on 127.0.0.1 that misbehaves on request, for the client's retry,
resume and fallback tests against a real server.

Each request gets its own upstream connection (the proxy asks for `Connection: close`
both ways), so a fault can target one request: the first rule whose `match` is in
"METHOD /path" applies, `times` times (None: forever). Every request is logged with its
headers, arrival time and the head of the answer the upstream gave, so tests can check
what the client really sent (the same Idempotency-Key twice, a Range, a Last-Event-ID).

    proxy.add("POST /api/v1/jobs", DropAnswer())
    proxy.add("/events", Reply(500), times=None)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType


@dataclass(frozen=True)
class DropAnswer:
    """Forward the request, wait for the upstream's answer, then cut the client off
    without a byte: the request took effect but its answer was lost."""


@dataclass(frozen=True)
class Cut:
    """Forward the answer up to just after the `occurrence`-th `marker` (or its first
    `marker` bytes when it is an int), then cut the connection."""

    marker: bytes | int
    occurrence: int = 1


@dataclass(frozen=True)
class Reply:
    """Answer by itself, without asking the upstream."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def render(self) -> bytes:
        body = self.body
        headers = dict(self.headers)
        if body is None:
            body = json.dumps(
                {"type": "about:blank", "title": "Injected", "status": self.status, "detail": "x"}
            ).encode()
            headers.setdefault("Content-Type", "application/problem+json")
        head = [f"HTTP/1.1 {self.status} Injected", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()] + ["Connection: close", "", ""]
        return "\r\n".join(head).encode() + body


@dataclass(frozen=True)
class Rewrite:
    """Forward the request with these headers set (replacing the client's), as a gateway
    might: `Prefer: wait=10` makes the real server hold a submit and answer `200`."""

    headers: dict[str, str]


@dataclass(frozen=True)
class Trickle:
    """Answer by itself with an event stream: `prelude` at once, then one byte of an
    endless comment line every `interval` seconds until the client goes away. Every read
    gets a byte well within any read timeout, yet no event ever completes: only a deadline
    on the whole read can end it."""

    prelude: bytes = b""
    interval: float = 0.05


Fault = DropAnswer | Cut | Reply | Rewrite | Trickle


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    at: float
    answer: str = ""
    """The status line and headers the upstream answered with (lower-cased names)."""
    fault: Fault | None = None


@dataclass
class _Rule:
    match: str
    fault: Fault
    times: int | None


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.seen: list[Seen] = []
        self._rules: list[_Rule] = []
        self._relays: set[asyncio.Task[None]] = set()
        """Every connection's task, held until it ends. asyncio holds tasks only weakly, and
        the stream protocol lets go of its handler's task once the client's side has gone:
        a relay still awaiting the upstream could then be collected half-way, leaving its
        writer unclosed (a ResourceWarning in whichever test runs at the time) instead of
        being cancelled and closed by `close()`."""
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def add(self, match: str, fault: Fault, times: int | None = 1) -> None:
        with self._lock:
            self._rules.append(_Rule(match, fault, times))

    def requests(self, match: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if match in f"{s.method} {s.path}"]

    def close(self) -> None:
        """Stop listening, end every relay and close every socket, then the loop."""

        async def stop() -> None:
            self._server.close()
            while True:
                # Callbacks run by these pauses (a connection accepted just before the
                # close, an aborted transport's connection_lost) may start new tasks.
                for _ in range(5):
                    await asyncio.sleep(0)
                tasks = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
                if not tasks:
                    return
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks, timeout=1)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(60)  # bounds, not expectations: a loaded machine is slow
        if not self._thread.is_alive():
            # A connection accepted between stop() and the loop's last turn starts a relay
            # that nobody would end: cancel it here, so its sockets close before the loop
            # does (a task destroyed pending leaves them to the garbage collector).
            late = asyncio.all_tasks(self._loop)
            for task in late:
                task.cancel()
            if late:
                self._loop.run_until_complete(asyncio.gather(*late, return_exceptions=True))
            self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _fault_for(self, line: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.match in line and (rule.times is None or rule.times > 0):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.fault
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.transport.abort()
            writer.close()
            self._relays.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        fault = self._fault_for(f"{method} {path}")
        seen = Seen(method, path, headers, time.monotonic(), fault=fault)
        with self._lock:
            self.seen.append(seen)
        if isinstance(fault, Reply):
            writer.write(fault.render())
            writer.close()
            await writer.wait_closed()
            return
        if isinstance(fault, Trickle):
            await _trickle(writer, fault)
            return
        # `seen` keeps what the client sent; the upstream gets the rewritten headers.
        rewrite = fault.headers if isinstance(fault, Rewrite) else {}
        replaced = {"connection", *(name.lower() for name in rewrite)}
        kept = [ln for ln in lines[1:] if ln and ln.split(":")[0].strip().lower() not in replaced]
        kept += [f"{name}: {value}" for name, value in rewrite.items()]
        request = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode() + body
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        try:
            up_writer.write(request)
            await up_writer.drain()
            await self._relay(up_reader, writer, seen, fault)
        finally:
            up_writer.transport.abort()

    async def _relay(
        self,
        up: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        seen: Seen,
        fault: Fault | None,
    ) -> None:
        answer = b""
        while chunk := await up.read(65536):
            before = len(answer)
            answer += chunk
            if not seen.answer and b"\r\n\r\n" in answer:
                seen.answer = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
            if isinstance(fault, DropAnswer):
                if seen.answer:
                    return
                continue
            if isinstance(fault, Cut):
                cut = _cut_point(answer, fault)
                if cut is not None:
                    writer.write(answer[before:cut])
                    await writer.drain()
                    return
            writer.write(chunk)
            await writer.drain()
        # A clean end: let the client read everything before the connection closes.
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _trickle(writer: asyncio.StreamWriter, fault: Trickle) -> None:
    # No Content-Length: the body runs until the connection closes (RFC 9112 6.3).
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    writer.write(head.encode() + fault.prelude + b":")
    while not writer.is_closing():
        await writer.drain()  # raises once the client has gone
        await asyncio.sleep(fault.interval)
        writer.write(b".")


def _cut_point(answer: bytes, fault: Cut) -> int | None:
    if isinstance(fault.marker, int):
        return fault.marker if len(answer) >= fault.marker else None
    at = -1
    for _ in range(fault.occurrence):
        at = answer.find(fault.marker, at + 1)
        if at < 0:
            return None
    return at + len(fault.marker)
