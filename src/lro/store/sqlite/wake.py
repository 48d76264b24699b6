"""A wake-up signal between processes sharing one SQLite file, so a change committed in one
process reaches the others' listeners at once instead of at their next poll.

SQLite has no LISTEN/NOTIFY; without this, a worker in another process learns of a new job
only when its poll of the `events` table comes round (p50 half the poll interval). The
signal carries no data: it only says "poll now". The poll stays the source of truth and
the fallback, so a lost signal costs latency, never a change.

Why named pipes (FIFOs) in a directory beside the database (`<db>.wake/`):
- discovery is the directory listing, so processes need no registry in the database and no
  port; the directory's mtime says when the listing must be read again;
- a FIFO is opened by path, with no 108-byte limit as for Unix socket addresses, which deep
  temporary directories exceed;
- liveness comes from the kernel: opening a FIFO nobody reads fails with ENXIO, writing to
  one whose reader died fails with EPIPE; either way the entry is a dead process's and is
  removed, so SIGKILLed processes leave nothing behind for long;
- an idle reader costs no CPU (the event loop waits on its descriptor), and a writer's
  signal is one non-blocking write per peer; a full pipe already holds a pending wake-up.

A FIFO is made under a hidden name, opened for reading, and only then renamed into place,
so no writer can take a just-made FIFO for a dead one. Where FIFOs do not exist (Windows),
the channel is off and polling alone decides, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("lro.store.sqlite")

_SUFFIX = ".wake"
_RELIST_SECONDS = 1.0
"""Read the listing again at least this often: a directory's mtime has the kernel's coarse
timestamp granularity, so an entry added within the same tick as our last read would
otherwise stay unseen (costing that peer latency, never a change)."""


class WakeChannel:
    """This process's FIFO in `<db>.wake/`, and the signal it sends to every other one."""

    def __init__(self, db_path: str) -> None:
        self.directory = Path(db_path + _SUFFIX)
        self.enabled = hasattr(os, "mkfifo")
        self._name = ""
        self._rfd = -1
        self._keep_wfd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._peers: dict[str, int] = {}
        """Peer FIFO name -> a write descriptor kept open (-1: not opened yet)."""
        self._listing_mtime = -1
        self._listed_at = 0.0

    @property
    def open(self) -> bool:
        return self._rfd >= 0

    def start(self, on_wake: Callable[[], None]) -> None:
        """Make this process's FIFO and call `on_wake` on the loop whenever it is signalled.
        Any failure leaves the channel off (polling still works) with a warning."""
        if not self.enabled or self.open:
            return
        try:
            self._start(on_wake)
        except OSError as exc:
            log.warning(
                "cross-process wake-up is off for %s (polling only): %s", self.directory, exc
            )
            self.stop()

    def _start(self, on_wake: Callable[[], None]) -> None:
        self.directory.mkdir(mode=0o700, exist_ok=True)
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        hidden = self.directory / f".{name}"
        os.mkfifo(hidden, 0o600)
        try:
            self._rfd = os.open(hidden, os.O_RDONLY | os.O_NONBLOCK)
            # Our own write end keeps the pipe from reporting end-of-file (which would wake
            # the loop in a busy loop) once the last peer closes its end.
            self._keep_wfd = os.open(hidden, os.O_WRONLY | os.O_NONBLOCK)
            os.rename(hidden, self.directory / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(hidden)
            raise
        self._name = name
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._rfd, self._drain, on_wake)

    def _drain(self, on_wake: Callable[[], None]) -> None:
        try:
            while os.read(self._rfd, 4096):
                pass
        except BlockingIOError:
            pass
        except OSError as exc:  # the descriptor went bad: stop listening, keep polling
            log.warning("cross-process wake-up failed (polling only): %s", exc)
            self.stop()
            return
        on_wake()

    def signal(self) -> None:
        """Tell every other process on this file to poll now. Never raises, never blocks."""
        if not self.open:
            return
        try:
            self._refresh_peers()
        except OSError:
            return
        for name in list(self._peers):
            self._poke(name)

    def _refresh_peers(self) -> None:
        mtime = os.stat(self.directory).st_mtime_ns
        now = time.monotonic()
        if mtime == self._listing_mtime and now - self._listed_at < _RELIST_SECONDS:
            return
        self._listing_mtime, self._listed_at = mtime, now
        names = {n for n in os.listdir(self.directory) if not n.startswith(".") and n != self._name}
        for gone in set(self._peers) - names:
            self._forget(gone, unlink=False)
        for new in names - set(self._peers):
            self._peers[new] = -1

    def _poke(self, name: str) -> None:
        fd = self._peers[name]
        try:
            if fd < 0:
                fd = os.open(self.directory / name, os.O_WRONLY | os.O_NONBLOCK)
                self._peers[name] = fd
            os.write(fd, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: that peer has a wake-up pending already
        except OSError as exc:
            # ENXIO: nobody reads it; EPIPE: its reader died; ENOENT: already removed.
            dead = exc.errno in (errno.ENXIO, errno.EPIPE)
            self._forget(name, unlink=dead)

    def _forget(self, name: str, *, unlink: bool) -> None:
        fd = self._peers.pop(name, -1)
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        if unlink:
            with contextlib.suppress(OSError):
                os.unlink(self.directory / name)

    def stop(self) -> None:
        """Remove this process's FIFO and close every descriptor. Idempotent."""
        if self._loop is not None and self._rfd >= 0:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._rfd)
        self._loop = None
        for name in list(self._peers):
            self._forget(name, unlink=False)
        self._listing_mtime = -1
        for fd in (self._rfd, self._keep_wfd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._rfd = self._keep_wfd = -1
        if self._name:
            with contextlib.suppress(OSError):
                os.unlink(self.directory / self._name)
            self._name = ""
