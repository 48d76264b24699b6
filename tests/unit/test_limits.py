"""Declaring workload limits (lro.limits): what is refused at registration, what a job's
key is, and the refusal at start-up on a store that cannot enforce them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from lro import LRO
from lro.errors import Unsupported
from lro.limits import Limits
from lro.store.sqlite import SQLiteStore


class P(BaseModel):
    customer_id: str = "c1"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency must be"),
        ({"concurrency": True}, "concurrency must be"),
        ({"max_queued": -1}, "max_queued must be"),
        ({"key_concurrency": 2}, "needs a concurrency_key"),
        ({"concurrency_key": ""}, "concurrency_key must be"),
        ({"rate_limit": (0, 60)}, "rate_limit N"),
        ({"rate_limit": (5, 0)}, "rate_limit P"),
        ({"rate_limit": (5,)}, "pair"),
        ({"queue": ""}, "queue must be"),
        ({"queue": "a,b"}, "no commas"),
        ({"fair": "yes"}, "fair must be"),
    ],
)
def test_bad_limits_are_refused_at_registration(options: dict[str, Any], message: str) -> None:
    lro = LRO(store="sqlite:///unused.db")
    with pytest.raises(ValueError, match=message):

        @lro.operation("op", **options)
        async def op(ctx: object) -> None: ...


def test_a_jobs_key() -> None:
    assert Limits().key_for({}, "alice") is None  # not limited in the claim
    assert Limits(concurrency=4).key_for({}, "alice") == ""  # one key for the operation
    assert Limits(fair=True).key_for({}, "alice") == "alice"  # the principal
    by_field = Limits(concurrency_key="customer_id", key_concurrency=1)
    assert by_field.key_for({"customer_id": 42}, "alice") == "42"
    assert by_field.key_for({}, "alice") == ""
    by_call = Limits(concurrency_key=lambda params, who: f"{who}/{params['n']}")
    assert by_call.key_for({"n": 3}, "bob") == "bob/3"
    assert Limits(max_queued=10).key_for({}, "") == ""  # counted on the limited index


class NoWorkload(SQLiteStore):
    """A store without the capability, as the Redis backend is for now."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.workload = None  # type: ignore[assignment]


async def test_limits_are_refused_at_start_up_on_a_store_without_them(tmp_path: Path) -> None:
    lro = LRO(store=NoWorkload(tmp_path / "lro.db"))

    @lro.operation("imports.run", concurrency_key="customer_id", key_concurrency=1, max_queued=5)
    async def run(ctx: object, params: P) -> None: ...

    with pytest.raises(Unsupported, match=r"imports\.run: concurrency_key, key_concurrency"):
        await lro.start()


async def test_an_app_without_limits_starts_on_such_a_store(tmp_path: Path) -> None:
    lro = LRO(store=NoWorkload(tmp_path / "lro.db"))

    @lro.operation("plain", queue="media")
    async def plain(ctx: object) -> None: ...

    async with lro.running():
        pass


async def test_a_store_written_before_the_part_counts_as_without_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "lro.db")
    del store.workload  # as a backend that predates Store.workload has no such attribute
    lro = LRO(store=store)

    @lro.operation("partner.sync", rate_limit=(100, 60))
    async def sync(ctx: object) -> None: ...

    with pytest.raises(Unsupported, match=r"partner\.sync: rate_limit"):
        await lro.start()
