"""A real uvicorn serving one of tests.embedding.apps, and a real `lro worker` beside it
on the same SQLite file; one pair per test module (the checks only add jobs)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.procs import ProcessGroup, base_env, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


class Served:
    """Where one embedding answers: `url` is the server, `root` what lies in front of
    lro's own paths (mount path or include prefix)."""

    def __init__(self, url: str, root: str, openapi: str, group: ProcessGroup) -> None:
        self.url = url
        self.root = root
        self.api = root + "/api/v1"
        self.openapi = openapi
        self.group = group


@pytest.fixture(scope="module")
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    app_name: str = request.module.APP
    root: str = request.module.ROOT
    workdir = tmp_path_factory.mktemp(f"embed-{app_name}")
    env = base_env(workdir, PYTHONPATH=str(ROOT), LRO_LEASE_SECONDS="5")
    group = ProcessGroup(workdir, env)
    port = free_port()
    try:
        api = group.start_command(
            "uvicorn",
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"tests.embedding.apps:{app_name}",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=ROOT,
        )
        group.start(
            "worker", ["worker", "tests.embedding.apps:lro", "--concurrency", "4"], cwd=ROOT
        )
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if not api.alive():
                raise AssertionError(f"uvicorn exited\n{api.log()}")
            try:
                return httpx.get(f"{url}{root}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, timeout=30, what="uvicorn to answer", diagnostics=group.logs)
        yield Served(url, root, request.module.OPENAPI, group)
    finally:
        group.close()
