"""Listing batches (`Batches.list_batches`, GET /api/v1/batches) on every backend with
batches: newest first, keyset-paged, scoped to an owner (or every owner's), counted as
`get_batch` counts them, and without expired batches."""

from __future__ import annotations

import pytest
from tests.contract.helpers import T0, at, claim
from tests.contract.test_batches import _batches, new_batch

from lro.models import Status
from lro.store import BatchQuery, Store

pytestmark = pytest.mark.usefixtures("needs_flows")


async def test_batches_are_listed_newest_first_page_by_page_per_owner(store: Store) -> None:
    batches = _batches(store)
    alices = [new_batch(2, owner="alice") for _ in range(3)]
    bobs = new_batch(1, owner="bob")
    for i, batch in enumerate(alices):
        await batches.insert_batch(batch, at(i))
    await batches.insert_batch(bobs, at(10))

    first = await batches.list_batches(BatchQuery(owner="alice", limit=2), at(20))
    assert [b.id for b in first.items] == [alices[2].id, alices[1].id]
    assert first.next_cursor is not None
    rest = await batches.list_batches(
        BatchQuery(owner="alice", limit=2, cursor=first.next_cursor), at(20)
    )
    assert [b.id for b in rest.items] == [alices[0].id]
    assert rest.next_cursor is None

    everyone = await batches.list_batches(BatchQuery(owner=None), at(20))
    assert [b.id for b in everyone.items] == [bobs.id, *(b.id for b in reversed(alices))]
    assert everyone.next_cursor is None
    assert (await batches.list_batches(BatchQuery(owner="carol"), at(20))).items == []


async def test_listed_batches_are_counted_like_get_batch(store: Store) -> None:
    batches = _batches(store)
    batch = new_batch(3, owner="alice")
    await batches.insert_batch(batch, T0)
    await claim(store, 1, at(1))
    [listed] = (await batches.list_batches(BatchQuery(owner="alice"), at(2))).items
    assert listed == await batches.get_batch(batch.id)
    assert listed.counts == {Status.QUEUED: 2, Status.PROCESSING: 1}
    assert listed.status is Status.PROCESSING and listed.total == 3


async def test_expired_batches_are_not_listed(store: Store) -> None:
    batches = _batches(store)
    gone, kept = new_batch(1, owner="alice"), new_batch(1, owner="alice")
    await batches.insert_batch(gone, T0)
    await batches.insert_batch(kept, at(1))
    await store.request_cancel(gone.jobs[0].id, at(2), 10.0)  # the batch expires at 12
    listed = await batches.list_batches(BatchQuery(owner="alice"), at(5))
    assert [b.id for b in listed.items] == [kept.id, gone.id]
    listed = await batches.list_batches(BatchQuery(owner="alice"), at(12))
    assert [b.id for b in listed.items] == [kept.id]


@pytest.mark.parametrize("cursor", ["not a cursor", "eA", "MTI6AA"])
async def test_a_malformed_cursor_is_a_value_error(store: Store, cursor: str) -> None:
    batches = _batches(store)
    await batches.insert_batch(new_batch(1), T0)
    with pytest.raises(ValueError):
        await batches.list_batches(BatchQuery(owner="", cursor=cursor), at(1))
