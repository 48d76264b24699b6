"""The reliability harness: a scenario's world (`Rig`).

A scenario is one test function. It builds its world from real parts (a SQLite file or a
fresh PostgreSQL database, real `lro serve` and `lro worker` processes of app_rel, real
signals), drives it, and records the counts its verdict rests on in its `Verdict`
(verdict.py) before asserting on them.

Waits are conditions with generous deadlines; nothing asserts on how long anything took.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from tests.reliability.db import Db
from tests.reliability.runlog import RunLog
from tests.support.procs import (
    API,
    LroProcess,
    ProcessGroup,
    base_env,
    free_port,
    wait_for,
    wait_healthy,
)
from tests.support.tcpproxy import TcpProxy

T = TypeVar("T")

APP = "app_rel:lro"
HERE = Path(__file__).resolve().parent


@dataclass
class Api:
    proc: LroProcess
    base_url: str

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout)


class Rig:
    """The processes of one scenario on one store, their shared run log, and the test's
    read-only view of the store's tables. `close()` kills whatever is still running."""

    def __init__(self, backend: str, workdir: Path, store_url: str, db: Db, **env: str) -> None:
        self.backend = backend
        self.workdir = workdir
        self.store_url = store_url
        self.db = db
        self.runlog = RunLog(workdir / "runlog.txt")
        pythonpath = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
        self.group = ProcessGroup(
            workdir=workdir,
            env=base_env(
                workdir,
                LRO_STORE_URL=store_url,
                LRO_TEST_RUNLOG=str(self.runlog.path),
                LRO_RETRY_BASE_SECONDS="0.2",
                PYTHONPATH=pythonpath,
                **env,
            ),
        )
        self.apis: list[Api] = []
        self.workers: list[LroProcess] = []
        self.killed_at: dict[int, float] = {}
        """pid -> `time.monotonic()` once a process SIGKILLed on purpose had exited."""
        self.ended: set[int] = set()
        """Processes meant to be gone (killed, stopped, or dead by design)."""

    @property
    def sqlite_path(self) -> Path:
        assert self.db.sqlite_path is not None, "not a SQLite rig"
        return self.db.sqlite_path

    # -- processes ------------------------------------------------------------------------
    def start_api(
        self,
        *,
        name: str | None = None,
        store_url: str | None = None,
        env: Mapping[str, str] | None = None,
        worker: bool = False,
        wait: bool = True,
    ) -> Api:
        """`lro serve app_rel:lro` on a free port (`--no-worker` unless `worker`)."""
        port = free_port()
        args = ["serve", APP, "--no-access-log", "--port", str(port)]
        if not worker:
            args.append("--no-worker")
        if store_url:
            args += ["--store", store_url]
        proc = self.group.start(name or f"api-{len(self.apis) + 1}", args, env)
        api = Api(proc, f"http://127.0.0.1:{port}")
        if wait:
            wait_healthy(proc, api.base_url, timeout=60)
        self.apis.append(api)
        return api

    def start_worker(
        self,
        *,
        name: str | None = None,
        concurrency: int = 4,
        store_url: str | None = None,
        env: Mapping[str, str] | None = None,
        extra: Sequence[str] = (),
    ) -> LroProcess:
        args = ["worker", APP, "--concurrency", str(concurrency), *extra]
        if store_url:
            args += ["--store", store_url]
        proc = self.group.start(name or f"worker-{len(self.workers) + 1}", args, env)
        self.workers.append(proc)
        return proc

    def proxy(self) -> TcpProxy:
        """A TCP proxy in front of the PostgreSQL server (use it as a context manager);
        `via(proxy)` is the store URL through it."""
        parts = urlsplit(self.store_url)
        return TcpProxy(parts.port or 5432, parts.hostname or "127.0.0.1")

    def via(self, proxy: TcpProxy) -> str:
        parts = urlsplit(self.store_url)
        user = f"{parts.username}@" if parts.username else ""
        return parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}").geturl()

    def seed(self, count: int, operation: str = "rel.load") -> list[str]:
        """Enqueue `count` jobs through the lro library in a process of the rig's own
        (seed.py); returns their ids."""
        done = subprocess.run(
            [sys.executable, str(HERE / "seed.py"), str(count), operation],
            cwd=self.workdir,
            env=self.group.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"seeding failed:\n{done.stderr[-3000:]}"
        ids = done.stdout.split()
        assert len(ids) == count, f"seeded {len(ids)} of {count}"
        return ids

    def kill(self, proc: LroProcess) -> float:
        """SIGKILL `proc`, wait until it is gone, and note when (the end of its runs)."""
        self.ended.add(proc.pid)  # first: another thread may be checking liveness
        proc.signal(signal.SIGKILL)
        proc.wait_exit(timeout=30)
        self.killed_at[proc.pid] = at = time.monotonic()
        return at

    def freeze(self, proc: LroProcess) -> None:
        """SIGSTOP `proc`; on SQLite never while it holds the file's write lock (a process
        frozen inside a write transaction would lock every other process out)."""
        for _ in range(200):
            proc.signal(signal.SIGSTOP)
            if self.backend != "sqlite" or write_lock_free(self.sqlite_path):
                return
            proc.signal(signal.SIGCONT)
            time.sleep(0.01)
        raise AssertionError(f"{proc.name} kept holding the SQLite write lock")

    def assert_alive(self) -> None:
        """Every process not killed on purpose is still running (else its log)."""
        for proc in self.group.procs:
            if proc.pid not in self.ended and not proc.alive():
                raise AssertionError(
                    f"{proc.name} (pid {proc.pid}) exited with status {proc.popen.returncode}"
                    f"\n{proc.log()}"
                )

    def log_lines(self, *needles: str) -> list[str]:
        """Lines of every process's whole log that contain all of `needles`."""
        return [
            line
            for proc in self.group.procs
            for line in proc.log(tail=10**9).splitlines()
            if all(n in line for n in needles)
        ]

    def wait(
        self,
        check: Callable[[], T | None],
        *,
        timeout: float,
        what: str,
        interval: float = 0.1,
        alive: bool = True,
    ) -> T:
        """A bounded wait on a condition that fails at once when a process died (unless
        `alive=False`), with every log in the message."""

        def guarded() -> T | None:
            if alive:
                self.assert_alive()
            return check()

        return wait_for(
            guarded, timeout=timeout, what=what, interval=interval, diagnostics=self.group.logs
        )

    def wait_listening(self, timeout: float = 60) -> None:
        """PostgreSQL: every live lro process holds its LISTEN connection, so a change any
        of them commits reaches all the others. No-op on SQLite (it polls)."""
        if self.backend != "postgres":
            return
        expected = sum(1 for p in self.group.procs if p.alive())
        self.wait(
            lambda: self.listen_connections() >= expected,
            timeout=timeout,
            what=f"{expected} LISTEN connections",
        )

    def listen_connections(self) -> int:
        return int(
            self.db.scalar(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'lro-listen'"
            )
        )

    def close(self) -> None:
        for proc in self.group.procs:  # a frozen process ignores SIGTERM
            proc.signal(signal.SIGCONT)
        self.group.close()

    # -- HTTP -----------------------------------------------------------------------------
    def submit(
        self,
        client: httpx.Client,
        route: str,
        body: Mapping[str, object],
        headers: Mapping[str, str] | None = None,
    ) -> str:
        resp = client.post(f"{API}{route}", json=dict(body), headers=dict(headers or {}))
        assert resp.status_code == 202, f"submit to {route}: {resp.status_code} {resp.text}"
        return str(resp.json()["job_id"])

    def job(self, client: httpx.Client, job_id: str) -> dict[str, Any]:
        resp = client.get(f"{API}/jobs/{job_id}")
        assert resp.status_code == 200, f"GET job {job_id}: {resp.status_code} {resp.text}"
        body: dict[str, Any] = resp.json()
        return body

    def wait_job(
        self,
        client: httpx.Client,
        job_id: str,
        until: Callable[[dict[str, Any]], bool],
        *,
        what: str,
        timeout: float = 90,
    ) -> dict[str, Any]:
        seen: list[dict[str, Any]] = []

        def check() -> dict[str, Any] | None:
            job = self.job(client, job_id)
            seen[:] = [job]
            return job if until(job) else None

        try:
            return self.wait(check, timeout=timeout, what=f"job {job_id} {what}", interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nlast seen: {seen[:1]}") from None

    def wait_drained(self, *, timeout: float, what: str = "every job to end") -> None:
        """No job left queued or processing (read from the store)."""
        self.wait(lambda: self.db.unfinished() == 0, timeout=timeout, what=what, interval=0.5)


@contextmanager
def rig_on(backend: str, workdir: Path, store_url: str, db: Db, **env: str) -> Iterator[Rig]:
    """A Rig that is closed (every process killed) when the block ends; the processes'
    logs go to stderr, which pytest shows for failed scenarios."""
    world = Rig(backend, workdir, store_url, db, **env)
    try:
        yield world
    finally:
        world.close()
        sys.stderr.write(world.group.logs() + "\n")


def is_terminal(job: Mapping[str, Any]) -> bool:
    return job["status"] in {"completed", "failed", "cancelled"}


def write_lock_free(db_path: Path) -> bool:
    conn = sqlite3.connect(db_path, timeout=0.2, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


@contextmanager
def sqlite_write_lock(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's single write lock on `db_path` (`BEGIN IMMEDIATE`) for the block:
    every other process's write waits on it, up to its busy timeout, then fails."""
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def rss_kib(pid: int) -> int | None:
    """VmRSS of a live process in KiB (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`, 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]
