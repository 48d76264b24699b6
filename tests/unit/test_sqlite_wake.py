"""The cross-process wake-up of the SQLite backend (store/sqlite/wake.py).

Every test gives the listening store an hour-long poll interval, so a change can only reach
its listener in time through the wake-up signal: the deadlines are generous waits, and the
poll cannot be what met them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from tests.contract.helpers import submit

from lro.store.sqlite import SQLiteStore
from lro.store.sqlite.wake import WakeChannel
from lro.store.types import JobChange

HOUR = 3600.0
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")


async def _listening(path: Path) -> tuple[SQLiteStore, asyncio.Queue[JobChange]]:
    store = SQLiteStore(path, poll_interval=HOUR)
    await store.open()
    seen: asyncio.Queue[JobChange] = asyncio.Queue()
    store.add_listener(seen.put_nowait)
    await asyncio.sleep(0)  # let the poll task start waiting
    return store, seen


async def test_a_commit_in_another_store_wakes_the_listener_at_once(tmp_path: Path) -> None:
    path = tmp_path / "lro.db"
    listener, seen = await _listening(path)
    writer = SQLiteStore(path, poll_interval=HOUR)
    await writer.open()
    try:
        job = await submit(writer)
        change = await asyncio.wait_for(seen.get(), 30)
        assert (change.job_id, change.status.value) == (job.id, "queued")
    finally:
        await writer.close()
        await listener.close()


async def test_a_commit_in_another_process_wakes_the_listener(tmp_path: Path) -> None:
    path = tmp_path / "lro.db"
    listener, seen = await _listening(path)
    code = (
        "import asyncio, sys\n"
        "from tests.contract.helpers import submit\n"
        "from lro.store.sqlite import SQLiteStore\n"
        "async def main():\n"
        "    s = SQLiteStore(sys.argv[1], poll_interval=3600)\n"
        "    await s.open()\n"
        "    job = await submit(s, id='from-the-other-process')\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, str(path), cwd=Path(__file__).parents[2]
        )
        assert await proc.wait() == 0
        change = await asyncio.wait_for(seen.get(), 30)
        assert change.job_id == "from-the-other-process"
    finally:
        await listener.close()


async def test_each_open_store_has_one_fifo_and_close_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "lro.db"
    a = SQLiteStore(path)
    b = SQLiteStore(path)
    await a.open()
    await b.open()
    wake_dir = Path(f"{path}.wake")
    assert len(os.listdir(wake_dir)) == 2
    await a.close()
    assert len(os.listdir(wake_dir)) == 1
    await b.close()
    assert os.listdir(wake_dir) == []


async def test_a_dead_process_fifo_is_removed_by_the_next_signal(tmp_path: Path) -> None:
    path = tmp_path / "lro.db"
    code = (
        "import asyncio, sys\n"
        "from lro.store.sqlite import SQLiteStore\n"
        "async def main():\n"
        "    s = SQLiteStore(sys.argv[1])\n"
        "    await s.open()\n"
        "    print('open', flush=True)\n"
        "    await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, str(path), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and await proc.stdout.readline() == b"open\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    wake_dir = Path(f"{path}.wake")
    (dead,) = os.listdir(wake_dir)
    store = SQLiteStore(path)
    await store.open()
    try:
        await submit(store)  # the commit signals every FIFO in the directory
        assert dead not in os.listdir(wake_dir)
        assert len(os.listdir(wake_dir)) == 1  # ours
    finally:
        await store.close()


async def test_a_fifo_being_made_is_never_taken_for_a_dead_one(tmp_path: Path) -> None:
    # A process makes its FIFO under a hidden name and renames it once it reads it; a
    # signal in between must neither poke nor remove the hidden one.
    wake_dir = tmp_path / "lro.db.wake"
    wake_dir.mkdir()
    os.mkfifo(wake_dir / ".123-abcd")
    channel = WakeChannel(str(tmp_path / "lro.db"))
    channel.start(lambda: None)
    try:
        channel.signal()
        assert (wake_dir / ".123-abcd").exists()
    finally:
        channel.stop()


async def test_one_signal_wakes_once_and_a_closed_peer_does_not_spin(tmp_path: Path) -> None:
    woken: list[int] = []
    a = WakeChannel(str(tmp_path / "lro.db"))
    b = WakeChannel(str(tmp_path / "lro.db"))
    got = asyncio.Event()
    a.start(lambda: (woken.append(1), got.set()))
    b.start(lambda: None)
    b.signal()
    await asyncio.wait_for(got.wait(), 30)
    b.stop()  # its write end closes: without our own write end the pipe would read EOF
    for _ in range(100):
        await asyncio.sleep(0)
    a.stop()
    assert woken == [1]
