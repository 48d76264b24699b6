"""Downloading a result the server redirects to an object store (the s3 result store with
redirect=1, HTTP-CONTRACT §20): the client follows the presigned URL without its own
credentials, and resumes a broken transfer through the lro server again, with Range."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.client.conftest import AnyClient
from tests.client.faultproxy import Cut, FaultProxy
from tests.client.helpers import run
from tests.client.server import ServerThread, blob_bytes
from tests.support.s3 import S3Server, s3_server

from lro.client import AsyncClient, Client

KEY = "secret-key"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def store_proxy(s3: S3Server) -> Iterator[FaultProxy]:
    """The object store as the client sees it: through a proxy that logs what it sent."""
    port = int(s3.endpoint.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def redirecting_server(
    s3: S3Server, store_proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    bucket = s3.new_bucket()
    with pytest.MonkeyPatch.context() as env:
        for name, value in {**s3.env(), "AWS_ENDPOINT_URL": store_proxy.url}.items():
            env.setenv(name, value)
        running = ServerThread(
            tmp_path_factory.mktemp("lro-s3"),
            result_store=f"s3://{bucket}/r?redirect=1",
            api_keys=f"alice:{KEY}",
        ).start()
        try:
            yield running
        finally:
            running.stop()


def make(kind: str, url: str) -> AnyClient:
    return (Client if kind == "sync" else AsyncClient)(url, api_key=KEY)


async def close(client: AnyClient) -> None:
    if isinstance(client, AsyncClient):
        await client.close()
    else:
        client.close()


async def test_download_follows_the_redirect_without_credentials(
    kind: str, redirecting_server: ServerThread, store_proxy: FaultProxy, tmp_path: Path
) -> None:
    client = make(kind, redirecting_server.url)
    try:
        job = await run(client.submit("blob", {"size": 300_000}, wait=10))
        before = len(store_proxy.requests("GET /"))
        path = await run(client.download(job.job_id, tmp_path / "blob.bin"))
    finally:
        await close(client)
    assert path.read_bytes() == blob_bytes(300_000)
    [fetch] = store_proxy.requests("GET /")[before:]
    assert "authorization" not in fetch.headers
    assert "x-amz-signature=" in fetch.path.lower()
    assert fetch.answer.startswith("http/1.1 200")


async def test_a_broken_transfer_resumes_through_a_fresh_redirect(
    kind: str, redirecting_server: ServerThread, store_proxy: FaultProxy, tmp_path: Path
) -> None:
    client = make(kind, redirecting_server.url)
    try:
        job = await run(client.submit("blob", {"size": 400_000}, wait=10))
        before = len(store_proxy.requests("GET /"))
        store_proxy.add("GET /", Cut(150_000), times=1)
        path = await run(client.download(job.job_id, tmp_path / "blob.bin"))
    finally:
        await close(client)
    assert path.read_bytes() == blob_bytes(400_000)
    first, second = store_proxy.requests("GET /")[before:]
    assert "range" not in first.headers
    start = int(second.headers["range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start < 150_000
    assert second.headers["if-range"]
    assert second.answer.startswith("http/1.1 206")
