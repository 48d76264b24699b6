"""An operation's queue (HTTP-CONTRACT §13, §19): jobs of operations on different queues
are claimed by a worker that serves both (its claim names their operations), and a
worker serving one queue's operations takes none of the other's."""

from __future__ import annotations

from tests.contract.helpers import at, claim, submit

from lro.store import Store


async def test_a_claim_takes_jobs_of_every_queue_its_operations_are_on(store: Store) -> None:
    media = await submit(store, at(0), operation="media.resize", queue="media")
    report = await submit(store, at(1), operation="reports.build", queue="default")
    both = await claim(store, now=at(2), operations=["media.resize", "reports.build"])
    assert [j.id for j in both] == [media.id, report.id]


async def test_a_claim_for_one_queues_operations_leaves_the_others(store: Store) -> None:
    media = await submit(store, at(0), operation="media.resize", queue="media")
    report = await submit(store, at(1), operation="reports.build", queue="default")
    assert [j.id for j in await claim(store, now=at(2), operations=["media.resize"])] == [media.id]
    assert await claim(store, now=at(3), operations=["media.resize"]) == []
    assert [j.id for j in await claim(store, now=at(4), operations=["reports.build"])] == [
        report.id
    ]
