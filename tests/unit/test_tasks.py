"""cancel_and_wait: stops tasks, and never eats the stopper's own cancellation."""

from __future__ import annotations

import asyncio

import pytest

from lro.background import cancel_and_wait


async def test_cancels_and_waits_for_every_task() -> None:
    cleaned: list[str] = []

    async def loop(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits
            cleaned.append(name)

    tasks = [asyncio.create_task(loop(n)) for n in "ab"]
    await asyncio.sleep(0)
    await cancel_and_wait([*tasks, None])
    assert sorted(cleaned) == ["a", "b"]
    assert all(t.cancelled() for t in tasks)


async def test_a_cancelled_stopper_is_cancelled_not_returned() -> None:
    """The old idiom (`await task` under suppress(CancelledError)) swallowed this: the
    stopper returned normally although it had been cancelled."""
    release = asyncio.Event()
    cleanup_started = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleanup_started.set()
            await release.wait()

    task = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    stopper = asyncio.create_task(cancel_and_wait([task]))
    await cleanup_started.wait()
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert stopper.cancelled()
    assert not task.done()  # still cleaning up on its own
    release.set()
    await asyncio.wait([task])
    assert task.cancelled()


async def test_a_task_that_already_failed_raises_its_error() -> None:
    async def boom() -> None:
        raise ValueError("broken loop")

    task = asyncio.create_task(boom())
    await asyncio.wait([task])
    with pytest.raises(ValueError, match="broken loop"):
        await cancel_and_wait([task])


async def test_finished_and_missing_tasks_are_fine() -> None:
    async def quick() -> int:
        return 1

    task = asyncio.create_task(quick())
    await asyncio.wait([task])
    await cancel_and_wait([task, None])
    await cancel_and_wait([])
    assert task.result() == 1
