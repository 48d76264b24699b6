"""Fixtures of the reliability suite (a backend per parameter, the scenario's `Rig` and
`Verdict`) and the hooks that print the table of verdicts at the end of the session."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.reliability import report  # noqa: E402
from tests.reliability.db import Db  # noqa: E402
from tests.reliability.harness import Rig, rig_on  # noqa: E402
from tests.reliability.verdict import Verdict  # noqa: E402
from tests.support.pgserver import PrivatePostgres  # noqa: E402
from tests.support.postgres import create_database, drop_database, url_for  # noqa: E402


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """`sqlite` or `postgres`: scenarios take it through `backends(...)` (scenarios.py)."""
    param = getattr(request, "param", None)
    assert param in ("sqlite", "postgres"), "parametrise the scenario with backends(...)"
    return str(param)


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Verdict:
    """The scenario's counts; the table at the end of the session prints them."""
    node = request.node
    params: dict[str, Any] = getattr(getattr(node, "callspec", None), "params", {})
    v = Verdict(node.originalname.removeprefix("test_"), str(params.get("backend", "-")))
    node.stash[report.VERDICT] = v
    return v


@pytest.fixture
def rig(backend: str, tmp_path: Path) -> Iterator[Rig]:
    """app_rel processes on a store of their own: a SQLite file in tmp_path, or a fresh
    PostgreSQL database (failed, not skipped, in CI when the server is unreachable)."""
    if backend == "sqlite":
        path = tmp_path / "lro.db"
        with rig_on(backend, tmp_path, f"sqlite:///{path}", Db("sqlite", sqlite_path=path)) as r:
            yield r
        return
    database = asyncio.run(create_database())
    try:
        url = url_for(database)
        with rig_on(backend, tmp_path, url, Db("postgres", pg_url=url)) as r:
            yield r
    finally:
        asyncio.run(drop_database(database))


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[dict[str, Rig]]:
    """One rig per backend, side by side (for a scenario that runs both at once)."""
    database = asyncio.run(create_database())
    try:
        path = tmp_path / "sqlite" / "lro.db"
        path.parent.mkdir()
        url = url_for(database)
        (tmp_path / "postgres").mkdir()
        with (
            rig_on("sqlite", path.parent, f"sqlite:///{path}", Db("sqlite", sqlite_path=path)) as a,
            rig_on("postgres", tmp_path / "postgres", url, Db("postgres", pg_url=url)) as b,
        ):
            yield {"sqlite": a, "postgres": b}
    finally:
        asyncio.run(drop_database(database))


@pytest.fixture
def pg_server() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the scenario's own, which it may stop and start."""
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    report.record(item, rep)
    return rep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    report.summary(terminalreporter)
