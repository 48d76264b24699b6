"""SQLite on a full filesystem (issue 13): submits answer 503 with Retry-After and store
nothing, /readyz says 503 for as long as writes fail (it answered 200 while every write
failed), nothing stored before is lost, and all of it works again once there is room.
The filesystem is a small tmpfs the test mounts, so it needs root (as CI runs)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.api.helpers import PREFIX, assert_problem, make_lro


@contextlib.contextmanager
def small_filesystem(where: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        message = "mounting a tmpfs needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> None:
    """Take every free byte of the filesystem `path` is on. Unbuffered: a buffered file
    keeps the tail of the write that hit ENOSPC and raises it again on close (seen once
    the schema grew and left a free space that 64 KiB writes do not divide)."""
    with path.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
            os.fsync(f.fileno())


async def test_a_full_disk_is_a_503_and_not_ready_until_there_is_room(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small") as disk:
        lro = make_lro(tmp_path, store_url=f"sqlite:///{disk / 'lro.db'}")
        app = lro.create_app()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                kept = (await c.post(f"{PREFIX}/echo", json={"text": "kept"})).json()["job_id"]
                assert (await c.get("/readyz")).status_code == 200
                filler = disk / "filler"
                fill(filler)
                refused = [
                    await c.post(f"{PREFIX}/echo", json={"text": "x" * 2000 + str(i)})
                    for i in range(20)
                ]
                assert {r.status_code for r in refused} == {503}, [r.text for r in refused]
                assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
                assert_problem(refused[0], 503)
                assert (await c.get("/readyz")).status_code == 503
                assert (await c.get(f"{PREFIX}/jobs/{kept}")).json()["status"] == "queued"

                filler.unlink()
                assert (await c.get("/readyz")).status_code == 200
                again = await c.post(f"{PREFIX}/echo", json={"text": "again"})
                assert again.status_code == 202, again.text
                listed = (await c.get(f"{PREFIX}/jobs")).json()["items"]
                assert {j["job_id"] for j in listed} == {kept, again.json()["job_id"]}
