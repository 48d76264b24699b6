"""The finished-jobs timeline (`store.timeline`): how many jobs ended per time bucket and
how long the completed ones took, read from the store so that every API process draws
the same charts (HTTP-CONTRACT §18: throughput and p50/p95 over the last hour).

Percentiles are nearest-rank (the value at rank ceil(p / 100 * n) of the bucket's sorted
durations), computed by the database on both SQL backends with the same window-function
query, so a contract case can assert exact figures on each. A backend without the part
(Redis) has `timeline` None and the API answers 501.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lro.store.base import Store


@dataclass(frozen=True, slots=True)
class TimelineBucket:
    """One bucket with at least one finished job: `index` counts buckets from `since`."""

    index: int
    completed: int
    failed: int
    cancelled: int
    p50_seconds: float | None
    """Of the completed jobs that had started (finished_at - started_at); None: none."""
    p95_seconds: float | None


class Timeline(Protocol):
    async def finished_buckets(
        self, owner: str | None, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TimelineBucket]:
        """Jobs with `since <= finished_at < until` (an owner's, or everyone's for None),
        grouped in buckets of `bucket_seconds` from `since`; only non-empty buckets, in
        index order. Reads only; served by an index on finished_at (per owner too)."""


def timeline_of(store: Store) -> Timeline | None:
    """`store.timeline`, None for a backend that has no such part (it predates it)."""
    part: Timeline | None = getattr(store, "timeline", None)
    return part
