"""A cheap load generator for `GET /api/v1/jobs/{id}/events`: many SSE streams in one process.

    python bench/sse_client.py --port 8000 --jobs JOBS_FILE --first 0 --count 500 \
        --out OUT.json --ready READY.json [--deadline 120] [--event progress|partial]

Stream k (for k in first .. first+count-1) follows job number k mod len(jobs), the jobs being
one id per line of JOBS_FILE. Each stream is one plain asyncio connection speaking HTTP/1.1:
it sends the request, decodes the chunked body and the `id:` / `event:` / `data:` lines
itself, and never parses the JSON (the step's timestamp is found with a regular
expression), so the client's own CPU per event stays small next to the server's.

For every stream it records the events received, the first and last id, and every id that
was not the previous one + 1 (a gap) or not above it (disorder); for every live `progress`
event (not the first event of a stream, which is the job's state at connect time) it
records the arrival time and the delay since the worker's progress call (`t=<time>` in
the step text). With `--event partial` it times the `partial` events instead (`{"t": <time>}`
is the partial's value) and audits their seq: each stream must see 1, 2, 3, ... once each
(a seq skipped counts as missing, one not above the previous as repeated). When every
stream has its first event it writes READY (so the bench knows the load is in place); when
every stream has ended (the job's terminal event closes it) or DEADLINE seconds have
passed, it writes OUT as JSON and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TERMINAL_EVENTS = frozenset({"completed", "failed", "cancelled"})
STEP_TIME = re.compile(rb'"step":"t=([0-9.]+)"')
PARTIAL = re.compile(rb'^\{"seq":([0-9]+),"data":\{"t":([0-9.]+)\}')
"""The server writes compact JSON (lro.api.stream): `{"seq":1,"data":{"t":1764...}}`."""
CONNECT_LIMIT = 100
"""Connections being opened at once (the rest wait), so a thousand streams do not all hit
the server's accept queue in the same millisecond."""


@dataclass
class StreamResult:
    job_id: str
    events: int = 0
    first_id: int | None = None
    last_id: int | None = None
    gaps: int = 0
    """Ids that were not the previous id + 1 (one missing run counts once)."""
    missing: int = 0
    """Ids skipped in total over all gaps."""
    disorder: int = 0
    """Ids not above the previous one."""
    terminal: str | None = None
    error: str | None = None
    partials: int = 0
    last_seq: int = 0
    seq_missing: int = 0
    """Partial seqs skipped (the stream never saw them)."""
    seq_repeated: int = 0
    """Partials whose seq was not above the previous one (a duplicate or out of order)."""


@dataclass
class Samples:
    arrival: list[float] = field(default_factory=list)
    delay: list[float] = field(default_factory=list)


