"""What only the s3 result store does: object names under its prefix, presigned redirects,
and its URL options. Against moto's S3 server (a subprocess on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.results.helpers import make_rig
from tests.support.s3 import S3Server

from lro.results.s3 import S3Body, S3ResultStore

DATA = b"".join(b"%06d\n" % i for i in range(5000))


@pytest.fixture(autouse=True)
def aws_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)


async def test_objects_are_named_prefix_job_attempt_file(s3: S3Server, tmp_path: Path) -> None:
    async with make_rig("s3", tmp_path, s3) as rig:
        job_id = await rig.submit()
        zombie, winner = await rig.second_attempt(job_id)
        a = await rig.lro.result_store.put_bytes(zombie, b"z", "text/plain", "r.txt")
        b = await rig.lro.result_store.put_bytes(winner, DATA, "text/plain", "r.txt")
        assert rig.bucket is not None
        assert s3.keys(rig.bucket) == sorted(f"results/v1/{ref.key}" for ref in (a, b))
        assert len({ref.key.split("/")[1] for ref in (a, b)}) == 2  # one folder per attempt


async def test_redirect_mode_answers_307_to_a_presigned_url_that_serves_ranges(
    s3: S3Server, tmp_path: Path
) -> None:
    async with make_rig("s3", tmp_path, s3, redirect="1", presign_seconds="120") as rig:
        job, _ = await rig.completed(DATA)
        r = await rig.client.get(rig.url(job.id))
        assert r.status_code == 307, r.text
        assert r.headers["cache-control"] == "no-store"
        location = r.headers["location"]
        assert location.startswith(s3.endpoint + "/")
        assert "X-Amz-Expires=120" in location
        async with httpx.AsyncClient() as plain:  # the store itself, no lro in between
            whole = await plain.get(location)
            assert (whole.status_code, whole.content) == (200, DATA)
            assert whole.headers["content-type"].startswith("text/csv")
            assert 'filename="report.csv"' in whole.headers["content-disposition"]
            part = await plain.get(location, headers={"Range": "bytes=7-20"})
            assert (part.status_code, part.content) == (206, DATA[7:21])


async def test_streaming_passes_the_range_on_to_the_store(s3: S3Server, tmp_path: Path) -> None:
    async with make_rig("s3", tmp_path, s3) as rig:
        job, ref = await rig.completed(DATA)
        body = await rig.lro.result_store.open(job.id, ref)
        assert isinstance(body, S3Body)
        pieces = [p async for p in body.chunks(1000, 1010)]
        assert b"".join(pieces) == DATA[1000:1010]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "use s3://bucket/prefix"),
        ("s3://bucket/p?redirect=maybe", "redirect=1 or redirect=0"),
        ("s3://bucket/p?expires=5", "unknown option"),
        ("s3://bucket/p?presign_seconds=0", "presign_seconds"),
        ("s3://bucket/p?presign_seconds=soon", "whole number"),
    ],
)
def test_url_mistakes_are_refused_with_a_reason(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        S3ResultStore.from_url(url, tmp_path)


def test_url_options(tmp_path: Path) -> None:
    store = S3ResultStore.from_url("s3://bkt/a/b/?redirect=yes&presign_seconds=60", tmp_path)
    assert (store.bucket, store.prefix, store.redirect, store.presign_seconds) == (
        "bkt",
        "a/b/",
        True,
        60,
    )
    bare = S3ResultStore.from_url("s3://bkt", tmp_path)
    assert (bare.prefix, bare.redirect, bare.presign_seconds) == ("", False, 300)
