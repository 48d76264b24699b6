"""Helpers of the PostgreSQL end-to-end tests: a cluster of real processes, the run log the
test app writes, and bounded waits on the database and the HTTP APIs."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import asyncpg
import httpx
from tests.support.postgres import ADMIN_URL, url_for
from tests.support.procs import (
    API,
    LroProcess,
    ProcessGroup,
    base_env,
    free_port,
    wait_for,
    wait_healthy,
)

T = TypeVar("T")

APP = "app_pg:lro"
HERE = Path(__file__).resolve().parent


# -- processes --------------------------------------------------------------------------------
@dataclass
class Api:
    proc: LroProcess
    base_url: str


class Cluster:
    """`lro serve --no-worker` and `lro worker` processes of the test app on one database,
    directly or through a proxy on another port; all share one run log."""

    def __init__(self, workdir: Path, database: str, **env: str) -> None:
        self.workdir = workdir
        self.database = database
        self.runlog = RunLog(workdir / "runlog.txt")
        pythonpath = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
        self.group = ProcessGroup(
            workdir=workdir,
            env=base_env(
                workdir,
                LRO_STORE_URL=url_for(database),
                LRO_TEST_RUNLOG=str(self.runlog.path),
                LRO_RETRY_BASE_SECONDS="0.2",
                PYTHONPATH=pythonpath,
                **env,
            ),
        )
        self.apis: list[Api] = []
        self.workers: list[LroProcess] = []
        self.killed: set[int] = set()

    def store_url(self, port: int | None = None, **options: str) -> str:
        """The database's URL, via `127.0.0.1:port` when given (a proxy), with URL options."""
        url = url_for(self.database)
        if port is not None:
            parts = urlsplit(url)
            user = f"{parts.username}@" if parts.username else ""
            url = parts._replace(netloc=f"{user}127.0.0.1:{port}").geturl()
        if options:
            url += "?" + "&".join(f"{k}={v}" for k, v in options.items())
        return url

    def start(
        self, *, apis: int, workers: int, concurrency: int, store_url: str | None = None
    ) -> None:
        """Start every process at once (they boot in parallel), then wait until each API
        answers /healthz and every process holds its LISTEN connection."""
        store = ["--store", store_url] if store_url else []
        started: list[Api] = []
        for i in range(apis):
            port = free_port()
            proc = self.group.start(
                f"api-{len(self.apis) + i + 1}",
                ["serve", APP, "--no-worker", "--no-access-log", "--port", str(port), *store],
            )
            started.append(Api(proc, f"http://127.0.0.1:{port}"))
        for _ in range(workers):
            self.workers.append(
                self.group.start(
                    f"worker-{len(self.workers) + 1}",
                    ["worker", APP, "--concurrency", str(concurrency), *store],
                )
            )
        for api in started:
            wait_healthy(api.proc, api.base_url, timeout=60)
        self.apis.extend(started)
        self.wait_listening()

    def wait_listening(self, timeout: float = 30) -> None:
        """Every live process has its LISTEN connection up, so a change any of them makes
        reaches all the others (a process opens it in the background after start-up, and
        again after an outage)."""
        expected = sum(1 for p in self.group.procs if p.alive() and p.args[0] != "migrate")

        def check() -> bool:
            self.assert_alive()
            return listen_connections(self.database) >= expected

        wait_for(
            check,
            timeout=timeout,
            what=f"{expected} LISTEN connections on {self.database}",
            interval=0.1,
            diagnostics=self.group.logs,
        )

    def kill(self, proc: LroProcess) -> None:
        """SIGKILL `proc` (as a machine lost would) and wait for it to be gone."""
        self.killed.add(proc.pid)
        proc.signal(signal.SIGKILL)
        proc.wait_exit(timeout=10)

    def assert_alive(self, procs: Iterable[LroProcess] | None = None) -> None:
        """Every process not killed on purpose is still running (else its log)."""
        for proc in self.group.procs if procs is None else procs:
            if proc.pid not in self.killed and not proc.alive():
                raise AssertionError(
                    f"{proc.name} (pid {proc.pid}) exited with status {proc.popen.returncode}"
                    f"\n{proc.log()}"
                )

    def close(self) -> None:
        self.group.close()


# -- the run log --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    event: str
    job_id: str
    attempt: int
    pid: int
    until: float
    """For a `start`: when the handler expects to return (`time.time()`), 0 if unknown."""


