"""The outbox dispatcher: sends due webhook deliveries, records each attempt, schedules the
next one.

Every `lro serve` and `lro worker` process runs one (`LRO.dispatcher()`); any number of
them share the outbox safely, because a claim takes deliveries exclusively under a lease
and an attempt's outcome is recorded only if that claim is still the latest. A process that
dies mid-send leaves its deliveries to be claimed again when the lease runs out, with the
same webhook-id, so receivers can de-duplicate: delivery is at-least-once.

The first attempt is immediate: a job ending anywhere wakes the dispatcher through the
change hub. Retries follow LRO_WEBHOOK_RETRY_SCHEDULE. An attempt holds one of
`webhook_concurrency` slots until its receiver answers or times out, and one target
(host and port) may hold at most `webhook_concurrency_per_host` of them: a receiver that
never answers can slow its own deliveries, not everyone's. Claims skip the targets this
process keeps full. Deliveries a claim brought beyond a target's share wait in memory for
its next free slot, unless that target proved slow (an attempt that timed out or took
most of the timeout): then they are handed back unsent, no attempt counted, and come up
again a little later.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lro import tracing
from lro.background import cancel_and_wait
from lro.deliveries import AttemptRecord, Delivery, DeliveryStatus, target_of
from lro.errors import StoreUnavailable
from lro.models import Job, utcnow
from lro.resource import batch_resource, job_resource, rfc3339
from lro.webhooks.sender import AttemptResult, send
from lro.webhooks.signing import generate_secret, headers_for, parse_secrets
from lro.webhooks.ssrf import Resolver, TargetPolicy

if TYPE_CHECKING:
    from lro.runtime import Runtime

log = logging.getLogger("lro.webhooks")

POLL_SECONDS = 1.0
"""How often due retries are looked for when no job ending wakes the dispatcher."""

LEASE_MARGIN_SECONDS = 30.0
"""A claimed delivery is not due again until its attempt's timeout plus this margin."""

MAX_RETRY_AFTER_SECONDS = 86_400.0
"""A receiver's Retry-After is honoured up to a day, so it cannot park a delivery forever."""

SECRET_KEY = "webhook_secret"

QUIET_CLAIM_INTERVAL = 0.05
"""After an empty claim, the next waits at least this long (the first attempt of a new
delivery is still within this of its job's end)."""

SLOW_FRACTION = 0.5
"""An attempt that took this share of the timeout (or timed out) marks its target slow."""

MAX_DEFER_SECONDS = 5.0
"""A delivery handed back because its target is busy is due again after the attempt
timeout (a slot of that target frees within it), at most this long."""

BATCH_COMPLETED = "batch.completed"
"""The event type of a batch's one webhook (HTTP-CONTRACT §17); its delivery row is
attached to the job whose ending completed the batch."""


def decide(
    d: Delivery, result: AttemptResult, now: datetime, schedule: Sequence[float]
) -> AttemptRecord:
    """What attempt `d.attempts` came to, and when (if ever) the next one is due."""
    status, next_at = DeliveryStatus.FAILED, None
    if result.ok:
        status = DeliveryStatus.DELIVERED
    elif not result.permanent and not d.manual and d.attempts <= len(schedule):
        delay = schedule[d.attempts - 1]
        if result.retry_after is not None:
            delay = max(delay, min(result.retry_after, MAX_RETRY_AFTER_SECONDS))
        status, next_at = DeliveryStatus.PENDING, now + timedelta(seconds=delay)
    error = result.error
    if error is None and not result.ok:
        error = f"the receiver answered HTTP {result.status_code}"
    return AttemptRecord(
        delivery_id=d.id,
        attempt=d.attempts,
        at=now,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=error,
        status=status,
        next_attempt_at=next_at,
    )


