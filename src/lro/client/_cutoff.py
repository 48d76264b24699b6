"""Cutting a blocking read short at a deadline, for the blocking `Client`.

A blocking read cannot be given a deadline from outside: httpcore sets the socket's timeout
itself before every `recv`, to the request's *read* timeout, which every byte received (an
event, a heartbeat comment) starts afresh. A `wait(timeout=...)` following a lively event
stream would therefore never time out. A `Cutoff` is one small thread per streamed
response: while a read is armed and outlives its time, the thread shuts the socket down.
Unlike `close`, `shutdown` wakes a thread blocked in `recv`; the read then fails, and the
driver, seeing that the cutoff fired, tells the plan `Expired` instead of the error.

The connection is not reused afterwards: the driver closes the response, and httpcore
drops an idle pooled connection whose socket reads as closed, so even a cut that lands as a
body ends cannot hand a dead connection to a later request.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import httpx


class Cutoff:
    """Arm it around each read; `stop()` (which joins the thread) before the response is
    closed, so the shutdown can never hit a socket number that was closed and reused."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._changed = threading.Condition()
        self._at: float | None = None
        self._stopped = False
        self.fired = False
        """Set once the socket was shut down; stays set, the stream is unusable from then."""
        self._thread = threading.Thread(target=self._watch, name="lro-client-cutoff", daemon=True)
        self._thread.start()

    @classmethod
    def for_response(cls, response: httpx.Response) -> Cutoff | None:
        """A cutoff on the response's own socket, or None when there is none to cut: a
        transport without sockets (tests, custom ones), or HTTP/2, whose connection carries
        other requests that a shutdown would break."""
        if response.http_version not in ("HTTP/1.1", "HTTP/1.0"):
            return None
        stream = response.extensions.get("network_stream")
        get_info = getattr(stream, "get_extra_info", None)
        sock = get_info("socket") if callable(get_info) else None
        return cls(sock) if isinstance(sock, socket.socket) else None

    def arm(self, seconds: float) -> None:
        with self._changed:
            self._at = time.monotonic() + seconds
            self._changed.notify()

    def disarm(self) -> None:
        """After this returns, no shutdown is under way or will happen until `arm`."""
        with self._changed:
            self._at = None

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._thread.join()

    def _watch(self) -> None:
        with self._changed:
            while not self._stopped and not self.fired:
                if self._at is None:
                    self._changed.wait()
                    continue
                left = self._at - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                self.fired = True
                # The plain socket method: an SSLSocket's own shutdown would also drop its
                # TLS state under the reading thread's feet.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
