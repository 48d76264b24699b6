"""What every result store does alike: store, serve (whole, Range, If-Range, 416), delete,
and keep each attempt's objects apart (issue 11, items 6 and 7)."""

from __future__ import annotations

import random
from email.utils import formatdate

import httpx
import pytest
from tests.results.helpers import Rig

from lro.models import Lease
from lro.results import File, ResultMissing
from lro.results.base import result_key

CSV = b"id,name\n" + b"".join(b"%d,row-%d\n" % (i, i) for i in range(1, 400))
BIG = random.Random(11).randbytes(1_300_000)
"""Spans three of the db store's 512 KiB chunks; random, so a wrong offset shows."""


def assert_problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = resp.json()
    assert body["status"] == status
    return body


async def test_a_stored_result_is_served_whole_with_its_headers(rig: Rig) -> None:
    job, ref = await rig.completed(CSV)
    assert ref.size == len(CSV) and ref.key.startswith(f"{job.id}/")
    r = await rig.client.get(rig.url(job.id))
    assert r.status_code == 200, r.text
    assert r.content == CSV
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-length"] == str(len(CSV))
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-disposition"] == 'attachment; filename="report.csv"'
    assert job.finished_at is not None
    assert r.headers["last-modified"] == formatdate(job.finished_at.timestamp(), usegmt=True)
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = await rig.client.get(rig.url(job.id))
    assert again.headers["etag"] == etag  # stable: any API process computes the same


async def test_head_gives_the_headers_without_the_file(rig: Rig) -> None:
    job, _ = await rig.completed(BIG)
    r = await rig.client.head(rig.url(job.id))
    assert (r.status_code, r.content) == (200, b"")
    assert r.headers["content-length"] == str(len(BIG))
    r = await rig.client.head(rig.url(job.id), headers={"Range": "bytes=10-19"})
    assert (r.status_code, r.content) == (206, b"")
    assert r.headers["content-range"] == f"bytes 10-19/{len(BIG)}"


