"""The harness's own parts, tested without lro: the run log's verdicts (runs, overlaps)
and the TCP proxy's stall, which the commit-window scenarios rely on."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

from tests.reliability.runlog import RunLog, overlaps
from tests.support.procs import wait_for
from tests.support.tcpproxy import TcpProxy


def test_runs_pair_starts_with_ends_and_killed_runs_end_at_the_kill(tmp_path: Path) -> None:
    log = tmp_path / "runlog.txt"
    log.write_text(
        "start j1 1 100 1.0\n"  # cut short by the kill of 100 at 3.0
        "start j1 2 200 4.0\n"
        "end j1 2 200 5.0\n"
        "start j2 1 200 6.0\n"
        "end j2 1 200 7.0\n"
        "start j2 2 300 6.5\n"  # began while 200 still ran j2: an overlap
        "end j2 2 300 8.0\n"
    )
    runs = RunLog(log).by_job()
    assert [(r.pid, r.end) for r in runs["j1"]] == [(100, None), (200, 5.0)]
    assert overlaps(runs, {100: 3.0}) == [(runs["j2"][0], runs["j2"][1])]
    # A run still open in a live process overlaps everything after it.
    assert len(overlaps({"j1": runs["j1"]}, {})) == 1


def test_stall_holds_the_marked_write_and_release_delivers_or_drops() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                while data := conn.recv(65536):
                    received.append(data)

    threading.Thread(target=serve, daemon=True).start()
    with TcpProxy(server.getsockname()[1]) as proxy:
        for deliver in (True, False):
            received.clear()
            proxy.stall(b"MARK")
            client = socket.create_connection(("127.0.0.1", proxy.port))
            client.sendall(b"before")
            wait_for(lambda: b"before" in b"".join(received), timeout=10, what="the first write")
            client.sendall(b"with MARK")
            wait_for(lambda: proxy.stalled == 1, timeout=10, what="the stall")
            assert b"MARK" not in b"".join(received)
            proxy.release(deliver=deliver)
            if deliver:
                wait_for(lambda: b"MARK" in b"".join(received), timeout=10, what="the delivery")
            else:
                client.settimeout(10)
                with contextlib.suppress(ConnectionResetError):  # dropped with a reset
                    assert client.recv(10) == b""  # or closed
                assert b"MARK" not in b"".join(received)
            client.close()
    server.close()
