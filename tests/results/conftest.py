"""The result-store contract suite: every test here runs once per result store, through
the `ResultStore` protocol and the real HTTP routes: `file` (a local directory), `db` on
SQLite, PostgreSQL and Redis (chunks in the job store), and `s3` (moto's S3 server, a real
subprocess spoken to over HTTP). A store difference is an explicit, commented branch."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.results.helpers import Rig, make_rig  # noqa: E402
from tests.support.s3 import S3Server, s3_server  # noqa: E402

STORES: list[object] = [
    "file",
    "db-sqlite",
    pytest.param("db-postgres", marks=pytest.mark.postgres),
    pytest.param("db-redis", marks=pytest.mark.redis),
    "s3",
]


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(params=STORES)
async def rig(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Rig]:
    kind = str(request.param)
    server: S3Server | None = None
    if kind == "s3":
        server = request.getfixturevalue("s3")
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
    async with make_rig(kind, tmp_path, server) as r:
        yield r
