"""Redis going away and coming back, through a switchable TCP proxy (the server itself is
never touched): while it is gone the API is alive but not ready (503 with Retry-After on
/readyz and on a submit); once it is back, the same processes serve and run jobs again,
the change feed having reconnected by itself."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from tests.redis_interop.helpers import APP, submit, wait_job
from tests.support.procs import API, ProcessGroup, start_server, wait_for
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[TcpProxy]:
    server = urlsplit(redis_url)
    with TcpProxy(server.port or 6379, server.hostname or "127.0.0.1") as proxy:
        yield proxy


@pytest.mark.smoke
def test_an_outage_is_503_and_service_resumes_after_it(
    redis_proxy: TcpProxy, procs: ProcessGroup, redis_url: str
) -> None:
    redis_proxy.on()
    db = urlsplit(redis_url).path
    procs.env["LRO_STORE_URL"] = f"redis://127.0.0.1:{redis_proxy.port}{db}"
    base = start_server(procs, worker=True, extra=[APP])
    with httpx.Client(base_url=base, timeout=20) as client:
        first = submit(client, a=1, b=1)
        wait_job(client, first, "completed", procs, status="completed")

        redis_proxy.off()
        unready = wait_for(
            lambda: (r := client.get("/readyz")).status_code == 503 and r,
            timeout=20,
            what="/readyz to say 503",
            diagnostics=procs.logs,
        )
        assert unready.headers["content-type"].startswith("application/problem+json")
        assert int(unready.headers["Retry-After"]) >= 1
        assert client.get("/healthz").status_code == 200
        refused = client.post(f"{API}/add", json={"a": 1, "b": 2})
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1

        redis_proxy.on()
        wait_for(
            lambda: client.get("/readyz").status_code == 200,
            timeout=30,
            what="/readyz to say 200 again",
            diagnostics=procs.logs,
        )
        after = submit(client, a=20, b=22)
        done = wait_job(client, after, "completed after the outage", procs, status="completed")
        assert done["result"] == {"sum": 42}
