"""A client that stops reading does not pin its stream: the send times out and the
stream ends (lro.api.stream.StreamResponse bounds each send with asyncio.timeout)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sse_starlette.sse import SendTimeoutError
from starlette.types import Message

from lro.api.stream import StreamResponse


async def test_a_send_that_never_finishes_ends_the_stream() -> None:
    closed = asyncio.Event()
    sent: list[Message] = []

    async def frames() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: x\r\n\r\n"
        finally:
            closed.set()

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            await asyncio.Event().wait()  # never set: the client stopped reading

    async def receive() -> Message:
        await asyncio.Event().wait()  # and never disconnects
        raise AssertionError

    response = StreamResponse(frames(), ping=0, send_timeout=0.05)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with pytest.raises(SendTimeoutError):
        await asyncio.wait_for(response(scope, receive, send), 10)
    assert closed.is_set()  # the generator was closed, so its clean-up ran
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


async def test_a_cancelled_send_is_not_a_timeout() -> None:
    """A disconnect cancels the send from outside: that cancellation propagates."""

    async def frames() -> AsyncIterator[bytes]:
        yield b"data: x\r\n\r\n"

    started = asyncio.Event()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            started.set()
            await asyncio.Event().wait()

    response = StreamResponse(frames(), ping=0, send_timeout=30)
    task = asyncio.ensure_future(
        response._send_with_timeout(send, {"type": "http.response.body", "body": b"x"})
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