class Dispatcher:
    def __init__(self, lro: Runtime, *, resolver: Resolver | None = None) -> None:
        settings = lro.settings
        self._lro = lro
        self._resolver = resolver
        self.schedule = settings.webhook_retry_delays
        self.policy = TargetPolicy.from_settings(settings)
        self.timeout = settings.webhook_timeout_seconds
        self.concurrency = settings.webhook_concurrency
        self.per_target = settings.webhook_concurrency_per_host
        self._by_target: Counter[str] = Counter()
        self._waiting: dict[str, deque[Delivery]] = {}
        self._secrets: list[str] = []
        self._users = 0
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[AttemptRecord | None]] = set()
        self._wake = asyncio.Event()
        self._handbacks: set[asyncio.Task[None]] = set()
        self._next_due: datetime | None = None
        """The earliest retry this process scheduled: the loop wakes for it rather than
        waiting for the next poll."""

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Start sending (reference-counted: an API and a worker in one process share it)."""
        self._users += 1
        if self._task is None:
            await self._lro.start()
            self._secrets = await self.secrets()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="lro-webhook-dispatcher"
            )

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; attempts in flight get `grace` seconds (default: the shutdown
        grace, at most the attempt timeout) to finish and be recorded, so an answered
        delivery is not sent again. The rest are cancelled and claimed again once their
        lease runs out, with the same webhook-id."""
        self._users = max(0, self._users - 1)
        if self._users or self._task is None:
            return
        task, self._task = self._task, None
        await cancel_and_wait([task])
        waiting = [d for queue in self._waiting.values() for d in queue]
        self._waiting.clear()
        await self._defer(waiting, delay=0.0)  # claimable by other processes at once
        if grace is None:
            grace = min(self._lro.settings.shutdown_grace_seconds, self.timeout)
        if self._inflight and grace > 0:
            await asyncio.wait(set(self._inflight), timeout=grace)
        await cancel_and_wait(list(self._inflight))

    async def secrets(self) -> list[str]:
        """LRO_WEBHOOK_SECRET (newest first), else one generated once and kept in the
        store, so that every process signs with the same secret across restarts."""
        configured = self._lro.settings.webhook_secret
        if configured:
            return parse_secrets(configured)
        return [await self._lro.store.outbox.shared_setting(SECRET_KEY, generate_secret())]

    # -- the loop -----------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_empty = -QUIET_CLAIM_INTERVAL
        with self._lro.hub.terminal_waiter() as waiter:
            self._wake = waiter.event  # a finished attempt frees a slot: claim again
            while True:
                free = self.concurrency - len(self._inflight)
                batch: list[Delivery] = []
                if free > 0:
                    now = utcnow()
                    lease = now + timedelta(seconds=self.timeout + LEASE_MARGIN_SECONDS)
                    waiter.event.clear()
                    full = [t for t, n in self._by_target.items() if n >= self.per_target]
                    try:
                        batch = await self._lro.store.outbox.claim_deliveries(
                            now, lease, free, full
                        )
                    except Exception as exc:
                        log.warning("claiming webhook deliveries failed, will retry: %s", exc)
                        batch = []
                    for delivery in batch:
                        if not self._spawn(delivery):
                            self._waiting.setdefault(_target(delivery), deque()).append(delivery)
                    if batch and len(batch) == free:
                        continue  # maybe more are due
                if not batch:
                    last_empty = loop.time()
                await waiter.wait(self._idle_timeout())
                # Every job that ends wakes this loop, with or without a callback. Within
                # QUIET_CLAIM_INTERVAL of a claim that found nothing, wait out the rest of
                # it: a busy worker pays one claim per interval, not one per completion
                # batch, and an occasional ending is still claimed at once.
                quiet = last_empty + QUIET_CLAIM_INTERVAL - loop.time()
                if quiet > 0:
                    await asyncio.sleep(quiet)

    def _idle_timeout(self) -> float:
        due = self._next_due
        if due is None:
            return POLL_SECONDS
        wait = (due - utcnow()).total_seconds()
        if wait <= 0:
            self._next_due = None
            return 0.0
        return min(POLL_SECONDS, wait)

    def _spawn(self, delivery: Delivery) -> bool:
        """Start an attempt, unless its target already holds its share of the slots."""
        target = _target(delivery)
        if self._by_target[target] >= self.per_target:
            return False
        self._by_target[target] += 1
        task = asyncio.get_running_loop().create_task(self.deliver(delivery))
        self._inflight.add(task)

        def done(t: asyncio.Task[AttemptRecord | None]) -> None:
            self._inflight.discard(t)
            self._by_target[target] -= 1
            if self._by_target[target] <= 0:
                del self._by_target[target]
            self._next_waiting(target, None if t.cancelled() or t.exception() else t.result())
            self._wake.set()  # a slot is free

        task.add_done_callback(done)
        return True

    def _next_waiting(self, target: str, finished: AttemptRecord | None) -> None:
        """A slot of `target` is free: start its next waiting delivery, or hand them all
        back if the attempt that just ended shows the target is slow."""
        waiting = self._waiting.get(target)
        if not waiting or self._task is None:
            return
        slow = finished is not None and (
            finished.status_code is None
            or finished.duration_ms >= SLOW_FRACTION * self.timeout * 1000
        )
        if slow:
            busy = list(waiting)
            del self._waiting[target]
            handback = asyncio.get_running_loop().create_task(self._defer(busy))
            self._handbacks.add(handback)
            handback.add_done_callback(self._handbacks.discard)
            return
        self._spawn(waiting.popleft())
        if not waiting:
            del self._waiting[target]

    async def _defer(self, busy: list[Delivery], delay: float | None = None) -> None:
        if delay is None:
            delay = min(self.timeout, MAX_DEFER_SECONDS)
        try:
            await self._lro.store.outbox.defer_deliveries(busy, utcnow() + timedelta(seconds=delay))
        except Exception as exc:  # their lease runs out instead: later, but not lost
            log.warning("handing back %d webhook deliveries failed: %s", len(busy), exc)

    async def _payload(self, d: Delivery, job: Job) -> dict[str, Any] | None:
        """The webhook's `data`: the job resource, or for `batch.completed` (a delivery
        attached to the batch's last job) the batch resource; None if it is gone."""
        prefix = self._lro.settings.api_prefix
        if d.event_type != BATCH_COMPLETED:
            return job_resource(job, prefix)
        batches = self._lro.store.batches
        if batches is None or job.batch_id is None:
            return None
        batch = await batches.get_batch(job.batch_id)
        if batch is None:
            return None
        return batch_resource(batch, await batches.batch_jobs(batch.id), prefix)

    async def deliver(self, d: Delivery) -> AttemptRecord | None:
        """One attempt of a claimed delivery, recorded; None if its job is gone."""
        job = await self._lro.store.get_job(d.job_id)
        if job is None:
            return None  # deleted with its job meanwhile
        data = await self._payload(d, job)
        if data is None:
            return None
        body = json.dumps(
            {"type": d.event_type, "timestamp": rfc3339(d.event_at), "data": data},
            separators=(",", ":"),
        )
        headers = headers_for(d.id, utcnow(), body, self._secrets or await self.secrets())
        with tracing.webhook_span(job, d.id, d.event_type, d.attempts):
            result = await send(
                d.url,
                body.encode(),
                headers,
                policy=self.policy,
                timeout=self.timeout,
                resolver=self._resolver,
            )
        record = decide(d, result, utcnow(), self.schedule)
        metrics = self._lro.metrics
        metrics.webhook_attempts.labels(_RESULTS[record.status]).inc()
        metrics.webhook_duration.observe(result.duration_ms / 1000)
        if record.status is not DeliveryStatus.DELIVERED:
            refused = result.status_code is None and result.permanent
            # A delivery given up is a webhook its receiver will never get: a warning. A
            # target refused by this process's SSRF guard is the usual trap of a worker
            # started without the API's LRO_WEBHOOK_ALLOW_PRIVATE: say so.
            log.log(
                logging.INFO if record.next_attempt_at else logging.WARNING,
                "webhook %s for job %s, attempt %d: %s (%s)%s",
                d.id,
                d.job_id,
                d.attempts,
                record.error,
                f"retry at {rfc3339(record.next_attempt_at)}"
                if record.next_attempt_at
                else "giving up",
                "; this process refused the target: every process that sends webhooks "
                "(lro serve and lro worker) needs LRO_WEBHOOK_ALLOW_PRIVATE / "
                "LRO_WEBHOOK_ALLOWED_HOSTS to reach private addresses"
                if refused
                else "",
                extra={"job_id": d.job_id},
            )
        due = record.next_attempt_at
        if due is not None and (self._next_due is None or due < self._next_due):
            self._next_due = due
        for attempt in range(3):
            try:
                if not await self._lro.store.outbox.record_attempt(record):
                    log.info("delivery %s attempt %d was taken over", d.id, d.attempts)
                return record
            except StoreUnavailable as exc:
                if attempt == 2:
                    # The lease runs out and the delivery is sent again: at-least-once.
                    log.warning("recording delivery %s failed: %s", d.id, exc)
                    return record
                await asyncio.sleep(0.5 * (attempt + 1))
        return record


_RESULTS = {
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.PENDING: "retry",
    DeliveryStatus.FAILED: "failed",
}


def _target(delivery: Delivery) -> str:
    """Deliveries written before migration 0005 have no stored target."""
    return delivery.target or target_of(delivery.url)