@dataclass
class RunLog:
    """Reads the `<event> <job_id> <attempt> <pid> <until>` lines app_pg writes,
    incrementally."""

    path: Path
    runs: list[Run] = field(default_factory=list)
    _offset: int = 0

    def refresh(self) -> list[Run]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self.runs
        # Only whole lines: a writer may be half-way through one (never after its death:
        # each line is one write()).
        end = data.rfind(b"\n") + 1
        self._offset += end
        for line in data[:end].decode().splitlines():
            event, job_id, attempt, pid, until = line.split()
            self.runs.append(Run(event, job_id, int(attempt), int(pid), float(until)))
        return self.runs

    def count(self, event: str) -> int:
        return sum(1 for r in self.refresh() if r.event == event)

    def by_job(self, event: str = "start") -> dict[str, list[Run]]:
        out: dict[str, list[Run]] = collections.defaultdict(list)
        for r in self.refresh():
            if r.event == event:
                out[r.job_id].append(r)
        return out

    def open_runs(self, pid: int, *, busy_for: float | None = None) -> set[str]:
        """Jobs whose handler started in process `pid` and has not returned (yet); with
        `busy_for`, only those expected to run at least that many seconds more."""
        running: dict[str, Run] = {}
        for r in self.refresh():
            if r.pid == pid:
                if r.event == "start":
                    running[r.job_id] = r
                else:
                    running.pop(r.job_id, None)
        if busy_for is not None:
            soon = time.time() + busy_for
            return {job_id for job_id, r in running.items() if r.until > soon}
        return set(running)


# -- the database -------------------------------------------------------------------------------
def listen_connections(database: str) -> int:
    """How many lro LISTEN connections are open on `database` (one per live process)."""

    async def count() -> int:
        conn = await asyncpg.connect(ADMIN_URL, timeout=5)
        try:
            n: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = $1 AND application_name = 'lro-listen'",
                database,
            )
            return n
        finally:
            await conn.close()

    return asyncio.run(count())


# -- HTTP -------------------------------------------------------------------------------------
def list_all(client: httpx.Client, status: str | None = None) -> list[dict[str, object]]:
    """Every job the API lists (following cursors), optionally with one status."""
    items: list[dict[str, object]] = []
    params: dict[str, str | int] = {"limit": 200}
    if status:
        params["status"] = status
    while True:
        resp = client.get(f"{API}/jobs", params=params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items.extend(page["items"])
        if not page["next_cursor"]:
            return items
        params["cursor"] = page["next_cursor"]


def assert_problem(resp: httpx.Response, status: int) -> dict[str, object]:
    """`resp` is an RFC 9457 problem with `status`; returns its body."""
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body: dict[str, object] = resp.json()
    assert body["status"] == status, body
    assert {"type", "title", "detail"} <= body.keys(), body
    return body


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    cluster: Cluster,
    interval: float = 0.1,
) -> T:
    """`wait_for` that also fails at once when a process died, showing every log."""

    def guarded() -> T | None:
        cluster.assert_alive()
        return check()

    return wait_for(
        guarded, timeout=timeout, what=what, interval=interval, diagnostics=cluster.group.logs
    )


async def submit_many(
    base_urls: list[str],
    bodies: list[tuple[str, dict[str, object]]],
    *,
    in_flight: int = 16,
) -> list[str]:
    """POST each `(route, body)` to the APIs in turn, at most `in_flight` at once; every
    answer must be 202. Returns the job ids in submission order.

    Each submit carries an Idempotency-Key and is sent again when it got no answer (a
    kept-alive connection the server closed as the request went out, on a loaded
    machine), as a careful client does (HTTP-CONTRACT §6): the key makes the retry return
    the first job instead of making a second, which the callers' counts would catch."""
    limits = httpx.Limits(max_connections=in_flight)
    clients = [httpx.AsyncClient(base_url=u, timeout=30, limits=limits) for u in base_urls]
    gate = asyncio.Semaphore(in_flight)
    run = uuid.uuid4().hex

    async def one(i: int, route: str, body: dict[str, object]) -> str:
        headers = {"Idempotency-Key": f"submit-many-{run}-{i}"}
        async with gate:
            for tries_left in range(2, -1, -1):
                try:
                    resp = await clients[i % len(clients)].post(
                        f"{API}{route}", json=body, headers=headers
                    )
                    break
                except httpx.TransportError:
                    if not tries_left:
                        raise
        assert resp.status_code == 202, f"submit {i} to {base_urls[i % len(clients)]}: {resp.text}"
        return str(resp.json()["job_id"])

    try:
        return await asyncio.gather(*(one(i, r, b) for i, (r, b) in enumerate(bodies)))
    finally:
        for c in clients:
            await c.aclose()
