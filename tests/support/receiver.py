"""A real webhook receiver on a loopback port: a stdlib threading HTTP server that records
every request and answers from a script (status codes in turn, optional holds).

Tests program it instead of mocking HTTP: `Receiver(answers=[500, 500, 200])` fails twice,
then succeeds; `hold` makes a handler wait on an event (a slow receiver) without sleeping.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.procs import free_port, wait_for


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(
        self,
        answers: Sequence[int] = (200,),
        *,
        port: int | None = None,
        hold: threading.Event | None = None,
        location: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """`answers[i]` is the status of request i (the last one repeats); with `hold`, each
        request waits for that event before answering; `location` is sent on 3xx; `delay`
        holds every request that long before answering (so that overlapping sends of one
        message show in `max_in_flight`, the most requests of one `webhook-id` seen open
        at once)."""
        self.answers = list(answers)
        self.hold = hold
        self.location = location
        self.delay = delay
        self.max_in_flight: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self.port = port or free_port()
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def in_flight(self, message: str) -> int:
        """Requests of this `webhook-id` received and not yet answered."""
        with self._lock:
            return self._in_flight.get(message, 0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                message = self.headers.get("webhook-id", "")
                with receiver._lock:
                    index = len(receiver.requests)
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    now = receiver._in_flight[message] = receiver._in_flight.get(message, 0) + 1
                    receiver.max_in_flight[message] = max(
                        now, receiver.max_in_flight.get(message, 0)
                    )
                try:
                    if receiver.hold is not None:
                        receiver.hold.wait(30)
                    if receiver.delay:
                        time.sleep(receiver.delay)
                finally:
                    with receiver._lock:
                        receiver._in_flight[message] -= 1
                status = receiver.answers[min(index, len(receiver.answers) - 1)]
                self.send_response(status)
                if 300 <= status < 400 and receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_requests(self, count: int, timeout: float = 30) -> list[Received]:
        wait_for(
            lambda: len(self.requests) >= count,
            timeout=timeout,
            what=f"{count} webhook request(s) at {self.url} (got {len(self.requests)})",
        )
        with self._lock:
            return list(self.requests)
