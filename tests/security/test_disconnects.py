"""A waiting request whose client leaves gives its place under the caps back at once
(issue 13: 100 reset connections kept their principal at 429 for 23-30 s, until each
wait would have ended). The clients are raw sockets reset with SO_LINGER 0, as a client
that crashed or lost its network does; the waits they leave behind are long (30 s)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from tests.api.helpers import PREFIX
from tests.security.conftest import headers, served_with
from tests.stream.conftest import Served

from lro.api.quotas import holds

CLIENTS = 25


async def until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def reset_after(url: str, request: bytes, held: Callable[[], Awaitable[None]]) -> None:
    host, port = url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    await held()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def raw(method: str, path: str, body: bytes = b"") -> bytes:
    auth = headers("alice")["Authorization"]
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )
    if method == "POST":
        head += "Prefer: wait=30\r\n"
    return head.encode() + b"\r\n" + body


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[Served]:
    async for served in served_with(
        tmp_path, max_streams_per_principal=CLIENTS, max_wait_seconds=30
    ):
        yield served


async def test_reset_long_polls_free_their_places_at_once(capped: Served) -> None:
    counts = holds(capped.lro)
    async with httpx.AsyncClient(
        base_url=capped.url, headers=headers("alice"), timeout=10
    ) as alice:
        job_id = (await alice.post(f"{PREFIX}/echo", json={"text": "x"})).json()["job_id"]

        # One watcher decides that every wait is held, and every client resets on its
        # word: were each client to check the count itself, the first to reset would
        # lower it before the others looked, and they would wait for 25 forever.
        async def watch() -> None:
            await until(lambda: counts.total >= CLIENTS, f"{CLIENTS} waits to be held")

        watcher = asyncio.create_task(watch())

        async def all_held() -> None:
            await asyncio.shield(watcher)  # raises the watcher's timeout, if it timed out

        async def reset_one(i: int) -> None:
            # Half long polls of a job, half submits held by Prefer: wait.
            if i % 2:
                request = raw("GET", f"{PREFIX}/jobs/{job_id}?wait=30")
            else:
                request = raw("POST", f"{PREFIX}/echo", b'{"text": "held"}')
            await reset_after(capped.url, request, all_held)

        await asyncio.gather(*(reset_one(i) for i in range(CLIENTS)))
        await until(lambda: counts.total == 0, "every reset wait to give its place back")
        answer = await alice.get(f"{PREFIX}/jobs/{job_id}", params={"wait": 0.1})
        assert answer.status_code == 200, answer.text
