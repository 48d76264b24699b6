"""Result blobs in the store (`store.blobs`, LRO_RESULT_STORE=db) on every backend: chunks
written one by one, invisible until finished, read by index, deleted with their job in
the same transaction, and one attempt's blob never touched by another's writes."""

from __future__ import annotations

from tests.contract.helpers import (
    T0,
    StoreFactory,
    at,
    claim_one,
    lease_of,
    submit,
)

from lro.models import Completion, ResultRef
from lro.store import Store, SweepParams
from lro.store.base import BlobInfo

BINARY = bytes(range(256)) * 4  # every byte value, 1 KiB


async def write(store: Store, job_id: str, key: str, data: bytes, chunk: int) -> None:
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for n, piece in enumerate(pieces):
        assert await store.blobs.write_chunk(job_id, key, n, piece)
    assert await store.blobs.finish(job_id, key, len(data), chunk, T0)


async def read_all(store: Store, job_id: str, key: str) -> bytes:
    return b"".join(await store.blobs.read_chunks(job_id, key, 0, 1_000))


async def test_chunks_are_invisible_until_finished_then_read_by_index(store: Store) -> None:
    job = await submit(store)
    blobs = store.blobs
    for n, piece in enumerate([b"abcd", b"efgh", b"ij"]):
        assert await blobs.write_chunk(job.id, "k1", n, piece)
    assert await blobs.info(job.id, "k1") is None  # not finished: a reader sees nothing
    assert await blobs.finish(job.id, "k1", 10, 4, at(5))
    assert await blobs.info(job.id, "k1") == BlobInfo(10, 4, at(5))
    assert await blobs.read_chunks(job.id, "k1", 0, 10) == [b"abcd", b"efgh", b"ij"]
    assert await blobs.read_chunks(job.id, "k1", 1, 1) == [b"efgh"]
    assert await blobs.read_chunks(job.id, "k1", 2, 5) == [b"ij"]
    assert await blobs.read_chunks(job.id, "k1", 3, 5) == []  # past the end


async def test_binary_data_and_large_chunks_round_trip_exactly(store: Store) -> None:
    job = await submit(store)
    big = BINARY * 512 + b"tail"  # 512 KiB and a bit: two chunks of 256 KiB and a third
    await write(store, job.id, "big", big, 256 * 1024)
    assert await read_all(store, job.id, "big") == big
    info = await store.blobs.info(job.id, "big")
    assert info is not None and (info.size, info.chunk_bytes) == (len(big), 256 * 1024)


async def test_rewriting_a_chunk_replaces_it(store: Store) -> None:
    job = await submit(store)
    assert await store.blobs.write_chunk(job.id, "k", 0, b"first")
    assert await store.blobs.write_chunk(job.id, "k", 0, b"again")
    assert await store.blobs.read_chunks(job.id, "k", 0, 5) == [b"again"]


async def test_nothing_is_stored_for_a_job_that_does_not_exist(store: Store) -> None:
    assert not await store.blobs.write_chunk("no-such-job", "k", 0, b"x")
    assert not await store.blobs.finish("no-such-job", "k", 1, 1, T0)
    assert await store.blobs.read_chunks("no-such-job", "k", 0, 5) == []
    assert await store.blobs.info("no-such-job", "k") is None


async def test_attempts_keys_are_isolated(store: Store) -> None:
    """Two attempts of one job write under their own keys: neither's bytes reach the
    other's blob, and cleaning up after the winner keeps exactly the winner's."""
    job = await submit(store)
    await write(store, job.id, "job/attempt-1/r.csv", b"zombie bytes " * 10, 16)
    await write(store, job.id, "job/attempt-2/r.csv", b"winner bytes " * 10, 16)
    # The zombie goes on writing after the winner finished: its own blob only.
    assert await store.blobs.write_chunk(job.id, "job/attempt-1/r.csv", 99, b"late")
    assert await read_all(store, job.id, "job/attempt-2/r.csv") == b"winner bytes " * 10

    await store.blobs.delete_job(job.id, keep="job/attempt-2/r.csv")
    assert await store.blobs.info(job.id, "job/attempt-1/r.csv") is None
    assert await store.blobs.read_chunks(job.id, "job/attempt-1/r.csv", 0, 200) == []
    assert await read_all(store, job.id, "job/attempt-2/r.csv") == b"winner bytes " * 10

    await store.blobs.delete(job.id, "job/attempt-2/r.csv")
    assert await store.blobs.info(job.id, "job/attempt-2/r.csv") is None
    assert await store.blobs.read_chunks(job.id, "job/attempt-2/r.csv", 0, 200) == []


async def test_delete_job_without_keep_removes_every_blob(store: Store) -> None:
    job, other = await submit(store), await submit(store)
    await write(store, job.id, "a", b"aaaa", 2)
    await write(store, job.id, "b", b"bbbb", 2)
    await write(store, other.id, "a", b"other", 2)
    await store.blobs.delete_job(job.id)
    assert await store.blobs.info(job.id, "a") is None
    assert await store.blobs.info(job.id, "b") is None
    assert await read_all(store, other.id, "a") == b"other"  # another job's: untouched


async def test_deleting_the_job_deletes_its_blobs(store: Store) -> None:
    await submit(store)
    job = await claim_one(store)
    other = await submit(store)
    await write(store, job.id, "r", b"result!", 3)
    await write(store, job.id, "leftover", b"zombie", 3)
    await write(store, other.id, "r", b"keep me", 3)
    ref = ResultRef(key="r", content_type="text/plain", size=7)
    await store.complete_jobs([Completion(lease_of(job), result_ref=ref)], at(1), 60)

    deleted = await store.delete_job(job.id)
    assert deleted is not None and deleted.deleted and deleted.job.id == job.id
    for key in ("r", "leftover"):
        assert await store.blobs.info(job.id, key) is None
        assert await store.blobs.read_chunks(job.id, key, 0, 10) == []
    assert await read_all(store, other.id, "r") == b"keep me"
    # And none can be written afterwards, so nothing outlives the job.
    assert not await store.blobs.write_chunk(job.id, "r", 0, b"late")


async def test_the_sweeper_deletes_expired_jobs_blobs(stores: StoreFactory) -> None:
    worker, api = await stores(), await stores()
    await submit(worker)
    job = await claim_one(worker)
    await write(worker, job.id, "r", b"expiring", 4)
    ref = ResultRef(key="r", content_type="text/plain", size=8)
    await worker.complete_jobs([Completion(lease_of(job), result_ref=ref)], at(1), 10)
    assert await read_all(api, job.id, "r") == b"expiring"

    swept = await worker.sweep(SweepParams(now=at(20), batch_size=10, tombstone_seconds=60))
    assert swept.job_ids == [job.id]
    assert await api.blobs.info(job.id, "r") is None
    assert await api.blobs.read_chunks(job.id, "r", 0, 10) == []
