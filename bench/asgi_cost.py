"""CPU per request at the ASGI level: lro's routes beside the bare FastAPI route, no
server, no network. Each request is one call of the app with a ready scope; the figure is
the best of several rounds of `time.process_time()` per request, which other work on the
machine disturbs far less than a rate over HTTP. It leaves out what both sides share
(uvicorn's parsing, the socket writes, the access log), so the ratio here is of the apps
alone and says where lro's own time goes; `bench/run.py --only http` gives the served one.

    python bench/asgi_cost.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import bare_app  # noqa: E402
import bench_app  # noqa: E402

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(
    app: App, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope(method, path, headers), receive, send)
    return status


async def cost(
    app: App,
    requests: int,
    rounds: int,
    method: str,
    paths: list[str],
    headers: list[list[tuple[bytes, bytes]]],
    body: bytes = b"",
) -> tuple[float, int]:
    best = float("inf")
    status = 0
    for _ in range(rounds):
        t = time.process_time()
        for i in range(requests):
            k = i % len(paths)
            status = await call(app, method, paths[k], headers[k] if headers else [], body)
        best = min(best, (time.process_time() - t) / requests * 1e6)
    return best, status


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="lro-asgi-"))
    lro = bench_app.make_app(f"sqlite:///{workdir / 'asgi.db'}")
    lro_app = lro.create_app()
    await lro.start()
    try:
        ids = [(await lro.submit(bench_app.OPERATION, {"i": -1})).id for _ in range(100)]
        paths = [f"/api/v1/jobs/{i}" for i in ids]
        etags: list[list[tuple[bytes, bytes]]] = []
        for p in paths:
            captured: dict[str, bytes] = {}

            async def grab(message: dict[str, Any], into: dict[str, bytes] = captured) -> None:
                if message["type"] == "http.response.start":
                    into.update(dict(message["headers"]))

            async def nothing() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            await lro_app(scope("GET", p, []), nothing, grab)
            etags.append([(b"if-none-match", captured[b"etag"])])
        json_body = [(b"content-type", b"application/json")]
        r, n = args.requests, args.rounds
        out = {
            "bare": await cost(bare_app.app, r, n, "GET", [f"/jobs/{i}" for i in range(100)], []),
            "poll": await cost(lro_app, r, n, "GET", paths, []),
            "poll_304": await cost(lro_app, r, n, "GET", paths, etags),
            "submit": await cost(
                lro_app, r, n, "POST", ["/api/v1/noop"], [json_body], json.dumps({"i": -1}).encode()
            ),
        }
    finally:
        await lro.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    out = asyncio.run(main_async(args))
    bare = out["bare"][0]
    print(f"{'figure':<34}  CPU us/request  bare/lro  status")
    for name, (us, status) in out.items():
        print(f"{name:<34}  {us:>14,.0f}  {bare / us:>8.2f}  {status}")


if __name__ == "__main__":
    main()
