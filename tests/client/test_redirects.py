"""Result downloads redirected to an object store (HTTP-CONTRACT §20): the API (the real
server behind the fault proxy, which answers the redirect as an S3-backed server would)
sends the client to a presigned URL on a second real HTTP server (tests/client/objectstore),
itself behind a fault proxy of its own to cut transfers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.client.conftest import AnyClient
from tests.client.faultproxy import Cut, FaultProxy, Reply
from tests.client.helpers import names, run
from tests.client.objectstore import ObjectStore
from tests.client.server import blob_bytes

from lro.client import JobResource, ProtocolError

MakeClient = Callable[..., AnyClient]
SIZE = 400_000


@pytest.fixture
def store() -> Iterator[ObjectStore]:
    with ObjectStore() as s:
        yield s


@pytest.fixture
def store_proxy(store: ObjectStore) -> Iterator[FaultProxy]:
    with FaultProxy(store.port) as p:
        yield p


@pytest.fixture
async def blob_job(make_client: MakeClient, proxy: FaultProxy) -> JobResource:
    """A completed job whose result the API will say lives in the store."""
    setup = make_client(proxy.url)
    job: JobResource = await run(setup.submit("blob", {"size": SIZE}, wait=10))
    assert job.status == "completed"
    proxy.seen.clear()
    return job


def _redirect(to: str) -> Reply:
    return Reply(302, {"Location": to}, b"")


def _no_credentials_reached(store: ObjectStore) -> None:
    assert store.requests
    for seen in store.requests:
        assert "authorization" not in seen.headers
        assert "x-trace" not in seen.headers


async def test_download_follows_the_redirect_and_resumes_at_the_target(
    make_client: MakeClient,
    proxy: FaultProxy,
    store: ObjectStore,
    store_proxy: FaultProxy,
    blob_job: JobResource,
    tmp_path: Path,
) -> None:
    client = make_client(proxy.url, api_key="k-secret", headers={"X-Trace": "t1"})
    store.put("blob", blob_bytes(SIZE))
    proxy.add("/result", _redirect(store.presign("blob", base=store_proxy.url)), times=None)
    store_proxy.add("GET /bucket/blob", Cut(150_000))

    path = await run(client.download(blob_job.job_id, tmp_path / "blob.bin"))

    assert path.read_bytes() == blob_bytes(SIZE)
    assert names(tmp_path) == ["blob.bin"]
    [asked] = proxy.requests("/result")  # the resume went straight to the target
    assert asked.headers["authorization"] == "Bearer k-secret"
    first, second = store.requests
    assert "range" not in first.headers
    start = int(second.headers["range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start < 150_000
    assert second.headers["if-range"] == store.etag("blob")
    assert second.status == 206
    _no_credentials_reached(store)


async def test_an_expired_target_sends_the_resume_back_to_the_api(
    make_client: MakeClient,
    proxy: FaultProxy,
    store: ObjectStore,
    store_proxy: FaultProxy,
    blob_job: JobResource,
    tmp_path: Path,
) -> None:
    client = make_client(proxy.url, api_key="k-secret")
    store.put("blob", blob_bytes(SIZE))
    once = store.presign("blob", base=store_proxy.url, uses=1)  # expires after one request
    fresh = store.presign("blob", base=store_proxy.url)
    proxy.add("/result", _redirect(once), times=1)
    proxy.add("/result", _redirect(fresh), times=1)
    store_proxy.add("GET /bucket/blob", Cut(150_000))

    path = await run(client.download(blob_job.job_id, tmp_path / "blob.bin"))

    assert path.read_bytes() == blob_bytes(SIZE)
    cut, expired, resumed = store.requests
    assert cut.signature == expired.signature == once.rsplit("=", 1)[1]
    assert expired.status == 403 and "range" in expired.headers
    assert resumed.signature == fresh.rsplit("=", 1)[1]
    assert resumed.status == 206 and resumed.headers["range"] == expired.headers["range"]
    first, again = proxy.requests("/result")
    assert "range" not in first.headers
    assert again.headers["range"] == resumed.headers["range"]  # asked the API for the rest
    _no_credentials_reached(store)


async def test_result_follows_the_redirect_too(
    make_client: MakeClient, proxy: FaultProxy, store: ObjectStore, blob_job: JobResource
) -> None:
    client = make_client(proxy.url, api_key="k-secret")
    store.put("value", b'{"rows": 3}', content_type="application/json")
    proxy.add("/result", _redirect(store.presign("value")))
    assert await run(client.result(blob_job.job_id)) == {"rows": 3}
    _no_credentials_reached(store)


async def test_a_redirect_loop_is_a_protocol_error(
    make_client: MakeClient, proxy: FaultProxy, blob_job: JobResource, tmp_path: Path
) -> None:
    client = make_client(proxy.url, api_key="k-secret")
    proxy.add("/result", _redirect(f"/api/v1/jobs/{blob_job.job_id}/result"), times=None)
    with pytest.raises(ProtocolError, match="more than 5 redirects"):
        await run(client.download(blob_job.job_id, tmp_path / "blob.bin"))
    hops = proxy.requests("/result")
    assert len(hops) == 6
    # The same origin as the API: its credentials travel along.
    assert all(h.headers["authorization"] == "Bearer k-secret" for h in hops)
    assert names(tmp_path) == []