async def test_ranges(rig: Rig) -> None:
    job, _ = await rig.completed(CSV)
    url = rig.url(job.id)
    r = await rig.client.get(url, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.content == CSV[:10]
    assert r.headers["content-range"] == f"bytes 0-9/{len(CSV)}"
    assert r.headers["content-length"] == "10"
    r = await rig.client.get(url, headers={"Range": "bytes=-5"})
    assert (r.status_code, r.content) == (206, CSV[-5:])
    r = await rig.client.get(url, headers={"Range": "bytes=100-"})
    assert (r.status_code, r.content) == (206, CSV[100:])
    assert r.headers["content-range"] == f"bytes 100-{len(CSV) - 1}/{len(CSV)}"
    r = await rig.client.get(url, headers={"Range": f"bytes=10-{len(CSV) * 2}"})
    assert (r.status_code, r.content) == (206, CSV[10:])  # the end is clamped


async def test_several_ranges_come_as_multipart_byteranges(rig: Rig) -> None:
    job, _ = await rig.completed(CSV)
    r = await rig.client.get(rig.url(job.id), headers={"Range": "bytes=0-3, 20-29, 25-34"})
    assert r.status_code == 206
    ctype = r.headers["content-type"]
    assert ctype.startswith("multipart/byteranges; boundary=")
    boundary = ctype.split("boundary=")[1].encode()
    assert int(r.headers["content-length"]) == len(r.content)
    parts = r.content.split(b"--" + boundary)
    assert parts[0] == b"" and parts[-1] == b"--"
    bodies = []
    for part in parts[1:-1]:
        head, _, body = part.partition(b"\r\n\r\n")
        assert b"Content-Range: bytes " in head
        bodies.append(body.removesuffix(b"\r\n"))
    assert bodies == [CSV[0:4], CSV[20:35]]  # overlapping ranges merged


async def test_unsatisfiable_and_unusable_ranges(rig: Rig) -> None:
    job, _ = await rig.completed(CSV)
    url = rig.url(job.id)
    r = await rig.client.get(url, headers={"Range": f"bytes={len(CSV) + 10}-"})
    assert_problem(r, 416)
    assert r.headers["content-range"] == f"bytes */{len(CSV)}"
    assert_problem(await rig.client.get(url, headers={"Range": "bytes=-0"}), 416)
    # A Range header we cannot use is ignored (RFC 9110 §14.2): the whole file.
    for unusable in ("lines=1-2", "bytes=garbage", "bytes=9-2", "bytes=", "bytes=1-2,x"):
        r = await rig.client.get(url, headers={"Range": unusable})
        assert (r.status_code, r.content) == (200, CSV), unusable


async def test_if_range(rig: Rig) -> None:
    job, _ = await rig.completed(CSV)
    url = rig.url(job.id)
    whole = await rig.client.get(url)
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    for validator in (etag, modified):
        r = await rig.client.get(url, headers={"Range": "bytes=5-9", "If-Range": validator})
        assert (r.status_code, r.content) == (206, CSV[5:10]), validator
    for stale in ('"someone-else"', f"W/{etag}", "Mon, 01 Jan 2001 00:00:00 GMT"):
        r = await rig.client.get(url, headers={"Range": "bytes=5-9", "If-Range": stale})
        assert (r.status_code, r.content) == (200, CSV), stale


async def test_a_large_file_from_the_staging_path_round_trips_with_ranges(rig: Rig) -> None:
    job_id = await rig.submit()
    lease = await rig.claim(job_id)
    staged = rig.lro.result_store.staging_path(lease, "blob.bin")
    staged.write_bytes(BIG)
    ref = await rig.lro.result_store.put_file(lease, File(staged, content_type="x/y"))
    assert (ref.size, ref.content_type, ref.filename) == (len(BIG), "x/y", "blob.bin")
    await rig.lro.result_store.end_attempt(lease)
    assert not staged.parent.exists()  # the attempt's staging is gone, its result is not
    await rig.complete(lease, ref)

    r = await rig.client.get(rig.url(job_id))
    assert r.status_code == 200 and r.content == BIG
    # Across the db store's chunk boundaries (512 KiB), and within one chunk.
    for start, stop in [(524_000, 1_049_000), (10, 20), (1_048_576, len(BIG))]:
        r = await rig.client.get(rig.url(job_id), headers={"Range": f"bytes={start}-{stop - 1}"})
        assert (r.status_code, r.content) == (206, BIG[start:stop]), (start, stop)


async def test_a_file_outside_the_staging_path_is_copied(rig: Rig) -> None:
    job_id = await rig.submit()
    lease = await rig.claim(job_id)
    elsewhere = rig.tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b"kept where it was")
    ref = await rig.lro.result_store.put_file(lease, File(elsewhere))
    assert elsewhere.read_bytes() == b"kept where it was"
    assert ref.content_type == "text/plain" and ref.filename == "elsewhere.txt"
    assert await rig.stored(job_id, ref) == b"kept where it was"


async def test_each_attempt_writes_its_own_objects(rig: Rig) -> None:
    """A zombie (the first attempt, whose lease was taken over) writing late, to its
    staging path and to its stored object, never reaches the result the second attempt's
    fenced completion recorded; the zombie's objects go once the job completes."""
    job_id = await rig.submit()
    zombie, winner = await rig.second_attempt(job_id)
    results = rig.lro.result_store
    zombie_path = results.staging_path(zombie, "report.csv")
    winner_path = results.staging_path(winner, "report.csv")
    assert zombie_path != winner_path

    winner_path.write_bytes(CSV)
    zombie_path.write_bytes(b"zombie,1\n")
    winner_ref = await results.put_file(winner, File(winner_path, content_type="text/csv"))
    with zombie_path.open("ab") as f:  # resumed after the winner stored its result
        f.write(b"zombie,2\n" * 1000)
    zombie_ref = await results.put_file(zombie, File(zombie_path, content_type="text/csv"))
    assert zombie_ref.key != winner_ref.key

    await rig.complete(winner, winner_ref)
    assert await rig.stored(job_id, zombie_ref) == b"zombie,1\n" + b"zombie,2\n" * 1000
    r = await rig.client.get(rig.url(job_id))
    assert (r.status_code, r.content) == (200, CSV)

    # What the worker does after a completion of attempt 2: earlier attempts' leftovers go.
    await results.delete_job(job_id, keep=winner_ref)
    assert await rig.stored(job_id, zombie_ref) is None
    assert await rig.stored(job_id, winner_ref) == CSV
    r = await rig.client.get(rig.url(job_id), headers={"Range": "bytes=0-7"})
    assert (r.status_code, r.content) == (206, CSV[:8])


