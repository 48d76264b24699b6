"""Client test fixtures: one real lro server per module (tests/client/server.py), a fault
proxy in front of it when a test needs the network to misbehave, and `client` /
`make_client`, parametrised so that every test runs with Client and AsyncClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from tests.client.faultproxy import FaultProxy
from tests.client.server import ServerThread

from lro.client import AsyncClient, Backoff, Client

FAST = Backoff(base=0.01, cap=0.05)
"""Retries in tests: real backoff, minus the waiting."""

AnyClient = Client | AsyncClient


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    running = ServerThread(tmp_path_factory.mktemp("lro")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def proxy(server: ServerThread) -> Iterator[FaultProxy]:
    with FaultProxy(server.port) as p:
        yield p


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_client(kind: str) -> AsyncIterator[Callable[..., AnyClient]]:
    """`make_client(url, **options)` of the parametrised kind, closed after the test."""
    made: list[AnyClient] = []

    def make(url: str, **options: Any) -> AnyClient:
        options.setdefault("backoff", FAST)
        client: AnyClient = (Client if kind == "sync" else AsyncClient)(url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        if isinstance(client, AsyncClient):
            await client.close()
        else:
            client.close()


@pytest.fixture
def client(make_client: Callable[..., AnyClient], server: ServerThread) -> AnyClient:
    return make_client(server.url)
