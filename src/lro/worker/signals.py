"""SIGTERM and SIGINT for a worker process: the first asks for a graceful stop, the second
skips what is left of the grace period (what `lro worker` runs; see Worker.stop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

log = logging.getLogger("lro.worker")


@contextlib.contextmanager
def stop_signals(
    name: str, on_first: Callable[[], None], on_second: Callable[[], None]
) -> Iterator[None]:
    """While inside, SIGTERM/SIGINT call `on_first`, then `on_second` for any later one.
    Where the loop cannot install handlers (a thread, Windows) nothing is installed."""
    loop = asyncio.get_running_loop()
    seen = False

    def on_signal() -> None:
        nonlocal seen
        if seen:
            log.warning("second signal: interrupting %s's running jobs now", name)
            on_second()
        else:
            log.info("signal received: %s shutting down", name)
            seen = True
            on_first()

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # NotImplementedError: no loop signal handlers on this platform, not a stub.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def first_of(*events: asyncio.Event) -> None:
    """Return once any of `events` is set."""
    loop = asyncio.get_running_loop()
    waits = [loop.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def run_until_signalled(
    name: str,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    stopped: asyncio.Event,
    force: asyncio.Event,
) -> None:
    """Start, run until a signal (or until `stopped` is set by a stop from elsewhere),
    then stop; a second signal sets `force`."""
    requested = asyncio.Event()
    with stop_signals(name, requested.set, force.set):
        await start()
        await first_of(requested, stopped)
        await stop()


__all__ = ["first_of", "run_until_signalled", "stop_signals"]
