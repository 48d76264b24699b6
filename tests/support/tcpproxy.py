"""A TCP proxy on 127.0.0.1 that can be switched off and on again, for outage tests.

Processes under test connect to the proxy instead of the database. `off()` closes the
listening socket and aborts every live connection (both sides), so clients see their
connections drop and new ones refused, as when the server goes away; `on()` listens again
on the same port. `stall(marker)` arms a trap for one write: the first chunk a client sends
that contains `marker` is held in the proxy, and that connection forwards nothing more in
either direction (nothing is closed: a write stuck in the network) until
`release(deliver=...)` either sends the held bytes on or drops the connection. The proxy
runs its own asyncio loop in a daemon thread, so synchronous tests drive it with plain
method calls.

    with TcpProxy(5432) as proxy:
        url = f"postgresql://postgres@127.0.0.1:{proxy.port}/db"
        ...
        proxy.off()
        ...
        proxy.on()
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK = 65536


class TcpProxy:
    """Forwards `127.0.0.1:<port>` to `target_host:target_port` while switched on."""

    def __init__(
        self, target_port: int = 5432, target_host: str = "127.0.0.1", *, port: int = 0
    ) -> None:
        self.target = (target_host, target_port)
        self.port = port
        """The listening port; chosen by the system on the first `on()` when 0, then kept."""
        self.accepted = 0
        """Connections accepted so far (a test signal)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcpproxy")
        self._thread.daemon = True
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.Transport] = set()
        self._closed = False
        self._marker: bytes | None = None
        self._stalled: list[tuple[asyncio.Event, asyncio.Transport, asyncio.Transport]] = []

    # -- sync surface -----------------------------------------------------------------------
    @property
    def is_on(self) -> bool:
        return self._server is not None

    @property
    def live_connections(self) -> int:
        """Client connections currently forwarded (each has an upstream twin)."""
        return len(self._transports) // 2

    def on(self) -> TcpProxy:
        """Listen (again) on `port`; no-op when already on."""
        self._call(self._on())
        return self

    def off(self) -> None:
        """Stop listening and abort every live connection; no-op when already off."""
        self._call(self._off())

    def stall(self, marker: bytes) -> None:
        """Hold the next client write that contains `marker` (see the module docstring)."""
        self._call(self._arm(marker))

    @property
    def stalled(self) -> int:
        """Connections stalled on the marker so far (and not yet released)."""
        return len(self._stalled)

    def release(self, *, deliver: bool) -> None:
        """End every stall: `deliver=True` forwards the held bytes and lets the connection
        run on; `deliver=False` aborts it, so the held bytes never arrive."""
        self._call(self._release(deliver))

    def close(self) -> None:
        """Switch off and stop the proxy's thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._call(self._off())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.on()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        if self._loop.is_closed():
            raise RuntimeError("the proxy is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- on the proxy's loop ----------------------------------------------------------------
    async def _arm(self, marker: bytes) -> None:
        self._marker = marker

    async def _release(self, deliver: bool) -> None:
        self._marker = None
        stalled, self._stalled = self._stalled, []
        for gate, client, upstream in stalled:
            if not deliver:
                client.abort()
                upstream.abort()
            gate.set()

    async def _on(self) -> None:
        if self._server is not None:
            return
        # reuse_address: connections we aborted may leave the port in TIME_WAIT.
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _off(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # stops listening; does not touch accepted connections
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()
        await self._release(deliver=False)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        client = writer.transport
        assert isinstance(client, asyncio.Transport)
        self._transports.add(client)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._transports.discard(client)
            client.abort()
            return
        upstream = up_writer.transport
        assert isinstance(upstream, asyncio.Transport)
        if client not in self._transports:  # switched off while we were connecting
            upstream.abort()
            return
        self._transports.add(upstream)
        try:
            gate = asyncio.Event()
            gate.set()
            await asyncio.gather(
                self._pipe(reader, up_writer, gate, trap=(client, upstream)),
                self._pipe(up_reader, writer, gate),
            )
        finally:
            self._transports.discard(client)
            self._transports.discard(upstream)

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        gate: asyncio.Event,
        trap: tuple[asyncio.Transport, asyncio.Transport] | None = None,
    ) -> None:
        """Copy until EOF or an error, then abort the other side: one half closing ends
        the whole connection, as it would without a proxy in between. The client-to-server
        half (`trap` set) closes the connection's `gate` on a chunk holding the marker;
        both halves wait at a closed gate with what they read."""
        with contextlib.suppress(OSError, ConnectionError):
            while data := await src.read(CHUNK):
                if trap is not None and self._marker is not None and self._marker in data:
                    self._marker = None
                    gate.clear()
                    self._stalled.append((gate, *trap))
                await gate.wait()
                if dst.transport.is_closing():
                    break
                dst.write(data)
                await dst.drain()
        dst.transport.abort()


__all__ = ["TcpProxy"]
