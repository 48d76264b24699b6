"""Fixtures for the people commands: one real `lro serve` (demo app, embedded worker, SQLite
in a temporary directory) shared by every test here, and `lro`, which runs the installed
console script against it in a subprocess. Tests make their own jobs and assert on them by
id, so sharing the server costs no isolation and saves a start-up per test."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.client.faultproxy import FaultProxy
from tests.support.procs import ProcessGroup, base_env, lro_command, start_server

from lro.client import Client


@dataclass
class Lro:
    """Runs `lro ARGS...` with LRO_URL pointing at the test server."""

    url: str
    env: dict[str, str]
    workdir: Path

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*lro_command(), *args],
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        """stdout of a command that must succeed (the failure shows both streams)."""
        proc = self(*args, input=input)
        assert proc.returncode == 0, f"lro {' '.join(args)}: {proc.returncode}\n{proc}"
        return proc.stdout


def report(client: Client, rows: int, delay_seconds: float = 0, **extra: object) -> str:
    """Submit a demo report job in-process (setup for the command under test) and return
    its id; the commands themselves always run as subprocesses."""
    params = {"rows": rows, "delay_seconds": delay_seconds, **extra}
    return client.submit("reports.generate", params).job_id


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ProcessGroup]]:
    workdir = tmp_path_factory.mktemp("lro-cli")
    group = ProcessGroup(workdir=workdir, env=base_env(workdir))
    try:
        yield start_server(group, worker=True), group
    finally:
        group.close()
        sys.stderr.write(group.logs() + "\n")


@pytest.fixture
def lro(server: tuple[str, ProcessGroup], tmp_path: Path) -> Lro:
    url, group = server
    # Variables that make rich act as if a pipe were a terminal would defeat the plain-mode
    # checks; the pty tests set their own terminal.
    forcing = {"FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES"}
    env = {k: v for k, v in group.env.items() if k not in forcing}
    return Lro(url=url, env={**env, "LRO_URL": url}, workdir=tmp_path)


@pytest.fixture
def api(server: tuple[str, ProcessGroup]) -> Iterator[Client]:
    """The Python client on the same server, for setting up jobs and checking outcomes."""
    with Client(server[0]) as client:
        yield client


@pytest.fixture
def proxy(server: tuple[str, ProcessGroup]) -> Iterator[FaultProxy]:
    """The fault proxy (tests/client/faultproxy.py) in front of the server: what a command
    sent, and answers the server would give in other configurations."""
    with FaultProxy(int(server[0].rsplit(":", 1)[1])) as p:
        yield p
