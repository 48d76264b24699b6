"""Stopping background tasks without eating the stopper's own cancellation.

The usual idiom, `task.cancel()` then `await task` under `suppress(CancelledError)`, has a
hole: if the coroutine doing the stopping is itself cancelled while it awaits (a shutdown
timeout, a test's `asyncio.timeout`, Ctrl-C in `asyncio.run`), the CancelledError meant
for it is indistinguishable from the task's own and is suppressed too, so `stop()` returns
as if nothing happened and its caller keeps running. `asyncio.wait` never raises what the
tasks raised, so a CancelledError out of `cancel_and_wait` is always the caller's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any] | None]) -> None:
    """Cancel `tasks` (None entries are skipped) and wait until every one has finished.

    A task that had already failed with an exception of its own re-raises it here, as
    awaiting it would have; a task's cancellation is its expected end and is not raised.
    If the caller is cancelled while waiting, that cancellation propagates (the tasks have
    been asked to stop and finish on their own).
    """
    todo = [t for t in tasks if t is not None]
    for task in todo:
        task.cancel()
    pending = [t for t in todo if not t.done()]
    if pending:
        await asyncio.wait(pending)
    for task in todo:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


__all__ = ["cancel_and_wait"]
