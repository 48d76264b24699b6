"""Helpers to run the real `lro` command in subprocesses and wait on them without sleeps
that guess: every wait is a bounded polling loop that fails with the process's log.

Processes write their output to a log file (never a pipe: a full pipe would block the child),
and `ProcessGroup.close()` always kills whatever is still running, so a failing test
cannot leave a server or worker behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


def lro_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m lro.cli`."""
    script = shutil.which("lro", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "lro.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WaitTimeout(AssertionError):
    """A bounded wait ran out; the message says what was awaited and what was last seen."""


def wait_for(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    diagnostics: Callable[[], str] | None = None,
) -> T:
    """Call `check` until it returns something other than None/False; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        last = check()
        if last is not None and last is not False:
            return last
        if time.monotonic() >= deadline:
            extra = f"\n{diagnostics()}" if diagnostics else ""
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}{extra}")
        time.sleep(interval)


@dataclass
class LroProcess:
    """One running `lro ...` command with its log file."""

    name: str
    args: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self, tail: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"[{self.name}: no log]"
        return f"--- {self.name} log (last {tail} lines) ---\n" + "\n".join(lines[-tail:])

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise WaitTimeout(
                f"{self.name} (pid {self.pid}) still running {timeout:g}s later\n{self.log()}"
            ) from None

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)


@dataclass
class ProcessGroup:
    """Starts `lro` processes sharing one environment; `close()` kills the survivors."""

    workdir: Path
    env: dict[str, str]
    procs: list[LroProcess] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> LroProcess:
        """`lro ARGS...` in the group's environment (plus `env`)."""
        return self.start_command(name, [*lro_command(), *args], env, cwd)

    def start_command(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> LroProcess:
        """Any command (a plain `uvicorn`, say) in the group's environment."""
        log_path = self.workdir / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                list(argv),
                cwd=cwd or self.workdir,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc = LroProcess(name, list(argv), popen, log_path)
        self.procs.append(proc)
        return proc

    def run(
        self, args: Sequence[str], timeout: float = 30, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a short command to completion (e.g. `lro migrate`)."""
        return subprocess.run(
            [*lro_command(), *args],
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def logs(self) -> str:
        return "\n".join(p.log() for p in self.procs)

    def close(self) -> None:
        for proc in self.procs:
            proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            proc.kill()


def wait_healthy(proc: LroProcess, base_url: str, timeout: float = 30) -> None:
    """Poll `/healthz` until it answers 200; fail at once (with the log) if `proc` exits."""

    def check() -> bool:
        if not proc.alive():
            raise AssertionError(
                f"{proc.name} exited with status {proc.popen.returncode} before it was "
                f"healthy\n{proc.log()}"
            )
        try:
            return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(check, timeout=timeout, what=f"{proc.name} to answer /healthz", diagnostics=proc.log)


def base_env(workdir: Path, **overrides: str) -> dict[str, str]:
    """The parent's environment minus any LRO_* settings, pointing at files in `workdir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LRO_")}
    env.update(
        {
            "LRO_STORE_URL": f"sqlite:///{workdir / 'lro.db'}",
            "LRO_RESULT_DIR": str(workdir / "results"),
            "LRO_LEASE_SECONDS": "2",
            "LRO_WEBHOOK_ALLOW_PRIVATE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


# -- the HTTP side ------------------------------------------------------------------------------
API = "/api/v1"


def start_server(
    group: ProcessGroup, *, worker: bool, name: str = "api", extra: Sequence[str] = ()
) -> str:
    """`lro serve` on a free port (with or without its embedded worker); returns the base URL
    once /healthz answers."""
    port = free_port()
    args = ["serve", "--port", str(port), "--no-access-log", *extra]
    if not worker:
        args.append("--no-worker")
    proc = group.start(name, args)
    base_url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, base_url)
    return base_url


def get_job(client: httpx.Client, job_id: str) -> dict[str, object]:
    resp = client.get(f"{API}/jobs/{job_id}")
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def wait_job(
    client: httpx.Client,
    job_id: str,
    until: Callable[[dict[str, object]], bool],
    *,
    what: str,
    timeout: float = 60,
    group: ProcessGroup | None = None,
) -> dict[str, object]:
    """Poll the job until `until(job)` holds; the failure message shows the last state."""
    seen: list[dict[str, object]] = []

    def check() -> dict[str, object] | None:
        job = get_job(client, job_id)
        seen[:] = [job]
        return job if until(job) else None

    def diagnostics() -> str:
        last = f"last seen: {seen[0] if seen else None}"
        return f"{last}\n{group.logs()}" if group else last

    return wait_for(
        check, timeout=timeout, what=f"job {job_id} {what}", interval=0.1, diagnostics=diagnostics
    )


def is_terminal(job: dict[str, object]) -> bool:
    return job["status"] in {"completed", "failed", "cancelled"}
