"""Shared bits of the PostgreSQL tests: a listener that tests await, a toggleable TCP proxy
that stands in for a server going away, and job builders."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lro.models import NewJob
from lro.store import JobChange

T0 = datetime(2030, 1, 1, tzinfo=UTC)
WAIT = 5.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_jobs(count: int, **fields: Any) -> list[NewJob]:
    fields.setdefault("operation", "op")
    fields.setdefault("params", {"n": 1})
    return [NewJob(id=str(uuid.uuid4()), **fields) for _ in range(count)]


class Recorder:
    """A listener tests can await: `wait_for` returns once `match` holds for the changes."""

    def __init__(self) -> None:
        self.changes: list[JobChange] = []
        self._arrived = asyncio.Event()

    def __call__(self, change: JobChange) -> None:
        self.changes.append(change)
        self._arrived.set()

    async def wait_for(self, match: Callable[[list[JobChange]], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not match(self.changes):
                self._arrived.clear()
                await self._arrived.wait()


class Proxy:
    """A TCP proxy in front of the server. `down()` drops every connection and refuses
    new ones, as an unreachable (or restarting) server would; `up()` lets them through."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)
