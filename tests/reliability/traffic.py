"""Background HTTP traffic for scenarios under load: submitters and pollers on an asyncio
loop in a thread of their own, spread over the API processes, recording every answer.

    with Traffic(bases, body=lambda i: {"ms": 20}, submitters=8) as traffic:
        ...                          # faults happen meanwhile
    traffic.accepted                 # job ids answered 202
    traffic.statuses                 # Counter: status code -> answers (0: no answer)

A refused submit (503, 429, no answer) is retried after a short pause; the statuses count
every try. A 5xx other than 503, a 503 without Retry-After, and the first bodies of each
are kept as evidence.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from tests.reliability.rawhttp import Answer, RawClient
from tests.support.procs import API

Body = Callable[[int], dict[str, Any]]


class Traffic:
    def __init__(
        self,
        bases: Sequence[str],
        *,
        route: str = "/work",
        body: Body = lambda i: {},
        submitters: int = 4,
        pollers: int = 0,
        poll_pause: float = 0.0,
        streamers: int = 0,
        rate: float | None = None,
        limit: int | None = None,
        timeout: float = 30,
    ) -> None:
        """`rate`: submits per second in all (None: as fast as `submitters` allow);
        `limit`: stop submitting after this many accepted jobs; `poll_pause`: seconds
        each poller waits between polls; `streamers`: clients that follow the event
        stream of a recent job until it closes, one after another."""
        self.bases = list(bases)
        self.route = route
        self.body = body
        self.submitters = submitters
        self.pollers = pollers
        self.poll_pause = poll_pause
        self.streamers = streamers
        self.streams = 0
        """Event streams followed to their end."""
        self.rate = rate
        self.limit = limit
        self.timeout = timeout
        self.accepted: list[str] = []
        self.accepted_seq: list[int] = []
        """The `i` each accepted job's body was made with, in the order of `accepted`."""
        self.statuses: collections.Counter[int] = collections.Counter()
        self.poll_statuses: collections.Counter[int] = collections.Counter()
        self.poll_seconds: list[float] = []
        self.no_retry_after = 0
        """503 answers without a Retry-After header."""
        self.evidence: list[str] = []
        self.poll_ids: Sequence[str] | None = None
        """What pollers poll (default: the accepted jobs)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._seq = itertools.count()

    # -- control --------------------------------------------------------------------------
    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 30)
            assert not self._thread.is_alive(), "traffic did not stop"
            self._thread = None
        if self._error is not None:
            raise self._error

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def errors_5xx(self) -> int:
        """5xx answers other than 503 (a 503 is an honest 'not now')."""
        return sum(n for s, n in self.statuses.items() if s >= 500 and s != 503) + sum(
            n for s, n in self.poll_statuses.items() if s >= 500 and s != 503
        )

    def seen(self, status: int) -> int:
        return self.statuses[status] + self.poll_statuses[status]

    # -- the loop -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by stop()
            self._error = exc

    async def _main(self) -> None:
        tasks = [self._submitter(n) for n in range(self.submitters)]
        tasks += [self._poller(n) for n in range(self.pollers)]
        tasks += [self._streamer(n) for n in range(self.streamers)]
        await asyncio.gather(*tasks)

    def _note(self, what: str, resp: Answer, statuses: collections.Counter[int]) -> None:
        statuses[resp.status] += 1
        honest = resp.status == 503 and "retry-after" in resp.headers
        if resp.status == 503 and not honest:
            self.no_retry_after += 1
        if resp.status >= 500 and not honest and len(self.evidence) < 10:
            self.evidence.append(f"{what} -> {resp.status} {resp.text[:300]}")

    async def _submitter(self, n: int) -> None:
        # One keep-alive connection to each API per submitter; submits go round the APIs.
        clients = [RawClient(b, timeout=self.timeout) for b in self.bases]
        try:
            await self._submit_loop(clients, n)
        finally:
            for c in clients:
                await c.close()

    async def _submit_loop(self, clients: list[RawClient], n: int) -> None:
        interval = self.submitters / self.rate if self.rate else 0.0
        next_at = time.monotonic() + interval * n / max(1, self.submitters)
        while not self._stop.is_set():
            if self.limit is not None and len(self.accepted) >= self.limit:
                return
            if interval:
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at = max(next_at + interval, time.monotonic() - interval)
            i = next(self._seq)
            client = clients[i % len(clients)]
            path = f"{API}{self.route}"
            try:
                resp = await client.request("POST", path, self.body(i))
            except ConnectionError:
                self.statuses[0] += 1
                await asyncio.sleep(0.2)
                continue
            self._note(f"POST {path}", resp, self.statuses)
            if resp.status == 202:
                self.accepted.append(resp.json()["job_id"])
                self.accepted_seq.append(i)
            else:
                await asyncio.sleep(0.2)

    async def _poller(self, n: int) -> None:
        clients = [RawClient(b, timeout=self.timeout) for b in self.bases]
        try:
            await self._poll_loop(clients)
        finally:
            for c in clients:
                await c.close()

    async def _poll_loop(self, clients: list[RawClient]) -> None:
        rng = random.Random()
        while not self._stop.is_set():
            ids = self.poll_ids if self.poll_ids is not None else self.accepted
            if not ids:
                await asyncio.sleep(0.05)
                continue
            job_id = ids[rng.randrange(len(ids))]
            client = clients[rng.randrange(len(clients))]
            path = f"{API}/jobs/{job_id}"
            began = time.monotonic()
            try:
                resp = await client.request("GET", path)
            except ConnectionError:
                self.poll_statuses[0] += 1
                await asyncio.sleep(0.2)
                continue
            self.poll_seconds.append(time.monotonic() - began)
            self._note(f"GET {path}", resp, self.poll_statuses)
            if resp.status >= 500:
                await asyncio.sleep(0.2)
            elif self.poll_pause:
                await asyncio.sleep(self.poll_pause)

    async def _streamer(self, n: int) -> None:
        client = RawClient(self.bases[n % len(self.bases)], timeout=self.timeout)
        try:
            while not self._stop.is_set():
                if not self.accepted:
                    await asyncio.sleep(0.05)
                    continue
                path = f"{API}/jobs/{self.accepted[-1]}/events"
                try:
                    resp = await client.request("GET", path)
                except ConnectionError:
                    self.poll_statuses[0] += 1
                    await asyncio.sleep(0.2)
                    continue
                self._note(f"GET {path}", resp, self.poll_statuses)
                self.streams += resp.status == 200
                await client.close()  # the stream ended the connection's use
        finally:
            await client.close()