async def test_a_deleted_object_is_a_500_problem_not_a_broken_200(rig: Rig) -> None:
    job, ref = await rig.completed(CSV)
    await rig.lro.result_store.delete(job.id, ref)
    assert await rig.stored(job.id, ref) is None
    body = assert_problem(await rig.client.get(rig.url(job.id)), 500)
    assert "missing" in str(body["detail"])
    await rig.lro.result_store.delete(job.id, ref)  # idempotent


async def test_delete_removes_every_attempts_objects(rig: Rig) -> None:
    job_id = await rig.submit()
    zombie, winner = await rig.second_attempt(job_id)
    zombie_ref = await rig.lro.result_store.put_bytes(zombie, b"late", "text/plain", "r.txt")
    winner_ref = await rig.lro.result_store.put_bytes(winner, CSV, "text/csv", "r.csv")
    await rig.complete(winner, winner_ref)

    assert (await rig.client.delete(f"/api/v1/jobs/{job_id}")).status_code == 204
    assert await rig.stored(job_id, winner_ref) is None
    assert await rig.stored(job_id, zombie_ref) is None
    if rig.kind == "file":
        assert not (rig.tmp_path / "results" / job_id).exists()
    if rig.s3 is not None and rig.bucket is not None:
        assert rig.s3.keys(rig.bucket) == []


async def test_the_sweeper_removes_expired_results(rig: Rig) -> None:
    job, ref = await rig.completed(CSV)
    later, later_ref = await rig.completed(b"still wanted", retention=7200)
    assert job.expires_at is not None
    swept = await rig.lro.maintenance().sweep_once(job.expires_at)
    assert swept.job_ids == [job.id]
    assert await rig.stored(job.id, ref) is None
    assert await rig.stored(later.id, later_ref) == b"still wanted"


async def test_end_attempt_drops_only_that_attempts_staging(rig: Rig) -> None:
    job_id = await rig.submit()
    zombie, winner = await rig.second_attempt(job_id)
    results = rig.lro.result_store
    a = results.staging_path(zombie, "a.txt")
    b = results.staging_path(winner, "b.txt")
    a.write_text("a")
    b.write_text("b")
    await results.end_attempt(zombie)
    assert not a.exists() and b.read_text() == "b"
    await results.end_attempt(zombie)  # idempotent
    await results.end_attempt(winner)
    assert not b.exists()


async def test_storing_for_a_job_that_is_gone_fails_cleanly(rig: Rig) -> None:
    if not rig.kind.startswith("db"):
        # Only the job store can check that the job exists: a directory or a bucket has
        # no idea, and there DELETE and the sweeper remove whatever a late writer left.
        pytest.skip("only the db result store can refuse writes for a deleted job")
    job, _ = await rig.completed(CSV)
    assert (await rig.client.delete(f"/api/v1/jobs/{job.id}")).status_code == 204
    late = Lease(job.id, "a-zombie-token")
    with pytest.raises(ResultMissing):
        await rig.lro.result_store.put_bytes(late, BIG, "text/plain", "late.txt")
    key = result_key(late, "late.txt")
    assert await rig.lro.store.blobs.info(job.id, key) is None
    assert await rig.lro.store.blobs.read_chunks(job.id, key, 0, 10) == []
