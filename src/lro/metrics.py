"""Prometheus metrics: what this process did, and what the store holds.

Two kinds, kept apart on purpose:
* **Process metrics** (counters and histograms) record what happened *here*: jobs
  submitted through this process, attempts its workers ran, webhooks it sent, streams it
  holds. Prometheus sums them across processes (`sum by (operation) (rate(...))`).
* **Store metrics** (`lro_jobs`, `lro_queue_oldest_age_seconds`, the limits' and
  schedules' figures...: lro.metrics_store) are read from the store when `/metrics` is
  scraped, so every API process reports the same, global figures; aggregate them with
  `max`, not `sum`. A read is reused for `STORE_CACHE_SECONDS`, so many scrapers cost
  one read.

Each LRO has its own registry, so two apps in one process (tests, mounted sub-apps) never
share or collide over a metric. The hot paths only bump a counter or observe a histogram,
both a few microseconds against the hundreds a job costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lro.limits import Limits
from lro.metrics_store import Declared, StoreCollector, StoreSnapshot, read_store
from lro.store.base import Store

STORE_CACHE_SECONDS = 1.0

Reader = Callable[[], Iterable[tuple[dict[str, str], float]]]
"""A live gauge's source: (labels, value) pairs, read at every scrape."""

DURATION_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400)
"""Job run times: from no-op jobs to hours-long reports."""

WAIT_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600)
"""Queue wait: milliseconds when workers are idle, minutes in a backlog."""

WEBHOOK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


OUTCOMES = ("completed", "failed", "retried", "cancelled", "released", "lost")

STEP_OUTCOMES = ("completed", "failed", "replayed")
"""A step that ran to its end, one whose function raised, and one an earlier attempt had
completed (its stored result returned without running it)."""


@dataclass(frozen=True, slots=True)
class OperationMetrics:
    """One operation's labelled series, looked up once: `labels()` costs as much as the
    update itself, and these are bumped for every job."""

    submitted: Any
    queue_wait: Any
    duration: Any
    outcomes: dict[str, Any]
    steps: dict[str, Any]
    partials: Any

    def long_job(self, event: str) -> None:
        """Count a step outcome (STEP_OUTCOMES) or, for "partial", one partial result."""
        (self.partials if event == "partial" else self.steps[event]).inc()


class Metrics:
    """The metrics of one LRO (see the module docstring)."""

    def __init__(self, *, process_collectors: bool = True) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        if process_collectors:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        self.submitted = Counter(
            "lro_jobs_submitted",
            "Jobs created by submits through this process.",
            ["operation"],
            registry=r,
        )
        self.attempts = Counter(
            "lro_job_attempts",
            "Attempts this process's workers finished, by outcome: completed, failed, "
            "retried (failed, will run again), cancelled, released (given back unrun or at "
            "shutdown), lost (lease taken away).",
            ["operation", "outcome"],
            registry=r,
        )
        self.duration = Histogram(
            "lro_job_duration_seconds",
            "Run time of finished attempts, handler start to outcome.",
            ["operation"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "lro_job_queue_wait_seconds",
            "From a job becoming due (submit or retry time) to its attempt starting.",
            ["operation"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.handoffs = Counter(
            "lro_job_handoffs",
            "Jobs this process's workers got directly from a submit instead of claiming.",
            registry=r,
        )
        self.steps = Counter(
            "lro_job_steps",
            "Durable steps (ctx.run_step) this process's workers ended, by outcome: "
            "completed, failed, replayed (completed by an earlier attempt, not run again).",
            ["operation", "outcome"],
            registry=r,
        )
        self.partials = Counter(
            "lro_job_partials",
            "Partial results (ctx.partial) this process's workers emitted.",
            ["operation"],
            registry=r,
        )
        self.webhook_attempts = Counter(
            "lro_webhook_attempts",
            "Webhook delivery attempts sent from this process, by result: delivered, retry "
            "(will be sent again), failed (given up).",
            ["result"],
            registry=r,
        )
        self.webhook_duration = Histogram(
            "lro_webhook_attempt_duration_seconds",
            "Time from sending a webhook to its answer (or the timeout).",
            buckets=WEBHOOK_BUCKETS,
            registry=r,
        )
        self._operations: dict[str, OperationMetrics] = {}
        self._live = _LiveCollector()
        r.register(self._live)
        self._store = StoreCollector()
        r.register(self._store)

    def operation(self, name: str) -> OperationMetrics:
        found = self._operations.get(name)
        if found is None:
            found = self._operations[name] = OperationMetrics(
                submitted=self.submitted.labels(name),
                queue_wait=self.queue_wait.labels(name),
                duration=self.duration.labels(name),
                outcomes={o: self.attempts.labels(name, o) for o in OUTCOMES},
                steps={o: self.steps.labels(name, o) for o in STEP_OUTCOMES},
                partials=self.partials.labels(name),
            )
        return found

    # -- live gauges ---------------------------------------------------------------------------
    def gauge(self, name: str, help_text: str, read: Reader) -> Callable[[], None]:
        """Report `name` at every scrape from `read()` (label dict, value pairs); returns
        the function that removes it (a worker that stops, a stream holder that closes)."""
        return self._live.add(name, help_text, read)

    # -- the store's figures ---------------------------------------------------------------------
    async def refresh_store(
        self,
        store: Store,
        now: datetime,
        operations: Iterable[str],
        *,
        limits: Mapping[str, Limits] | None = None,
        lease_seconds: float = 30.0,
    ) -> None:
        """Read the store's figures (lro.metrics_store) unless a read younger than
        STORE_CACHE_SECONDS exists. `limits`: each operation's declaration, for the limit
        families; `lease_seconds`: the lease, which says when a registered worker is dead.
        A failing store is reported as `lro_store_up 0`, not as a failed scrape."""
        current = self._store.snapshot
        mono = time.monotonic()
        if current is not None and mono - current.taken < STORE_CACHE_SECONDS:
            return
        declared = Declared(operations, limits or {}, lease_seconds)
        try:
            self._store.snapshot = await read_store(store, now, declared, mono)
        except Exception:
            self._store.snapshot = StoreSnapshot(mono, up=False)
            raise

    def render(self) -> bytes:
        body: bytes = generate_latest(self.registry)
        return body


class _LiveCollector(Collector):
    """Gauges read from live objects at scrape time (slots in use, open streams)."""

    def __init__(self) -> None:
        self._sources: dict[int, tuple[str, str, Reader]] = {}
        self._next = 0

    def add(self, name: str, help_text: str, read: Reader) -> Callable[[], None]:
        key = self._next
        self._next += 1
        self._sources[key] = (name, help_text, read)

        def remove() -> None:
            self._sources.pop(key, None)

        return remove

    def collect(self) -> Iterator[Metric]:
        """Sources of one name add up (two workers in one process report their sum)."""
        families: dict[str, GaugeMetricFamily] = {}
        totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for name, help_text, read in list(self._sources.values()):
            for labels, value in read():
                key = (name, tuple(sorted(labels.items())))
                totals[key] = totals.get(key, 0.0) + value
                if name not in families:
                    families[name] = GaugeMetricFamily(name, help_text, labels=sorted(labels))
        for (name, pairs), value in totals.items():
            families[name].add_metric([v for _, v in pairs], value)
        yield from families.values()


__all__ = ["Metrics", "StoreSnapshot"]