class Stream:
    """One SSE stream: connect, read until the server closes it, record what came."""

    def __init__(
        self, host: str, port: int, path: str, job_id: str, samples: Samples, timed: str
    ) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.result = StreamResult(job_id)
        self.samples = samples
        self.timed = timed
        """The event whose delay is sampled: `progress` or `partial`."""
        self.first = asyncio.get_running_loop().create_future()
        """Resolved with True at the first event, False if the stream failed before it."""
        self._event: bytes = b""
        self._id: int | None = None
        self._data: bytes = b""

    async def run(self, gate: asyncio.Semaphore) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            async with gate:
                reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
                writer.write(
                    f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                    "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n".encode()
                )
                status = await reader.readline()
                headers = await reader.readuntil(b"\r\n\r\n") if status else b""
                if b" 200 " not in status:
                    raise RuntimeError(f"answer {status.decode(errors='replace').strip()!r}")
                if b"chunked" not in headers.lower():
                    raise RuntimeError("expected a chunked stream")
                buffer = b""
                # Wait for the first event inside the gate, so at most CONNECT_LIMIT
                # streams are being set up by the server at any moment.
                while not self.first.done():
                    buffer = await self._chunk(reader, buffer)
            while self.result.terminal is None:
                buffer = await self._chunk(reader, buffer)
        except EOFError:
            if self.result.terminal is None:
                self.result.error = "closed before the terminal event"
        except asyncio.CancelledError:
            if self.result.terminal is None:
                self.result.error = "unfinished at the deadline"
        except Exception as exc:  # recorded, reported by the bench
            self.result.error = f"{type(exc).__name__}: {exc}"
        finally:
            if not self.first.done():
                self.first.set_result(False)
            if writer is not None:
                writer.close()

    async def _chunk(self, reader: asyncio.StreamReader, buffer: bytes) -> bytes:
        """Read one chunk of the body and handle its complete lines; return the rest."""
        size_line = await reader.readline()
        if not size_line:
            raise EOFError
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            raise EOFError
        data = await reader.readexactly(size + 2)
        now = time.time()
        buffer += data[:-2]
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            self._line(line.rstrip(b"\r"), now)
        return buffer

    def _line(self, line: bytes, now: float) -> None:
        if not line:
            if self._id is not None or self._data:
                self._dispatch(now)
            return
        if line.startswith(b":"):
            return  # heartbeat comment
        name, _, value = line.partition(b":")
        value = value.removeprefix(b" ")
        if name == b"id":
            self._id = int(value)
        elif name == b"event":
            self._event = value
        elif name == b"data":
            self._data = value

    def _dispatch(self, now: float) -> None:
        r = self.result
        event_id, event, data = self._id, self._event, self._data
        self._id, self._event, self._data = None, b"", b""
        r.events += 1
        if event_id is not None:
            if r.last_id is None:
                r.first_id = event_id
            elif event_id <= r.last_id:
                r.disorder += 1
            elif event_id != r.last_id + 1:
                r.gaps += 1
                r.missing += event_id - r.last_id - 1
            r.last_id = event_id
        name = event.decode()
        if name in TERMINAL_EVENTS:
            r.terminal = name
        stamp: bytes | None = None
        if name == "partial":
            match = PARTIAL.search(data)
            if match:
                seq, stamp = int(match.group(1)), match.group(2)
                r.partials += 1
                if seq <= r.last_seq:
                    r.seq_repeated += 1
                else:
                    r.seq_missing += seq - r.last_seq - 1
                    r.last_seq = seq
        if not self.first.done():
            self.first.set_result(True)  # the state at connect time: not a live delivery
            return
        if name != self.timed:
            return
        if name == "progress":
            match = STEP_TIME.search(data)
            stamp = match.group(1) if match else None
        if stamp is not None:
            self.samples.arrival.append(now)
            self.samples.delay.append(now - float(stamp))


async def follow(
    host: str,
    port: int,
    job_ids: list[str],
    deadline: float,
    on_ready: Callable[[int, float], None] | None = None,
    prefix: str = "/api/v1",
    event: str = "progress",
) -> dict[str, Any]:
    """Open one stream per entry of `job_ids` (repeats allowed) and read them to the end;
    `on_ready(connected, seconds)` is called once every stream has its first event; the
    delays sampled are those of `event` (`progress` or `partial`)."""
    samples = Samples()
    gate = asyncio.Semaphore(CONNECT_LIMIT)
    streams = [Stream(host, port, f"{prefix}/jobs/{j}/events", j, samples, event) for j in job_ids]
    tasks = [asyncio.create_task(s.run(gate)) for s in streams]
    try:
        t0 = time.time()
        firsts = await asyncio.gather(*(s.first for s in streams))
        connected_s = time.time() - t0
        if on_ready is not None:
            on_ready(sum(firsts), connected_s)
        await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    finally:
        for task in tasks:
            task.cancel()  # the streams still open at the deadline (or on cancellation)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "connected": sum(firsts),
        "connect_seconds": connected_s,
        "streams": [asdict(s.result) for s in streams],
        "arrival": samples.arrival,
        "delay": samples.delay,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jobs", type=Path, required=True, help="file with one job id a line")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds from start")
    parser.add_argument("--event", choices=["progress", "partial"], default="progress")
    args = parser.parse_args()
    jobs = args.jobs.read_text().split()
    wanted = [jobs[k % len(jobs)] for k in range(args.first, args.first + args.count)]
    deadline = time.monotonic() + args.deadline
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    ready: Path | None = args.ready

    def on_ready(connected: int, seconds: float) -> None:
        if ready is not None:
            write_json(ready, {"connected": connected, "seconds": seconds})

    result = runner(follow(args.host, args.port, wanted, deadline, on_ready, event=args.event))
    write_json(args.out, result)


def write_json(path: Path, value: Any) -> None:
    """Write atomically, so a reader polling for the file never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value))
    tmp.replace(path)


if __name__ == "__main__":
    main()
