"""The store metrics (lro.metrics): read from the store when `/metrics` is scraped, so
every API process reports the same global figures.

Why a module of its own: these are queries and their families, not this process's
counters; they grow with the store's parts (limits, schedules, batches, the worker
registry). A part the backend lacks (`None`: Redis has no workload, batches or
schedules) is simply not read, and its families are not reported, rather than shown
as zeros that would read as "nothing held back".

The cost per read: a grouped count per status, the oldest due job per operation, the
pending deliveries; per limited operation three indexed reads (`Workload.usage`: its
queued-and-due and running keyed jobs, its rate window); every schedule row; one pass
over the batch rows; the live worker rows. A read is reused for STORE_CACHE_SECONDS.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lro.limits import Limits
from lro.models import Status
from lro.store.base import LimitedOperation, LimitUsage, Store, workload_of
from lro.store.rules import workers_seen_after

HELD_REASONS = ("key", "concurrency", "rate")


@dataclass(frozen=True, slots=True)
class Declared:
    """What the scraping process knows of the app: its operations (lro's own left out)
    and the limits each declares, and the lease that says when a worker is dead."""

    operations: Iterable[str]
    limits: Mapping[str, Limits] = field(default_factory=dict)
    lease_seconds: float = 30.0


@dataclass(slots=True)
class StoreSnapshot:
    """The store's figures at `taken` (monotonic seconds). None: that part is absent."""

    taken: float
    up: bool
    counts: list[tuple[str, Status, int]] = field(default_factory=list)
    oldest_age: dict[str, float] = field(default_factory=dict)
    pending_deliveries: int = 0
    limits: list[tuple[str, str, float]] = field(default_factory=list)
    usage: list[LimitUsage] | None = None
    schedule_lag: list[tuple[str, str, float]] | None = None
    batches: dict[str, int] | None = None
    workers_live: int | None = None


def limit_values(name: str, limits: Limits) -> list[tuple[str, str, float]]:
    """(operation, limit, value) for each limit the operation sets."""
    rate = limits.rate_limit
    found = {
        "concurrency": limits.concurrency,
        "key_concurrency": limits.key_concurrency,
        "rate_limit": None if rate is None else rate[0],
        "rate_period_seconds": None if rate is None else rate[1],
        "max_queued": limits.max_queued,
    }
    return [(name, limit, float(v)) for limit, v in found.items() if v is not None]


async def read_store(
    store: Store, now: datetime, declared: Declared, taken: float
) -> StoreSnapshot:
    """Every figure, from the parts this store has; raises when the store fails."""
    operations = list(declared.operations)
    counts = await store.job_counts(None, now)
    oldest = await store.oldest_queued(now)
    pending = await store.outbox.pending_deliveries()
    snap = StoreSnapshot(
        taken,
        up=True,
        counts=[(c.operation, c.status, c.count) for c in counts],
        oldest_age={
            op: max(0.0, (now - oldest[op]).total_seconds()) if op in oldest else 0.0
            for op in {*operations, *oldest}
        },
        pending_deliveries=pending,
    )
    limited = sorted(
        (n, lim) for n, lim in declared.limits.items() if n in operations and lim.held_in_claim
    )
    for name, lim in limited:
        snap.limits += limit_values(name, lim)
    workload = workload_of(store)
    if workload is not None:
        specs = [LimitedOperation.declared(name, lim) for name, lim in limited]
        snap.usage = await workload.usage(specs, now) if specs else []
    if store.schedules is not None:
        snap.schedule_lag = [
            (s.owner, s.id, max(0.0, (now - s.next_run_at).total_seconds()))
            for s in await store.schedules.list_schedules(None)
            if not s.paused
        ]
    if store.batches is not None:
        snap.batches = await store.batches.count_batches()
    if store.workers is not None:
        cutoff = workers_seen_after(now, declared.lease_seconds)
        snap.workers_live = len(await store.workers.live(cutoff))
    return snap


class StoreCollector(Collector):
    """The families of the last snapshot (none in a worker-only process, which never
    reads one: the API processes report the store)."""

    def __init__(self) -> None:
        self.snapshot: StoreSnapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        up = GaugeMetricFamily(
            "lro_store_up", "1 when the last read of the store's figures worked."
        )
        up.add_metric([], 1.0 if snap.up else 0.0)
        yield up
        if not snap.up:
            return
        yield from _jobs(snap)
        yield from _limits(snap)
        yield from _flows(snap)


def _gauge(name: str, help_text: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, labels=labels)


def _jobs(snap: StoreSnapshot) -> Iterator[Metric]:
    jobs = _gauge(
        "lro_jobs",
        "Jobs in the store by operation and status (all processes).",
        ["operation", "status"],
    )
    for operation, status, count in snap.counts:
        jobs.add_metric([operation, status.value], count)
    yield jobs
    age = _gauge(
        "lro_queue_oldest_age_seconds",
        "How long the oldest due, queued job of each operation has waited (0 when none).",
        ["operation"],
    )
    for operation, seconds in sorted(snap.oldest_age.items()):
        age.add_metric([operation], seconds)
    yield age
    pending = _gauge(
        "lro_webhook_deliveries_pending", "Webhook deliveries waiting to be sent or retried."
    )
    pending.add_metric([], snap.pending_deliveries)
    yield pending


def _limits(snap: StoreSnapshot) -> Iterator[Metric]:
    limit = _gauge(
        "lro_operation_limit",
        "The workload limits each operation declares (limit: concurrency, key_concurrency, "
        "rate_limit, rate_period_seconds, max_queued); unset limits are absent.",
        ["operation", "limit"],
    )
    for operation, name, value in snap.limits:
        limit.add_metric([operation, name], value)
    yield limit
    if snap.usage is None:
        return  # a store without workload limits
    slots = _gauge(
        "lro_operation_slots_in_use",
        "Jobs of each limited operation processing now: what its concurrency counts.",
        ["operation"],
    )
    held = _gauge(
        "lro_jobs_held_back",
        "Due, queued jobs of each limited operation that the claim would not start now, "
        "by the first limit holding them: key (key_concurrency), concurrency, rate.",
        ["operation", "reason"],
    )
    for u in snap.usage:
        slots.add_metric([u.operation], u.slots_in_use)
        for reason, n in zip(
            HELD_REASONS, (u.held_key, u.held_concurrency, u.held_rate), strict=True
        ):
            held.add_metric([u.operation, reason], n)
    yield slots
    yield held


def _flows(snap: StoreSnapshot) -> Iterator[Metric]:
    if snap.schedule_lag is not None:
        lag = _gauge(
            "lro_schedule_lag_seconds",
            "How late each unpaused schedule's due firing is: now - next_run_at once it "
            "is due, else 0.",
            ["owner", "schedule"],
        )
        for owner, schedule_id, seconds in sorted(snap.schedule_lag):
            lag.add_metric([owner, schedule_id], seconds)
        yield lag
    if snap.batches is not None:
        batches = _gauge(
            "lro_batches",
            "Batches stored, by state: open (jobs unfinished) or finished.",
            ["state"],
        )
        for state in ("open", "finished"):
            batches.add_metric([state], snap.batches.get(state, 0))
        yield batches
    if snap.workers_live is not None:
        live = _gauge("lro_workers_live", "Worker processes whose registry heartbeat is recent.")
        live.add_metric([], snap.workers_live)
        yield live


__all__ = ["Declared", "StoreCollector", "StoreSnapshot", "read_store"]
