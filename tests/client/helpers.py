"""Run the same test body against Client and AsyncClient: `await run(client.get(id))`
works for both, and `each` / `items` take either kind of iterator."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, TypeVar

from lro.client import AsyncClient, Client, JobResource

T = TypeVar("T")


async def run(value: Any) -> Any:
    """The value of a sync call, or the awaited value of an async one."""
    return await value if inspect.isawaitable(value) else value


async def each(iterator: Iterable[T] | AsyncIterator[T]) -> AsyncIterator[T]:
    """Either kind of iterator, as an async one."""
    if isinstance(iterator, AsyncIterator):
        async for item in iterator:
            yield item
    else:
        for item in iterator:
            yield item


async def items(iterator: Iterable[T] | AsyncIterator[T]) -> list[T]:
    return [item async for item in each(iterator)]


async def until_status(
    client: Client | AsyncClient, job_id: str, *statuses: str, timeout: float = 10
) -> JobResource:
    """Poll until the job is in one of `statuses` (bounded; fails with the last state)."""
    deadline = time.monotonic() + timeout
    while True:
        job: JobResource = await run(client.get(job_id))
        if job.status in statuses:
            return job
        assert time.monotonic() < deadline, f"job stayed {job.status}, wanted {statuses}"
        await asyncio.sleep(0.02)


def names(directory: Path) -> list[str]:
    """The directory's entries, sorted (a sync helper: async tests may not touch paths)."""
    return sorted(p.name for p in directory.iterdir())
