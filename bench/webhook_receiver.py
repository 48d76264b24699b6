"""Webhook receivers for `make bench-webhooks`: one process, a bare asyncio HTTP/1.1 server on
each requested loopback port, cheap enough never to be the bottleneck.

    python bench/webhook_receiver.py --out FILE --ready FILE ok fail blackhole

Each positional argument opens one listener on a free 127.0.0.1 port with that behaviour:
  ok         answers 200 at once;
  fail       answers 500 at once (a receiver that fails fast);
  blackhole  reads the request and never answers (the sender waits for its timeout).

Every complete request is recorded as one line `<time.time()> <mode> <job_id> <webhook-id>
<open>` appended to --out with one unbuffered write, so the bench can count receipts while
the run goes on; `<open>` is how many connections to that listener are open at that moment
(for the black hole: how many sender slots it is holding). Once listening, `<mode>=<port>`
lines are written to --ready (atomically renamed into place). SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import cast

MODES = ("ok", "fail", "blackhole")
ANSWERS = {
    "ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "fail": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail",
}
MAX_HEAD = 64 * 1024


class Recorder:
    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(self, received: float, mode: str, head: bytes, body: bytes, open_: int) -> None:
        job_id = "-"
        with contextlib.suppress(ValueError, KeyError, TypeError):
            job_id = str(json.loads(body)["data"]["job_id"])
        webhook_id = "-"
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"webhook-id":
                webhook_id = value.strip().decode("ascii", "replace")
                break
        entry = f"{received:.6f} {mode} {job_id} {webhook_id} {open_}\n"
        os.write(self.fd, entry.encode())


class HookProtocol(asyncio.Protocol):
    """HTTP/1.1 with Content-Length bodies and keep-alive; enough for the lro sender."""

    open_connections: dict[str, int] = dict.fromkeys(MODES, 0)

    def __init__(self, mode: str, recorder: Recorder) -> None:
        self.mode = mode
        self.recorder = recorder
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.open_connections[self.mode] += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self.transport.close()
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or b"0")
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            received = time.time()
            self.recorder.record(received, self.mode, head, body, self.open_connections[self.mode])
            answer = ANSWERS.get(self.mode)
            if answer is None:  # blackhole: hold the connection, never answer
                return
            self.transport.write(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.open_connections[self.mode] -= 1


async def serve(modes: list[str], out: Path, ready: Path) -> None:
    loop = asyncio.get_running_loop()
    recorder = Recorder(out)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers: list[asyncio.Server] = []
    lines: list[str] = []
    for mode in modes:

        def factory(mode: str = mode) -> HookProtocol:
            return HookProtocol(mode, recorder)

        server = await loop.create_server(factory, "127.0.0.1", 0, backlog=1024)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        lines.append(f"{mode}={port}\n")
    tmp = ready.with_suffix(".tmp")
    tmp.write_text("".join(lines))
    tmp.rename(ready)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("modes", nargs="+", choices=MODES)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the project venv has it (uvicorn[standard])
        asyncio.run(serve(args.modes, args.out, args.ready))
    else:
        uvloop.run(serve(args.modes, args.out, args.ready))
    sys.exit(0)


if __name__ == "__main__":
    main()
