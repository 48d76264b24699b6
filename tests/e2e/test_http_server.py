"""The HTTP server `lro serve` runs (lro.http_server), through a real process and raw
sockets (issue 13): bytes no HTTP parser accepts get a problem+json 400, not uvicorn's
text/plain one, and a client that never finishes its headers is cut off instead of
holding its socket forever (slow loris)."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from tests.support.procs import API, ProcessGroup, start_server

TIMEOUT = 1.0


@pytest.fixture
def server(procs: ProcessGroup) -> str:
    procs.env["LRO_HEADERS_TIMEOUT_SECONDS"] = str(TIMEOUT)
    return start_server(procs, worker=False)


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (the socket's timeout bounds it)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
        b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nX-Bad\x00: y\r\n\r\n",
        b"GE\x01T /api/v1/jobs HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_unparseable_requests_get_a_problem(server: str, request_bytes: bytes) -> None:
    with connect(server) as sock:
        sock.sendall(request_bytes)
        answer = read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 400 Bad Request", answer
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff"
    problem = json.loads(body)
    assert (problem["status"], problem["title"]) == (400, "Bad Request")
    assert problem["type"].startswith("https://")


@pytest.mark.parametrize(
    ("sent", "drip"),
    [
        pytest.param(b"", b"", id="connects-and-says-nothing"),
        pytest.param(
            b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n", id="drips-headers"
        ),
    ],
)
def test_a_request_whose_headers_never_end_is_cut_off(
    server: str, sent: bytes, drip: bytes
) -> None:
    with connect(server) as sock:
        sock.sendall(sent)
        # One more header line now and then, each well inside any read timeout.
        for _ in range(8):
            time.sleep(TIMEOUT / 4)
            try:
                sock.sendall(drip)
            except OSError:
                break
        assert read_all(sock) == b""  # closed by the server, nothing sent
    # The server itself is fine: a whole request still gets its answer.
    assert httpx.get(f"{server}{API}/jobs", timeout=10).status_code == 200


def test_slow_bodies_and_long_answers_are_not_cut(server: str) -> None:
    """The deadline ends at the headers: a body that takes longer is still read."""
    body = json.dumps({"operation": "reports.generate", "params": {"rows": 1}}).encode()
    with connect(server) as sock:
        sock.sendall(
            b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
        )
        for i in range(0, len(body), 8):
            time.sleep(TIMEOUT / 4)
            sock.sendall(body[i : i + 8])
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 202 Accepted"), answer[:200]
